"""`GET /metrics`: the engine's health in Prometheus text format.

Who may read it: an administrator's session, or a scraper with `Authorization: Bearer <token>`
where the token is the content of `DATA/metrics.token` (created by the web process at
start-up, mode 0600; copy it to the scraper's configuration). The figures come from the
`metrics.read` engine command (counters the media loop keeps in memory; nothing on the tick);
the round trip of that very call is the web↔engine round-trip time.
"""
from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from firmware.media_health import prometheus_text

from .guards import SESSION_COOKIE, web

router = APIRouter()

TOKEN_FILE = "metrics.token"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def ensure_token(data_dir: Path) -> str | None:
    """The scraper token (made once, mode 0600); None when the data directory is not writable."""
    path = Path(data_dir) / TOKEN_FILE
    with contextlib.suppress(OSError):
        return path.read_text().strip() or None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _token_ok(request: Request) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    try:
        expected = (web(request).data_dir / TOKEN_FILE).read_text().strip()
    except OSError:
        return False
    return bool(expected) and hmac.compare_digest(given.strip().encode(), expected.encode())


def _admin_session(request: Request) -> bool:
    state = web(request)
    session = state.sessions.lookup(request.cookies.get(SESSION_COOKIE), touch=False)
    if session is None:
        return False
    user = state.accounts.get(session.username) if hasattr(session, "username") else None
    return getattr(user, "role", None) == "admin"


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    if not (_token_ok(request) or _admin_session(request)):
        return PlainTextResponse("metrics: log in as an administrator, or send Authorization: Bearer <the token "
                                 f"in DATA/{TOKEN_FILE}>\n", status_code=401)
    state = web(request)
    t0 = time.perf_counter()
    h = await state.api.call("metrics.read", window_s=60.0)   # ApiError unavailable -> 503
    rtt = time.perf_counter() - t0
    extra = {"linebox_engine_api_rtt_seconds": rtt}
    ping = getattr(state.api, "rtt_s", None)
    if ping is not None:
        extra["linebox_engine_api_ping_seconds"] = ping
    extra["linebox_engine_up"] = 1.0 if getattr(state.api, "connected", True) else 0.0
    return PlainTextResponse(prometheus_text(h, extra), media_type=CONTENT_TYPE)
