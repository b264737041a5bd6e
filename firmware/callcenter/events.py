"""The queue event log: table `queue_events` in the call records database (Asterisk queue_log verbs).

The contract with reports (`/work/.../queue_events.md`, summarised): one row per event with
ts (epoch s), call_id (the caller's call record; 'NONE' for agent events), queue ('NONE' for
agent-wide events), agent ('NONE' when none), event, data1..data5, all text. Verbs and fields:

    ENTERQUEUE      '' | caller number | position | estimated wait s (Linebox)
    RINGNOANSWER    ring ms
    CONNECT         hold s | agent channel | ring s
    COMPLETEAGENT / COMPLETECALLER   hold s | talk s | original position
    ABANDON / EXITWITHTIMEOUT / EXITEMPTY   position | original position | wait s
    Linebox: EXITFAX   position | original position | wait s (a calling fax taken to a fax box)
    EXITWITHKEY     key | position | original position | wait s
    TRANSFER        target | '' | hold s | talk s | original position
    AGENTLOGIN      extension ; AGENTLOGOFF extension | logged-in s
    ADDMEMBER / REMOVEMEMBER, PAUSE / UNPAUSE reason, PAUSEALL / UNPAUSEALL reason
    Linebox: WRAPUPEND wrap-up s; CALLBACKREQ number | position | wait s | requested epoch or '';
             CALLBACKDIAL number | attempt; CALLBACKANSWER number; CALLBACKFAIL number | reason;
             SURVEY question | key; DISPOSITION code | resolved | notes length;
             SURVEYCALL number | attempt; SURVEYCALLEND number | result | attempts (the follow-up
             survey call, logged against the original queue call);
             outbound campaigns (call_id: the outbound call, or 'NONE'; queue 'NONE'):
             CAMPAIGNDIAL campaign | number | attempt;
             CAMPAIGNRESULT campaign | number | result | talk s | status (result: answered,
             machine, machine_agent, message_left, hung_up, unknown (the agent hung up before the
             answering-machine verdict), busy, no_answer, failed, denied, rate_limited;
             status: the number's state after it, pending = tried again later)

Rows are queued to the records writer thread (`CallRecords.insert`): the media tick never
waits for the disk. `export_queue_log` writes Asterisk queue_log lines from a read-only
connection (the `linebox queue-log export` command).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

TABLE = "queue_events"
FINAL_EVENTS = frozenset({"COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "ABANDON", "EXITWITHTIMEOUT",
                          "EXITEMPTY", "EXITWITHKEY", "CALLBACKREQ", "EXITFAX"})
LINEBOX_EVENTS = frozenset({"WRAPUPEND", "CALLBACKREQ", "EXITFAX", "CALLBACKDIAL", "CALLBACKANSWER", "CALLBACKFAIL",
                            "SURVEY", "DISPOSITION", "SURVEYCALL", "SURVEYCALLEND", "CAMPAIGNDIAL",
                            "CAMPAIGNRESULT"})
EVENTS = FINAL_EVENTS | LINEBOX_EVENTS | {
    "ENTERQUEUE", "RINGNOANSWER", "CONNECT", "AGENTLOGIN", "AGENTLOGOFF", "ADDMEMBER", "REMOVEMEMBER",
    "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL"}
FIELD_MAX = 80


def _field(value: Any) -> str:
    """Untrusted text (caller ID, keyed digits) made safe for a '|'-separated line."""
    text = "" if value is None else str(value)
    return "".join(c for c in text if c.isprintable() and c != "|")[:FIELD_MAX]


class QueueEventLog:
    """Writes events through the records writer; `listeners` see each row at once (live views)."""

    def __init__(self, records: Any, clock: Callable[[], float]) -> None:
        self.records = records
        self.clock = clock
        self.listeners: list[Callable[[dict], None]] = []
        self._insert = getattr(records, "insert", None)
        prepare = getattr(records, "prepare", None)
        if prepare is not None:
            try:
                prepare(TABLE)
            except ValueError:
                self._insert = None

    def log(self, event: str, *, call_id: str = "NONE", queue: str = "NONE", agent: str = "NONE",
            data: Iterable[Any] = ()) -> dict:
        if event not in EVENTS:
            raise ValueError(f"unknown queue event {event!r}")
        fields = [_field(d) for d in data][:5]
        fields += [""] * (5 - len(fields))
        row = {"ts": self.clock(), "call_id": _field(call_id) or "NONE", "queue": _field(queue) or "NONE",
               "agent": _field(agent) or "NONE", "event": event,
               **{f"data{i + 1}": fields[i] for i in range(5)}}
        if self._insert is not None:
            self._insert(TABLE, **row)
        for fn in self.listeners:
            fn(row)
        return row


# ---- reading and exporting (any process; read-only) -----------------------------------------------

def open_readonly(db_path: Path | str) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.exists():
        raise FileNotFoundError(f"no call records database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def read_events(conn: sqlite3.Connection, since: float | None = None, until: float | None = None) -> Iterator[dict]:
    sql = "SELECT * FROM queue_events WHERE ts >= ? AND ts < ? ORDER BY id"
    lo = float("-inf") if since is None else since
    hi = float("inf") if until is None else until
    for row in conn.execute(sql, (lo, hi)):
        yield dict(row)


def queue_log_line(row: dict) -> str:
    """One Asterisk queue_log line: epoch|callid|queue|agent|EVENT|data1|...; trailing empties dropped."""
    data = [_field(row.get(f"data{i}", "")) for i in range(1, 6)]
    while data and data[-1] == "":
        data.pop()
    parts = [str(int(row["ts"])), _field(row["call_id"]), _field(row["queue"]), _field(row["agent"]),
             _field(row["event"]), *data]
    return "|".join(parts)


def export_queue_log(db_path: Path | str, out: TextIO, since: float | None = None,
                     until: float | None = None) -> int:
    """Write the events in [since, until) as queue_log lines; returns how many."""
    conn = open_readonly(db_path)
    try:
        n = 0
        for row in read_events(conn, since, until):
            out.write(queue_log_line(row) + "\n")
            n += 1
        return n
    finally:
        conn.close()


def estimator_error(rows: Iterable[dict]) -> dict:
    """How far the wait announced at entry (ENTERQUEUE data4) was from the real wait of each
    answered call (CONNECT data1): count, mean error (bias, s, + = callers waited longer than
    told) and mean absolute error (s)."""
    estimate: dict[str, float] = {}
    errors: list[float] = []
    for r in rows:
        if r["event"] == "ENTERQUEUE" and r["data4"] != "":
            try:
                estimate[r["call_id"]] = float(r["data4"])
            except ValueError:
                continue
        elif r["event"] == "CONNECT" and r["call_id"] in estimate:
            try:
                errors.append(float(r["data1"]) - estimate.pop(r["call_id"]))
            except ValueError:
                continue
    if not errors:
        return {"answered": 0, "bias_s": None, "mae_s": None}
    return {"answered": len(errors), "bias_s": round(sum(errors) / len(errors), 1),
            "mae_s": round(sum(abs(e) for e in errors) / len(errors), 1)}
