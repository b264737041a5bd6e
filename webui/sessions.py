"""Server-side login sessions with idle and absolute expiry.

The browser holds only a random 256-bit id; the table stores its SHA-256, so a
copied database file does not hand out live sessions.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .store import WebStore

log = logging.getLogger("linebox.webui")

IDLE_TIMEOUT = 30 * 60          # seconds without a request before the session ends
ABSOLUTE_TIMEOUT = 12 * 3600    # a working day; then log in again whatever happens
TOUCH_EVERY = 60                # write last_seen at most this often (SD-card wear)


@dataclass(frozen=True)
class Session:
    id_hash: str
    username: str
    csrf_token: str
    created: float
    last_seen: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions in `webui.sqlite`; when the disk refuses a write (full, read-only, I/O error) the
    web keeps working from memory: last-seen is refreshed in memory, new sessions are kept in
    memory (until a restart), ended ones are remembered as ended. So the owner can still log in
    and reach Recordings to free space. Logged once per episode."""

    def __init__(self, store: WebStore, clock: Callable[[], float] = time.time,
                 idle_timeout: float = IDLE_TIMEOUT, absolute_timeout: float = ABSOLUTE_TIMEOUT) -> None:
        self._store = store
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._lock = threading.Lock()
        self._in_memory: dict[str, Session] = {}      # id_hash -> session the disk would not take
        self._ended: set[str] = set()                 # id_hashes ended while the disk refused
        self._seen: dict[str, float] = {}             # id_hash -> last_seen not yet written
        self._disk_trouble = False

    def _write(self, fn: Callable[[sqlite3.Connection], None]) -> bool:
        """Run a write; False (logged once per episode) when the disk refuses it."""
        try:
            with self._store.transaction() as db:
                fn(db)
        except sqlite3.OperationalError as exc:
            if not self._disk_trouble:
                self._disk_trouble = True
                log.error("web sessions: the disk refused a write (%s); sessions are kept in memory "
                          "until it works again", exc)
            return False
        if self._disk_trouble:
            self._disk_trouble = False
            log.info("web sessions: writing works again")
        return True

    def create(self, username: str) -> tuple[str, Session]:
        """A new session; returns the id for the cookie (shown only once)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(_digest(session_id), username, secrets.token_urlsafe(32), now, now)

        def insert(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                       (now - self.idle_timeout, now - self.absolute_timeout))
            db.execute("INSERT INTO sessions(id_hash, username, csrf_token, created, last_seen) "
                       "VALUES (?,?,?,?,?)",
                       (session.id_hash, username, session.csrf_token, now, now))
        if not self._write(insert):
            with self._lock:
                self._in_memory[session.id_hash] = session
        return session_id, session

    def lookup(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """The live session for this cookie value, or None (expired ones are removed)."""
        if not session_id or len(session_id) > 100:
            return None
        id_hash = _digest(session_id)
        with self._lock:
            if id_hash in self._ended:
                return None
            s = self._in_memory.get(id_hash)
            seen = self._seen.get(id_hash)
        if s is None:
            rows = self._store.query("SELECT * FROM sessions WHERE id_hash=?", (id_hash,))
            if not rows:
                return None
            s = Session(*(rows[0][k] for k in ("id_hash", "username", "csrf_token", "created", "last_seen")))
        if seen is not None and seen > s.last_seen:
            s = Session(s.id_hash, s.username, s.csrf_token, s.created, seen)
        now = self._clock()
        if now - s.last_seen > self.idle_timeout or now - s.created > self.absolute_timeout:
            self.end(session_id)
            return None
        if touch and now - s.last_seen >= TOUCH_EVERY:
            with self._lock:
                self._seen[id_hash] = now
                if id_hash in self._in_memory:
                    return s
            if self._write(lambda db: db.execute("UPDATE sessions SET last_seen=? WHERE id_hash=?",
                                                 (now, id_hash))):
                with self._lock:
                    self._seen.pop(id_hash, None)
        return s

    def end(self, session_id: str) -> None:
        id_hash = _digest(session_id)
        with self._lock:
            self._in_memory.pop(id_hash, None)
            self._seen.pop(id_hash, None)
        if not self._write(lambda db: db.execute("DELETE FROM sessions WHERE id_hash=?", (id_hash,))):
            with self._lock:
                self._ended.add(id_hash)

    def end_all_for(self, username: str) -> None:
        with self._lock:
            for h in [h for h, s in self._in_memory.items() if s.username == username]:
                del self._in_memory[h]
        self._write(lambda db: db.execute("DELETE FROM sessions WHERE username=?", (username,)))
