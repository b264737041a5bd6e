"""The appliance's systemd units load cleanly in systemd's own parser (systemd-analyze verify), and
the engine unit asks for what firmware/watchdog provides: Type=notify and a watchdog timeout."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[2] / "image"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str            # type: ignore[assignment,method-assign]
    parser.read(IMAGE / name)
    return parser


def test_engine_unit_uses_the_media_watchdog() -> None:
    svc = _unit("linebox-engine.service")["Service"]
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert 2 <= int(svc["WatchdogSec"].rstrip("s")) <= 60
    assert svc["Restart"] == "always"
    hw = _unit("system.conf.d/linebox-watchdog.conf")["Manager"]
    assert 0 < int(hw["RuntimeWatchdogSec"].rstrip("s")) <= 15      # the bcm2835 watchdog's ceiling


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name in ("linebox-engine.service", "linebox-web.service"):
        text = (IMAGE / name).read_text().replace("/opt/linebox/.venv/bin/linebox", sys.executable)
        (tmp_path / name).write_text(text)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(tmp_path / "linebox-engine.service"), str(tmp_path / "linebox-web.service")],
                         capture_output=True, text=True, timeout=120)
    problems = [ln for ln in out.stderr.splitlines() if "linebox" in ln]
    assert problems == [], out.stderr
