"""Golden data sets: every figure is worked out by hand in the comments and asserted exactly."""
from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import pytest

from firmware.reports.events import CallSpan
from firmware.reports.kpis import SL_VARIANTS, KpiParams
from firmware.reports.periods import day_range
from firmware.reports.report import ReportRequest, report_from_events

from .eventlog import EventLog, at

UTC = ZoneInfo("UTC")


def golden_day() -> EventLog:
    log = EventLog()
    t = lambda hms: at(f"2026-03-02 {hms}")  # noqa: E731 - Monday
    log.login(t("08:55:00"), "alice")
    log.login(t("09:00:00"), "bob")
    # c1: answered after 10 s by alice, talk 100, wrap 20, complaint resolved, survey 5
    log.answered(t("09:00:00"), "c1", "+44 20 7946 0001", "alice", wait=10, talk=100, wrap=20)
    log.add(t("09:02:30"), "c1", "600", "alice", "DISPOSITION", "complaint", 1, 12)
    log.add(t("09:02:40"), "c1", "600", "NONE", "SURVEY", 1, 5)
    # c2: answered after 30 s by bob, talk 200, wrap 10, consultation not resolved, survey 3
    log.answered(t("09:01:00"), "c2", "0161 496 0002", "bob", wait=30, talk=200, wrap=10, by="COMPLETEAGENT")
    log.add(t("09:05:10"), "c2", "600", "bob", "DISPOSITION", "consultation", 0, 0)
    log.add(t("09:05:20"), "c2", "600", "NONE", "SURVEY", 1, 3)
    log.abandoned(t("09:02:00"), "c3", "0161 496 0003", wait=3)     # short abandon (< 5 s)
    log.abandoned(t("09:03:00"), "c4", "0161 496 0004", wait=15)    # abandoned within T = 20
    log.abandoned(t("09:04:00"), "c5", "0161 496 0005", wait=40)    # abandoned after T
    log.enter(t("09:05:00"), "c6", "0161 496 0006")
    log.add(t("09:06:00"), "c6", "600", "NONE", "EXITWITHTIMEOUT", 1, 1, 60)   # longest wait: 60 s
    log.enter(t("09:10:00"), "c8", "0161 496 0008")
    log.add(t("09:10:25"), "c8", "600", "NONE", "CALLBACKREQ", "01614960008", 1, 25, "")
    log.add(t("09:40:00"), "c8", "600", "alice", "CALLBACKDIAL", "01614960008", 1)
    log.add(t("09:40:20"), "c8", "600", "alice", "CALLBACKANSWER", "01614960008")
    # c7: the caller of c1 again (another way of writing the number) 20 minutes later: c1 is a repeat
    log.answered(t("09:20:00"), "c7", "020 7946 0001", "alice", wait=20, talk=50)
    log.add(t("09:30:00"), "NONE", "NONE", "alice", "PAUSE", "lunch")
    log.add(t("09:40:00"), "NONE", "NONE", "alice", "UNPAUSE", "")
    log.logoff(t("09:30:00"), "bob", 1800)
    log.logoff(t("10:00:00"), "alice", 3900)
    return log


def day_report(log: EventLog, group_by: str = "total", **params) -> dict:
    since, until = day_range("2026-03-02", "2026-03-02", UTC)
    req = ReportRequest(since, until, group_by, UTC, KpiParams(**params).check())
    return report_from_events(log.sorted(), req)


