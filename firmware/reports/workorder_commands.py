"""`reports.workorders`: the work-order figures of a period, with their formulas."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..api import ApiContext, ApiError, command
from .workorder_figures import workorder_report


@command("reports.workorders", on="store")
def reports_workorders(ctx: ApiContext, since: str, until: str) -> dict:
    """Work orders submitted, reviewed, dispatched, resolved and the on-time rate from day `since`
    to day `until` (YYYY-MM-DD, both included, in the site's timezone): {since, until, figures:
    [{name, label, formula, unit, value}]}."""
    tz = ZoneInfo(str((ctx.config.settings() or {}).get("timezone") or "UTC"))
    try:
        first, last = dt.date.fromisoformat(since[:10]), dt.date.fromisoformat(until[:10])
    except ValueError:
        raise ApiError("bad_request", "Dates look like 2026-01-31; correct the period.") from None
    if last < first:
        raise ApiError("bad_request", "The period ends before it starts; swap the dates.")
    start = dt.datetime.combine(first, dt.time(), tz).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).timestamp()
    return workorder_report(ctx.data_dir, start, end)
