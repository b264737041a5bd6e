"""The "before update" archive (issue 14) is written by the niced backup worker child, like
`backup.create`, not on the engine's store thread; `update.install` waits for it and reboots only
once it exists. Played through the engine API on the simulated board and a simulated Pi boot.

The child is proved to be the writer by making the engine process's own archive writer fail: the
archive still appears (with the call made just before), because another process wrote it."""
from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import firmware.backup
import firmware.backup.archive
from firmware.api import ApiError, EngineApi, LocalClient
from firmware.harness import Pbx
from firmware.update import UpdateState, site
from firmware.update.updater import Updater
from tests.update.test_updates import SimulatedPi, keys, make_bundle  # noqa: F401 (fixture)


@pytest.fixture
def staged(tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch  # noqa: F811
           ) -> Iterator[tuple[Pbx, SimulatedPi, LocalClient]]:
    pi = SimulatedPi(tmp_path / "pi")
    monkeypatch.setattr(site, "boot_environment", lambda: pi.env)
    monkeypatch.setattr(site, "keys_dir", lambda: keys["trusted"])
    monkeypatch.setattr(site, "board", lambda: "rpi5")

    def not_in_this_process(*args: object, **kwargs: object) -> Path:
        raise AssertionError("the before-update archive was written in the engine's process")
    monkeypatch.setattr(firmware.backup.archive, "create_archive", not_in_this_process)
    monkeypatch.setattr(firmware.backup, "create_archive", not_in_this_process)
    pbx = Pbx(data_dir=tmp_path / "data")
    Updater(pi.env, pbx.data_dir / "update" / "state.json", keys["trusted"], "rpi5").stage(
        make_bundle(tmp_path / "u.bundle", keys["release"]))
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    pbx.run(0.2)
    yield pbx, pi, LocalClient(engine_api, timeout=120)
    engine_api.close()
    pbx.close()


def a_call(pbx: Pbx) -> None:
    pbx.phone("201").off_hook()
    pbx.run(0.5)
    pbx.phone("201").dial("202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 5)
    pbx.phone("201").on_hook()
    pbx.run_until(lambda: all(p.state == "idle" for p in pbx.control.snapshot()), 5)


def test_install_waits_for_the_archive_written_by_the_worker_child(staged) -> None:
    pbx, pi, api = staged
    a_call(pbx)
    assert api.call_sync("update.install", now=True) == {"rebooting": True}
    archives = list((pbx.data_dir / "backups").glob("*before-update.tar.gz"))
    assert len(archives) == 1
    assert pi.boots[-1] == (3, True)                       # rebooted once into slot B, after the archive
    with tarfile.open(archives[0]) as tar:
        names = tar.getnames()
        assert names[0] == "manifest.json" and "records.db" in names
        out = Path(pbx.data_dir / "check")
        tar.extract("records.db", out, filter="data")
    import sqlite3
    db = sqlite3.connect(out / "records.db")
    try:
        assert db.execute("SELECT src, dst FROM calls").fetchall() == [("201", "202")]   # flushed first
    finally:
        db.close()


def test_no_archive_no_install(staged) -> None:
    pbx, pi, api = staged
    (pbx.data_dir / "backups").write_text("a file where the archives' folder should be")
    boots = list(pi.boots)
    with pytest.raises(ApiError) as refused:
        api.call_sync("update.install", now=True)
    assert refused.value.code == "unavailable"
    assert refused.value.message.startswith("The update was not installed: the archive of the current data "
                                            "could not be kept first.")
    assert pi.boots == boots and pi.env.default_slot() == "A"              # nothing armed, no reboot
    assert UpdateState.load(pbx.data_dir / "update" / "state.json").phase == "staged"
