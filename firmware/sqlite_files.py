"""Opening a domain's own SQLite file the way every Linebox store does (see firmware/records.py).

WAL with `synchronous=FULL` (a commit survives a power cut), a `quick_check` of every page at
open, numbered migrations (`PRAGMA user_version`), and a damaged file set aside as
`NAME.corrupt-<UTC time>` (with its -wal and -shm) so a new, empty one starts: the reason is
logged once, kept as `alarm` and raised for the status page (`system.alarms`).
Used by customers, work orders, the knowledge base and the fax outbox (the fax inbox, firmware/fax/store.py,
holds its added columns by the same rule); each keeps its own file
and is written only on the engine's store thread.

**A release being tried keeps every store's schema (issue 14).** While a new release runs once
with tryboot, before its health check commits it, a rollback (or a power cut, after which the Pi
boots the old slot by itself) must find every file as the old release left it: the old release
refuses a file whose `user_version` is newer than its own. So the engine holds migrations for its
data folder (`hold_schemas`); a store opened then keeps the version it has (a new file is still
created whole: no older release has seen it) and registers how to migrate (`register_behind`).
SQL that needs a table or column the file does not have yet fails with `SchemaWaitsForCommit`,
whose message tells the user to try again after the commit (the engine API answers
`unavailable`); everything the old schema can hold works as before. When the health check
commits, `update.migrate` calls `migrate_held(data_dir)` on the store thread: the hold is lifted
and every store opened behind is migrated (call records through their writer thread); stores
opened later migrate on open. The call records (firmware/records.py) follow the same rule with
their own writer thread, and register in the same place.
"""
from __future__ import annotations

import logging
import os
import re
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
    behind: bool = False         # kept at an older schema while a release is tried (see above)


# ---- a release being tried keeps every store's schema --------------------------------------------

class SchemaWaitsForCommit(sqlite3.OperationalError):
    """SQL needing a table or column that a store kept at its old schema (a release being tried)
    does not have yet; the message is for the user."""


@dataclass
class BehindStore:
    what: str                            # "customer book", "call records", ...
    version: int                         # the file's schema version, kept while tried
    target: int                          # this release's version
    migrate: Callable[[], object]        # brings the file to `target` (on the store's own writer)


_HELD: set[Path] = set()                  # data folders whose stores keep their schema
_BEHIND: dict[Path, BehindStore] = {}     # store file -> how to migrate it at the commit
_HOLD_LOCK = threading.Lock()
_MISSING_SCHEMA = re.compile(r"no such (table|column)|has no column named")


def hold_schemas(data_dir: Path | str, held: bool) -> None:
    """Hold (True) or allow (False) schema migrations of every store under `data_dir` in this
    process: the engine decides it once at start (firmware/update: `keep_schemas_while_tried`)."""
    folder = Path(data_dir).resolve()
    with _HOLD_LOCK:
        if held:
            _HELD.add(folder)
        else:
            _HELD.discard(folder)


def schemas_held(path: Path | str) -> bool:
    """Does the store file `path` keep its schema now (its data folder is held)?"""
    path = Path(path).resolve()
    with _HOLD_LOCK:
        return any(path.is_relative_to(folder) for folder in _HELD)


def register_behind(path: Path | str, store: BehindStore) -> None:
    with _HOLD_LOCK:
        _BEHIND[Path(path).resolve()] = store


def store_behind(path: Path | str) -> BehindStore | None:
    with _HOLD_LOCK:
        return _BEHIND.get(Path(path).resolve())


