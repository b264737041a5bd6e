"""The pre-aggregated reports.db gives exactly the figures of the raw event log, resumes where it
stopped, rebuilds to the same result, and covers the newest hours from the raw events."""
from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

import pytest

from firmware.reports.aggregate import AggregatorThread, ReportAggregator
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_store
from firmware.reports.synthetic import generate, write_store

SITE = Site("Europe/London", 4, {"agent1": "red", "agent2": "red", "agent3": "blue"})
LATER = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("agg")
    events, calls = generate(dt.date(2026, 3, 23), 21, 90, tz="Europe/London", seed=7)   # across 29 March DST
    write_store(d / "records.db", events, calls)
    return d


def _both(d: Path, by: str, **p) -> tuple[dict, dict]:
    req = make_request("2026-03-23", "2026-04-12", by, SITE, KpiParams(**p))
    return report_from_store(d, req), report_from_store(d, req, use_aggregates=False)


def test_aggregated_equals_raw_in_every_grouping_and_resumes(store: Path) -> None:
    agg = ReportAggregator(store, SITE)
    runs = 0
    while True:                                  # a few chunks at a time, as if the engine restarted
        done = agg.update(now=LATER, max_chunks=4)
        runs += 1
        if done["chunks"] == 0:
            break
    assert runs > 3
    for by in ("15min", "30min", "60min", "day", "week", "month", "year", "queue", "agent", "team", "line",
               "disposition", "total"):
        a, b = _both(store, by)
        assert a["source"] == "reports.db" and b["source"] == "records.db"
        assert a["total"] == b["total"], by
        assert a["rows"] == b["rows"], by
    a, b = _both(store, "day")
    assert a["scorecards"] == b["scorecards"] and len(a["scorecards"]) > 100
    assert a["abandoned_calls"] == b["abandoned_calls"] and len(a["abandoned_calls"]) > 50
    # other thresholds than the pre-counted 20 s / 5 s: read from the wait histograms, still exact
    for by in ("day", "month", "queue", "60min"):
        a, b = _both(store, by, sl_variant="abandoned_met", sl_threshold_s=30, short_abandon_s=10)
        assert a["rows"] == b["rows"] and a["total"] == b["total"], by
    days = [r["label"] for r in a["rows"]]
    assert "2026-03-29" not in days            # a Sunday: no calls; the DST day itself is simply absent
    # rebuilding from scratch gives the same cells
    before = sqlite3.connect(store / "reports.db").execute("SELECT * FROM cells ORDER BY 1,2,3,4,5").fetchall()
    agg.rebuild(now=LATER)
    after = sqlite3.connect(store / "reports.db").execute("SELECT * FROM cells ORDER BY 1,2,3,4,5").fetchall()
    assert before == after and len(after) > 1000


def test_newest_hours_come_from_the_raw_events(store: Path, tmp_path: Path) -> None:
    import shutil
    shutil.copy(store / "records.db", tmp_path / "records.db")
    midway = dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC).timestamp()
    ReportAggregator(tmp_path, SITE).update(now=midway)
    req = make_request("2026-03-23", "2026-04-12", "day", SITE, KpiParams())
    a = report_from_store(tmp_path, req)
    b = report_from_store(tmp_path, req, use_aggregates=False)
    assert any("straight from the event log" in n for n in a["notes"])
    for k in a["total"]:
        if k != "fcr":                          # repeats of aggregated calls settle as time passes
            assert a["total"][k] == b["total"][k], k
    # same-disposition FCR cannot be read from the cells: counted from the raw events instead
    req = make_request("2026-03-23", "2026-04-12", "day", SITE, KpiParams(fcr_same_disposition=True))
    assert report_from_store(tmp_path, req)["source"] == "records.db"


def test_the_reports_thread_aggregates_in_the_background(tmp_path: Path) -> None:
    events, calls = generate(dt.date(2026, 3, 2), 3, 40, seed=2)
    write_store(tmp_path / "records.db", events, calls)
    thread = AggregatorThread(ReportAggregator(tmp_path, Site()), period_s=0.05)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (tmp_path / "reports.db").exists():
                conn = sqlite3.connect(tmp_path / "reports.db")
                try:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
                except sqlite3.OperationalError:
                    row = None
                conn.close()
                if row and float(row[0]) > dt.datetime(2026, 3, 5, tzinfo=dt.UTC).timestamp():
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the reports thread did not aggregate")
    finally:
        thread.stop()


