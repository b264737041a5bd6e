"""Live port status: the pages, the JSON snapshot and the Server-Sent Events stream.

Everything live comes from the engine API client (`state.api`: snapshot + event stream);
while the engine is away the page shows "telephony restarting" and recovers by itself."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from firmware.api import ApiError

from .accounts import User
from .guards import SESSION_COOKIE, AnyUser, MonitorUser, csrf_guard, web
from .rendering import render
from .state import WebState

router = APIRouter(dependencies=[Depends(csrf_guard)])

KEEPALIVE_SECONDS = 15.0
# A stream ends itself after this long and the browser reconnects at once (fresh
# snapshot, session checked again). uvicorn waits for open responses when it shuts
# down, so this also bounds how long an open status page can hold up a restart.
STREAM_SECONDS = 25.0
SHUTDOWN_EVENT = "shutdown"     # what `linebox run` publishes when asked to stop (firmware/service.py)
SEES_ALL_PORTS = ("admin", "supervisor")
ENGINE_EVENT = "engine"         # the engine went away / came back (webui.engine_client)


def engine_up(state: WebState) -> bool:
    return bool(getattr(state.api, "connected", True))


async def engine_health(state: WebState) -> dict[str, Any] | None:
    """The media loop's figures for administrators (None while the engine is away)."""
    import time
    t0 = time.perf_counter()
    try:
        h = await state.api.call("metrics.read", window_s=60.0)
    except ApiError:
        return None
    rtt = time.perf_counter() - t0          # this very request's round trip through the engine
    w = h["window"]
    return {"tick_p50_ms": w["work_p50"] * 1e3, "tick_p99_ms": w["work_p99"] * 1e3,
            "tick_max_ms": w["work_max"] * 1e3, "late_ticks": h["late_ticks"], "frames_lost": h["frames_lost"],
            "active_calls": h["active_calls"], "gen2": h["gc"]["collections"][2],
            "rtt_ms": rtt * 1e3}


def _user_port(state: WebState, user: User) -> str | None:
    """The FXS port of the user's own extension, if they have one."""
    if not user.extension:
        return None
    try:
        ext = state.config.extension(user.extension)
    except Exception:          # unknown or removed extension: nothing to show
        return None
    if ext is None:
        return None
    return getattr(ext, "port", None) or (ext.get("port") if isinstance(ext, dict) else None)


def visible_ports(state: WebState, user: User, ports: list) -> list[dict[str, Any]]:
    rows = [p.as_dict() for p in ports]
    if user.role in SEES_ALL_PORTS:
        return rows
    own = _user_port(state, user)
    return [r for r in rows if own is not None and r["port"] == own]


def _status_payload(state: WebState, user: User, ports: list) -> dict[str, Any]:
    return {"server_time": state.clock(), "ports": visible_ports(state, user, ports)}


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


@router.get("/status")
async def status_page(request: Request, user: MonitorUser) -> Response:
    state = web(request)
    # Damaged stores set aside, config fallen back, a full disk: the owner must know.
    alarms = await _alarms(state) if user.role == "admin" else []
    health = await engine_health(state) if user.role == "admin" else None
    return render(request, "status.html", title="Live status", alarms=alarms, engine_up=engine_up(state),
                  health=health, offer_wizard=user.role == "admin" and await _wizard_open(request),
                  status=_status_payload(state, user, state.api.snapshot()))


async def _alarms(state: WebState) -> list[str]:
    messages = [state.store_alarm] if state.store_alarm else []
    try:
        messages += [a["message"] for a in await state.api.call("system.alarms")]
    except Exception as exc:           # the status page must open even when the engine cannot answer
        messages.append(f"The engine did not answer about its health ({type(exc).__name__}); see the log.")
    return messages


async def _wizard_open(request: Request) -> bool:
    """The setup wizard is offered until it is finished or skipped (engine API setup.state)."""
    from .engine_calls import call
    try:
        return not (await call(request, "setup.done"))["done"]
    except ApiError:
        return False


@router.get("/me")
async def my_phone_page(request: Request, user: AnyUser) -> Response:
    state = web(request)
    return render(request, "me.html", title="My phone", own_port=_user_port(state, user),
                  status=_status_payload(state, user, state.api.snapshot()))


@router.get("/api/status")
async def status_json(request: Request, user: AnyUser) -> JSONResponse:
    state = web(request)
    payload = _status_payload(state, user, state.api.snapshot())
    payload["engine"] = "up" if engine_up(state) else "restarting"
    return JSONResponse(payload)


@router.get("/api/events")
async def events(request: Request, user: AnyUser) -> StreamingResponse:
    state = web(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    queue = state.api.subscribe()

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + STREAM_SECONDS
        try:
            yield "retry: 500\n\n"
            if not engine_up(state):
                yield _sse(ENGINE_EVENT, {"state": "restarting"})
            yield _sse("ports", _status_payload(state, user, state.api.snapshot()))
            while True:
                left = ends_at - loop.time()
                if left <= 0:
                    return
                try:
                    update = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, left))
                except TimeoutError:
                    # a stream must not outlive its session (logout, expiry, deletion)
                    if state.sessions.lookup(session_id, touch=False) is None:
                        yield _sse("logout", {})
                        return
                    yield ": keepalive\n\n"
                    continue
                if update.kind == SHUTDOWN_EVENT:
                    return      # the service is stopping: do not hold it up (the browser reconnects)
                if update.ports:
                    yield _sse("ports", _status_payload(state, user, update.ports))
                if update.kind == ENGINE_EVENT:        # every user sees that telephony is restarting
                    yield _sse(ENGINE_EVENT, update.payload)
                    continue
                if update.kind == "message":       # a user's message: to its recipient only
                    if isinstance(update.payload, dict) and update.payload.get("to") == user.username:
                        yield _sse("message", update.payload)
                    continue
                if update.kind != "ports" and update.payload is not None and user.role in SEES_ALL_PORTS:
                    yield _sse(update.kind, update.payload)
        finally:
            state.api.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
