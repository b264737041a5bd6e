"""Opening a domain's own SQLite file the way every Linebox store does (see firmware/records.py).

WAL with `synchronous=FULL` (a commit survives a power cut), a `quick_check` of every page at
open, numbered migrations (`PRAGMA user_version`), and a damaged file set aside as
`NAME.corrupt-<UTC time>` (with its -wal and -shm) so a new, empty one starts: the reason is
logged once, kept as `alarm` and raised for the status page (`system.alarms`).
Used by customers, work orders and the
knowledge base; each keeps its own file and is written only on the engine's store thread.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("linebox.sqlite")


class DamagedFile(sqlite3.DatabaseError):
    """The file opens but SQLite's integrity check finds damaged pages."""


@dataclass
class OpenedDatabase:
    db: sqlite3.Connection
    alarm: str | None            # what opening had to do (a damaged file set aside), or None


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
    db.row_factory = sqlite3.Row
    return db


def _migrate(db: sqlite3.Connection, migrations: list[str], what: str) -> None:
    start = db.execute("PRAGMA user_version").fetchone()[0]
    if start > len(migrations):
        raise RuntimeError(f"the {what} database is schema version {start}, newer than this Linebox "
                           f"({len(migrations)}); install the newer firmware again or restore an older backup")
    for version in range(start + 1, len(migrations) + 1):
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{migrations[version - 1]}\nPRAGMA user_version = {version};\nCOMMIT;")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def _prepare(path: Path, migrations: list[str], what: str) -> sqlite3.Connection:
    db = _connect(path)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"{what}: SQLite refused WAL mode on {path} (got {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        problems = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise DamagedFile("; ".join(str(p) for p in problems)[:300])
        _migrate(db, migrations, what)
    except BaseException:
        db.close()
        raise
    return db


def open_checked(path: Path | str, migrations: list[str], what: str) -> OpenedDatabase:
    """Open (create, migrate) `path`; a damaged file is set aside and a new one started."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return OpenedDatabase(_prepare(path, migrations, what), None)
    except sqlite3.DatabaseError as e:
        if not isinstance(e, DamagedFile) and \
                getattr(e, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{path}{suffix}")
            if p.exists():
                os.replace(p, p.with_name(f"{p.name}.corrupt-{stamp}"))
        log.error("%s %s is unreadable (%s); kept aside as %s.corrupt-%s, starting a new one",
                  what, path, e, path.name, stamp)
        alarm = (f"The {what} file {path.name} was damaged ({str(e)[:200]}); it was set aside as "
                 f"{path.name}.corrupt-{stamp} and a new, empty one started.")
        from .alarms import raise_alarm
        raise_alarm(f"store:{path.name}", alarm)          # on the status page (system.alarms)
        return OpenedDatabase(_prepare(path, migrations, what), alarm)


def open_read_only(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to an existing store file (WAL: it sees the last commit while the
    one writer writes, and never waits for it): for lookups off the store thread."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, check_same_thread=False, isolation_level=None,
                         timeout=10.0)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA query_only=ON")
    return db


def reader_key(path: Path | str) -> Path:
    """The `shared_store` key of a store file's read-only twin (closed with it by `close_under`)."""
    return Path(f"{Path(path)}.reader")


# ---- one store object per file and process ---------------------------------------------------
# A domain's store (its connection, and for some a writer thread) is opened once per process and
# file, on first use. `close_under` closes every store whose file lies in a data folder: the
# engine calls it when it stops, so no connection (three file descriptors with WAL) outlives it.

_SHARED: dict[Path, object] = {}
_SHARED_LOCK = threading.Lock()


def shared_store(path: Path | str, factory: Callable[[Path], T]) -> T:
    """The store of `path` in this process, made by `factory(path)` on first use (or after it was closed)."""
    path = Path(path).resolve()
    with _SHARED_LOCK:
        store = _SHARED.get(path)
        if store is None or getattr(store, "closed", False):
            store = _SHARED[path] = factory(path)
        return store  # type: ignore[return-value]


def close_under(folder: Path | str) -> None:
    """Close and forget every shared store whose file is in `folder` (an engine stopping)."""
    folder = Path(folder).resolve()
    with _SHARED_LOCK:
        mine = [p for p in _SHARED if p.is_relative_to(folder)]
        stores = [_SHARED.pop(p) for p in mine]
    for store in stores:
        try:
            store.close()  # type: ignore[attr-defined]
        except Exception:
            log.exception("closing %s failed", store)