def test_no_events_no_reports_db_needed(tmp_path: Path) -> None:
    assert ReportAggregator(tmp_path, Site()).update() == {"chunks": 0, "watermark": None}
    write_store(tmp_path / "records.db", [], [])
    assert ReportAggregator(tmp_path, Site()).update()["chunks"] == 0
    req = make_request("2026-03-02", "2026-03-02", "day", Site(), KpiParams())
    doc = report_from_store(tmp_path, req)
    assert doc["total"]["entered"] == 0 and doc["notes"][0].startswith("No queue calls")


def test_events_arriving_late_are_aggregated_again(tmp_path: Path) -> None:
    """Events reaching the log hours or days after their cells were aggregated (a disposition typed
    later, a whole call replayed after a restore, a callback answered days after the abandon, an
    agent's forgotten logoff) rewind the aggregation: reports.db equals the raw count again."""
    events, calls = generate(dt.date(2026, 3, 23), 4, 60, tz="Europe/London", seed=11)
    SOON = dt.datetime(2026, 3, 28, 12, tzinfo=dt.UTC).timestamp()      # a day after the last call
    write_store(tmp_path / "records.db", events, calls)
    agg = ReportAggregator(tmp_path, SITE)
    agg.update(now=SOON)
    conn = sqlite3.connect(tmp_path / "records.db")
    answered = conn.execute("SELECT call_id, ts FROM queue_events WHERE event = 'CONNECT' ORDER BY ts LIMIT 1").fetchone()
    abandoned = conn.execute("SELECT call_id, ts FROM queue_events WHERE event = 'ABANDON' ORDER BY ts LIMIT 1").fetchone()
    day1 = dt.datetime(2026, 3, 23, 10, 7, tzinfo=dt.UTC).timestamp()
    late_rows = [
        (answered[1] + 3 * 3600, answered[0], "600", "agent1", "DISPOSITION", "complaint", "1", "3", "", ""),
        (day1, "late-call", "600", "NONE", "ENTERQUEUE", "", "01614960999", "1", "0", ""),
        (day1 + 40, "late-call", "600", "NONE", "ABANDON", "1", "1", "40", "", ""),
        (abandoned[1] + 2 * 86400, abandoned[0], "600", "agent2", "CALLBACKREQ", "01614960001", "1", "0", "", ""),
        (abandoned[1] + 2 * 86400 + 60, abandoned[0], "600", "agent2", "CALLBACKANSWER", "01614960001", "", "", "",
         ""),
    ]
    conn.executemany("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3, data4, data5) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?)", late_rows)
    conn.commit()
    conn.close()
    before = _both(tmp_path, "day")
    assert before[0]["total"] != before[1]["total"]          # aggregated figures miss the late events
    done = agg.update(now=SOON)
    assert done["rewound_to"] is not None and done["rewound_to"] <= day1
    for by in ("day", "60min", "queue", "agent", "disposition", "total"):
        req = make_request("2026-03-23", "2026-03-27", by, SITE, KpiParams())
        a, b = report_from_store(tmp_path, req), report_from_store(tmp_path, req, use_aggregates=False)
        assert a["source"] == "reports.db"
        assert a["total"] == b["total"] and a["rows"] == b["rows"], by
    assert agg.update(now=SOON)["rewound_to"] is None           # nothing new: no rewind
    # the same cells as aggregating everything afresh
    cells = sqlite3.connect(tmp_path / "reports.db").execute("SELECT * FROM cells ORDER BY 1,2,3,4,5").fetchall()
    days = sqlite3.connect(tmp_path / "reports.db").execute("SELECT * FROM day_cells ORDER BY 1,2,3,4,5").fetchall()
    agg.rebuild(now=SOON)
    assert cells == sqlite3.connect(tmp_path / "reports.db").execute("SELECT * FROM cells ORDER BY 1,2,3,4,5").fetchall()
    assert days == sqlite3.connect(tmp_path / "reports.db").execute(
        "SELECT * FROM day_cells ORDER BY 1,2,3,4,5").fetchall()
