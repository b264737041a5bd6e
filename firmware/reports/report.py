"""Reports: KPIs per group (interval, day, week, month, year, queue, agent, team, line,
disposition), daily agent scorecards and the abandoned-call list.

Everything is first counted into *cells*: `Totals` keyed by (15-minute bucket, queue, agent,
disposition, line). 15-minute UTC buckets are also 15-minute local buckets (every timezone
offset in use is a multiple of 15 minutes), so cells roll up exactly into any period of the
site's timezone. Cells come from raw events (`cells_from_events`: a queue_log file, or the
store's newest events) or from the pre-aggregated tables (`aggregate.AggregateStore`): the
same rollup and the same KPI registry turn either into a report.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from . import kpis as kpi_registry
from .events import BadLines, CallSpan, QueueEvent
from .kpis import KpiParams
from .model import AGENT_STATE_EVENTS, EventModel, QueueCall, Totals, mark_repeats
from .periods import GRAINS, MINUTE_GRAINS, bucket_start, label, next_bucket, split_span

CELL_S = 900
GROUPS = (*GRAINS, "queue", "agent", "team", "line", "disposition", "total")


class CellKey(NamedTuple):
    bucket: int
    queue: str = ""
    agent: str = ""
    disposition: str = ""
    line: str = ""


def cell_of(ts: float) -> int:
    return int(ts - ts % CELL_S)


def split_cells(start: float, end: float) -> Iterable[tuple[int, float]]:
    b = cell_of(start)
    while b < end:
        part = min(end, b + CELL_S) - max(start, b)
        if part > 0:
            yield b, part
        b += CELL_S


def check_group(group_by: str) -> str:
    if group_by not in GROUPS:
        raise ValueError(f"unknown grouping {group_by!r}; use one of {', '.join(GROUPS)}")
    return group_by


def _cell(cells: dict[CellKey, Totals], key: CellKey) -> Totals:
    t = cells.get(key)
    if t is None:
        t = cells[key] = Totals()
    return t


def line_cells(spans: Iterable[CallSpan], since: float, until: float, n_lines: int,
               cells: dict[CellKey, Totals]) -> None:
    """Outside-line use into cells: busy seconds per line, calls per line (at their start), and the
    seconds during which at least `n_lines` lines were busy at once (cell with line '')."""
    edges: list[tuple[float, int]] = []
    for s in spans:
        start, end = max(s.start, since), min(s.ended, until)
        if end <= start:
            continue
        if since <= s.start < until:
            _cell(cells, CellKey(cell_of(s.start), line=s.line)).line_calls += 1
        for b, part in split_cells(start, end):
            _cell(cells, CellKey(b, line=s.line)).line_busy_s += part
        edges += [(start, 1), (end, -1)]
    if n_lines <= 0:
        return
    edges.sort(key=lambda e: (e[0], e[1]))         # an end before a start at the same instant
    busy, full_since = 0, None
    for t, step in edges:
        busy += step
        if busy >= n_lines and full_since is None:
            full_since = t
        elif busy < n_lines and full_since is not None:
            for b, part in split_cells(full_since, t):
                _cell(cells, CellKey(b)).all_lines_busy_s += part
            full_since = None


def cells_from_events(events: Iterable[QueueEvent], since: float, until: float, params: KpiParams,
                      call_spans: Iterable[CallSpan] = (), n_lines: int = 0,
                      agent_state: dict | None = None,
                      model: EventModel | None = None) -> tuple[dict[CellKey, Totals], list[QueueCall]]:
    """Count calls that entered in [since, until) and agent/line time inside it into cells.
    `events` may start before `since` (a call that entered earlier is not counted) and run past
    `until` (later contacts decide first-contact resolution). Agent sessions open at the end
    count up to `until`. Returns the cells and the counted calls."""
    model = model if model is not None else EventModel(agent_state)
    for ev in events:
        if ev.event in AGENT_STATE_EVENTS and ev.ts >= until:
            continue                    # a session's end after the period: it counts up to `until`
        model.feed_event(ev)
    calls = list(model.calls.values())
    mark_repeats(calls, params.fcr_window_days * 86400, params.fcr_same_disposition)
    spans = list(call_spans)
    line_of = {s.call_id: s.line for s in spans}
    cells: dict[CellKey, Totals] = {}
    counted = []
    for c in calls:
        if c.seen_enter and since <= c.entered < until:
            key = CellKey(cell_of(c.entered), c.queue, c.agent, c.disposition, line_of.get(c.call_id, ""))
            _cell(cells, key).add_call(c)
            counted.append(c)
    for s in model.all_spans(until):
        for b, part in split_cells(max(s.start, since), min(s.end, until)):
            _cell(cells, CellKey(b, agent=s.agent)).add_span(s.kind, part)
    line_cells(spans, since, until, n_lines, cells)
    counted.sort(key=lambda c: c.entered)
    return cells, counted


@dataclass
class ReportRequest:
    since: float
    until: float
    group_by: str = "day"
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    params: KpiParams = field(default_factory=KpiParams)
    teams: dict[str, str] = field(default_factory=dict)    # agent -> team
    n_lines: int = 0                                       # outside lines (0: unknown)


def group_key(key: CellKey, group_by: str, tz: ZoneInfo, teams: dict[str, str],
              cache: dict[int, float]) -> str | float | None:
    if group_by == "total":
        return "total"
    if group_by in GRAINS:
        g = cache.get(key.bucket)
        if g is None:
            g = cache[key.bucket] = bucket_start(key.bucket, group_by, tz)
        return g
    if group_by == "queue":
        return key.queue or None
    if group_by == "agent":
        return key.agent or None
    if group_by == "team":
        return (teams.get(key.agent, "(no team)")) if key.agent else None
    if group_by == "line":
        return key.line or None
    return key.disposition or ("(none)" if key.queue else None)      # disposition


def rollup(cells: dict[CellKey, Totals], req: ReportRequest) -> dict:
    groups: dict = {}
    cache: dict[int, float] = {}
    for key, t in cells.items():
        g = group_key(key, req.group_by, req.tz, req.teams, cache)
        if g is None:
            continue
        target = groups.get(g)
        if target is None:
            target = groups[g] = Totals()
        target.add(t)
    return groups


def _seconds_in(start: float, end: float, req: ReportRequest) -> float:
    return max(0.0, min(end, req.until) - max(start, req.since))


def add_line_capacity(groups: dict, total: Totals, req: ReportRequest, lines: Iterable[str]) -> None:
    """Line capacity is not counted but known: lines x seconds of each group's time."""
    if req.n_lines <= 0:
        return
    total.line_capacity_s = req.n_lines * (req.until - req.since)
    if req.group_by in GRAINS:
        for g, t in groups.items():
            t.line_capacity_s = req.n_lines * _seconds_in(g, next_bucket(g, req.group_by, req.tz), req)
    elif req.group_by == "line":
        for line in lines:
            groups.setdefault(line, Totals())
        for t in groups.values():
            t.line_capacity_s = req.until - req.since
    elif req.group_by == "total":
        for t in groups.values():
            t.line_capacity_s = total.line_capacity_s


