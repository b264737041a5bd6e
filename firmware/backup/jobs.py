"""Backup archives written by the niced worker child (`python -m firmware.backup.worker`), as jobs.

An archive of a card full of recordings takes longer than the web's API timeout, so `backup.create`
only starts the worker and answers with a job number at once; a watcher thread (not the store
thread) reads the worker's progress lines, keeps the job's state in memory and publishes
`backup.progress` / `backup.created` / `backup.failed` events; `backup.job` reads the state.

    job = jobs_of(data_dir).start(layout, publish)      # raises BackupBusy while one is running
    job.snapshot()    # {"job": 1, "state": "running", "done_bytes": ..., "total_bytes": ..., "percent": ...}

`run_worker(layout, label)` is the same worker waited for in the calling thread, for an archive
that must exist before the caller goes on (the "before restore" archive).
"""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .archive import StoreLayout

__all__ = ["BackupBusy", "BackupFailed", "BackupJob", "BackupJobs", "jobs_of", "run_worker", "WORKER_TIMEOUT_S"]

WORKER_TIMEOUT_S = 600
KEEP_FINISHED = 20                    # finished jobs remembered per engine (for `backup.job`)
PROGRESS_EVENT_STEP = 5               # percent between two `backup.progress` events
ROOT = Path(__file__).resolve().parents[2]
TOO_LONG = (f"The backup took longer than {WORKER_TIMEOUT_S // 60} minutes and was stopped; free some space "
            "(old recordings) and try again.")


class BackupBusy(Exception):
    """A backup is already being written for this engine."""


class BackupFailed(Exception):
    """The worker wrote no archive; the message says why and what to do."""


def _worker_command(layout: StoreLayout, label: str) -> list[str]:
    cmd = [sys.executable, "-m", "firmware.backup.worker", str(layout.root), str(layout.records_path)]
    return [*cmd, "--label", label] if label else cmd


def _failure(error: str | None) -> str:
    return (f"The backup could not be written ({error or 'no answer from the worker'}); "
            "check the free space on the storage card.")


def _answer_of(line: bytes) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        answer = json.loads(line.decode())
        if isinstance(answer, dict):
            return answer
    return None


def run_worker(layout: StoreLayout, label: str = "") -> Path:
    """Write one archive in the worker child and wait for it here; raises BackupFailed."""
    try:
        done = subprocess.run(_worker_command(layout, label), capture_output=True, timeout=WORKER_TIMEOUT_S,
                              cwd=str(ROOT), check=False)
    except subprocess.TimeoutExpired:
        raise BackupFailed(TOO_LONG) from None
    answer: dict[str, Any] = {}
    for line in reversed(done.stdout.splitlines()):
        found = _answer_of(line)
        if found is not None and ("path" in found or "error" in found):
            answer = found
            break
    if "path" not in answer:
        error = answer.get("error") or (done.stderr.decode(errors="replace").strip().splitlines() or [None])[-1]
        raise BackupFailed(_failure(error))
    return Path(answer["path"])


class BackupJob:
    """One archive being written by the worker child; its state is read by other threads."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.state = "running"            # running / done / failed
        self.started = time.time()
        self.finished: float | None = None
        self.done_bytes = 0
        self.total_bytes = 0
        self.path: Path | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            percent = 100 if self.state == "done" else (
                int(100 * self.done_bytes / self.total_bytes) if self.total_bytes else 0)
            out: dict[str, Any] = {"job": self.number, "state": self.state, "done_bytes": self.done_bytes,
                                   "total_bytes": self.total_bytes, "percent": min(percent, 100),
                                   "seconds": round((self.finished or time.time()) - self.started, 1)}
            if self.path is not None:
                out["name"] = self.path.name
            if self.error is not None:
                out["error"] = self.error
            return out

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            self.done_bytes, self.total_bytes = done, total

    def _finish(self, path: Path | None, error: str | None) -> None:
        with self._lock:
            self.path, self.error = path, error
            self.state = "done" if path is not None else "failed"
            self.finished = time.time()


class BackupJobs:
    """The backup jobs of one engine (one data folder): at most one running at a time."""

    def __init__(self, timeout_s: float = WORKER_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._jobs: dict[int, BackupJob] = {}
        self._next = 1
        self._lock = threading.Lock()

    def running(self) -> BackupJob | None:
        with self._lock:
            return next((j for j in self._jobs.values() if j.state == "running"), None)

    def get(self, number: int) -> BackupJob | None:
        with self._lock:
            return self._jobs.get(number)

    def latest(self) -> BackupJob | None:
        with self._lock:
            return self._jobs[max(self._jobs)] if self._jobs else None

    def start(self, layout: StoreLayout, publish: Callable[[str, dict], None]) -> BackupJob:
        """Start the worker and a thread watching it; returns at once. Raises BackupBusy while
        another job runs and OSError when the worker cannot be started."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.state == "running"), None)
            if busy is not None:
                raise BackupBusy(busy.number)
            job = BackupJob(self._next)
            proc = subprocess.Popen(_worker_command(layout, "") + ["--progress"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=str(ROOT))
            self._next += 1
            self._jobs[job.number] = job
            for old in sorted(self._jobs)[:-KEEP_FINISHED]:
                if self._jobs[old].state != "running":
                    del self._jobs[old]
        threading.Thread(target=self._watch, args=(job, proc, publish), name=f"backup-job-{job.number}",
                         daemon=True).start()
        return job

    def _watch(self, job: BackupJob, proc: subprocess.Popen, publish: Callable[[str, dict], None]) -> None:
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            proc.kill()
        timer = threading.Timer(self.timeout_s, stop)
        timer.daemon = True
        timer.start()
        answer: dict[str, Any] = {}
        stderr: list[bytes] = []
        drain = threading.Thread(target=_read_all, args=(proc.stderr, stderr), daemon=True)
        drain.start()
        last_event = -PROGRESS_EVENT_STEP
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                found = _answer_of(line)
                if found is None:
                    continue
                if "done" in found and "total" in found:
                    job._progress(int(found["done"]), int(found["total"]))
                    percent = job.snapshot()["percent"]
                    if percent - last_event >= PROGRESS_EVENT_STEP:
                        last_event = percent
                        publish("backup.progress", {"job": job.number, "percent": percent})
                elif "path" in found or "error" in found:
                    answer = found
            proc.wait()
        finally:
            timer.cancel()
            drain.join(5)
        if "path" in answer:
            job._finish(Path(answer["path"]), None)
            publish("backup.created", {"job": job.number, "name": job.path.name if job.path else ""})
            return
        if stopped.is_set():
            error = TOO_LONG
        else:
            last = b"".join(stderr).decode(errors="replace").strip().splitlines()
            error = _failure(answer.get("error") or (last[-1] if last else None))
        job._finish(None, error)
        publish("backup.failed", {"job": job.number, "error": error})


def _read_all(stream: IO[bytes] | None, into: list[bytes]) -> None:
    if stream is not None:
        for chunk in stream:
            into.append(chunk)
            if len(into) > 200:             # only the end matters (the last line says why)
                del into[:100]


_REGISTRY: dict[Path, BackupJobs] = {}
_REGISTRY_LOCK = threading.Lock()


def jobs_of(data_dir: Path) -> BackupJobs:
    """The backup jobs of the engine whose data folder is `data_dir`."""
    key = Path(data_dir).resolve()
    with _REGISTRY_LOCK:
        return _REGISTRY.setdefault(key, BackupJobs())
