"""Reports run in a process of their own, never in the engine's interpreter (issue 8: no other
CPU work shares the media loop's interpreter lock): the engine starts the worker, the worker
aggregates reports.db, a killed worker is restarted, and stopping the engine ends it."""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from firmware.reports.synthetic import generate, write_store
from firmware.reports.worker import ReportsWorkerProcess, rebuild_in_worker
from firmware.service import build_service


def _watermark(data: Path) -> float:
    if not (data / "reports.db").exists():
        return 0.0
    conn = sqlite3.connect(data / "reports.db")
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    return float(row[0]) if row else 0.0


def _until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_the_worker_process_aggregates_and_is_restarted_when_killed(tmp_path: Path) -> None:
    events, calls = generate(dt.date(2026, 3, 2), 3, 40, seed=2)
    write_store(tmp_path / "records.db", events, calls)
    worker = ReportsWorkerProcess(tmp_path, period_s=0.2)
    worker.start()
    try:
        day3 = dt.datetime(2026, 3, 5, tzinfo=dt.UTC).timestamp()
        _until(lambda: _watermark(tmp_path) > day3, 30, "the worker to aggregate three days")
        assert not any(t.name == "reports-aggregator" for t in threading.enumerate())   # not in this process
        first = worker.proc
        assert first is not None and first.pid != os.getpid()
        os.kill(first.pid, signal.SIGKILL)
        _until(lambda: worker.restarts == 1 and worker.proc is not first and worker.proc.poll() is None, 15,
               "the worker to be restarted")
        # the new worker writes again: a rebuild (its own process, under the same writer lock) and an update
        out = rebuild_in_worker(tmp_path)
        assert out["chunks"] >= 1
        _until(lambda: _watermark(tmp_path) > day3, 30, "the restarted worker to keep reports.db current")
    finally:
        worker.stop()
    assert worker.proc.poll() is not None


def test_the_engine_starts_the_reports_worker_as_a_child_and_ends_it(tmp_path: Path) -> None:
    svc = build_service(tmp_path / "data", "sim", "US")
    svc.start_engine(api_socket=False, realtime="off")
    try:
        want = [os.fsencode(sys.executable), b"-m", b"firmware.reports.worker"]

        def running_worker() -> bool:
            # Read while the child is alive: a child that has just exited (and is being
            # restarted by the supervisor) shows an empty command line.
            proc = svc.reports.proc
            if proc is None or proc.poll() is not None:
                return False
            try:
                return Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[:3] == want
            except FileNotFoundError:
                return False
        _until(running_worker, 10, "the reports worker running as a child process")
        proc = svc.reports.proc
        assert proc.pid != os.getpid()
    finally:
        svc.stop()
    assert proc.poll() is not None
