"""`python -m bench.reports_kpi`: the reports page for one year of a busy small office.

Generates 200,000 queue calls over a year (contract-exact queue events and call records, seeded),
aggregates them into DATA/reports.db as the engine's reports thread does, then times what the
KPI page asks for one year: the totals with every KPI, the days (the chart), the months, the
queues and the agents (each is one page view: the KPI table with the total plus that grouping).
Goal (issue 12): the page for a year under 1 s. Prints a Markdown table.
"""
from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from firmware.reports.aggregate import ReportAggregator
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_store
from firmware.reports.synthetic import generate, write_store

CALLS_PER_YEAR = 200_000
SITE = Site("Europe/London", 4)


def run_bench(runs: int = 3) -> str:
    with tempfile.TemporaryDirectory(prefix="linebox-reports-bench-") as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        events, calls = generate(dt.date(2025, 1, 1), 365, CALLS_PER_YEAR / 261, tz=SITE.timezone, seed=12)
        write_store(d / "records.db", events, calls)
        n_menu = add_menu_events(d / "records.db")
        t_gen = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        ReportAggregator(d, SITE).update(now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp())
        t_agg, c_agg = time.perf_counter() - t0, time.process_time() - c0
        size = (d / "reports.db").stat().st_size
        timings = {}
        for by in ("day", "month", "queue", "agent"):
            best = best_cpu = float("inf")
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                doc = report_from_store(d, make_request("2025-01-01", "2025-12-31", by, SITE, KpiParams()))
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            timings[by] = (best, best_cpu)
            if by == "day":
                entered, rows = doc["total"]["entered"], len(doc["rows"])
        t0 = time.perf_counter()
        req = make_request("2025-03-01", "2025-03-31", "day", SITE, KpiParams())
        report_from_store(d, req, use_aggregates=False)
        t_raw = time.perf_counter() - t0
        t_late, c_late, late_days = late_event_rewind(d)
    page = timings["day"][0]
    lines = ["## Reports: the KPI page for one year (issue 12)", "",
             f"{entered:,} queue calls ({len(events):,} queue events, {len(calls):,} call records; each call came "
             f"through the auto attendant: {n_menu:,} menu rows) over 2025, "
             f"site timezone {SITE.timezone}; best of {runs} runs, time.perf_counter.", "",
             "Wall time is what a user waits on this machine; CPU time (process_time) is what the work costs",
             "when the machine is not shared with other jobs.", "",
             "| step | wall s | CPU s |", "|---|---:|---:|",
             f"| generate + write records.db (setup) | {t_gen:.1f} | |",
             f"| aggregate a year into reports.db (once; then every minute only the new cells) | {t_agg:.1f} | "
             f"{c_agg:.1f} |"]
    lines += [f"| {'**the KPI page**: ' if by == 'day' else ''}one year by {by} (every KPI with the total and the "
              "menu figures"
              f"{', ' + str(rows) + ' day rows' if by == 'day' else ''}) | {t:.3f} | {c:.3f} |"
              for by, (t, c) in timings.items()]
    lines += [f"| one month by day counted from the raw event log instead (no reports.db) | {t_raw:.1f} | |", "",
              f"| a late event for a call of {late_days:.0f} days ago: rewind and aggregate again "
              f"(then every minute as before) | {t_late:.1f} | {c_late:.1f} |", "",
              f"reports.db: {size / 1e6:.1f} MB. Goal (issue 12): the KPI page for a year under 1 s: "
              f"{'met' if page < 1 else 'NOT met'} ({page:.3f} s wall)."]
    return "\n".join(lines)


def late_event_rewind(d: Path) -> tuple[float, float]:
    """A disposition typed for a call three weeks back (a late event): the next update rewinds to
    that call's chunk and aggregates everything after it again. Returns (wall s, days rewound)."""
    import sqlite3
    now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp()
    conn = sqlite3.connect(d / "records.db")
    call_id, ts = conn.execute("SELECT call_id, ts FROM queue_events WHERE event = 'CONNECT' AND ts >= ? "
                               "ORDER BY ts LIMIT 1", (now - 21 * 86400,)).fetchone()
    conn.execute("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3) "
                 "VALUES (?, ?, '600', 'agent1', 'DISPOSITION', 'complaint', '1', '0')", (now - 3600, call_id))
    conn.commit()
    conn.close()
    t0, c0 = time.perf_counter(), time.process_time()
    done = ReportAggregator(d, SITE).update(now=now)
    return (time.perf_counter() - t0, time.process_time() - c0,
            (now - (done.get("rewound_to") or now)) / 86400)


def add_menu_events(path: Path) -> int:
    """Every queue call reached the queue through the auto attendant: a key on the main menu, then
    the exit row to the queue (the rows the IVR writes), so the page also counts the menu figures."""
    import sqlite3

    from firmware.records import MIGRATIONS
    conn = sqlite3.connect(path)
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'menu_events'").fetchone():
        conn.executescript(MIGRATIONS[5])
    rows = []
    for ts, call_id in conn.execute("SELECT ts, call_id FROM queue_events WHERE event = 'ENTERQUEUE'").fetchall():
        key = "1" if sum(map(ord, call_id)) % 3 else "2"
        rows += [(ts - 12, call_id, "main", key, f"queue:60{key}", ""), (ts - 1, call_id, "main", "", "queue:600", "queue")]
    conn.executemany("INSERT INTO menu_events (ts, call_id, menu, key, destination, outcome) VALUES (?,?,?,?,?,?)",
                     rows)
    conn.commit()
    conn.close()
    return len(rows)


if __name__ == "__main__":
    print(run_bench())
