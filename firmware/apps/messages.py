"""Internal short messages between users of the web UI.

Kept in their own SQLite file (`messages.sqlite` next to the configuration, WAL mode) rather
than the configuration: messages are not settings, and sending one must not make the engine
reload its dial plan. The web UI publishes each new message on the live event stream, so it
shows on the recipient's page at once.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

BODY_MAX = 500
KEEP_PER_USER = 500          # older messages of a recipient are pruned beyond this


class MessageError(ValueError):
    pass


def clean_body(text: str) -> str:
    """The text as stored: printable characters and line breaks only, bounded."""
    text = str(text).replace("\r\n", "\n").strip()
    if not text:
        raise MessageError("Write a message first.")
    if len(text) > BODY_MAX:
        raise MessageError(f"A message is at most {BODY_MAX} characters.")
    return "".join(c for c in text if c == "\n" or c.isprintable())


class MessageStore:
    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("""CREATE TABLE IF NOT EXISTS messages (
                id INTEGER PRIMARY KEY, at REAL NOT NULL, sender TEXT NOT NULL,
                recipient TEXT NOT NULL, body TEXT NOT NULL, read INTEGER NOT NULL DEFAULT 0)""")
            self._db.execute("CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient, id)")

    def send(self, sender: str, recipient: str, body: str, at: float) -> dict:
        body = clean_body(body)
        with self._lock:
            cur = self._db.execute("INSERT INTO messages (at, sender, recipient, body) VALUES (?, ?, ?, ?)",
                                   (float(at), sender, recipient, body))
            self._db.execute("""DELETE FROM messages WHERE recipient = ? AND id NOT IN
                (SELECT id FROM messages WHERE recipient = ? ORDER BY id DESC LIMIT ?)""",
                             (recipient, recipient, KEEP_PER_USER))
            msg_id = cur.lastrowid
        return {"id": msg_id, "at": float(at), "from": sender, "to": recipient, "body": body, "read": False}

    def inbox(self, user: str, limit: int = 100) -> list[dict]:
        return self._list("recipient = ?", user, limit)

    def sent(self, user: str, limit: int = 100) -> list[dict]:
        return self._list("sender = ?", user, limit)

    def _list(self, where: str, user: str, limit: int) -> list[dict]:
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM messages WHERE {where} ORDER BY id DESC LIMIT ?",
                                    (user, int(limit))).fetchall()
        return [{"id": r["id"], "at": r["at"], "from": r["sender"], "to": r["recipient"], "body": r["body"],
                 "read": bool(r["read"])} for r in rows]

    def unread(self, user: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages WHERE recipient = ? AND read = 0",
                                    (user,)).fetchone()[0]

    def mark_read(self, user: str) -> None:
        with self._lock:
            self._db.execute("UPDATE messages SET read = 1 WHERE recipient = ? AND read = 0", (user,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
