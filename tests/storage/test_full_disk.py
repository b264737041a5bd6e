"""A full disk (issue 9 item 5), on a real full file system (a size-limited tmpfs): the recording
writer logs one line per episode and stops that recording, the call goes on, the first call
after space is freed is recorded; logged-in pages (Recordings included) still work, and the
owner can still log in, so space can be freed from the web."""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from firmware.alarms import engine_alarms
from firmware.apps import recording_store as store
from firmware.apps.recording import service_of
from firmware.config import Config
from firmware.control import EngineControl
from firmware.harness import Pbx
from firmware.records import CallRecords
from webui.app import create_app

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")

ADMIN, PASSWORD = "owner", "Blue-Heron-Lamp-42"


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system refuses (ENOSPC)."""
    filler = directory / "filler.bin"
    block = b"\xa5" * (64 * 1024)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(filler, "ab", buffering=0) as f:        # the last few bytes too
        with contextlib.suppress(OSError):
            for _ in range(64 * 1024):
                f.write(b"\xa5" * 64)
    return filler


def connect(pbx: Pbx, a: str, b: str):
    pa, pb = pbx.phone(a), pbx.phone(b)
    pa.off_hook()
    pbx.run(0.5)
    pa.dial(b)
    pbx.run_until(lambda: pb.is_ringing, 5)
    pb.off_hook()
    pbx.run(0.4)
    return pa, pb


def hang_up(pbx: Pbx, a, b) -> None:
    a.on_hook()
    b.on_hook()
    pbx.run(0.5)


def test_recording_on_a_full_disk_logs_once_and_recovers_by_itself(tmp_path, caplog):
    with small_filesystem(tmp_path / "recordings", 16) as rec_root, \
            Pbx(country="US", seed=7, fxs=3, fxo=1, data_dir=tmp_path) as pbx:
        store.save_settings(pbx.config, {"extensions": ["201"], "retention_days": 0, "max_total_mb": 0,
                                         "min_free_mb": 10})
        pbx.run(0.2)
        svc = service_of(pbx.engine)
        assert svc.root == rec_root
        a, b = connect(pbx, "201", "202")
        pbx.run(1.5)
        assert svc.writer.flush(10)
        filler = fill(rec_root)                        # the card fills up during the call
        with caplog.at_level(logging.INFO, logger="linebox"):
            a.play_tone([800], 8000, -10)
            pbx.run(8.0)                               # 80 blocks of audio handed to the writer
            assert svc.writer.flush(10)
            hang_up(pbx, a, b)
            assert svc.writer.flush(10)
        stopped = [r for r in caplog.records if "recording stopped" in r.getMessage()]
        assert len(stopped) == 1, [r.getMessage() for r in caplog.records]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r not in stopped]
        pbx.run_until(lambda: pbx.state("fxs1") == "idle" and pbx.state("fxs2") == "idle", 5)   # the call was fine
        first = store.listing(rec_root)
        assert len(first) == 1 and first[0].seconds >= 1.0                 # what was durable is kept
        assert "disk-full" in [a["key"] for a in engine_alarms(pbx.config, pbx.records)]   # on the status page
        filler.unlink()                                 # the owner frees space
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="linebox"):
            a, b = connect(pbx, "201", "202")           # the very next call is recorded
            a.play_tone([1000], 2000, -10)
            pbx.run(2.5)
            hang_up(pbx, a, b)
            assert svc.writer.flush(10)
        assert any("recordings work again" in r.getMessage() for r in caplog.records)
        files = store.listing(rec_root)
        assert len(files) == 2 and files[0].seconds >= 2.5
        assert not svc.disk_low and not (rec_root / store.DISK_LOW_MARK).exists()
        assert "disk-full" not in [a["key"] for a in engine_alarms(pbx.config, pbx.records)]
        pbx.records.flush()
        assert len(pbx.records.query("SELECT * FROM call_recordings")) == 2


def csrf_of(html: str) -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_and_login_work_on_a_full_disk(tmp_path):
    from firmware.firstboot import read_code
    with small_filesystem(tmp_path / "data", 8) as data:
        records = CallRecords(data / "records.db")
        config = Config(data / "config.json")
        now = [1_767_261_600.0]
        app = create_app(control=EngineControl(), config=config, records=records, data_dir=data,
                         clock=lambda: now[0], throttle_clock=lambda: now[0])
        try:
            owner = TestClient(app, follow_redirects=False)
            page = owner.get("/setup").text
            r = owner.post("/setup", data={"username": ADMIN, "password": PASSWORD, "confirm": PASSWORD,
                                           "setup_code": read_code(data), "csrf_token": csrf_of(page)})
            assert r.status_code == 303
            fill(data)
            now[0] += 120                               # past the session's last-seen refresh
            for path in ("/status", "/recordings", "/history", "/voicemail", "/account"):
                assert owner.get(path).status_code == 200, path
            other = TestClient(app, follow_redirects=False)        # and a fresh login on a full disk
            page = other.get("/login").text
            r = other.post("/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": csrf_of(page)})
            assert r.status_code == 303
            assert other.get("/recordings").status_code == 200
            r = other.post("/logout", data={"csrf_token": csrf_of(other.get("/account").text)})
            assert r.status_code == 303 and other.get("/status").status_code == 303
        finally:
            records.close()
            config.close()
