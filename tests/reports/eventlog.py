"""Synthetic queue event logs for the report tests, in the exact schema of the queue_events
contract (the table is created here, as the call-center engineer's migration will create it),
and as Asterisk queue_log text."""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.reports.events import QueueEvent
from firmware.reports.synthetic import QUEUE_EVENTS_DDL


def at(text: str, tz: str = "UTC") -> float:
    """'2026-03-02 09:00:10' in `tz` as epoch seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


class EventLog:
    """Build a call-center day call by call; every helper writes the events the contract names."""

    def __init__(self) -> None:
        self.events: list[QueueEvent] = []

    def add(self, ts: float, call_id: str, queue: str, agent: str, event: str, *data: object) -> None:
        d = tuple(str(x) for x in data) + ("",) * (5 - len(data))
        self.events.append(QueueEvent(ts, call_id, queue, agent, event, d))

    def enter(self, ts: float, cid: str, number: str, queue: str = "600") -> None:
        self.add(ts, cid, queue, "NONE", "ENTERQUEUE", "", number, 1, 0)

    def answered(self, ts: float, cid: str, number: str, agent: str, wait: int, talk: int,
                 wrap: int = 0, queue: str = "600", by: str = "COMPLETECALLER") -> None:
        self.enter(ts, cid, number, queue)
        self.add(ts + wait, cid, queue, agent, "CONNECT", wait, f"chan-{cid}", 2)
        self.add(ts + wait + talk, cid, queue, agent, by, wait, talk, 1)
        if wrap:
            self.add(ts + wait + talk + wrap, cid, queue, agent, "WRAPUPEND", wrap)

    def abandoned(self, ts: float, cid: str, number: str, wait: int, queue: str = "600") -> None:
        self.enter(ts, cid, number, queue)
        self.add(ts + wait, cid, queue, "NONE", "ABANDON", 1, 1, wait)

    def login(self, ts: float, agent: str) -> None:
        self.add(ts, "NONE", "NONE", agent, "AGENTLOGIN", "201")

    def logoff(self, ts: float, agent: str, logged_s: int) -> None:
        self.add(ts, "NONE", "NONE", agent, "AGENTLOGOFF", "201", logged_s)

    def sorted(self) -> list[QueueEvent]:
        return sorted(self.events, key=lambda e: e.ts)

    def queue_log_text(self) -> str:
        lines = []
        for e in self.sorted():
            data = list(e.data)
            while data and data[-1] == "":
                data.pop()
            lines.append("|".join([f"{e.ts:.0f}", e.call_id, e.queue, e.agent, e.event, *data]))
        return "\n".join(lines) + "\n"

    def write_store(self, path: Path, calls: list[tuple] = ()) -> Path:
        """records.db with queue_events (created here unless the records migrations already made it) and
        the `calls` table as firmware/records.py makes it."""
        from firmware.records import CallRecords
        recs = CallRecords(path)          # the real schema for `calls`
        recs.close()
        conn = sqlite3.connect(path)
        conn.executescript(QUEUE_EVENTS_DDL)
        conn.executemany("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3, "
                         "data4, data5) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         [(e.ts, e.call_id, e.queue, e.agent, e.event, *e.data) for e in self.sorted()])
        conn.executemany("INSERT INTO calls (call_id, start, answered, ended, direction, line, disposition) "
                         "VALUES (?,?,?,?,?,?,?)", calls)
        conn.commit()
        conn.close()
        return path
