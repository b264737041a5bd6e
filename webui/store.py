"""The web UI's own SQLite file (users and sessions) in the data directory.

Kept apart from the TinyDB configuration on purpose: sessions are touched on
many requests, and an atomic rewrite of the whole config file for each of them
would wear the SD card and race the engine's config writer. SQLite in WAL mode
survives power loss and restarts.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class WebStore:
    """One connection shared by the server's threads, serialised by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Password hashes live here: owner-only, and SQLite gives its -wal/-shm files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

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
        """A random key kept in this file (made on first use), e.g. for signing device cookies."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM secrets WHERE name=?", (name,)).fetchone()
            if row is not None:
                return row["value"]
            value = secrets.token_hex(32)
            db.execute("INSERT INTO secrets(name, value) VALUES (?,?)", (name, value))
            return value

    def close(self) -> None:
        with self._lock:
            self._db.close()
