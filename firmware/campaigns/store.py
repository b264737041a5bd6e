"""DATA/campaigns.db: campaigns, their numbers with per-number results, the do-not-call list.

One writer: `CampaignStore`'s own thread applies every write in order (imports from the store
thread, results from the media thread, which only queues them: no I/O on the tick). Readers use
their own read-only connections. SQLite in WAL mode; values are always bound parameters."""
from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sqlite_files import shared_store

log = logging.getLogger("linebox.campaigns")

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY, doc TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'draft', created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (
    id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, number TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    last_result TEXT NOT NULL DEFAULT '', last_at REAL, not_before REAL NOT NULL DEFAULT 0,
    agent TEXT NOT NULL DEFAULT '', call_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS numbers_by_campaign ON numbers (campaign, id);
CREATE TABLE IF NOT EXISTS dnc (number TEXT PRIMARY KEY, added REAL NOT NULL, note TEXT NOT NULL DEFAULT '');
"""
STATUSES = ("pending", "dialling", "answered", "machine", "machine_agent", "message_left", "hung_up", "unknown", "busy",
            "no_answer", "failed", "denied", "dnc", "skipped")
# answered: by a person; machine: an answering machine, hung up on (tried again); machine_agent: a
# machine the agent took anyway; message_left: the recorded message left on it; hung_up: answered
# and hung up before a word (no contact, tried again); unknown: the agent hung up before the detector
# knew who answered (no contact, tried again)
FINAL = ("answered", "machine_agent", "message_left", "denied", "dnc", "skipped")

def store_at(data_dir: Path) -> CampaignStore:
    """The one store (and writer) of `data_dir`/campaigns.db in this process."""
    return shared_store(Path(data_dir) / "campaigns.db", CampaignStore)


class CampaignStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        self._db = db
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = False
        self._thread = threading.Thread(target=self._run, name="campaigns-writer", daemon=True)
        self._thread.start()

    # ---- the writer
    def _run(self) -> None:
        while True:
            op = self._q.get()
            if op is None:
                break
            batch = [op]
            while True:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    break
                batch.append(nxt)
            waiting = []
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for fn, done in batch:
                    try:
                        if fn is not None:
                            fn(self._db)
                    except Exception as exc:  # noqa: BLE001 - told to the caller that waits, logged otherwise
                        if done is not None:
                            done.set_exception(exc)
                            done = None
                        else:
                            log.exception("campaigns: a write failed")
                    if done is not None:
                        waiting.append(done)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                log.exception("campaigns: a batch of writes failed")
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                for done in waiting:
                    done.set_exception(exc)
                waiting = []
            for done in waiting:                 # told only once the batch is committed
                done.set_result(None)

    def put(self, fn: Callable[[sqlite3.Connection], None]) -> None:
        """Queue a write (never blocks: the media thread may call it)."""
        self._q.put((fn, None))

    def write(self, fn: Callable[[sqlite3.Connection], None], timeout: float = 30.0) -> None:
        """Do a write and wait for it (store thread only); its exception is raised here."""
        import concurrent.futures
        done: concurrent.futures.Future = concurrent.futures.Future()
        self._q.put((fn, done))
        done.result(timeout)

    def flush(self, timeout: float = 10.0) -> None:
        self.write(lambda db: None, timeout)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._q.put(None)
            self._thread.join(5)
            self._db.close()

    # ---- readers
    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def campaigns(self) -> list[dict]:
        return [{**json.loads(r["doc"]), "state": r["state"], "created": r["created"]}
                for r in self.query("SELECT * FROM campaigns ORDER BY created")]

    def campaign(self, cid: str) -> dict | None:
        rows = self.query("SELECT * FROM campaigns WHERE id = ?", (cid,))
        return {**json.loads(rows[0]["doc"]), "state": rows[0]["state"], "created": rows[0]["created"]} if rows else None

    def numbers(self, cid: str, status: str | None = None, limit: int = 1_000_000, offset: int = 0) -> list[dict]:
        if status:
            return self.query("SELECT * FROM numbers WHERE campaign = ? AND status = ? ORDER BY id LIMIT ? OFFSET ?",
                              (cid, status, limit, offset))
        return self.query("SELECT * FROM numbers WHERE campaign = ? ORDER BY id LIMIT ? OFFSET ?", (cid, limit, offset))

    def summary(self, cid: str) -> dict[str, int]:
        rows = self.query("SELECT status, COUNT(*) AS n FROM numbers WHERE campaign = ? GROUP BY status", (cid,))
        return {r["status"]: r["n"] for r in rows}

    def dnc(self) -> set[str]:
        return {r["number"] for r in self.query("SELECT number FROM dnc")}

    # ---- writes (store thread)
    def save_campaign(self, doc: dict, now: float) -> None:
        body = json.dumps({k: v for k, v in doc.items() if k not in ("state", "created")})
        self.write(lambda db: db.execute(
            "INSERT INTO campaigns (id, doc, created) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            (doc["id"], body, now)))

    def set_state(self, cid: str, state: str) -> None:
        self.write(lambda db: db.execute("UPDATE campaigns SET state = ? WHERE id = ?", (state, cid)))

    def replace_numbers(self, cid: str, rows: list[dict], dnc: set[str]) -> None:
        def go(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM numbers WHERE campaign = ?", (cid,))
            db.executemany("INSERT INTO numbers (campaign, number, name, note, status) VALUES (?, ?, ?, ?, ?)",
                           [(cid, r["number"], r["name"], r["note"], "dnc" if r["number"] in dnc else "pending")
                            for r in rows])
        self.write(go)

    def add_dnc(self, numbers: list[str], now: float, note: str = "") -> None:
        self.write(lambda db: db.executemany("INSERT OR IGNORE INTO dnc (number, added, note) VALUES (?, ?, ?)",
                                             [(n, now, note) for n in numbers]))

    def queue_dnc(self, number: str, now: float, note: str = "") -> None:
        """Queue one number for the do-not-call list (never blocks: the media thread may call it)."""
        self.put(lambda db: db.execute("INSERT OR IGNORE INTO dnc (number, added, note) VALUES (?, ?, ?)",
                                       (number, now, note)))

    def remove_dnc(self, number: str) -> None:
        self.write(lambda db: db.execute("DELETE FROM dnc WHERE number = ?", (number,)))

    # ---- results (queued from the media thread)
    def record_result(self, number_id: int, **fields: Any) -> None:
        allowed = {"status", "attempts", "last_result", "last_at", "not_before", "agent", "call_id"}
        clean = {k: v for k, v in fields.items() if k in allowed}
        if not clean:
            return
        sql = f"UPDATE numbers SET {', '.join(f'{k} = ?' for k in clean)} WHERE id = ?"
        params = (*clean.values(), number_id)
        self.put(lambda db: db.execute(sql, params))