def _fmt_group(g, group_by: str, tz: ZoneInfo) -> str:
    return label(g, group_by, tz) if group_by in GRAINS else str(g)


def _round(v):
    return v


def total_of(cells: Iterable[Totals]) -> Totals:
    total = Totals()
    for t in cells:
        total.add(t)
    return total


def assemble(groups: dict, total: Totals, req: ReportRequest, notes: list[str], bad: BadLines | None = None,
             source: str = "") -> dict:
    """The report document (JSON values only) from grouped Totals and the period's total."""
    p = req.params
    add_line_capacity(groups, total, req, [])
    rows = []
    for g in sorted(groups, key=lambda x: (str(type(x)), x)):
        t = groups[g]
        kpis = {k: _round(v) for k, v in kpi_registry.compute(t, p).items()}
        row = {"key": g, "label": _fmt_group(g, req.group_by, req.tz), "kpis": kpis}
        if req.group_by in MINUTE_GRAINS:
            row["staffing"] = staffed_vs_required(t, kpis, MINUTE_GRAINS[req.group_by], p)
        rows.append(row)
    notes = list(notes)
    if total.entered == 0:
        notes.insert(0, "No queue calls in this period: check the dates, or that the queues were in use.")
    notes += list(kpi_registry.UNAVAILABLE.values())
    doc = {
        "period": {"since": req.since, "until": req.until, "timezone": str(req.tz),
                   "from": dt.datetime.fromtimestamp(req.since, req.tz).isoformat(timespec="minutes"),
                   "to": dt.datetime.fromtimestamp(req.until, req.tz).isoformat(timespec="minutes")},
        "group_by": req.group_by, "params": p.as_dict(), "source": source,
        "kpi_definitions": kpi_registry.describe(p),
        "total": {k: _round(v) for k, v in kpi_registry.compute(total, p).items()},
        "rows": rows, "notes": notes,
    }
    if bad is not None:
        doc["bad_lines"] = bad.as_dict()
        if bad.count:
            doc["notes"].insert(0, f"{bad.count} line(s) of the queue_log could not be read and were skipped "
                                   f"(first: line {bad.examples[0]['line']}, {bad.examples[0]['why']}).")
    return doc


