"""The health check's self-test call keeps its throw-away engine on the data partition, not in the
system's temp folder: on the image /tmp is a 64 MiB RAM disk, and the self-test's engine logged
"recording stopped: only 63 MB free" (an ERROR) at every commit (the boot test's journal). Here the
temp folder is a real 16 MiB tmpfs, as small as the image's /tmp is for the recorder's 200 MiB floor."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from firmware.update.health import run_health_check
from firmware.update.selftest import PREFIX
from tests.storage.test_full_disk import small_filesystem

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")


def test_the_selftest_runs_on_the_data_partition_and_leaves_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    left = data / "update" / (PREFIX + "left-by-a-killed-check")
    left.mkdir(parents=True)
    (left / "records.db").write_bytes(b"x")
    with small_filesystem(tmp_path / "tmp", 16) as small_tmp:
        monkeypatch.setattr(tempfile, "tempdir", str(small_tmp))
        caplog.set_level(logging.INFO)
        report = run_health_check(data, web_port=1, within_s=0.1)   # no engine, no web here: only the self-test
        assert list(small_tmp.iterdir()) == []                         # nothing went to the small /tmp
    ok, detail = report.checks["selftest"]
    assert ok and "1000 Hz tone heard" in detail
    assert not report.ok and "engine:" in report.failures()         # the probes still ran (and failed here)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [m for m in errors if "recording stopped" in m or "MB free" in m], errors
    assert [p.name for p in (data / "update").iterdir()] == []       # its folder removed, and the old one