def test_every_kpi_of_the_golden_day() -> None:
    k = day_report(golden_day())["total"]
    assert k["entered"] == 8
    assert k["short_abandoned"] == 1                   # c3
    assert k["offered"] == 7                           # 8 - 1
    assert k["answered"] == 3                          # c1 c2 c7
    assert k["abandoned"] == 2                         # c4 c5
    assert k["other_exits"] == 2                       # c6 timeout, c8 callback
    assert k["answer_rate"] == pytest.approx(3 / 7)
    assert k["abandon_rate"] == pytest.approx(2 / 7)
    assert k["service_level"] == pytest.approx(2 / 5)  # default variant: in T (c1 10 s, c7 20 s) / (3 + 2)
    assert k["asa_s"] == pytest.approx((10 + 30 + 20) / 3)
    assert k["aht_s"] == pytest.approx((100 + 20 + 200 + 10 + 50) / 3)
    assert k["longest_wait_s"] == 60
    assert k["fcr"] == pytest.approx(1 - 1 / 3)        # c1 repeated by c7
    assert k["resolved_rate"] == pytest.approx(1 / 2)
    assert k["satisfaction_avg"] == pytest.approx(4.0)
    assert k["satisfied_share"] == pytest.approx(1 / 2)
    assert k["callback_success"] == pytest.approx(1.0)
    # agent time: alice 3900 s logged in, 600 paused, busy 100+20+50; bob 1800 s, busy 200+10
    assert k["occupancy"] == pytest.approx((170 + 210) / (3900 + 1800 - 600))
    assert k["utilisation"] == pytest.approx((170 + 210) / (3900 + 1800))
    assert k["line_occupancy"] is None and k["all_lines_busy_s"] is None   # no line data


@pytest.mark.parametrize("variant,expected", [
    ("answered", 2 / 3),                 # in T / answered
    ("offered", 2 / 5),                  # in T / (answered + abandoned)
    ("offered_with_short", 2 / 6),       # ... + the short abandon
    ("abandoned_met", (2 + 1) / 5),      # c4 gave up within T: counted as met
    ("abandoned_excluded", 2 / 4),       # c4 left out of the denominator
])
def test_each_service_level_variant(variant: str, expected: float) -> None:
    assert variant in SL_VARIANTS
    assert day_report(golden_day(), sl_variant=variant)["total"]["service_level"] == pytest.approx(expected)


def test_short_abandon_threshold_moves_calls_between_short_and_abandoned() -> None:
    k = day_report(golden_day(), short_abandon_s=16)["total"]      # c3 (3 s) and c4 (15 s) are short now
    assert (k["short_abandoned"], k["abandoned"], k["offered"]) == (2, 1, 6)
    assert k["service_level"] == pytest.approx(2 / 4)
    k = day_report(golden_day(), short_abandon_s=0)["total"]       # no short abandons at all
    assert (k["short_abandoned"], k["abandoned"], k["offered"]) == (0, 3, 8)


def test_service_level_threshold_is_inclusive() -> None:
    assert day_report(golden_day(), sl_threshold_s=19, sl_variant="answered")["total"]["service_level"] \
        == pytest.approx(1 / 3)                                    # c7's 20 s no longer counts
    assert day_report(golden_day(), sl_threshold_s=30, sl_variant="answered")["total"]["service_level"] == 1.0


def test_fcr_window_and_same_disposition() -> None:
    log = EventLog()
    d = lambda day, hms="10:00:00": at(f"2026-03-{day:02d} {hms}")  # noqa: E731
    log.answered(d(2), "a1", "5550001", "alice", 5, 60)
    log.add(d(2, "10:02:00"), "a1", "600", "alice", "DISPOSITION", "complaint", 1, 0)
    log.answered(d(8), "a2", "5550001", "alice", 5, 60)     # 6 days later: within 7 days
    log.add(d(8, "10:02:00"), "a2", "600", "alice", "DISPOSITION", "consultation", 1, 0)
    log.answered(d(4), "b1", "5550002", "bob", 5, 60)
    log.answered(d(13), "b2", "5550002", "bob", 5, 60)      # 9 days later: outside 7 days
    log.answered(d(5), "x1", "", "bob", 5, 60)               # anonymous: not counted either way
    since, until = day_range("2026-03-02", "2026-03-06", UTC)

    def fcr(**p) -> float:
        req = ReportRequest(since, until, "total", UTC, KpiParams(**p).check())
        return report_from_events(log.sorted(), req)["total"]["fcr"]
    # in the period: a1 (repeated by a2 within the window), b1 (b2 is 9 days later): 1 of 2 repeated
    assert fcr() == pytest.approx(1 / 2)
    assert fcr(fcr_window_days=10) == pytest.approx(0.0)        # b1 is a repeat too now
    assert fcr(fcr_same_disposition=True) == pytest.approx(1.0)  # a2 is about something else
    assert fcr(fcr_window_days=3) == pytest.approx(1.0)


