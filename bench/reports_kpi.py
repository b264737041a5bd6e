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
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        ReportAggregator(d, SITE).update(now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC).timestamp())
        t_agg = time.perf_counter() - t0
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
    page = timings["day"][0]
    lines = ["## Reports: the KPI page for one year (issue 12)", "",
             f"{entered:,} queue calls ({len(events):,} queue events, {len(calls):,} call records) over 2025, "
             f"site timezone {SITE.timezone}; best of {runs} runs, time.perf_counter.", "",
             "Wall time is what a user waits on this machine; CPU time (process_time) is what the work costs",
             "when the machine is not shared with other jobs.", "",
             "| step | wall s | CPU s |", "|---|---:|---:|",
             f"| generate + write records.db (setup) | {t_gen:.1f} | |",
             f"| aggregate a year into reports.db (once; then every minute only the new cells) | {t_agg:.1f} | |"]
    lines += [f"| {'**the KPI page**: ' if by == 'day' else ''}one year by {by} (every KPI with the total"
              f"{', ' + str(rows) + ' day rows' if by == 'day' else ''}) | {t:.3f} | {c:.3f} |"
              for by, (t, c) in timings.items()]
    lines += [f"| one month by day counted from the raw event log instead (no reports.db) | {t_raw:.1f} | |", "",
              f"reports.db: {size / 1e6:.1f} MB. Goal (issue 12): the KPI page for a year under 1 s: "
              f"{'met' if page < 1 else 'NOT met'} ({page:.3f} s wall)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run_bench())
