"""`linebox run` (simulated board) starts the reports thread: it creates DATA/reports.db beside
records.db and aggregates what is there; SIGTERM stops it with the service."""
from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_service_runs_the_reports_thread(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "sim", "--data", str(tmp_path),
                             "--host", "127.0.0.1", "--port", str(_port())],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60           # a real process: real time
        while not (tmp_path / "reports.db").exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no reports.db"
            time.sleep(0.1)
        conn = sqlite3.connect(f"file:{tmp_path / 'reports.db'}?mode=ro", uri=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.OperationalError:
                tables = set()
            if {"cells", "waits", "meta", "contacts"} <= tables:
                break
            assert time.monotonic() < deadline, tables
            time.sleep(0.1)
        conn.close()
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Seen once in a full run (not reproduced): say where the stop hung. A child of the service
            # still holding its output pipe (a prompts worker that did not end) must not hang the suite.
            proc.kill()
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                out = "(its output pipe is still held open by a child process that did not end)"
            pytest.fail(f"linebox run did not stop within 30 s of SIGTERM (exit status {proc.poll()}); "
                        f"its log ends:\n{out[-3000:]}")
        assert proc.returncode == 0, out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