def test_intervals_across_midnight() -> None:
    log = EventLog()
    log.login(at("2026-03-02 23:00:00"), "alice")
    log.answered(at("2026-03-02 23:59:50"), "m1", "5550001", "alice", wait=20, talk=60)   # enters Monday
    log.answered(at("2026-03-03 00:00:00"), "m2", "5550002", "alice", wait=5, talk=60)
    log.logoff(at("2026-03-03 01:00:00"), "alice", 7200)
    since, until = day_range("2026-03-02", "2026-03-03", UTC)
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "day", UTC))
    rows = {r["label"]: r["kpis"] for r in rep["rows"]}
    assert rows["2026-03-02"]["entered"] == 1 and rows["2026-03-03"]["entered"] == 1
    assert rows["2026-03-02"]["asa_s"] == 20 and rows["2026-03-03"]["asa_s"] == 5
    # the session 23:00-01:00 is split at midnight: 3600 s each day; m1's talk 00:00:10-00:01:10 is Tuesday's
    assert rows["2026-03-02"]["utilisation"] == 0.0
    assert rows["2026-03-03"]["utilisation"] == pytest.approx(120 / 3600)
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "60min", UTC))
    assert [r["label"] for r in rep["rows"]] == ["2026-03-02T23:00+00:00", "2026-03-03T00:00+00:00"]


def test_intervals_across_dst_changes() -> None:
    ny = ZoneInfo("America/New_York")
    log = EventLog()
    # 2026-11-01: clocks go back at 02:00 EDT -> 01:00 EST. 01:30 happens twice.
    log.answered(at("2026-11-01 05:30:00"), "f1", "5550001", "alice", 10, 60)   # 01:30 EDT
    log.answered(at("2026-11-01 06:30:00"), "f2", "5550002", "alice", 10, 60)   # 01:30 EST
    log.answered(at("2026-11-02 04:30:00"), "f3", "5550003", "alice", 10, 60)   # 23:30 EST, still Nov 1
    log.answered(at("2026-11-02 05:30:00"), "f4", "5550004", "alice", 10, 60)   # 00:30 Nov 2
    since, until = day_range("2026-11-01", "2026-11-01", ny)
    assert until - since == 25 * 3600                   # the day has 25 hours
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "60min", ny))
    assert [(r["label"], r["kpis"]["entered"]) for r in rep["rows"]] == [
        ("2026-11-01T01:00-04:00", 1), ("2026-11-01T01:00-05:00", 1), ("2026-11-01T23:00-05:00", 1)]
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "day", ny))
    assert [(r["label"], r["kpis"]["entered"]) for r in rep["rows"]] == [("2026-11-01", 3)]
    # 2026-03-08: clocks go forward at 02:00 EST -> 03:00 EDT: a 23-hour day, no 02:00 interval
    since, until = day_range("2026-03-08", "2026-03-08", ny)
    assert until - since == 23 * 3600
    log = EventLog()
    log.answered(at("2026-03-08 06:59:00"), "s1", "5550001", "alice", 10, 60)   # 01:59 EST
    log.answered(at("2026-03-08 07:00:00"), "s2", "5550002", "alice", 10, 60)   # 03:00 EDT
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "30min", ny))
    assert [r["label"] for r in rep["rows"]] == ["2026-03-08T01:30-05:00", "2026-03-08T03:00-04:00"]


