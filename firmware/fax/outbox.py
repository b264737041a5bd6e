"""The fax outbox: send jobs, their attempts and transcripts, in `<data>/fax/outbox.db` (SQLite,
WAL, synchronous=FULL: a queued fax survives a power cut), and the retry policy.

Written only on the engine's store thread (the `fax.*` commands, and the media thread's attempt
results posted there). A job's document (the rendered G4 TIFF) and page thumbnails are in its own
folder `<data>/fax/outbox/<job id>/`.

    queued ──(a line is free, the gate allows the number)──► sending ──► sent
       ▲                                                        │
       └──── busy, no answer, dropped: again after RETRY_S ◄────┤
             training failed: later, without ECM, a slower modem │
                                                                 └──► failed (no attempts left, or
                                                                      a refusal no retry can change)
    queued / sending ──cancel──► cancelled

A job found "sending" when the engine starts was cut off by a crash or power cut: its attempt is
closed as "interrupted" and the job queued again (`recover`).
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import fsync_dir
from ..sqlite_files import open_checked

__all__ = ["OutboxStore", "Job", "AttemptResult", "next_step", "RETRY_S", "FINAL_KINDS", "MODEM_STEPS",
           "MAX_ATTEMPTS", "KIND_WORDS"]

MAX_ATTEMPTS = 5
# Seconds before the next attempt, by how the last one ended.
RETRY_S = {"busy": 300, "no_answer": 300, "call_dropped": 300, "protocol": 300, "not_a_fax": 600,
           "training_failed": 900, "interrupted": 60, "no_line": 60}
FINAL_KINDS = frozenset({"ok", "refused", "document", "denied"})
MODEM_STEPS = ("v17", "v29", "v27ter")          # a training failure steps down one
STATES = ("queued", "sending", "sent", "failed", "cancelled")

# How an attempt ended, for a person (the T.30 kinds are in reasons.py; these are the call's own).
KIND_WORDS = {
    "busy": "The number was busy. It will be tried again.",
    "no_answer": "Nobody answered. It will be tried again.",
    "denied": "This number may not be called from your extension (outbound permissions). "
              "Ask the owner to allow it, or check the number.",
    "interrupted": "Linebox restarted in the middle of sending. It will be tried again.",
    "no_line": "No line was free.",
    "cancelled": "Cancelled.",
}

_MIGRATIONS = ["""
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,                -- the user who sent it (web login, or the CLI's --as)
    box TEXT NOT NULL,                  -- the sender's extension: class of service, reply e-mail
    number TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,           -- wall clock
    updated_at REAL NOT NULL,
    next_at REAL NOT NULL DEFAULT 0,    -- engine clock: not before (0: at once)
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    lpi INTEGER NOT NULL,
    folder TEXT NOT NULL,
    ecm INTEGER NOT NULL DEFAULT 1,     -- for the next attempt
    modem TEXT NOT NULL DEFAULT 'v17',
    subject TEXT NOT NULL DEFAULT '',
    cover INTEGER NOT NULL DEFAULT 0,
    notify TEXT NOT NULL DEFAULT '',    -- e-mail the sender here (failure; success if notify_ok)
    notify_ok INTEGER NOT NULL DEFAULT 0,
    last_kind TEXT NOT NULL DEFAULT '',
    last_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_owner ON jobs (owner, id);
CREATE INDEX jobs_state ON jobs (state);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    line TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    ended_at REAL,
    kind TEXT NOT NULL DEFAULT '',
    result_code INTEGER,
    result_text TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    pages_sent INTEGER NOT NULL DEFAULT 0,
    rate INTEGER NOT NULL DEFAULT 0,
    ecm INTEGER NOT NULL DEFAULT 0,
    modem TEXT NOT NULL DEFAULT '',
    remote_ident TEXT NOT NULL DEFAULT '',
    transcript TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX attempts_job ON attempts (job_id, n);
"""]


@dataclass(frozen=True)
class Job:
    id: int
    owner: str
    box: str
    number: str
    state: str
    created_at: float
    updated_at: float
    next_at: float
    attempts: int
    max_attempts: int
    pages: int
    lpi: int
    folder: str
    ecm: bool
    modem: str
    subject: str
    cover: bool
    notify: str
    notify_ok: bool
    last_kind: str
    last_reason: str

    @property
    def document(self) -> Path:
        return Path(self.folder) / "document.tif"

    def as_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "folder"}
        return d


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended (from the media thread)."""
    kind: str                  # reasons.failure_kind(...) or busy / no_answer / denied / interrupted
    reason: str                # plain words
    at: float                  # engine clock when it ended
    result_code: int | None = None
    result_text: str = ""
    pages_sent: int = 0
    rate: int = 0
    ecm: bool = False
    modem: str = ""
    remote_ident: str = ""
    transcript: tuple[str, ...] = ()


def next_step(job: Job, result: AttemptResult, retry_s: dict[str, int] | None = None) -> dict[str, Any]:
    """The job's new state after an attempt: sent, failed, or queued again (when, ECM, modem).
    `retry_s`: seconds to wait by kind (the owner's settings; default RETRY_S)."""
    retry_s = RETRY_S if retry_s is None else retry_s
    if result.kind == "ok":
        return {"state": "sent", "next_at": 0.0, "ecm": job.ecm, "modem": job.modem}
    if result.kind in FINAL_KINDS or job.attempts >= job.max_attempts:
        return {"state": "failed", "next_at": 0.0, "ecm": job.ecm, "modem": job.modem}
    ecm, modem = job.ecm, job.modem
    if result.kind == "training_failed":
        ecm = False
        steps = list(MODEM_STEPS)
        modem = steps[min(steps.index(modem) + 1, len(steps) - 1)] if modem in steps else "v29"
    return {"state": "queued", "next_at": result.at + retry_s.get(result.kind, 300), "ecm": ecm, "modem": modem}


def _clip(text: Any, n: int) -> str:
    return "".join(c for c in str(text) if c.isprintable())[:n]


class OutboxStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.root = self.path.parent / "outbox"
        opened = open_checked(self.path, _MIGRATIONS, "fax outbox")
        self._db = opened.db
        self._lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self._db.close()
                self.closed = True

    def _tx(self, sql: str, args: tuple = ()) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cur

    # ---- jobs
    def add(self, *, owner: str, box: str, number: str, pages: int, lpi: int, draft: Path, subject: str = "",
            cover: bool = False, notify: str = "", notify_ok: bool = False, ecm: bool = True,
            modem: str = "v17", max_attempts: int = MAX_ATTEMPTS) -> Job:
        """Queue a rendered document: the draft folder becomes the job's folder.

        Power-cut order: the draft's files are fsynced, the folder is renamed to the job's and
        that rename made durable, and only then is the row committed (one transaction). A cut
        before the commit leaves a folder without a row (swept at the next start), never a job
        whose document is missing or partial."""
        self.root.mkdir(parents=True, exist_ok=True)
        sync_folder(draft)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                cur = self._db.execute(
                    "INSERT INTO jobs (owner, box, number, state, created_at, updated_at, max_attempts, pages, lpi,"
                    " folder, ecm, modem, subject, cover, notify, notify_ok) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (_clip(owner, 64), _clip(box, 10), number, "queued", now, now, max_attempts, pages, lpi, "",
                     int(ecm), modem, _clip(subject, 120), int(cover), _clip(notify, 200), int(notify_ok)))
                job_id = int(cur.lastrowid or 0)
                folder = self.root / str(job_id)
                if folder.exists():              # left by a cut between rename and commit: no row has it
                    shutil.rmtree(folder)
                draft.rename(folder)
                fsync_dir(self.root)
                fsync_dir(draft.parent)
                self._db.execute("UPDATE jobs SET folder = ? WHERE id = ?", (str(folder), job_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        job = self.get(job_id)
        assert job is not None
        return job

    def sweep_orphans(self) -> list[str]:
        """Job folders no row names (a cut between the folder's rename and the row's commit): removed."""
        if not self.root.is_dir():
            return []
        with self._lock:
            known = {str(r[0]) for r in self._db.execute("SELECT id FROM jobs")}
        gone = []
        for d in self.root.iterdir():
            if d.is_dir() and not d.is_symlink() and d.name.isdigit() and d.name not in known:
                shutil.rmtree(d, ignore_errors=True)
                gone.append(d.name)
        return gone

    def expire(self, before: float) -> list[int]:
        """Delete finished jobs (sent, failed, cancelled) that ended before `before` (wall clock), with
        their folders: the owner's retention, run by the store thread's housekeeping."""
        with self._lock:
            ids = [int(r[0]) for r in self._db.execute(
                "SELECT id FROM jobs WHERE state IN ('sent', 'failed', 'cancelled') AND updated_at < ? ORDER BY id",
                (float(before),))]
        for job_id in ids:
            job = self.get(job_id)
            self._tx("DELETE FROM attempts WHERE job_id = ?", (job_id,))
            self._tx("DELETE FROM jobs WHERE id = ?", (job_id,))
            if job is not None:
                self.remove_folder(job)
        return ids

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        return _job(row, self.root) if row is not None else None

    def list(self, owner: str | None = None, limit: int = 100) -> list[Job]:
        sql = "SELECT * FROM jobs" + (" WHERE owner = ?" if owner is not None else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple = ((owner,) if owner is not None else ()) + (int(limit),)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_job(r, self.root) for r in rows]

    def pending(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id").fetchall()
        return [_job(r, self.root) for r in rows]

    def set_state(self, job_id: int, state: str, **fields: Any) -> None:
        cols = {"state": state, "updated_at": time.time(), **fields}
        sets = ", ".join(f"{k} = ?" for k in cols)
        self._tx(f"UPDATE jobs SET {sets} WHERE id = ?", (*cols.values(), int(job_id)))

    # ---- attempts
    def start_attempt(self, job_id: int, line: str, at: float, ecm: bool, modem: str) -> int:
        """The media thread seized a line for the job: it is sending (attempt number returned)."""
        job = self.get(job_id)
        n = (job.attempts if job is not None else 0) + 1
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE jobs SET state = 'sending', attempts = ?, updated_at = ? WHERE id = ?",
                                 (n, time.time(), job_id))
                self._db.execute("INSERT INTO attempts (job_id, n, line, started_at, ecm, modem) VALUES (?,?,?,?,?,?)",
                                 (job_id, n, _clip(line, 20), at, int(ecm), modem))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def finish_attempt(self, job_id: int, result: AttemptResult,
                       retry_s: dict[str, int] | None = None) -> Job | None:
        """Record how the open attempt ended and move the job on (next_step). None: the job is gone."""
        job = self.get(job_id)
        if job is None:
            return None
        step = next_step(job, result, retry_s) if job.state != "cancelled" else {
            "state": "cancelled", "next_at": 0.0, "ecm": job.ecm, "modem": job.modem}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE attempts SET ended_at = ?, kind = ?, result_code = ?, result_text = ?, reason = ?,"
                    " pages_sent = ?, rate = ?, ecm = ?, modem = ?, remote_ident = ?, transcript = ?"
                    " WHERE job_id = ? AND n = ?",
                    (result.at, result.kind, result.result_code, _clip(result.result_text, 120),
                     _clip(result.reason, 300), result.pages_sent, result.rate, int(result.ecm),
                     result.modem or job.modem, _clip(result.remote_ident, 20),
                     json.dumps([_clip(t, 300) for t in result.transcript]), job_id, job.attempts))
                self._db.execute(
                    "UPDATE jobs SET state = ?, next_at = ?, ecm = ?, modem = ?, last_kind = ?, last_reason = ?,"
                    " updated_at = ? WHERE id = ?",
                    (step["state"], step["next_at"], int(step["ecm"]), step["modem"], result.kind,
                     _clip(result.reason, 300), time.time(), job_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self.get(job_id)

    def attempts(self, job_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM attempts WHERE job_id = ? ORDER BY n", (int(job_id),)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["transcript"] = json.loads(d["transcript"] or "[]")
            d["ecm"] = bool(d["ecm"])
            out.append(d)
        return out

    def recover(self, at: float) -> list[Job]:
        """At engine start: attempts cut off by a crash end as "interrupted"; those jobs are queued again."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE state = 'sending'").fetchall()
        for r in rows:
            job = _job(r, self.root)
            self.finish_attempt(job.id, AttemptResult("interrupted", KIND_WORDS["interrupted"], at,
                                                      transcript=("the engine stopped during this attempt",)))
        return self.pending()

    def remove_folder(self, job: Job) -> None:
        if job.folder and Path(job.folder).is_relative_to(self.root):
            shutil.rmtree(job.folder, ignore_errors=True)


def sync_folder(folder: Path) -> None:
    """fsync every file in `folder` and the folder itself."""
    for f in sorted(folder.iterdir()):
        if f.is_file() and not f.is_symlink():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def _job(r: Any, root: Path) -> Job:
    # A job's folder is always <outbox root>/<id>: found there even in a store restored from a
    # backup into another data folder.
    folder = str(root / str(r["id"])) if r["folder"] else ""
    return Job(r["id"], r["owner"], r["box"], r["number"], r["state"], r["created_at"], r["updated_at"],
               r["next_at"], r["attempts"], r["max_attempts"], r["pages"], r["lpi"], folder, bool(r["ecm"]),
               r["modem"], r["subject"], bool(r["cover"]), r["notify"], bool(r["notify_ok"]), r["last_kind"],
               r["last_reason"])
