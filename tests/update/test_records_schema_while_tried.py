"""The call records follow the update's rule for data (issue 14): while a new release is only
being tried, records.db keeps the schema the old release wrote (so a rollback finds a file the old
release can open); what the tried release writes into tables or columns the file does not have
yet waits, and is written right after the commit migrates the file. Played with the real
Updater on a simulated Pi and a real auto-attendant call (a key pressed: a `menu_events` row,
migration 6) on the simulated board."""
from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware import records
from firmware.apps.ivr_store import save_menu
from firmware.harness import Pbx
from firmware.update import HealthReport
from firmware.update.updater import Updater
from tests.apps.test_ivr_calls import cached_prompts, call_in, key, settle
from tests.update.test_updates import healthy, keys  # noqa: F401 (fixture)
from tests.update.tried import tried_release

OLD_SCHEMA = 5                      # the old release: records.db before menu_events (migration 6)


def old_release_file(data: Path) -> None:
    """records.db as the old release left it: schema 5 and one answered call."""
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "records.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    records.migrate(db, records.MIGRATIONS[:OLD_SCHEMA])
    db.execute("INSERT INTO calls (call_id, start, answered, ended, src, dst, direction, disposition) "
               "VALUES ('old-1', 1.0, 2.0, 30.0, '201', '202', 'internal', 'answered')")
    db.close()


def old_release_opens(data: Path) -> list[str]:
    """What the old release does at start: migrate to *its* schema (refused if the file is newer)."""
    db = sqlite3.connect(data / "records.db", isolation_level=None)
    try:
        records.migrate(db, records.MIGRATIONS[:OLD_SCHEMA])
        return [r[0] for r in db.execute("SELECT call_id FROM calls ORDER BY start")]
    finally:
        db.close()


def file_facts(data: Path) -> tuple[int, bool]:
    db = sqlite3.connect(f"file:{data / 'records.db'}?mode=ro", uri=True)
    try:
        has_menu = bool(db.execute("SELECT 1 FROM sqlite_master WHERE name = 'menu_events'").fetchall())
        return records.schema_version(db), has_menu
    finally:
        db.close()


@pytest.fixture
def tried(tmp_path: Path, keys: dict[str, Path]) -> Iterator[tuple[Pbx, Updater]]:  # noqa: F811
    data = tmp_path / "data"
    old_release_file(data)
    shutil.copytree(cached_prompts() / "en", data / "prompts" / "en")
    with tried_release(tmp_path, keys, data) as (pbx, up, _api):
        save_menu(pbx.config, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 3, "retries": 2,
                               "fallback": "extension:201", "options": {"2": "extension:202"}})
        pbx.config.set_inbound_route("fxo1", "ivr:main")
        settle(pbx)
        yield pbx, up


def press_2_in_the_menu(pbx: Pbx) -> None:
    r = call_in(pbx)
    pbx.run(0.5)
    key(pbx, r, "2")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 5)
    pbx.records.flush()


def test_tried_release_keeps_the_schema_then_writes_the_waiting_rows_at_the_commit(tried) -> None:
    pbx, up = tried
    assert file_facts(pbx.data_dir) == (OLD_SCHEMA, False) and pbx.records.schema_behind
    press_2_in_the_menu(pbx)
    assert file_facts(pbx.data_dir) == (OLD_SCHEMA, False)          # the key's row waits
    calls = pbx.records.search()
    assert calls[-1]["call_id"] == "old-1" and any(c["direction"] == "inbound" for c in calls)   # calls: now
    assert up.check_after_boot(healthy) == "commit"                  # health check passes: migrate
    assert file_facts(pbx.data_dir) == (records.SCHEMA_VERSION, True)
    assert any(f"call records: schema {OLD_SCHEMA} -> {records.SCHEMA_VERSION}" in h for h in up.state.history)
    pbx.records.flush()
    rows = pbx.records.query("SELECT menu, key, destination FROM menu_events WHERE key != ''")
    assert rows == [{"menu": "main", "key": "2", "destination": "extension:202"}]
    with pytest.raises(RuntimeError, match="newer than this Linebox"):
        old_release_opens(pbx.data_dir)                              # committed: no way back (by design)


def test_rollback_finds_a_file_the_old_release_opens(tried) -> None:
    pbx, up = tried
    press_2_in_the_menu(pbx)

    def unhealthy() -> HealthReport:
        return HealthReport({"engine": (True, "ok"), "web": (False, "HTTPS refused"), "selftest": (True, "ok")})
    assert up.check_after_boot(unhealthy) == "rollback"
    pbx.close()                                                      # the tried release stops
    assert file_facts(pbx.data_dir) == (OLD_SCHEMA, False)
    calls = old_release_opens(pbx.data_dir)                          # the old release starts again
    assert calls[0] == "old-1" and len(calls) >= 2                   # its call and the tried release's


def test_a_new_file_is_created_whole_even_while_tried(tmp_path: Path) -> None:
    (tmp_path / "update").mkdir()
    (tmp_path / "update" / "state.json").write_text('{"phase": "trying"}')
    store = records.CallRecords(tmp_path / "records.db", migrate=False)
    try:
        assert not store.schema_behind and file_facts(tmp_path) == (records.SCHEMA_VERSION, True)
    finally:
        store.close()
