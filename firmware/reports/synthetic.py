"""A synthetic but contract-exact call-center history (queue events + call records), for the
benchmark, the aggregation tests and demonstrations: seeded, so the same arguments always give
the same data."""
from __future__ import annotations

import datetime as dt
import math
import random
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

QUEUE_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS queue_events (
    id     INTEGER PRIMARY KEY,
    ts     REAL NOT NULL,
    call_id TEXT NOT NULL,
    queue  TEXT NOT NULL,
    agent  TEXT NOT NULL,
    event  TEXT NOT NULL,
    data1 TEXT NOT NULL DEFAULT '', data2 TEXT NOT NULL DEFAULT '', data3 TEXT NOT NULL DEFAULT '',
    data4 TEXT NOT NULL DEFAULT '', data5 TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_events_ts ON queue_events (ts);
"""
DISPOSITIONS = ("consultation", "complaint", "suggestion", "order")


def _profile(hour: float) -> float:
    """Relative arrivals over an 08:00-18:00 day: a morning and an afternoon peak."""
    if not 8 <= hour < 18:
        return 0.0
    return 0.6 + math.exp(-((hour - 10.5) ** 2) / 2) + 0.8 * math.exp(-((hour - 14.5) ** 2) / 2)


def generate(start: dt.date, days: int, calls_per_weekday: float, tz: str = "UTC", seed: int = 1,
             agents: int = 8, lines: int = 4) -> tuple[list[tuple], list[tuple]]:
    """(queue_events rows, calls rows) in the schemas of queue_events and records.calls."""
    rng = random.Random(seed)
    zone = ZoneInfo(tz)
    events: list[tuple] = []
    calls: list[tuple] = []
    names = [f"agent{i}" for i in range(1, agents + 1)]
    numbers = [f"0161496{n:04d}" for n in range(3000)]
    weights = [_profile(8 + i / 4) for i in range(40)]
    total_w = sum(weights)
    cid = 0

    def ev(ts, call, queue, agent, event, *data) -> None:
        d = [str(x) for x in data] + [""] * (5 - len(data))
        events.append((ts, call, queue, agent, event, *d))

    for day_no in range(days):
        day = start + dt.timedelta(days=day_no)
        if day.weekday() >= 5:
            continue
        t0 = dt.datetime.combine(day, dt.time(8), tzinfo=zone).timestamp()
        for a in names:
            ev(t0 - rng.uniform(0, 600), "NONE", "NONE", a, "AGENTLOGIN", "2" + a[-2:])
            lunch = t0 + 4 * 3600 + rng.uniform(0, 3600)
            ev(lunch, "NONE", "NONE", a, "PAUSE", "lunch")
            ev(lunch + 1800, "NONE", "NONE", a, "UNPAUSE", "")
            ev(t0 + 10 * 3600 + rng.uniform(0, 900), "NONE", "NONE", a, "AGENTLOGOFF", "2" + a[-2:], 36000)
        n_calls = int(rng.gauss(calls_per_weekday, calls_per_weekday ** 0.5))
        for _ in range(max(0, n_calls)):
            slot = rng.choices(range(40), weights)[0] if total_w else 0
            ts = round(t0 + slot * 900 + rng.uniform(0, 900))
            cid += 1
            call = f"q{cid}"
            queue = rng.choice(("600", "600", "601"))
            number = rng.choice(numbers)
            ev(ts, call, queue, "NONE", "ENTERQUEUE", "", number, 1, 10)
            wait = int(rng.expovariate(1 / 18))
            r = rng.random()
            line = str(rng.randint(1, lines))
            if r < 0.86:
                agent = rng.choice(names)
                if rng.random() < 0.1:
                    ev(ts + max(0, wait - 15), call, queue, rng.choice(names), "RINGNOANSWER", 15000)
                talk = int(rng.expovariate(1 / 170)) + 5
                wrap = int(rng.uniform(5, 40))
                ev(ts + wait, call, queue, agent, "CONNECT", wait, f"c-{call}", 2)
                ev(ts + wait + talk, call, queue, agent, rng.choice(("COMPLETECALLER", "COMPLETEAGENT")), wait, talk, 1)
                ev(ts + wait + talk + wrap, call, queue, agent, "WRAPUPEND", wrap)
                ev(ts + wait + talk + wrap, call, queue, agent, "DISPOSITION", rng.choice(DISPOSITIONS),
                   int(rng.random() < 0.8), 20)
                if rng.random() < 0.3:
                    ev(ts + wait + talk + 5, call, queue, "NONE", "SURVEY", 1, rng.choice((1, 2, 3, 4, 4, 5, 5, 5)))
                end = ts + wait + talk
            elif r < 0.97:
                ev(ts + wait, call, queue, "NONE", "ABANDON", 1, 1, wait)
                end = ts + wait
            elif r < 0.99:
                ev(ts + wait, call, queue, "NONE", "CALLBACKREQ", number, 1, wait, "")
                ok = rng.random() < 0.7
                ev(ts + wait + 600, call, queue, rng.choice(names), "CALLBACKANSWER" if ok else "CALLBACKFAIL",
                   number, *(() if ok else ("gave_up",)))
                end = ts + wait
            else:
                ev(ts + 300, call, queue, "NONE", "EXITWITHTIMEOUT", 1, 1, 300)
                end = ts + 300
            calls.append((call, float(ts), None, float(end), number, queue, "inbound", line, "answered"))
    events.sort(key=lambda e: e[0])
    return events, calls


def write_store(path: Path, events: list[tuple], calls: list[tuple]) -> None:
    """Write the rows into records.db (the `calls` table as firmware.records creates it)."""
    from firmware.records import CallRecords
    CallRecords(path).close()
    conn = sqlite3.connect(path)
    conn.executescript(QUEUE_EVENTS_DDL)
    conn.executemany("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3, data4, "
                     "data5) VALUES (?,?,?,?,?,?,?,?,?,?)", events)
    conn.executemany("INSERT OR REPLACE INTO calls (call_id, start, answered, ended, src, dst, direction, line, "
                     "disposition) VALUES (?,?,?,?,?,?,?,?,?)", calls)
    conn.commit()
    conn.close()
