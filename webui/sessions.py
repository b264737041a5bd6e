"""Server-side login sessions with idle and absolute expiry.

The browser holds only a random 256-bit id; the table stores its SHA-256, so a
copied database file does not hand out live sessions.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .store import WebStore

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
    def __init__(self, store: WebStore, clock: Callable[[], float] = time.time,
                 idle_timeout: float = IDLE_TIMEOUT, absolute_timeout: float = ABSOLUTE_TIMEOUT) -> None:
        self._store = store
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def create(self, username: str) -> tuple[str, Session]:
        """A new session; returns the id for the cookie (shown only once)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(_digest(session_id), username, secrets.token_urlsafe(32), now, now)
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                       (now - self.idle_timeout, now - self.absolute_timeout))
            db.execute("INSERT INTO sessions(id_hash, username, csrf_token, created, last_seen) "
                       "VALUES (?,?,?,?,?)",
                       (session.id_hash, username, session.csrf_token, now, now))
        return session_id, session

    def lookup(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """The live session for this cookie value, or None (expired ones are removed)."""
        if not session_id or len(session_id) > 100:
            return None
        id_hash = _digest(session_id)
        rows = self._store.query("SELECT * FROM sessions WHERE id_hash=?", (id_hash,))
        if not rows:
            return None
        s = Session(*(rows[0][k] for k in ("id_hash", "username", "csrf_token", "created", "last_seen")))
        now = self._clock()
        if now - s.last_seen > self.idle_timeout or now - s.created > self.absolute_timeout:
            self.end(session_id)
            return None
        if touch and now - s.last_seen >= TOUCH_EVERY:
            with self._store.transaction() as db:
                db.execute("UPDATE sessions SET last_seen=? WHERE id_hash=?", (now, id_hash))
        return s

    def end(self, session_id: str) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_hash=?", (_digest(session_id),))

    def end_all_for(self, username: str) -> None:
        with self._store.transaction() as db:
            db.execute("DELETE FROM sessions WHERE username=?", (username,))