def staffed_vs_required(t: Totals, kpis: dict, interval_s: int, p: KpiParams) -> dict:
    """Agents staffed in an interval (logged in and not paused, on average) against the agents
    Erlang C asks for its offered calls and AHT at an 80 % service level in T."""
    from .staffing import StaffingInputError, StaffingRequest, recommend
    staffed = (t.login_s - t.paused_s) / interval_s
    required = None
    if kpis.get("offered") and kpis.get("aht_s"):
        try:
            required = recommend(StaffingRequest(kpis["offered"], interval_s / 60, kpis["aht_s"], 0.8,
                                                 p.sl_threshold_s))["agents"]
        except StaffingInputError:
            required = None
    return {"staffed": staffed, "required": required}


def scorecards(cells: dict[CellKey, Totals], req: ReportRequest) -> list[dict]:
    """One card per agent per day: what the agent did, with the same KPI formulas."""
    per: dict[tuple[float, str], Totals] = {}
    cache: dict[int, float] = {}
    for key, t in cells.items():
        if not key.agent:
            continue
        day = cache.get(key.bucket)
        if day is None:
            day = cache[key.bucket] = bucket_start(key.bucket, "day", req.tz)
        k = (day, key.agent)
        target = per.get(k)
        if target is None:
            target = per[k] = Totals()
        target.add(t)
    out = []
    for (day, agent), t in sorted(per.items()):
        k = kpi_registry.compute(t, req.params)
        out.append({"day": label(day, "day", req.tz), "agent": agent, "team": req.teams.get(agent, ""),
                    "answered": t.answered, "handled": t.handled, "talk_s": t.talk_s, "wrap_s": t.wrap_s,
                    "aht_s": _round(k["aht_s"]), "login_s": t.login_s, "paused_s": t.paused_s,
                    "occupancy": _round(k["occupancy"]), "utilisation": _round(k["utilisation"]),
                    "missed_offers": t.ring_misses, "satisfaction_avg": _round(k["satisfaction_avg"]),
                    "resolved_rate": _round(k["resolved_rate"]), "fcr": _round(k["fcr"])})
    return out


def abandoned_list(calls: Iterable[QueueCall], req: ReportRequest, all_calls: Iterable[QueueCall] = ()) -> list[dict]:
    """Callers who gave up (after the short-abandon threshold), newest first, and whether anyone
    reached them since (a later answered contact from the same number, or a callback answered —
    also one scheduled for this very call from the list, `callback.schedule`)."""
    later_answered: dict[str, float] = {}
    for c in all_calls or calls:
        if c.caller and (c.outcome == "answered" or c.callback == "answered"):
            later_answered[c.caller] = max(later_answered.get(c.caller, 0.0), c.entered)
    out = []
    for c in calls:
        if c.outcome != "abandoned" or c.wait < req.params.short_abandon_s:
            continue
        reached = c.callback == "answered" or (bool(c.caller) and later_answered.get(c.caller, 0.0) > c.entered)
        out.append({"call_id": c.call_id, "time": dt.datetime.fromtimestamp(c.entered, req.tz)
                    .isoformat(timespec="seconds"), "ts": c.entered, "queue": c.queue, "number": c.number,
                    "wait_s": c.wait, "reached_since": reached})
    out.sort(key=lambda r: -r["ts"])
    return out


def report_from_events(events: list[QueueEvent], req: ReportRequest, call_spans: Iterable[CallSpan] = (),
                       bad: BadLines | None = None, source: str = "", with_lists: bool = True) -> dict:
    """The whole report from raw events (a queue_log file, or the store for a short period)."""
    model = EventModel()
    cells, counted = cells_from_events(events, req.since, req.until, req.params, call_spans, req.n_lines,
                                       model=model)
    groups = rollup(cells, req)
    if req.group_by == "line":
        for s in call_spans:
            groups.setdefault(s.line, Totals())
    doc = assemble(groups, total_of(cells.values()), req, [], bad, source)
    if with_lists:
        doc["scorecards"] = scorecards(cells, req)
        doc["abandoned_calls"] = abandoned_list(counted, req, list(model.calls.values()))
    return doc


def minute_grain_seconds(group_by: str) -> int | None:
    return MINUTE_GRAINS.get(group_by)


__all__ = ["CELL_S", "GROUPS", "CellKey", "ReportRequest", "abandoned_list", "assemble", "cells_from_events",
           "check_group", "report_from_events", "rollup", "scorecards", "split_span"]
