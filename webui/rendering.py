"""Page rendering: every template gets the user, the CSRF token and the sidebar."""
from __future__ import annotations

import asyncio
import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from .guards import PRE_SESSION_COOKIE, current_session, pre_session_token, web
from .navigation import sections_for


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = current_session(request)
    user = getattr(request.state, "user", None)
    csrf = session.csrf_token if session is not None else pre_session_token(request)
    context.update(
        site_tz=site_timezone(request).key,
        user=user,
        csrf_token=csrf,
        sections=sections_for(user.role) if user else [],
        current_path=request.url.path,
    )
    response = web(request).templates.TemplateResponse(request, template, context, status_code=status_code)
    set_pre_session_cookie(request, response)
    return response


def set_pre_session_cookie(request: Request, response: Response) -> None:
    token = getattr(request.state, "new_pre_token", None)
    if token and request.cookies.get(PRE_SESSION_COOKIE) != token:
        response.set_cookie(PRE_SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")


def site_timezone(request: Request) -> ZoneInfo:
    """The timezone the owner set (Settings); times on the pages and date filters use it.
    Fetched from the engine once per request by `load_site_timezone` (UTC when not fetched)."""
    try:
        return ZoneInfo(str(getattr(request.state, "site_tz", None) or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


SITE_TZ_WAIT_S = 2.0


async def load_site_timezone(request: Request) -> None:
    """App-wide dependency: the site timezone for this request, asked of the engine. A busy or
    restarting engine does not stop pages from rendering: they show UTC then."""
    api = getattr(web(request), "api", None)
    if api is None:
        return
    try:
        request.state.site_tz = await asyncio.wait_for(api.call("config.timezone"), SITE_TZ_WAIT_S)
    except Exception:  # noqa: BLE001 - any failure: UTC for this page, the engine error shows elsewhere
        request.state.site_tz = None


def _localtime(epoch: float, tz_name: str = "UTC") -> str:
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")


def _talk_time(record: dict) -> str:
    talk = record.get("talk")
    if not isinstance(talk, int | float) or talk < 0:
        return ""
    seconds = int(talk)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def install_filters(templates: Jinja2Templates) -> None:
    templates.env.filters["localtime"] = _localtime
    templates.env.filters["talk_time"] = _talk_time
