"""Engine API commands of the owner's fax settings (settings.py): station id, header line, retries,
faxes sent at once, retention. The web's /fax/settings page (administrators) uses them.

    fax.settings                       -> the settings, the line count and the sending limit they give
    fax.settings_set {field: value...}  fields not given are kept; refused whole if any is wrong
    fax.housekeep                       run the retention now (it also runs hourly and at start)
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from ..config import ConfigError
from .settings import check_settings, fax_settings, save_fax_settings, sending_limit


def _describe(ctx: ApiContext, settings: Any) -> dict:
    lines = sum(1 for row in ctx.config.lines() if row.get("enabled", True))
    return {**settings.as_json(), "lines": lines, "sending_limit": sending_limit(settings, lines)}


@command("fax.settings", on="store")
def fax_settings_get(ctx: ApiContext) -> dict:
    """The owner's fax settings, the number of lines, and how many faxes may be sent at once with them."""
    return _describe(ctx, fax_settings(ctx.config))


@command("fax.settings_set", on="store")
def fax_settings_set(ctx: ApiContext, ident: str | None = None, header: str | None = None,
                     retry_busy_min: int | None = None, retry_person_min: int | None = None,
                     retry_training_min: int | None = None, max_attempts: int | None = None,
                     max_sending: int | None = None, keep_line_free: bool | None = None,
                     job_days: int | None = None, inbox_days: int | None = None) -> dict:
    """Change fax settings (any subset; the others are kept). The station id is up to 20 digits,
    spaces and '+'; the header line up to 50 plain characters; nothing is saved if any value is wrong."""
    given = {k: v for k, v in {
        "ident": ident, "header": header, "retry_busy_min": retry_busy_min, "retry_person_min": retry_person_min,
        "retry_training_min": retry_training_min, "max_attempts": max_attempts, "max_sending": max_sending,
        "keep_line_free": keep_line_free, "job_days": job_days, "inbox_days": inbox_days}.items() if v is not None}
    try:
        check_settings(given, fax_settings(ctx.config))
        saved = save_fax_settings(ctx.config, given)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None
    ctx.publish("fax", {"event": "settings"})
    return _describe(ctx, saved)


@command("fax.housekeep", on="store")
def fax_housekeep(ctx: ApiContext) -> dict:
    """Apply the retention now: finished send jobs and received faxes past their days are deleted."""
    from .outbox_queue import outbox_for
    from .service import fax_root
    root = fax_root(ctx.config)
    out = outbox_for(root) if root is not None else None
    if out is None:
        raise ApiError("unavailable", "Fax is not running (the engine has no data folder).")
    return out.housekeep()
