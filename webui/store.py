"""The web UI's own SQLite file (users and sessions) in the data directory.

Kept apart from the TinyDB configuration on purpose: sessions are touched on
many requests, and an atomic rewrite of the whole config file for each of them
would wear the SD card and race the engine's config writer. SQLite in WAL mode
survives power loss and restarts.
"""
from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("linebox.webui")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username   TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    pw_hash    TEXT NOT NULL,
    extension  TEXT,
    created    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created    REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL
);
"""


class DamagedStore(sqlite3.DatabaseError):
    """The file opens but SQLite's integrity check finds damaged pages."""


class WebStore:
    """One connection shared by the server's threads, serialised by a lock.

    A damaged file (not a database, or pages that fail SQLite's quick_check) is set aside as
    `webui.sqlite.corrupt-<time>` with one log line and `alarm` set for the status page, and a
    clean store is started: losing users and sessions is recoverable (setup again with the
    setup code), a web UI that cannot start is not."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.alarm: str | None = None
        self._lock = threading.Lock()
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            # Only damage sets the file aside; "locked", "unable to open", permissions... are raised.
            if not isinstance(exc, DamagedStore) and \
                    getattr(exc, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise
            self.alarm = self._set_aside(exc)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        # Password hashes live here: owner-only, and SQLite gives its -wal/-shm files the same mode.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            problems = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
            if problems != ["ok"]:
                raise DamagedStore("; ".join(str(p) for p in problems)[:300])
            db.execute("SELECT name, sql FROM sqlite_master").fetchall()
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(SCHEMA)
            for table in ("users", "sessions", "secrets"):        # reads every page of the small tables
                db.execute(f"SELECT * FROM {table}").fetchall()
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self, exc: Exception) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{self.path}{suffix}")
            if p.exists():
                os.replace(p, p.with_name(f"{p.name}.corrupt-{stamp}"))
        message = (f"The web UI's user store {self.path.name} was damaged ({exc}); it was set aside as "
                   f"{self.path.name}.corrupt-{stamp} and a new one started: create the administrator "
                   "again with the setup code, then the other users.")
        log.error("%s", message)
        return message

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def secret(self, name: str) -> str:
        """A random key kept in this file (made on first use), e.g. for signing device cookies.
        If the disk refuses to store it, it lives in memory until the next start."""
        rows = self.query("SELECT value FROM secrets WHERE name=?", (name,))
        if rows:
            return rows[0]["value"]
        value = secrets.token_hex(32)
        try:
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO secrets(name, value) VALUES (?,?)", (name, value))
        except sqlite3.OperationalError as exc:
            log.warning("web store: key %s kept in memory only (%s)", name, exc)
            return value
        return self.query("SELECT value FROM secrets WHERE name=?", (name,))[0]["value"]

    def close(self) -> None:
        with self._lock:
            self._db.close()
