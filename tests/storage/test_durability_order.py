"""The power-loss half of crash safety: data is fsync'd before its name points to it, names after.

A SIGKILL (the other crash tests) keeps the page cache, so it cannot tell a
missing fsync from a present one; a power cut can. These tests watch the real
system calls (the calls still happen, only their order is recorded) and check
the protocol a power cut relies on:

* the bytes of a new file are fsync'd before a rename/link gives it its name,
* the directory is fsync'd after the rename, before the change is reported done,
* the backup of the config is in place before the config is replaced,
* a recording's header is rewritten only after the data it announces is fsync'd.
"""
import os

import pytest

from firmware.atomic import AtomicFileWriter, GrowingFile, atomic_write
from firmware.config import Config
from firmware.records import CallRecords


@pytest.fixture
def calls(monkeypatch):
    log: list[tuple] = []

    def path_of(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def spy(name, describe):
        real = getattr(os, name)

        def wrapper(*args, **kwargs):
            event = describe(*args)
            result = real(*args, **kwargs)
            log.append(event)
            return result
        monkeypatch.setattr(os, name, wrapper)

    spy("fsync", lambda fd: ("fsync", path_of(fd)))
    spy("replace", lambda src, dst, **_: ("replace", str(src), str(dst)))
    spy("link", lambda src, dst, **_: ("link", str(src), str(dst)))
    spy("pwrite", lambda fd, data, offset: ("pwrite", path_of(fd), offset))
    return log


def _index(log, event) -> int:
    assert event in log, f"{event} missing from {log}"
    return log.index(event)


def _check_publish(log, target, how="replace") -> None:
    """`target` got its name from a temp file whose data was fsync'd first; the dir was fsync'd after."""
    named = [i for i, e in enumerate(log) if e[0] == how and e[2] == str(target)]
    assert len(named) == 1, log
    i = named[0]
    src = log[i][1]
    assert ("fsync", src) in log[:i], f"{src} renamed to {target} before its data was fsync'd: {log}"
    assert ("fsync", str(target.parent)) in log[i + 1:], f"directory not fsync'd after naming {target}: {log}"


def test_atomic_write_protocol(tmp_path, calls):
    atomic_write(tmp_path / "a", b"data")
    _check_publish(calls, tmp_path / "a")


def test_atomic_file_writer_protocol(tmp_path, calls):
    with AtomicFileWriter(tmp_path / "fax.pdf") as out:
        out.write(b"%PDF-1.4")
        assert calls == []                         # nothing is published or synced while writing
    _check_publish(calls, tmp_path / "fax.pdf")


def test_config_commit_protocol(tmp_path, calls):
    cfg = Config(tmp_path / "config.json")
    cfg.update_settings(site_name="one")
    calls.clear()
    cfg.update_settings(site_name="two")
    main, backup = tmp_path / "config.json", tmp_path / "config.json.bak"
    _check_publish(calls, main)
    backup_in_place = [i for i, e in enumerate(calls) if e[0] == "replace" and e[2] == str(backup)]
    main_replaced = _index(calls, next(e for e in calls if e[0] == "replace" and e[2] == str(main)))
    assert backup_in_place and backup_in_place[0] < main_replaced, calls
    # the backup is a second name of the old, already durable file (no new data to sync)
    link = next(e for e in calls if e[0] == "link")
    assert link[1] == str(main) and ("replace", link[2], str(backup)) in calls


def test_recording_protocol(tmp_path, calls):
    path = tmp_path / "rec.wav"
    rec = GrowingFile(path, lambda n: n.to_bytes(8, "little"))
    _check_publish(calls, path, how="link")
    calls.clear()
    rec.append(b"x" * 320)
    assert calls == []                             # appending never waits for the disk
    rec.sync()
    header = _index(calls, ("pwrite", str(path), 0))
    assert ("fsync", str(path)) in calls[:header], f"header announces data that is not durable: {calls}"
    assert ("fsync", str(path)) in calls[header + 1:], f"header itself not made durable: {calls}"
    rec.close()


def test_records_fsync_every_commit(tmp_path):
    """synchronous=FULL: in WAL mode, NORMAL would let a power cut drop the last committed calls."""
    rec = CallRecords(tmp_path / "calls.db")
    try:
        assert rec._writer_db.execute("PRAGMA synchronous").fetchone()[0] == 2    # FULL
    finally:
        rec.close()