def test_line_occupancy_and_all_lines_busy() -> None:
    t = lambda hms: at(f"2026-03-02 {hms}")  # noqa: E731
    spans = [CallSpan("l1", t("09:00:00"), t("09:10:00"), "1", "inbound"),
             CallSpan("l2", t("09:05:00"), t("09:20:00"), "2", "outbound"),
             CallSpan("l3", t("09:15:00"), t("09:16:00"), "1", "inbound")]
    since, until = day_range("2026-03-02", "2026-03-02", UTC)
    rep = report_from_events([], ReportRequest(since, until, "line", UTC, n_lines=2), spans)
    # both lines busy 09:05-09:10 and 09:15-09:16: 360 s
    assert rep["total"]["all_lines_busy_s"] == 360
    assert rep["total"]["line_occupancy"] == pytest.approx((600 + 900 + 60) / (2 * 86400))
    rows = {r["label"]: r["kpis"] for r in rep["rows"]}
    assert rows["1"]["line_occupancy"] == pytest.approx(660 / 86400)
    assert rows["2"]["line_occupancy"] == pytest.approx(900 / 86400)


def test_groupings_queue_agent_team_disposition() -> None:
    log = golden_day()
    rep = day_report(log, "agent")
    rows = {r["label"]: r["kpis"] for r in rep["rows"]}
    assert rows["alice"]["answered"] == 2 and rows["bob"]["answered"] == 1
    assert rows["alice"]["occupancy"] == pytest.approx(170 / 3300)
    rows = {r["label"]: r["kpis"] for r in day_report(log, "disposition")["rows"]}
    assert rows["complaint"]["asa_s"] == 10 and rows["consultation"]["asa_s"] == 30
    assert rows["(none)"]["entered"] == 6
    since, until = day_range("2026-03-02", "2026-03-02", UTC)
    rep = report_from_events(log.sorted(), ReportRequest(since, until, "team", UTC,
                                                         teams={"alice": "sales", "bob": "sales"}))
    assert [r["label"] for r in rep["rows"]] == ["sales"]
    assert rep["rows"][0]["kpis"]["answered"] == 3


def test_scorecards_and_abandoned_list() -> None:
    rep = day_report(golden_day())
    cards = {c["agent"]: c for c in rep["scorecards"]}
    assert cards["alice"]["answered"] == 2 and cards["alice"]["talk_s"] == 150 and cards["alice"]["wrap_s"] == 20
    assert cards["bob"]["login_s"] == 1800 and cards["bob"]["occupancy"] == pytest.approx(210 / 1800)
    assert [a["call_id"] for a in rep["abandoned_calls"]] == ["c5", "c4"]    # newest first, c3 was short


def test_empty_period_says_so() -> None:
    since, until = day_range("2026-03-02", "2026-03-02", UTC)
    rep = report_from_events([], ReportRequest(since, until, "day", UTC))
    assert rep["rows"] == [] and rep["total"]["entered"] == 0 and rep["total"]["service_level"] is None
    assert rep["notes"][0].startswith("No queue calls in this period")


def test_staffed_against_required_per_interval() -> None:
    rep = day_report(golden_day(), "60min")
    nine = next(r for r in rep["rows"] if r["label"] == "2026-03-02T09:00+00:00")
    # 09:00-10:00: alice 3600 s logged in, 600 paused; bob 1800 s -> (3000 + 1800) / 3600 agents on average
    assert nine["staffing"]["staffed"] == pytest.approx(4800 / 3600)
    # 7 offered calls in the hour at AHT 380/3 s: A = 0.2463 erlangs. One agent: P(wait) = A,
    # SL = 1 - A e^{-(1 - A) 20 / 126.7} = 0.782 < 0.8; two agents meet it: required 2
    a = 7 * (380 / 3) / 3600
    assert 1 - a * math.exp(-(1 - a) * 20 / (380 / 3)) < 0.8
    assert nine["staffing"]["required"] == 2
