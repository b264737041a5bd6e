"""Engine API commands of the reports domain (everything the web or a CLI asks that writes):

* `reports.rebuild`      forget DATA/reports.db's cells and aggregate again from the event log
* `reports.daily_mail`   set who gets the daily report by e-mail, and at what local hour
* `reports.mail_settings` read them back
* `reports.send_daily`   send the report of one day now (to the configured or the given addresses)
"""
from __future__ import annotations

import datetime as dt

from ..api import ApiContext, ApiError, command
from ..mailer import MailError


@command("reports.rebuild", on="store")
def reports_rebuild(ctx: ApiContext) -> dict:
    """Rebuild the pre-aggregated report cells from the whole event log (in a process of its own:
    the store thread only waits, so the media loop's interpreter is not kept busy)."""
    from .worker import RebuildError, rebuild_in_worker
    try:
        return rebuild_in_worker(ctx.data_dir)
    except RebuildError as exc:
        raise ApiError("unavailable", str(exc)) from None


@command("reports.daily_mail", on="store")
def reports_daily_mail(ctx: ApiContext, to: list[str], hour: int = 7) -> dict:
    """Recipients of the daily report (empty: none) and the local hour it is sent at."""
    from .daily_mail import save_mail_settings
    try:
        doc = save_mail_settings(ctx.config, to, hour)
    except (ValueError, MailError) as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"to": doc["to"], "hour": doc["hour"]}


@command("reports.mail_settings", on="store")
def reports_mail_settings(ctx: ApiContext) -> dict:
    """Who gets the daily report by e-mail and at what local hour (empty: nobody)."""
    from .daily_mail import mail_settings
    doc = mail_settings(ctx.config)
    return {"to": list(doc.get("to", [])), "hour": int(doc.get("hour", 7))}


_MAILER = None


def _mailer(ctx: ApiContext):
    global _MAILER
    if _MAILER is None:
        from ..apps.voicemail_store import settings
        from ..mailer import Mailer
        config = ctx.config
        _MAILER = Mailer(lambda: settings(config))
    return _MAILER


@command("reports.send_daily", on="store")
def reports_send_daily(ctx: ApiContext, day: str, to: list[str] | None = None) -> dict:
    """Send the report of `day` (YYYY-MM-DD) now."""
    from .daily_mail import mail_settings, send_report
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise ApiError("bad_request", f"day must look like 2026-01-31 (got {day[:20]!r})") from None
    recipients = to if to is not None else mail_settings(ctx.config).get("to", [])
    if not recipients:
        raise ApiError("bad_request", "no recipients: give `to` or set them with reports.daily_mail first")
    try:
        n = send_report(_mailer(ctx), ctx.config, ctx.data_dir, when, recipients)
    except (ValueError, MailError) as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"queued": n, "day": when.isoformat()}
