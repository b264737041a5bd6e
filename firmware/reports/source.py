"""Reports from the store (DATA/records.db read-only, the pre-aggregated DATA/reports.db when it
is there) or from a queue_log file, with the site's settings (timezone, lines, teams)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import BadLines, open_readonly, read_call_spans, read_queue_log_file, read_store
from .kpis import KpiParams
from .periods import day_range, timezone
from .report import ReportRequest, check_group, report_from_events

RECORDS_DB = "records.db"
REPORTS_DB = "reports.db"
DAY = 86400.0


@dataclass
class Site:
    timezone: str = "UTC"
    n_lines: int = 0
    teams: dict[str, str] = field(default_factory=dict)     # agent -> team


def site_from_config(config: Any) -> Site:
    """From a live `firmware.config.Config` (the engine, the web)."""
    settings = config.settings()
    try:
        lines = [ln for ln in config.lines() if ln.get("enabled", True)]
    except Exception:  # noqa: BLE001 - a config without lines: line figures are left out
        lines = []
    try:
        teams = _teams(config.table("teams").all())
    except Exception:  # noqa: BLE001 - no teams configured
        teams = {}
    return Site(str(settings.get("timezone") or "UTC"), len(lines), teams)


def site_from_data_dir(data_dir: Path) -> Site:
    """From DATA/config.json, read without taking the service's lock or writing anything."""
    p = Path(data_dir) / "config.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Site()
    settings = next(iter((doc.get("settings") or {}).values()), {}) if isinstance(doc, dict) else {}
    lines = [ln for ln in (doc.get("lines") or {}).values() if isinstance(ln, dict) and ln.get("enabled", True)]
    return Site(str(settings.get("timezone") or "UTC"), len(lines), _teams((doc.get("teams") or {}).values()))


def _teams(docs) -> dict[str, str]:
    """Teams, where the configuration has them: {"name": "Sales", "members": ["alice", ...]}."""
    out: dict[str, str] = {}
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("members"), list):
            for m in d["members"]:
                out[str(m)] = str(d.get("name", ""))[:40]
    return out


def make_request(date_from: str, date_to: str, group_by: str, site: Site, params: KpiParams,
                 tz_name: str | None = None) -> ReportRequest:
    tz = timezone(tz_name or site.timezone)
    since, until = day_range(date_from, date_to, tz)
    return ReportRequest(since, until, check_group(group_by), tz, params.check(), site.teams, site.n_lines)


def report_from_queue_log(path: Path | str, req: ReportRequest) -> dict:
    bad = BadLines()
    events = read_queue_log_file(path, bad, req.since - DAY, req.until + req.params.fcr_window_days * DAY)
    doc = report_from_events(events, req, (), bad, source=f"queue_log {Path(path).name}")
    from .menus import empty_figures
    doc["menu"] = empty_figures("An Asterisk queue_log has no auto-attendant events: menu figures come from "
                                "the Linebox store only.")
    doc["notes"].append(doc["menu"]["note"])
    return doc


def add_store_figures(doc: dict, records_db: Path, req: ReportRequest) -> dict:
    """The period's figures that only the Linebox store has (read-only): the auto attendant's
    (records.db) as doc["menu"], the work orders' (workorders.db) as doc["workorders"], the outbound
    campaigns' (records.db queue events) as doc["campaigns"]."""
    from .menus import menu_figures_from_store
    from .workorder_figures import workorder_report
    doc["menu"] = menu_figures_from_store(records_db.parent / REPORTS_DB, records_db, req.since, req.until)
    doc["workorders"] = workorder_report(records_db.parent, req.since, req.until)
    from .campaign_figures import campaign_report
    doc["campaigns"] = campaign_report(records_db, req.since, req.until)
    return doc


LISTS_MAX_DAYS = 31     # scorecards and the abandoned-call list: for periods up to a month


def report_from_store(data_dir: Path | str, req: ReportRequest, use_aggregates: bool = True) -> dict:
    """From the engine's records (read-only); the pre-aggregated tables when they cover the period."""
    data_dir = Path(data_dir)
    if use_aggregates and (data_dir / REPORTS_DB).exists():
        from .aggregate import lists_from_store, report_from_aggregates
        doc = report_from_aggregates(data_dir / REPORTS_DB, data_dir / RECORDS_DB, req)
        if doc is not None:
            if req.until - req.since <= LISTS_MAX_DAYS * DAY + 3600:
                doc.update(lists_from_store(data_dir / REPORTS_DB, data_dir / RECORDS_DB, req))
            return add_store_figures(doc, data_dir / RECORDS_DB, req)
    conn = open_readonly(data_dir / RECORDS_DB)
    try:
        events = read_store(conn, req.since - DAY, req.until + req.params.fcr_window_days * DAY)
        spans = read_call_spans(conn, req.since, req.until)
    finally:
        conn.close()
    doc = report_from_events(events, req, spans, None, source="records.db")
    return add_store_figures(doc, data_dir / RECORDS_DB, req)


PATIENCE_VERBS = ("ENTERQUEUE", "CONNECT", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY", "CALLBACKREQ",
                  "COMPLETEAGENT", "COMPLETECALLER", "TRANSFER")


def estimate_patience(data_dir: Path | str, req: ReportRequest) -> dict:
    """Callers' mean patience for Erlang A, from the period's queue calls: Σ time every caller spent
    waiting (answered, abandoned or left otherwise) ÷ abandons — the maximum-likelihood estimate
    for exponential patience when the waits of callers who did not abandon are censored."""
    from .model import EventModel
    from .staffing import patience_from_abandons
    conn = open_readonly(Path(data_dir) / RECORDS_DB)
    try:
        events = read_store(conn, req.since - DAY, req.until + DAY, verbs=PATIENCE_VERBS)
    finally:
        conn.close()
    model = EventModel()
    model.feed(events)
    calls = [c for c in model.calls.values() if c.seen_enter and req.since <= c.entered < req.until
             and c.outcome != "open"]
    abandons = sum(c.outcome == "abandoned" for c in calls)
    waited = float(sum(c.wait for c in calls))
    patience = patience_from_abandons(abandons, waited)
    if patience is None:
        raise ValueError("no caller abandoned in this period, so patience cannot be estimated; "
                         "choose a longer period or give --patience-s")
    return {"patience_s": patience, "abandons": abandons, "calls": len(calls), "waited_s": waited}
