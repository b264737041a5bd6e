"""Call records: every call attempt in SQLite (WAL), written by one thread.

The engine's media thread only puts small tuples on a queue (`call_started`,
`call_answered`, `call_ended`, `update`); the writer thread drains the queue,
commits whatever has gathered as one transaction, then tells the listeners.
So the media path never waits for the disk, and a burst of events costs one
commit. Readers (`search`, `get`, any thread) use their own connection per
thread; WAL lets them read while the writer writes. A read sees what has been
committed: call `flush()` first when you need your own last writes.

Durability: WAL with `synchronous=FULL`. With NORMAL a commit is only made
durable at the next checkpoint, so a power cut can drop the last calls (the
database stays consistent, but principle 7 says nothing is lost). FULL costs
one fsync of the WAL per commit, and since the writer batches everything that
is queued into one commit, that is a few fsyncs per second at the very most.

A record (dict) has the columns of `calls` plus two derived values:
    call_id, start, answered, ended (epoch seconds or None), src, dst,
    direction ("internal" | "outbound" | "inbound"), line, caller_id_number,
    caller_id_name, disposition ("answered" | "no_answer" | "busy" | "failed" | "denied" |
    None while the call is up), duration (ended - start), talk (ended - answered).
Why a call was denied or cut short is kept apart (`set_reason`, `reasons`), so a
record keeps its shape.

Adding a table or a column later (queue events, customers, voicemail index):
append one SQL script to `MIGRATIONS` (never edit one that has shipped).
`PRAGMA user_version` is the schema version; each script runs once, in its
own transaction, on every existing database when it is opened, except while a
new release is only being tried (`CallRecords(path, migrate=False)`, issue 14):
it then reads the old schema as it is, so a rollback finds the file exactly as
the old release left it. Writes that need a table or column the file does not
have yet wait in memory until `migrate_now()` (called once the health check has
committed the release) and are written right after the migration. Write rows
with `insert(table, **values)` (queued to the same writer thread) and read
them with `query(sql, params)` from any thread.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .sqlite_files import BehindStore, connect_store, register_behind

log = logging.getLogger("linebox.records")

MIGRATIONS: list[str] = [
    # 1: call records
    """
    CREATE TABLE calls (
        call_id          TEXT PRIMARY KEY,
        start            REAL NOT NULL,
        answered         REAL,
        ended            REAL,
        src              TEXT NOT NULL DEFAULT '',
        dst              TEXT NOT NULL DEFAULT '',
        direction        TEXT NOT NULL,
        line             TEXT,
        caller_id_number TEXT,
        caller_id_name   TEXT,
        disposition      TEXT
    );
    CREATE INDEX calls_by_start ON calls (start DESC);
    """,
    # 2: why a call was refused or cut (outbound permissions: "denied", maximum duration)
    """
    CREATE TABLE call_reasons (
        call_id TEXT PRIMARY KEY,
        reason  TEXT NOT NULL
    );
    """,
    # 3: call recordings: which WAV files (names in the recordings directory) belong to a call
    """
    CREATE TABLE call_recordings (
        file     TEXT PRIMARY KEY,
        call_id  TEXT NOT NULL,
        started  REAL NOT NULL,
        trigger  TEXT NOT NULL
    );
    CREATE INDEX call_recordings_by_call ON call_recordings (call_id);
    """,
    # 4: call-center queue event log (Asterisk queue_log verbs; contract in firmware/callcenter/events.py)
    """
    CREATE TABLE queue_events (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        call_id TEXT NOT NULL,
        queue   TEXT NOT NULL,
        agent   TEXT NOT NULL,
        event   TEXT NOT NULL,
        data1 TEXT NOT NULL DEFAULT '', data2 TEXT NOT NULL DEFAULT '', data3 TEXT NOT NULL DEFAULT '',
        data4 TEXT NOT NULL DEFAULT '', data5 TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX queue_events_ts ON queue_events (ts);
    """,
    # 5: callbacks that failed every attempt: a list for a person to work through
    """
    CREATE TABLE callback_list (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        call_id TEXT NOT NULL,
        queue   TEXT NOT NULL,
        number  TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        reason  TEXT NOT NULL,
        done    REAL
    );
    """,
    # 6: auto-attendant steps: one row per key (or timeout/invalid) and one exit row per call
    #    (contract in firmware/apps/ivr_events.py)
    """
    CREATE TABLE menu_events (
        id          INTEGER PRIMARY KEY,
        ts          REAL NOT NULL,
        call_id     TEXT NOT NULL,
        menu        TEXT NOT NULL,
        key         TEXT NOT NULL DEFAULT '',
        destination TEXT NOT NULL DEFAULT '',
        outcome     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX menu_events_ts ON menu_events (ts);
    """,
    # 7: automated follow-up survey calls due or made (firmware/callcenter/survey_calls.py): kept
    #    here so that a restart makes the ones not yet made; done is set when one is finished
    """
    CREATE TABLE survey_calls (
        id       INTEGER PRIMARY KEY,
        call_id  TEXT NOT NULL,
        queue    TEXT NOT NULL,
        agent    TEXT NOT NULL,
        number   TEXT NOT NULL,
        created  REAL NOT NULL,
        next_try REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        history  TEXT NOT NULL DEFAULT '',
        result   TEXT NOT NULL DEFAULT '',
        done     REAL
    );
    CREATE INDEX survey_calls_open ON survey_calls (done, next_try);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

DIRECTIONS = frozenset({"internal", "outbound", "inbound"})
DISPOSITIONS = frozenset({"answered", "no_answer", "busy", "failed", "denied"})
TEXT_MAX = 4096        # caller ID is untrusted: store it verbatim, but not without bound
SEARCH_LIMIT_MAX = 1000
_SEARCHED = ("src", "dst", "caller_id_number", "caller_id_name", "line")
_PHONE_PUNCT = re.compile(r"[ \-().+]")


HELD_MAX = 100_000     # writes waiting for a migration (a tried release runs for minutes, not days)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _table_schema(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", (t,))] for t in tables}


_CODE_SCHEMA: dict[str, list[str]] = {}


def code_schema() -> dict[str, list[str]]:
    """table -> columns of a database at this release's SCHEMA_VERSION (made once, in memory)."""
    if not _CODE_SCHEMA:
        mem = sqlite3.connect(":memory:", isolation_level=None)
        try:
            migrate(mem)
            _CODE_SCHEMA.update(_table_schema(mem))
        finally:
            mem.close()
    return _CODE_SCHEMA


def _refuse_newer(conn: sqlite3.Connection, migrations: list[str]) -> int:
    start = schema_version(conn)
    if start > len(migrations):
        raise RuntimeError(f"call records database is schema version {start}, newer than this Linebox "
                           f"({len(migrations)}); install the newer firmware again or restore an older backup")
    return start


def migrate(conn: sqlite3.Connection, migrations: list[str] | None = None) -> int:
    """Bring the database to len(migrations) (default: MIGRATIONS); returns the version it started at."""
    migrations = MIGRATIONS if migrations is None else migrations
    start = _refuse_newer(conn, migrations)
    for version in range(start + 1, len(migrations) + 1):
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{migrations[version - 1]}\n"
                               f"PRAGMA user_version = {version};\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        log.info("call records: schema migrated to version %d", version)
    return start


def _row_dict(row: sqlite3.Row) -> dict:
    rec = dict(row)
    ended, answered = rec.get("ended"), rec.get("answered")
    rec["duration"] = ended - rec["start"] if ended is not None else None
    rec["talk"] = ended - answered if ended is not None and answered is not None else None
    return rec


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:TEXT_MAX]


class DamagedDatabase(sqlite3.DatabaseError):
    """The file opens but SQLite's integrity check finds damaged pages."""


class CallRecords:
    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        """`migrate=False` while a new release is only being tried: the file keeps its schema
        (a brand-new file, which no older release has seen, is still created whole)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.alarm: str | None = None          # what start-up had to do, for the status page
        self._migrate_on_open = migrate
        self._held: list[tuple] = []           # writes waiting for migrate_now() (writer thread only)
        self._writer_db = self._open_writer()
        self._file_schema = _table_schema(self._writer_db)      # what the file has (writer thread)
        self.schema_behind = schema_version(self._writer_db) < SCHEMA_VERSION
        if self.schema_behind:
            log.warning("call records: schema %d kept as it is while this release is tried (it writes %d); "
                        "writes needing the new schema wait for the commit", schema_version(self._writer_db),
                        SCHEMA_VERSION)
            # the commit's update.migrate migrates it with every other store (firmware/sqlite_files.py)
            register_behind(self.path, BehindStore("call records", schema_version(self._writer_db), SCHEMA_VERSION,
                                                   self.migrate_now))
        self._columns = list(code_schema()["calls"])
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._listeners: list[Callable[[dict], None]] = []
        self._readers = threading.local()
        self._reader_dbs: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._schema: dict[str, list[str]] = {}   # table -> columns, for insert()
        self._schema_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)   # a normal exit still commits what is queued

    # ---- opening
    def _connect(self) -> sqlite3.Connection:
        return connect_store(self.path)      # a read of a table the tried release waits for says so

    def _open_writer(self) -> sqlite3.Connection:
        try:
            return self._prepare_writer()
        except sqlite3.DatabaseError as e:
            if not isinstance(e, DamagedDatabase) and \
                    getattr(e, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            for suffix in ("", "-wal", "-shm"):
                p = Path(f"{self.path}{suffix}")
                if p.exists():
                    os.replace(p, p.with_name(f"{p.name}.corrupt-{stamp}"))
            log.error("call records %s are unreadable (%s); kept aside as %s.corrupt-%s, starting a new "
                      "database", self.path, e, self.path.name, stamp)
            self.alarm = (f"The call history {self.path.name} was damaged ({str(e)[:200]}); it was set aside as "
                          f"{self.path.name}.corrupt-{stamp} and a new, empty history started.")
            return self._prepare_writer()

    def _prepare_writer(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"call records: SQLite refused WAL mode on {self.path} (got {mode})")
            db.execute("PRAGMA synchronous=FULL")
            # Damage inside a file that still opens (a bad page) would otherwise lose every new
            # record and break the history page: look at every page once, at start.
            problems = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
            if problems != ["ok"]:
                raise DamagedDatabase("; ".join(str(p) for p in problems)[:300])
            if self._migrate_on_open or schema_version(db) == 0:
                migrate(db)
            else:
                _refuse_newer(db, MIGRATIONS)
        except BaseException:
            db.close()
            raise
        return db

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("call records are closed")
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._connect()
            db.execute("PRAGMA query_only=ON")
            self._readers.db = db
            with self._reader_lock:
                self._reader_dbs.append(db)
        return db

    # ---- producers (any thread; never touch the disk)
    def _put(self, op: tuple) -> None:
        if self._closed:
            log.warning("call records closed; dropped %s for call %s", op[0], op[1])
            return
        self._queue.put(op)

    def call_started(self, call_id: str, *, start: float, src: str, dst: str, direction: str,
                     line: str | None = None, caller_id_number: str | None = None,
                     caller_id_name: str | None = None) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r} is not one of {sorted(DIRECTIONS)}")
        row = {"call_id": str(call_id), "start": float(start), "src": _text(src) or "", "dst": _text(dst) or "",
               "direction": direction, "line": _text(line), "caller_id_number": _text(caller_id_number),
               "caller_id_name": _text(caller_id_name)}
        self._put(("start", row["call_id"], row))

    def call_answered(self, call_id: str, *, at: float) -> None:
        self._put(("answer", str(call_id), float(at)))

    def call_ended(self, call_id: str, *, at: float, disposition: str) -> None:
        if disposition not in DISPOSITIONS:
            raise ValueError(f"disposition {disposition!r} is not one of {sorted(DISPOSITIONS)}")
        self._put(("end", str(call_id), float(at), disposition))

    def update(self, call_id: str, **fields: Any) -> None:
        unknown = set(fields) - (set(self._columns) - {"call_id"})
        if unknown:
            raise ValueError(f"unknown call record field(s) {sorted(unknown)}; known: {self._columns}")
        if "direction" in fields and fields["direction"] not in DIRECTIONS:
            raise ValueError(f"direction {fields['direction']!r} is not one of {sorted(DIRECTIONS)}")
        if fields.get("disposition") is not None and fields["disposition"] not in DISPOSITIONS:
            raise ValueError(f"disposition {fields['disposition']!r} is not one of {sorted(DISPOSITIONS)}")
        clean = {k: (_text(v) if isinstance(v, str) else v) for k, v in fields.items()}
        for k in ("src", "dst"):           # NOT NULL columns: "unknown" is an empty string
            if k in clean and clean[k] is None:
                clean[k] = ""
        if clean:
            self._put(("update", str(call_id), clean))

    def insert(self, table: str, **values: Any) -> None:
        """Queue a row for a table a later migration added (queue events, voicemail index, ...).

        Names are checked against the schema here, values are bound parameters."""
        columns = self._table_columns(table)
        unknown = set(values) - set(columns)
        if unknown or not values:
            raise ValueError(f"table {table!r}: unknown or no columns {sorted(unknown)}; known: {columns}")
        self._put(("insert", table, dict(values)))

    def update_row(self, table: str, row_id: int, **values: Any) -> None:
        """Queue a change to row `row_id` (its `id` column) of a later migration's table (e.g. a
        callback marked done). Names are checked against the schema, values are bound parameters."""
        columns = self._table_columns(table)
        unknown = set(values) - (set(columns) - {"id"})
        if unknown or not values or "id" not in columns:
            raise ValueError(f"table {table!r}: unknown or no columns {sorted(unknown)}; known: {columns}")
        self._put(("update_row", table, int(row_id), dict(values)))

    def prepare(self, table: str) -> list[str]:
        """Read `table`'s columns now (at start-up) so that later `insert`s never read the disk
        on the thread that queues them (the media tick)."""
        return list(self._table_columns(table))

    def _table_columns(self, table: str) -> list[str]:
        """The table's columns in this release's schema (the file may still be behind it)."""
        if table not in self._schema:
            with self._schema_lock:
                columns = code_schema().get(table) or [     # this release's; else whatever the file has
                    r[0] for r in self._reader().execute("SELECT name FROM pragma_table_info(?)", (table,))]
                if not columns or table == "calls":
                    raise ValueError(f"no table {table!r} to insert into (calls have their own methods)")
                self._schema[table] = list(columns)
        return self._schema[table]

    def migrate_now(self, timeout: float = 60.0) -> int:
        """Bring the file to this release's schema now (the update's commit), then write what was
        waiting for it. Returns the version the file had. On the writer thread, like every write."""
        if self._closed:        # (a ProgrammingError, as SQLite's own for a closed connection)
            raise sqlite3.ProgrammingError("call records are closed; they migrate when they open again")
        done = threading.Event()
        result: dict[str, Any] = {}
        self._queue.put(("migrate", done, result))
        if not done.wait(timeout):
            raise TimeoutError(f"call records writer did not migrate within {timeout} s")
        if "error" in result:
            raise result["error"]
        return int(result["from"])

    def _migrate_in_writer(self, db: sqlite3.Connection, op: tuple) -> None:
        done, result = op[1], op[2]
        try:
            result["from"] = migrate(db)
            self._file_schema = _table_schema(db)
            self.schema_behind = False
            held, self._held = self._held, []
            if held:
                log.info("call records: writing %d writes that waited for the schema", len(held))
                self._tell(db, self._commit(db, held))
        except Exception as e:   # the caller hears it; the records keep working on the old schema
            log.error("call records: migration failed: %s", e)
            result["error"] = e
        finally:
            done.set()

    def _waits_for_schema(self, op: tuple) -> bool:
        """Does `op` need a table or column the file does not have yet (a tried release)?"""
        kind = op[0]
        if kind == "insert":
            table, cols = op[1], op[2]
        elif kind == "update_row":
            table, cols = op[1], {**op[3], "id": None}
        elif kind in ("update", "start"):
            table, cols = "calls", op[2]
        else:
            return False
        have = self._file_schema.get(table)
        return have is None or not set(cols) <= set(have)

    def set_reason(self, call_id: str, reason: str) -> None:
        """Why call `call_id` was denied or cut short (shown in the history); untrusted text is bounded."""
        self._put(("reason", str(call_id), _text(reason) or ""))

    def add_listener(self, fn: Callable[[dict], None]) -> None:
        self._listeners.append(fn)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is committed."""
        if self._closed or threading.current_thread() is self._thread:
            return          # from a listener: everything before it is committed already
        done = threading.Event()
        self._queue.put(("flush", done))
        if not done.wait(timeout):
            raise TimeoutError(f"call records writer did not commit within {timeout} s")

    def close(self) -> None:
        """Commit what is queued, stop the writer, close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._queue.put(("stop", None))
        if threading.current_thread() is not self._thread:   # a listener may close us: no self-join
            self._thread.join(timeout=30)
        with self._reader_lock:
            for db in self._reader_dbs:
                db.close()
            self._reader_dbs.clear()

    # ---- writer thread
    def _run(self) -> None:
        db = self._writer_db
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while len(batch) < 1000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            writes = [op for op in batch if op[0] not in ("flush", "stop", "migrate")]
            if self.schema_behind and writes:
                waiting = [op for op in writes if self._waits_for_schema(op)]
                if waiting:
                    writes = [op for op in writes if not self._waits_for_schema(op)]
                    room = HELD_MAX - len(self._held)
                    if len(waiting) > room:
                        log.error("call records: %d writes waiting for the schema dropped (more than %d)",
                                  len(waiting) - max(room, 0), HELD_MAX)
                    self._held += waiting[:max(room, 0)]
            changed = self._commit(db, writes) if writes else []
            self._tell(db, changed)
            for op in batch:
                if op[0] == "flush":
                    op[1].set()
                elif op[0] == "migrate":
                    self._migrate_in_writer(db, op)
                elif op[0] == "stop":
                    stop = True
        try:   # leave a small, self-contained file behind (the WAL folded into the database)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            log.warning("call records: checkpoint at close failed: %s", e)
        db.close()

    def _commit(self, db: sqlite3.Connection, writes: list[tuple]) -> list[str]:
        """All writes in one transaction; if that fails, one by one so a bad one loses only itself."""
        try:
            return self._transaction(db, writes)
        except sqlite3.Error as e:
            log.error("call records: batch of %d writes failed (%s); retrying one by one", len(writes), e)
        changed: list[str] = []
        for op in writes:
            try:
                changed += self._transaction(db, [op])
            except sqlite3.Error as e:
                log.error("call records: %s for call %r lost: %s", op[0], op[1], e)
        return changed

    def _transaction(self, db: sqlite3.Connection, writes: Iterable[tuple]) -> list[str]:
        changed: list[str] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for op in writes:
                if self._apply(db, op):
                    changed.append(op[1])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return changed

    def _apply(self, db: sqlite3.Connection, op: tuple) -> bool:
        kind, call_id = op[0], op[1]
        if kind == "insert":   # op[1] is the table name, checked against the schema when queued
            values = op[2]
            db.execute(f"INSERT INTO {op[1]} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                       tuple(values.values()))
            return False       # listeners hear about calls only
        if kind == "update_row":   # op[1]: table, op[3]: columns, both checked when queued
            values = op[3]
            db.execute(f"UPDATE {op[1]} SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       (*values.values(), op[2]))
            return False
        if kind == "reason":
            db.execute("INSERT OR REPLACE INTO call_reasons (call_id, reason) VALUES (?, ?)", (call_id, op[2]))
            return False       # the call's own row did not change
        if kind == "start":
            row = op[2]
            cur = db.execute(f"INSERT OR IGNORE INTO calls ({', '.join(row)}) "
                             f"VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            if not cur.rowcount:
                log.warning("call records: call %r started twice; keeping the first record", call_id)
            return bool(cur.rowcount)
        if kind == "answer":
            cur = db.execute("UPDATE calls SET answered = ? WHERE call_id = ? AND answered IS NULL", (op[2], call_id))
        elif kind == "end":
            cur = db.execute("UPDATE calls SET ended = ?, disposition = ? WHERE call_id = ?", (op[2], op[3], call_id))
        else:   # update: field names were checked against the table's columns when queued
            fields = op[2]
            cur = db.execute(f"UPDATE calls SET {', '.join(f'{k} = ?' for k in fields)} WHERE call_id = ?",
                             (*fields.values(), call_id))
        if not cur.rowcount and kind != "answer":
            log.warning("call records: %s for unknown call %r ignored", kind, call_id)
        return bool(cur.rowcount)

    def _tell(self, db: sqlite3.Connection, changed: list[str]) -> None:
        if not self._listeners or not changed:
            return
        for call_id in dict.fromkeys(changed):
            row = db.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            if row is None:
                continue
            rec = _row_dict(row)
            for fn in list(self._listeners):
                try:
                    fn(dict(rec))
                except Exception:
                    log.exception("call records listener %r failed", fn)

    # ---- readers (any thread)
    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        """Read-only SQL for later features' tables (the connection refuses writes)."""
        return [dict(r) for r in self._reader().execute(sql, params).fetchall()]

    def reasons(self, call_ids: Iterable[str]) -> dict[str, str]:
        """call_id -> why it was denied or cut short, for those of `call_ids` that have one."""
        ids = [str(c) for c in call_ids][:SEARCH_LIMIT_MAX]
        if not ids:
            return {}
        rows = self._reader().execute(f"SELECT call_id, reason FROM call_reasons WHERE call_id IN "
                                      f"({', '.join('?' * len(ids))})", ids).fetchall()
        return {r[0]: r[1] for r in rows}

    def get(self, call_id: str) -> dict | None:
        row = self._reader().execute("SELECT * FROM calls WHERE call_id = ?", (str(call_id),)).fetchone()
        return _row_dict(row) if row is not None else None

    def search(self, q: str = "", *, limit: int = 50, offset: int = 0, since: float | None = None,
               until: float | None = None, disposition: str | None = None) -> list[dict]:
        """Newest first. `q` is a substring of src, dst, caller ID number/name or line (case-insensitive
        for ASCII); a phone number also matches without its punctuation ("555-0100" finds 5550100).
        `since` <= start < `until`."""
        where: list[str] = []
        args: list[Any] = []
        q = (q or "").strip()
        if q:
            variants = {q}
            digits = _PHONE_PUNCT.sub("", q)
            if digits.isdigit() and digits != q:
                variants.add(digits)
            alternatives = []
            for v in sorted(variants):
                pattern = "%" + v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                alternatives += [f"{col} LIKE ? ESCAPE '\\'" for col in _SEARCHED]
                args += [pattern] * len(_SEARCHED)
            where.append("(" + " OR ".join(alternatives) + ")")
        if since is not None:
            where.append("start >= ?")
            args.append(float(since))
        if until is not None:
            where.append("start < ?")
            args.append(float(until))
        if disposition is not None:
            if disposition not in DISPOSITIONS:
                raise ValueError(f"disposition {disposition!r} is not one of {sorted(DISPOSITIONS)}")
            where.append("disposition = ?")
            args.append(disposition)
        limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
        offset = max(0, int(offset))
        sql = ("SELECT * FROM calls" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY start DESC, rowid DESC LIMIT ? OFFSET ?")
        rows = self._reader().execute(sql, (*args, limit, offset)).fetchall()
        return [_row_dict(r) for r in rows]


class CallRecordsReader(CallRecords):
    """The call records opened read-only (SQLite `mode=ro`): the web process's view.

    The engine process is the only writer; the web reads history straight from the file
    (WAL lets it read while the engine writes) and can never change it: every connection
    is opened read-only and `query_only`, and the write methods refuse."""

    def __init__(self, path: Path | str) -> None:      # no writer connection, no writer thread
        self.path = Path(path)
        self._listeners = []
        self._readers = threading.local()
        self._reader_dbs = []
        self._reader_lock = threading.Lock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                             isolation_level=None, timeout=10.0)
        db.row_factory = sqlite3.Row
        return db

    def _put(self, op: tuple) -> None:
        raise PermissionError("call records are read-only here; the engine process writes them")

    def insert(self, table: str, **values: Any) -> None:
        self._put(("insert", table))

    def flush(self, timeout: float = 5.0) -> None:
        return

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._reader_lock:
            for db in self._reader_dbs:
                db.close()
            self._reader_dbs.clear()
