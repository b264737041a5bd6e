"""Forward data migrations run only after the new release is committed (issue 14): while a release
is tried its migrations wait, so the old release's code still reads the data; a rollback leaves the
data exactly as the old release wrote it; a commit runs them (through the engine API's store thread,
as `linebox update check` does), once, in order, and never backwards.

The migration here is a real one of the kind the mechanism exists for (a column renamed in
messages.sqlite: the old release's MessageStore cannot read the migrated file)."""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.apps.messages import MessageStore
from firmware.harness import Pbx
from firmware.update import HealthReport, migrations
from firmware.update.updater import Updater
from tests.update.test_updates import SimulatedPi, healthy, keys, make_bundle  # noqa: F401 (fixture)


def rename_body_to_text(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / "messages.sqlite")
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(messages)")]
        if "body" in cols:                                   # idempotent: a cut may run it twice
            db.execute("ALTER TABLE messages RENAME COLUMN body TO text")
            db.commit()
    finally:
        db.close()


def add_read_at(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / "messages.sqlite")
    try:
        if "read_at" not in [r[1] for r in db.execute("PRAGMA table_info(messages)")]:
            db.execute("ALTER TABLE messages ADD COLUMN read_at REAL")
            db.commit()
    finally:
        db.close()


NEW_RELEASE = [migrations.DataMigration(3, "messages: read_at", add_read_at),
               migrations.DataMigration(2, "messages: body renamed text", rename_body_to_text)]


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


@pytest.fixture
def api(pbx: Pbx, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalClient]:
    monkeypatch.setattr(migrations, "MIGRATIONS", list(NEW_RELEASE))      # the new release's code
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield LocalClient(engine_api, timeout=60)
    engine_api.close()


def old_release_reads(data: Path) -> list[str]:
    store = MessageStore(data / "messages.sqlite")
    try:
        return [m["body"] for m in store.inbox("agent")]
    finally:
        store.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def updater(pi: SimulatedPi, keys: dict[str, Path], data: Path, api: LocalClient) -> Updater:  # noqa: F811
    return Updater(pi.env, data / "update" / "state.json", keys["trusted"], "rpi5",
                   migrate=lambda: list(api.call_sync("update.migrate")["done"]))


def test_migrations_wait_for_the_commit_and_run_once_forward(pbx: Pbx, api: LocalClient, keys: dict[str, Path],  # noqa: F811
                                                             tmp_path: Path) -> None:
    data = pbx.data_dir
    store = MessageStore(data / "messages.sqlite")
    store.send("admin", "agent", "written by the old release", at=1.0)
    store.close()
    pi = SimulatedPi(tmp_path / "pi")
    up = updater(pi, keys, data, api)
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    up.install()
    assert up.state.phase == "trying"
    with pytest.raises(ApiError, match="still being tried"):
        api.call_sync("update.migrate")                                  # not while trying
    assert migrations.data_schema(data) == 1 and old_release_reads(data) == ["written by the old release"]

    assert up.check_after_boot(healthy) == "commit"
    assert migrations.data_schema(data) == 3
    db = sqlite3.connect(data / "messages.sqlite")
    assert [r[1] for r in db.execute("PRAGMA table_info(messages)")][4:] == ["text", "read", "read_at"]
    assert db.execute("SELECT text FROM messages").fetchall() == [("written by the old release",)]
    db.close()
    assert any("schema 2: messages: body renamed text" in h for h in up.state.history)
    assert api.call_sync("update.migrate")["done"] == []                  # once
    assert up.check_after_boot(healthy) == "nothing" and migrations.data_schema(data) == 3


def test_rollback_leaves_the_old_data_readable(pbx: Pbx, api: LocalClient, keys: dict[str, Path],  # noqa: F811
                                               tmp_path: Path) -> None:
    data = pbx.data_dir
    store = MessageStore(data / "messages.sqlite")
    store.send("admin", "agent", "before the update", at=1.0)
    store.close()
    before = digest(data / "messages.sqlite")
    pi = SimulatedPi(tmp_path / "pi")
    up = updater(pi, keys, data, api)
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    up.install()

    def unhealthy() -> HealthReport:
        return HealthReport({"engine": (True, "ok"), "web": (False, "HTTPS refused"), "selftest": (True, "ok")})
    assert up.check_after_boot(unhealthy) == "rollback"
    assert pi.boots[-1] == (2, False)                                   # back on the old slot
    assert migrations.data_schema(data) == 1 and digest(data / "messages.sqlite") == before
    assert old_release_reads(data) == ["before the update"]


def test_a_migration_cut_short_runs_again_and_the_schema_never_goes_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    MessageStore(data / "messages.sqlite").close()
    calls: list[int] = []

    def cut(data_dir: Path) -> None:
        calls.append(1)
        add_read_at(data_dir)
        if len(calls) == 1:
            raise OSError("power cut")                               # applied, schema not yet recorded
    steps = [migrations.DataMigration(2, "read_at", cut)]
    with pytest.raises(OSError):
        migrations.run_forward(data, steps)
    assert migrations.data_schema(data) == 1
    assert migrations.run_forward(data, steps) == ["schema 2: read_at"] and migrations.data_schema(data) == 2
    assert migrations.run_forward(data, [migrations.DataMigration(1, "older", add_read_at)]) == []
    assert migrations.data_schema(data) == 2
