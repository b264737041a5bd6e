"""The fax inbox and outbox: one SQLite file (`<data>/fax/faxes.db`) plus the TIFFs beside it.

Written only by the fax thread (one writer); read by the engine's `fax.*` commands.
Caller numbers and remote station ids are untrusted text: stored as given (bound
parameters, never formatted into SQL) and cut to a sane length.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomic import fsync_dir
from ..sqlite_files import BehindStore, register_behind, schemas_held

__all__ = ["FaxStore", "FaxRecord", "make_durable"]
log = logging.getLogger("linebox.fax")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faxes (
    id INTEGER PRIMARY KEY,
    box TEXT NOT NULL,
    direction TEXT NOT NULL,          -- 'in' | 'out'
    line TEXT NOT NULL DEFAULT '',
    caller_number TEXT NOT NULL DEFAULT '',
    remote_ident TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    rate INTEGER NOT NULL DEFAULT 0,
    ecm INTEGER NOT NULL DEFAULT 0,
    bad_rows INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    result_code INTEGER NOT NULL,
    result TEXT NOT NULL,
    reason TEXT NOT NULL,
    kind TEXT NOT NULL,
    tiff TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    pdf TEXT NOT NULL DEFAULT '',
    mailed_to TEXT NOT NULL DEFAULT '',
    transcript TEXT NOT NULL DEFAULT '[]'   -- JSON list of timed lines (received faxes: the T.30 dialogue)
);
CREATE INDEX IF NOT EXISTS faxes_box ON faxes (box, at);
-- files of deleted faxes not yet removed from the disk: written in the transaction that deletes
-- the row, emptied once the files are gone, finished when the store opens after a crash
CREATE TABLE IF NOT EXISTS deleted_files (path TEXT PRIMARY KEY);
"""
# Columns added after the first release, with their definition (a store made before gets them on open).
_ADDED_COLUMNS = {"transcript": "TEXT NOT NULL DEFAULT '[]'"}
_TRANSCRIPT_LINES, _TRANSCRIPT_LINE_CHARS = 600, 300


@dataclass(frozen=True)
class FaxRecord:
    id: int
    box: str
    direction: str
    line: str
    caller_number: str
    remote_ident: str
    pages: int
    rate: int
    ecm: bool
    bad_rows: int
    seconds: float
    result_code: int
    result: str
    reason: str
    kind: str
    tiff: str
    at: float
    pdf: str
    mailed_to: str
    transcript: tuple[str, ...] = ()      # timed lines: the call and the T.30 dialogue (received faxes)

    def as_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["transcript"] = list(self.transcript)
        return d


def _transcript(text: str | None) -> tuple[str, ...]:
    try:
        lines = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(str(t) for t in lines) if isinstance(lines, list) else ()


def _record(r: tuple) -> FaxRecord:
    return FaxRecord(*r[:8], bool(r[8]), *r[9:19], _transcript(r[19] if len(r) > 19 else None))


def _clip(text: str, n: int = 64) -> str:
    return "".join(c for c in str(text) if c.isprintable())[:n]


class FaxStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "faxes.db", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")          # a committed fax survives a power cut
        self._db.executescript(_SCHEMA)
        path = self.root / "faxes.db"
        self._columns = {row[1] for row in self._db.execute("PRAGMA table_info(faxes)")}
        if set(_ADDED_COLUMNS) - self._columns and schemas_held(path):
            # a release being tried keeps the file's schema (firmware/sqlite_files.py): faxes are
            # received and kept meanwhile, without the new columns, which the commit adds
            log.warning("fax inbox: new columns %s wait for this release's commit",
                        sorted(set(_ADDED_COLUMNS) - self._columns))
            register_behind(path, BehindStore("fax inbox", 0, 1, self._add_columns))
        else:
            self._add_columns()
        self._finish_deletes()              # a crash after a delete's commit left its files: remove them

    def _add_columns(self) -> None:
        with self._lock:
            for name, definition in _ADDED_COLUMNS.items():
                if name not in self._columns:
                    with self._db:
                        self._db.execute(f"ALTER TABLE faxes ADD COLUMN {name} {definition}")
                    self._columns.add(name)

    def tiff_path(self, box: str, stamp: float, tag: str) -> Path:
        """Where a fax's TIFF goes (no disk access: the media thread asks; the fax thread creates it)."""
        folder = self.root / "".join(c for c in box if c.isalnum())[:20]
        clean_tag = "".join(c for c in tag if c.isalnum() or c in "-_")[:40]
        return folder / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(stamp))}-{clean_tag}.tif"

    def add(self, *, box: str, direction: str, line: str, caller_number: str, remote_ident: str, pages: int,
            rate: int, ecm: bool, bad_rows: int, seconds: float, result_code: int, result: str, reason: str,
            kind: str, tiff: str, at: float, pdf: str = "", mailed_to: str = "",
            transcript: list[str] | tuple[str, ...] = ()) -> int:
        """Record a fax. Its files (`tiff`, `pdf`) must already be durable (`make_durable`): the row
        is committed only after them, so a power cut never leaves a row naming a missing file."""
        values = {"box": _clip(box, 20), "direction": direction, "line": _clip(line, 20),
                  "caller_number": _clip(caller_number, 32), "remote_ident": _clip(remote_ident, 20),
                  "pages": pages, "rate": rate, "ecm": int(ecm), "bad_rows": bad_rows,
                  "seconds": round(seconds, 2), "result_code": result_code, "result": _clip(result, 120),
                  "reason": reason, "kind": kind, "tiff": tiff, "at": at, "pdf": pdf, "mailed_to": mailed_to,
                  "transcript": json.dumps([_clip(t, _TRANSCRIPT_LINE_CHARS)
                                            for t in list(transcript)[:_TRANSCRIPT_LINES]])}
        with self._lock, self._db:
            names = [n for n in values if n in self._columns]      # (a tried release: no new columns yet)
            cur = self._db.execute(f"INSERT INTO faxes ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                   [values[n] for n in names])
            return int(cur.lastrowid or 0)

    def list(self, box: str | None = None, limit: int = 200) -> list[FaxRecord]:
        sql = "SELECT * FROM faxes" + (" WHERE box = ?" if box is not None else "") + " ORDER BY at DESC, id DESC LIMIT ?"
        args: tuple = ((box,) if box is not None else ()) + (int(limit),)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_record(r) for r in rows]

    def get(self, fid: int) -> FaxRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM faxes WHERE id = ?", (int(fid),)).fetchone()
        return None if row is None else _record(row)

    def delete(self, fid: int) -> FaxRecord | None:
        """Remove fax `fid`'s row and its files (TIFF, PDF) if they lie in this store's folder.

        Power-cut order: the row goes in the same transaction that lists its files in
        `deleted_files`; the files are removed after the commit, then the list is emptied. A crash
        before the commit keeps the fax whole; a crash after it leaves the list, and the next
        start removes the files (`_finish_deletes`): no row without its files, no file nobody owns."""
        with self._lock:
            with self._db:
                row = self._db.execute("SELECT * FROM faxes WHERE id = ?", (int(fid),)).fetchone()
                if row is None:
                    return None
                rec = _record(row)
                names = [n for n in (rec.tiff, rec.pdf) if n]
                self._db.executemany("INSERT OR IGNORE INTO deleted_files (path) VALUES (?)", [(n,) for n in names])
                self._db.execute("DELETE FROM faxes WHERE id = ?", (int(fid),))
            self._remove_files(names)
        return rec

    def _remove_files(self, names: list[str]) -> None:
        """Unlink the files of deleted rows (the caller holds the lock), then forget them."""
        folders = set()
        for name in names:
            path = self.file_of(name)
            if path is not None and not self._db.execute(
                    "SELECT 1 FROM faxes WHERE tiff = ? OR pdf = ?", (name, name)).fetchone():
                path.unlink(missing_ok=True)
                folders.add(path.parent)
        for folder in folders:
            fsync_dir(folder)                # the names are gone before the list forgets them
        with self._db:
            self._db.executemany("DELETE FROM deleted_files WHERE path = ?", [(n,) for n in names])

    def _finish_deletes(self) -> None:
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT path FROM deleted_files")]
            if names:
                log.warning("fax store: removing the files of %d deleted fax file(s) a restart interrupted",
                            len(names))
                self._remove_files(names)

    def file_of(self, name: str) -> Path | None:
        """A fax file named in a row, if it exists inside this store's folder (never elsewhere).

        Rows name files by absolute path; a store restored from a backup into another data folder
        finds them by their box folder and name (`<box>/<file>`) under its own root."""
        if not name:
            return None
        root = self.root.resolve()
        path = Path(name).resolve()
        if not path.is_relative_to(root):
            moved = Path(name)
            path = (root / moved.parent.name / moved.name).resolve()
            if len(moved.parts) < 2 or not path.is_relative_to(root):
                return None
        return path if path.is_file() else None

    def expire(self, before: float) -> list[int]:
        """Delete the received faxes that arrived before `before` (engine clock), rows and files (the
        owner's inbox retention, run by the store thread's housekeeping). Returns the ids deleted."""
        with self._lock:
            ids = [int(r[0]) for r in self._db.execute(
                "SELECT id FROM faxes WHERE direction = 'in' AND at < ? ORDER BY id", (float(before),))]
        for fid in ids:
            self.delete(fid)
        return ids

    def close(self) -> None:
        with self._lock:
            self._db.close()


def make_durable(*files: Path) -> None:
    """fsync each existing file and then the folders holding them (their names are durable too)."""
    folders: set[Path] = set()
    for f in files:
        if f is None or not Path(f).is_file():
            continue
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        folders.add(Path(f).parent)
    for d in sorted(folders):
        fsync_dir(d)
        fsync_dir(d.parent)          # the box folder's own entry (made with the first fax)
