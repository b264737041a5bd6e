"""The work-order figures of the reports (issue 12): a golden set whose every figure is counted
by hand here, including an order reopened by a repeat contact and re-resolved later, orders
across the period's edges, and an empty period."""
from __future__ import annotations

import datetime as dt

import pytest

from firmware.api import ApiError
from firmware.workorders import orders_for

DAY = 86400.0
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()      # the period: 1-7 March 2026 (UTC site)


def _to(book, oid, to, at, **kw):
    book.transition(oid, to, now=at, **kw)


def test_golden_work_order_figures(api):
    book = orders_for(api.api.data_dir)
    # A: submitted before the period, reviewed/dispatched/resolved inside, on time
    a = book.create(title="A", now=T0 - 2 * DAY)
    _to(book, a, "reviewed", T0 + 1 * DAY)
    _to(book, a, "dispatched", T0 + 1 * DAY + 60, assignee="carol", due=T0 + 3 * DAY)
    _to(book, a, "resolved", T0 + 2 * DAY)
    # B: all inside, resolved late
    b = book.create(title="B", now=T0 + 0.5 * DAY)
    _to(book, b, "reviewed", T0 + 0.6 * DAY)
    _to(book, b, "dispatched", T0 + 0.7 * DAY, department="Field", due=T0 + 1 * DAY)
    _to(book, b, "in_progress", T0 + 0.8 * DAY)
    _to(book, b, "resolved", T0 + 4 * DAY)
    # C: resolved inside, reopened by a repeat contact, resolved again after the period
    c = book.create(title="C", now=T0 + 1 * DAY)
    _to(book, c, "reviewed", T0 + 1 * DAY)
    _to(book, c, "dispatched", T0 + 1 * DAY, assignee="dave", due=T0 + 20 * DAY)
    _to(book, c, "resolved", T0 + 2 * DAY)
    assert book.reopen_for_repeat_contact(None, None, 7 * DAY, T0 + 3 * DAY) == []   # no customer: nothing
    _to(book, c, "in_progress", T0 + 3 * DAY)                                       # reopened
    _to(book, c, "resolved", T0 + 9 * DAY)
    # D: submitted on the last second of the period; E: submitted right after it
    book.create(title="D", now=T0 + 7 * DAY - 1)
    book.create(title="E", now=T0 + 7 * DAY)
    out = api.call_sync("reports.workorders", since="2026-03-01", until="2026-03-07")
    got = {f["name"]: f["value"] for f in out["figures"]}
    # submitted: B, C, D = 3; reviewed: A, B, C = 3; dispatched: A, B, C = 3;
    # resolved: A (day 2), B (day 4) = 2 (C's resolution on day 2 was undone by the reopening);
    # on time: A (resolved day 2, due day 3) of A and B (resolved day 4, due day 1) = 1/2
    assert got == {"wo_submitted": 3, "wo_reviewed": 3, "wo_dispatched": 3, "wo_resolved": 2, "wo_on_time_rate": 0.5}
    assert all(f["formula"] for f in out["figures"])
    # the same figures in the report every view shares (/reports, CSV, XLSX, `linebox report`)
    from firmware.reports import KpiParams, make_request, report_from_store
    from firmware.reports.export import to_csv
    from firmware.reports.source import site_from_data_dir
    req = make_request("2026-03-01", "2026-03-07", "total", site_from_data_dir(api.api.data_dir), KpiParams())
    doc = report_from_store(api.api.data_dir, req)
    assert {f["name"]: f["value"] for f in doc["workorders"]["figures"]} == got
    text = to_csv(doc)
    assert "work order figure,value,formula" in text and "Work orders resolved on time,0.5," in text
    later = {f["name"]: f["value"] for f in api.call_sync("reports.workorders", since="2026-03-08",
                                                          until="2026-03-31")["figures"]}
    assert later == {"wo_submitted": 1, "wo_reviewed": 0, "wo_dispatched": 0, "wo_resolved": 1,
                     "wo_on_time_rate": 1.0}


def test_empty_period_and_bad_dates(api):
    out = api.call_sync("reports.workorders", since="2025-01-01", until="2025-01-31")
    assert {f["name"]: f["value"] for f in out["figures"]}["wo_on_time_rate"] is None
    with pytest.raises(ApiError) as exc:
        api.call_sync("reports.workorders", since="2025-02-01", until="2025-01-01")
    assert "swap" in exc.value.message
    with pytest.raises(ApiError) as exc:
        api.call_sync("reports.workorders", since="yesterday", until="2025-01-01")
    assert "2026-01-31" in exc.value.message
