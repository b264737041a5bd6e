"""Where queue events come from: the engine's `queue_events` table (read-only) or an Asterisk
`queue_log` text file, both turned into the same `QueueEvent` tuples.

The queue_log is untrusted input (it may come from another system): a line that does not
parse is counted and described in `BadLines`, never raised. Fields are kept as text exactly as
Asterisk writes them (`epoch|call_id|queue|agent|EVENT|data1|...`); numbers are parsed where
they are used (`number()`), so one odd field spoils one figure of one call, not the report.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

MAX_FIELD = 256          # a hostile file cannot make us keep megabyte-long fields
MAX_LINE = 4096
MAX_EXAMPLES = 10
MAX_CALL_S = 86400.0     # no call on a line lasts longer than a day        # bad lines quoted in a report (all are counted)
_EVENT_NAME = re.compile(r"^[A-Z][A-Z_]{1,31}$")
_SAFE = re.compile(r"[^\x20-\x7e]")


class QueueEvent(NamedTuple):
    ts: float
    call_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]          # data1..data5 (always five, '' when absent)
    id: int = 0                    # store row id (0 for a queue_log file)

    def d(self, n: int) -> str:
        """data<n> (1-based)."""
        return self.data[n - 1] if 1 <= n <= len(self.data) else ""


def number(text: str, default: float | None = None) -> float | None:
    """A data field as a non-negative finite number, or `default`."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        return default
    if v != v or v in (float("inf"), float("-inf")) or v < 0:
        return default
    return v


@dataclass
class BadLines:
    """Lines of a queue_log that were skipped: how many, and the first few (made printable)."""
    count: int = 0
    examples: list[dict] = field(default_factory=list)

    def add(self, line_no: int, line: str, why: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"line": line_no, "why": why, "text": _SAFE.sub("?", line[:120])})

    def as_dict(self) -> dict:
        return {"count": self.count, "examples": list(self.examples)}


def parse_queue_log_line(line: str) -> QueueEvent | str:
    """One queue_log line as a QueueEvent, or the reason it is not one."""
    if len(line) > MAX_LINE:
        return f"line longer than {MAX_LINE} characters"
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5:
        return "fewer than 5 fields (epoch|call_id|queue|agent|EVENT)"
    try:
        ts = float(parts[0])
    except ValueError:
        return "the time is not a number"
    if not (0 <= ts < 1e11):
        return "the time is out of range"
    event = parts[4].strip()
    if not _EVENT_NAME.match(event):
        return "the event name is not an upper-case word"
    call_id, queue, agent = (p[:MAX_FIELD] for p in parts[1:4])
    data = tuple(p[:MAX_FIELD] for p in parts[5:10])
    data = data + ("",) * (5 - len(data))
    return QueueEvent(ts, call_id, queue, agent, event, data)


def read_queue_log(lines: Iterable[str], bad: BadLines | None = None,
                   since: float | None = None, until: float | None = None) -> list[QueueEvent]:
    """Parse queue_log lines; bad ones go to `bad`. Events are returned in time order (stable)."""
    bad = bad if bad is not None else BadLines()
    out: list[QueueEvent] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        ev = parse_queue_log_line(line)
        if isinstance(ev, str):
            bad.add(no, line, ev)
            continue
        if (since is not None and ev.ts < since) or (until is not None and ev.ts >= until):
            continue
        out.append(ev)
    out.sort(key=lambda e: e.ts)
    return out


def read_queue_log_file(path: Path | str, bad: BadLines | None = None,
                        since: float | None = None, until: float | None = None) -> list[QueueEvent]:
    """A queue_log file (any bytes: undecodable ones are replaced, a NUL line is a bad line)."""
    p = Path(path)
    try:
        f = p.open("r", encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise ValueError(f"cannot read the queue_log {p}: {exc.strerror or exc}. "
                         "Give the path of an Asterisk queue_log text file.") from None
    with f:
        return read_queue_log(_lines(f), bad, since, until)


def _lines(f) -> Iterator[str]:
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith("\n"):
            rest = f.readline()                     # skip the rest of an over-long line
            while rest and not rest.endswith("\n"):
                rest = f.readline()
        yield line


# ---- the engine's store (read-only)

def open_readonly(db_path: Path | str) -> sqlite3.Connection:
    """records.db (or reports.db) opened read-only: this process can never write to it."""
    p = Path(db_path)
    if not p.exists():
        raise ValueError(f"no database at {p}: give the Linebox data directory (--data) that holds it")
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=10.0, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def read_store(conn: sqlite3.Connection, since: float | None = None, until: float | None = None,
               after_id: int = 0, limit: int | None = None, verbs: tuple[str, ...] = ()) -> list[QueueEvent]:
    """queue_events rows (in time order) with since <= ts < until and id > after_id (and, if given,
    only these verbs)."""
    if not has_table(conn, "queue_events"):
        return []
    sql = ("SELECT id, ts, call_id, queue, agent, event, data1, data2, data3, data4, data5 "
           "FROM queue_events WHERE id > ?")
    params: list = [after_id]
    if verbs:
        sql += f" AND event IN ({', '.join('?' * len(verbs))})"
        params += list(verbs)
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    if until is not None:
        sql += " AND ts < ?"
        params.append(until)
    sql += " ORDER BY ts, id"          # time order (the ts index), insertion order within a second
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    out = []
    for row in conn.execute(sql, params):
        out.append(QueueEvent(float(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                              tuple("" if v is None else str(v) for v in row[6:11]), int(row[0])))
    return out


class CallSpan(NamedTuple):
    """A call from records.db `calls`, for line occupancy."""
    call_id: str
    start: float
    ended: float
    line: str
    direction: str


def read_call_spans(conn: sqlite3.Connection, since: float, until: float) -> list[CallSpan]:
    """Calls on an outside line that overlap [since, until) (a call still up counts up to `until`;
    calls that started more than MAX_CALL_S before `since` are not looked for)."""
    if not has_table(conn, "calls"):
        return []
    rows = conn.execute(
        "SELECT call_id, start, COALESCE(ended, ?), line, direction FROM calls "
        "WHERE start >= ? AND start < ? AND line IS NOT NULL AND line != '' AND COALESCE(ended, ?) > ?",
        (until, since - MAX_CALL_S, until, until, since))
    return [CallSpan(str(r[0]), float(r[1]), float(r[2]), str(r[3]), str(r[4])) for r in rows]