def migrate_held(data_dir: Path | str) -> list[str]:
    """The release is committed: lift the hold on `data_dir` and migrate every store opened
    behind in it (call on the engine's store thread). Returns what was done, one line a store."""
    folder = Path(data_dir).resolve()
    hold_schemas(folder, False)
    with _HOLD_LOCK:
        mine = sorted(p for p in _BEHIND if p.is_relative_to(folder))
        stores = [(p, _BEHIND[p]) for p in mine]
    done = []
    for path, store in stores:
        try:
            store.migrate()
        except sqlite3.ProgrammingError:             # closed since: it migrates when it opens again
            log.info("%s %s was closed while behind; it migrates when it opens", store.what, path)
        else:
            log.warning("%s: schema %d -> %d after the commit", store.what, store.version, store.target)
            done.append(f"{store.what}: schema {store.version} -> {store.target}")
        with _HOLD_LOCK:
            _BEHIND.pop(path, None)
    return done


def _waits_for_commit(path: Path, exc: sqlite3.OperationalError) -> Exception:
    store = store_behind(path)
    if store is None or not _MISSING_SCHEMA.search(str(exc)):
        return exc
    return SchemaWaitsForCommit(
        f"The {store.what} keeps its old layout while the new Linebox release is being tried, and this "
        f"needs the new one ({str(exc)[:80]}). The update adds it when the release is committed, a few "
        "minutes after the restart: try again then.")


class _StoreCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(sql, parameters)  # type: ignore[arg-type]
        except sqlite3.OperationalError as exc:
            raise _waits_for_commit(self.connection.store_path, exc) from exc  # type: ignore[attr-defined]

    def executemany(self, sql: str, seq: object, /) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executemany(sql, seq)  # type: ignore[arg-type]
        except sqlite3.OperationalError as exc:
            raise _waits_for_commit(self.connection.store_path, exc) from exc  # type: ignore[attr-defined]

    def executescript(self, script: str, /) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executescript(script)
        except sqlite3.OperationalError as exc:
            raise _waits_for_commit(self.connection.store_path, exc) from exc  # type: ignore[attr-defined]


class StoreConnection(sqlite3.Connection):
    """A store's connection: SQL failing only because the file was kept at its old schema (a
    release being tried) raises `SchemaWaitsForCommit` with a message for the user."""

    store_path: Path

    def cursor(self, factory: type[sqlite3.Cursor] = _StoreCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, parameters: object = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq: object, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, seq)

    def executescript(self, script: str, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executescript(script)


def connect_store(path: Path | str, uri: str | None = None, **options: object) -> StoreConnection:
    db = sqlite3.connect(uri or str(path), factory=StoreConnection, check_same_thread=False,  # type: ignore[call-overload]
                         isolation_level=None, timeout=10.0, uri=uri is not None, **options)
    db.store_path = Path(path).resolve()
    db.row_factory = sqlite3.Row
    return db


def _connect(path: Path) -> sqlite3.Connection:
    return connect_store(path)


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


def _prepare(path: Path, migrations: list[str], what: str) -> OpenedDatabase:
    db = _connect(path)
    behind = False
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"{what}: SQLite refused WAL mode on {path} (got {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        problems = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise DamagedFile("; ".join(str(p) for p in problems)[:300])
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if 0 < version < len(migrations) and schemas_held(path):
            behind = True                  # a release being tried: the file keeps its schema
            log.warning("%s: schema %d kept as it is while this release is tried (it uses %d); what needs "
                        "the new schema waits for the commit", what, version, len(migrations))
            register_behind(path, BehindStore(what, version, len(migrations),
                                              lambda: _migrate(db, migrations, what)))
        else:
            _migrate(db, migrations, what)
    except BaseException:
        db.close()
        raise
    return OpenedDatabase(db, None, behind)


def open_checked(path: Path | str, migrations: list[str], what: str) -> OpenedDatabase:
    """Open (create, migrate) `path`; a damaged file is set aside and a new one started."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _prepare(path, migrations, what)
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
        opened = _prepare(path, migrations, what)
        opened.alarm = alarm
        return opened


def open_read_only(path: Path | str) -> sqlite3.Connection:
    """A read-only connection to an existing store file (WAL: it sees the last commit while the
    one writer writes, and never waits for it): for lookups off the store thread."""
    db = connect_store(path, uri=f"file:{Path(path)}?mode=ro")
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
