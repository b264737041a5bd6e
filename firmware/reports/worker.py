"""The reports worker: DATA/reports.db aggregated in its own process, never in the engine's.

Aggregating report cells and building the daily report are real CPU work (SQLite reads, Python
roll-ups, a spreadsheet). In the engine process that work shares the interpreter with the media
loop, and every moment it holds the interpreter lock is a moment a tick may wait. So the engine
starts this worker as a child process (`python -m firmware.reports.worker --data DATA`), niced,
restarted with back-off if it dies, and ended with the engine (it also exits if the engine dies,
even by kill -9). `reports.rebuild` runs the same module once with `--rebuild`.

Single writer: the worker is the only writer of reports.db; a one-off rebuild and the periodic
update take an exclusive lock on DATA/reports.lock first, so they never interleave. The worker
reads records.db and the configuration read-only (as the web process does).
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..child_process import exit_with_parent, lower_priority

log = logging.getLogger("linebox.reports")

LOCK_FILE = "reports.lock"
PERIOD_S = 60.0
WORKER_NICE = 10
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 120.0
REBUILD_TIMEOUT_S = 600.0


class RebuildError(RuntimeError):
    """The one-off rebuild process failed (the message says why)."""


@contextlib.contextmanager
def reports_writer(data_dir: Path) -> Iterator[None]:
    """Hold the right to write reports.db (across processes) for the `with` block."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _aggregator(data_dir: Path, config: Any) -> Any:
    from .aggregate import ReportAggregator
    from .source import site_from_config
    return ReportAggregator(data_dir, lambda: site_from_config(config))


def _read_only_config(data_dir: Path) -> Any:
    from ..config import Config
    return Config.read_only(data_dir / "config.json")


def rebuild(data_dir: Path) -> dict:
    """Forget reports.db's cells and aggregate again from the whole event log (this process)."""
    config = _read_only_config(data_dir)
    with reports_writer(data_dir):
        return _aggregator(data_dir, config).rebuild()


def serve(data_dir: Path, period_s: float = PERIOD_S, stop: threading.Event | None = None) -> None:
    """Update reports.db every `period_s` and send the daily report when due, until `stop` is set."""
    from ..apps.voicemail_store import settings
    from ..mailer import Mailer
    from .daily_mail import DailyReportMail
    stop = stop or threading.Event()
    config = _read_only_config(data_dir)
    aggregator = _aggregator(data_dir, config)
    mailer = Mailer(lambda: settings(config))
    daily = DailyReportMail(config, aggregator, mailer)
    try:
        while not stop.is_set():
            try:
                with reports_writer(data_dir):
                    aggregator.update()
                    daily.tick(time.time())
            except Exception:  # noqa: BLE001 - a bad record must not end the reports
                log.exception("reports: aggregation failed; will retry")
            stop.wait(period_s)
    finally:
        with contextlib.suppress(Exception):
            mailer.stop()


def rebuild_in_worker(data_dir: Path, timeout_s: float = REBUILD_TIMEOUT_S) -> dict:
    """Run `rebuild` in a process of its own (the engine's store thread only waits for it)."""
    cmd = [sys.executable, "-m", "firmware.reports.worker", "--data", str(data_dir), "--rebuild"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=_root())
    except subprocess.TimeoutExpired:
        raise RebuildError(f"the reports rebuild took longer than {timeout_s:.0f} s and was stopped; "
                           "try again when the box is less busy") from None
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise RebuildError(f"the reports rebuild failed ({tail[0][:300]}); see the Linebox log")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


class ReportsWorkerProcess:
    """The engine's child process for reports: started, restarted with back-off, stopped."""

    def __init__(self, data_dir: Path, period_s: float = PERIOD_S) -> None:
        self.data_dir = Path(data_dir)
        self.period_s = period_s
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="reports-supervisor", daemon=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "firmware.reports.worker", "--data", str(self.data_dir),
                "--period", str(self.period_s), "--nice", str(WORKER_NICE), "--supervised"]

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            started = time.monotonic()
            self.proc = subprocess.Popen(self.command(), close_fds=True, cwd=_root())
            rc = self.proc.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - started > STABLE_AFTER_S:
                attempt = 0
            delay = RESTART_BACKOFF_S[min(attempt, len(RESTART_BACKOFF_S) - 1)]
            log.warning("reports worker exited (status %s); restarting it in %.0f s (calls are not affected)",
                        rc, delay)
            attempt += 1
            self.restarts += 1
            if self._stop.wait(delay):
                return

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.thread.is_alive():
            self.thread.join(timeout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware.reports.worker", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="the Linebox data directory")
    p.add_argument("--rebuild", action="store_true", help="rebuild reports.db once, print the result as JSON, exit")
    p.add_argument("--period", type=float, default=PERIOD_S, help="seconds between updates")
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = Path(args.data)
    if args.supervised:
        exit_with_parent()
    if args.nice:
        lower_priority(args.nice)
    if args.rebuild:
        print(json.dumps(rebuild(data_dir)))
        return 0
    stop = threading.Event()

    def stop_requested(signum: int, frame: object) -> None:
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop_requested)
    serve(data_dir, args.period, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
