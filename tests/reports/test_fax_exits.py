"""A fax machine that calls a queue line and is taken to a fax box (EXITFAX) is not a caller: it is
a figure of its own ("faxes") and stays out of entered, offered, abandoned, the other exits, the
service level and the waits, in the raw reports and in the pre-aggregated reports.db alike. The
golden day of test_golden.py with two faxes added keeps every one of its figures."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from firmware.reports.aggregate import ReportAggregator
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_store

from .eventlog import EventLog, at
from .test_golden import day_report, golden_day

LATER = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()


def with_faxes() -> EventLog:
    log = golden_day()
    t = lambda hms: at(f"2026-03-02 {hms}")  # noqa: E731
    # f1: a fax on the queue line, taken to the fax box after 4 s (its CNG heard under the announcement)
    log.enter(t("09:15:00"), "f1", "0161 496 0091")
    log.add(t("09:15:04"), "f1", "600", "NONE", "EXITFAX", 1, 1, 4)
    # f2: a fax whose CNG was heard only after 90 s: as a caller it would be the day's longest wait
    # and, with a missed offer to bob, an agent's ring miss
    log.enter(t("09:16:00"), "f2", "0161 496 0092")
    log.add(t("09:16:20"), "f2", "600", "bob", "RINGNOANSWER", 15000)
    log.add(t("09:17:30"), "f2", "600", "NONE", "EXITFAX", 1, 1, 90)
    return log


def test_faxes_are_their_own_figure_and_leave_every_caller_figure_as_it_was() -> None:
    plain, faxed = day_report(golden_day())["total"], day_report(with_faxes())["total"]
    assert plain["faxes"] == 0 and faxed["faxes"] == 2
    assert {k: v for k, v in faxed.items() if k != "faxes"} == {k: v for k, v in plain.items() if k != "faxes"}
    assert faxed["entered"] == 8 and faxed["longest_wait_s"] == 60 and faxed["other_exits"] == 2
    for variant in ("answered", "offered_with_short", "abandoned_met"):
        assert day_report(with_faxes(), sl_variant=variant)["total"]["service_level"] == \
            day_report(golden_day(), sl_variant=variant)["total"]["service_level"], variant
    by_queue = day_report(with_faxes(), "queue")["rows"]
    assert [(r["key"], r["kpis"]["faxes"], r["kpis"]["entered"]) for r in by_queue] == [("600", 2, 8)]


def test_the_formulas_say_so() -> None:
    doc = day_report(with_faxes())
    formulas = {k["name"]: k for k in doc["kpi_definitions"]}
    assert formulas["faxes"]["label"] == "Faxes (not callers)" and "EXITFAX" in formulas["faxes"]["formula"]
    assert "fax" in formulas["entered"]["formula"]


def test_aggregated_reports_count_faxes_as_the_raw_events_do(tmp_path: Path) -> None:
    with_faxes().write_store(tmp_path / "records.db")
    agg = ReportAggregator(tmp_path, Site())
    while agg.update(now=LATER, max_chunks=4)["chunks"]:
        pass
    for by in ("day", "queue", "agent", "60min", "total"):
        req = make_request("2026-03-02", "2026-03-02", by, Site(), KpiParams())
        a, b = report_from_store(tmp_path, req), report_from_store(tmp_path, req, use_aggregates=False)
        assert a["source"] == "reports.db" and b["source"] == "records.db"
        assert a["total"] == b["total"] and a["rows"] == b["rows"], by
        assert a["total"]["faxes"] == 2 and a["total"]["entered"] == 8, by
