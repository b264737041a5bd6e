"""The supervisor's wallboard: a full-screen page readable across a room (per queue: callers
waiting, longest wait, today's service level against its target with a colour band, answered,
abandoned; agents by state with time in state; bulletins), live over /api/wallboard/events, and the
supervisor's actions (listen, whisper, barge, force pause or log out, move between queues, post a
bulletin).

Scope: the engine does it. Every call passes `supervisor=<the logged-in user>` ("" for the admin);
the engine gives a team leader only their team and refuses actions on anyone else's agents, so no
other team's data crosses the wire. Today's figures come from the reports' KPI functions
(`wallboard.figures`), recomputed at most every FIGURES_EVERY_S seconds per open page."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from .accounts import User
from .guards import AdminUser, AnyUser, MonitorUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

STREAM_SECONDS = 25.0
FIGURES_EVERY_S = 5.0
LIVE_KINDS = ("queues", "supervision", "bulletin")
HTTP_OF = {"bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409, "unavailable": 503,
           "too_large": 413}


def _api_error() -> type[Exception]:
    from firmware.api import ApiError
    return ApiError


def _acting(user: User) -> str:
    return "" if user.role == "admin" else user.username


async def _call(request: Request, name: str, **args: Any) -> Any:
    return await web(request).api.call(name, **args)


def _refusal(exc: Any) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=HTTP_OF.get(exc.code, 400))


async def _board(request: Request, user: User, figures: dict | None = None) -> dict:
    live = await _call(request, "wallboard.live", supervisor=_acting(user))
    if figures is None:
        figures = await _call(request, "wallboard.figures", queues=[q["number"] for q in live["queues"]],
                              at=live["at"])
    bulletins = (await _call(request, "bulletins.list", teams=live["teams"]))["bulletins"]
    return {"live": live, "figures": figures, "bulletins": bulletins}


@router.get("/wallboard")
async def wallboard_page(request: Request, user: MonitorUser) -> Response:
    try:
        board = await _board(request, user)
        error = None
    except (_api_error(), TimeoutError) as exc:
        board = {"live": {"queues": [], "agents": [], "states": {}, "supervision": [], "team": None, "teams": None,
                          "at": 0},
                 "figures": {"queues": {}}, "bulletins": []}
        error = getattr(exc, "message", "The engine is busy; the board will fill in when it answers.")
    teams = (await _call(request, "agent.list"))["teams"] if error is None else []
    return render(request, "wallboard.html", title="Wallboard", board=board, error=error,
                  my_extension=user.extension or "", teams=teams, role=user.role)


@router.get("/api/wallboard")
async def wallboard_json(request: Request, user: MonitorUser) -> JSONResponse:
    return JSONResponse(await _board(request, user))


@router.get("/api/wallboard/events")
async def wallboard_events(request: Request, user: MonitorUser) -> StreamingResponse:
    state = web(request)
    queue = state.control.subscribe()

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + STREAM_SECONDS
        board = await _board(request, user)
        figures_at = loop.time()
        try:
            yield "retry: 500\n\n"
            yield _sse("board", board)
            while (left := ends_at - loop.time()) > 0:
                try:
                    update = await asyncio.wait_for(queue.get(), min(FIGURES_EVERY_S, left))
                except TimeoutError:
                    update = None
                if update is not None and update.kind == "shutdown":
                    return
                if update is not None and update.kind not in LIVE_KINDS:
                    continue
                while not queue.empty():                  # a burst of changes: one fresh board
                    queue.get_nowait()
                fresh = loop.time() - figures_at >= FIGURES_EVERY_S
                board = await _board(request, user, None if fresh else board["figures"])
                if fresh:
                    figures_at = loop.time()
                yield _sse("board", board)
        finally:
            state.control.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    return body if isinstance(body, dict) else {}


def _s(body: dict, name: str, limit: int = 64) -> str:
    v = body.get(name, "")
    return v.strip()[:limit] if isinstance(v, str) else ""


async def _act(request: Request, name: str, **args: Any) -> JSONResponse:
    try:
        return JSONResponse(await _call(request, name, **args))
    except _api_error() as exc:
        return _refusal(exc)


@router.post("/api/wallboard/supervise")
async def supervise(request: Request, user: MonitorUser) -> JSONResponse:
    """Listen / whisper / barge on an agent's call from the supervisor's phone."""
    body = await _json(request)
    extension = _s(body, "extension", 10) or (user.extension or "")
    if not extension:
        return JSONResponse({"error": "Your account has no extension: ask the admin to set the extension of "
                                      "the phone on your desk."}, status_code=400)
    if user.role != "admin" and extension != user.extension:
        # the call's audio goes only to the supervisor's own phone, never to another extension
        return JSONResponse({"error": "You can listen only on your own phone (the extension of your account)."},
                            status_code=403)
    return await _act(request, "supervision.start", supervisor=_acting(user), extension=extension,
                      agent=_s(body, "agent", 32), mode=_s(body, "mode", 10) or "listen")


@router.post("/api/wallboard/stop")
async def stop(request: Request, user: MonitorUser) -> JSONResponse:
    body = await _json(request)
    return await _act(request, "supervision.stop", supervisor=_acting(user), agent=_s(body, "agent", 32))


@router.post("/api/wallboard/agents/{username}/{action}")
async def agent_action(request: Request, username: str, action: str, user: MonitorUser) -> JSONResponse:
    """Force pause or log out an agent (a team leader: only their team's)."""
    names = {"pause": "supervision.pause_agent", "logout": "supervision.logout_agent"}
    if action not in names:
        return JSONResponse({"error": "Unknown action; use pause or logout."}, status_code=404)
    return await _act(request, names[action], supervisor=_acting(user), username=username[:32])


@router.post("/api/wallboard/move")
async def move(request: Request, user: MonitorUser) -> JSONResponse:
    body = await _json(request)
    return await _act(request, "supervision.move_agent", supervisor=_acting(user), username=_s(body, "agent", 32),
                      from_queue=_s(body, "from_queue", 10), to_queue=_s(body, "to_queue", 10))


@router.post("/api/wallboard/bulletins")
async def post_bulletin(request: Request, user: MonitorUser) -> JSONResponse:
    body = await _json(request)
    text = body.get("text") if isinstance(body.get("text"), str) else ""
    minutes = body.get("expires_minutes")
    expires_at = None
    if minutes not in (None, ""):
        try:
            m = float(minutes)
        except (TypeError, ValueError):
            return JSONResponse({"error": "Expiry: a number of minutes, or leave it empty."}, status_code=400)
        if not 0 < m <= 60 * 24 * 31:
            return JSONResponse({"error": "Expiry: 1 minute to 31 days, or leave it empty."}, status_code=400)
        import time
        expires_at = time.time() + m * 60
    return await _act(request, "bulletins.post", supervisor=_acting(user), text=text[:2000],
                      team=_s(body, "team", 30) or None, expires_at=expires_at)


@router.post("/api/wallboard/bulletins/{bulletin_id}/delete")
async def delete_bulletin(request: Request, bulletin_id: str, user: MonitorUser) -> JSONResponse:
    return await _act(request, "bulletins.delete", supervisor=_acting(user), bulletin_id=bulletin_id[:20])


@router.get("/api/bulletins")
async def my_bulletins(request: Request, user: AnyUser) -> JSONResponse:
    """The bulletins for the logged-in user: to everybody, plus their team's if they are an agent."""
    agents = (await _call(request, "agent.list"))["agents"]
    me = next((a for a in agents if a.get("username") == user.username), None)
    team = (me or {}).get("team") or None
    if team is None and user.role == "agent":
        team = "-"                           # an agent in no team: only what goes to everybody
    return JSONResponse(await _call(request, "bulletins.list", team=team))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


# ---- settings (admin): supervisors' phones, service-level targets ---------------------------------

async def _settings_page(request: Request, status_code: int = 200, error: str | None = None,
                         done: str | None = None, typed: dict | None = None) -> Response:
    phones = (await _call(request, "supervisor_phone.list"))["phones"]
    queues = (await _call(request, "queue.list"))["queues"]
    figures = await _call(request, "wallboard.figures", queues=[q["number"] for q in queues])
    return render(request, "wallboard_settings.html", status_code=status_code, title="Wallboard settings",
                  phones=phones, queues=queues, targets=figures["queues"], error=error, done=done,
                  typed=typed or {})


@router.get("/wallboard/settings")
async def settings_page(request: Request, user: AdminUser) -> Response:
    done = {"saved": "Saved.", "deleted": "Deleted."}.get(request.query_params.get("done", ""))
    return await _settings_page(request, done=done)


@router.post("/wallboard/settings/phone")
async def settings_phone(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    username, extension = form.get("username", ""), form.get("extension", "")
    try:
        if form.get("delete"):
            await _call(request, "supervisor_phone.delete", username=str(username)[:32])
        else:
            await _call(request, "supervisor_phone.save", username=str(username).strip()[:32],
                        extension=str(extension).strip()[:10])
    except _api_error() as exc:
        return await _settings_page(request, 400, exc.message,
                                    typed={"username": str(username)[:32], "extension": str(extension)[:10]})
    return RedirectResponse("/wallboard/settings?done=saved", status_code=303)


@router.post("/wallboard/settings/target")
async def settings_target(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    try:
        percent = float(str(form.get("target_percent", "")).strip())
        threshold = int(str(form.get("threshold_s", "")).strip())
    except ValueError:
        return await _settings_page(request, 400, "Target: a percentage (e.g. 80) and a number of seconds (e.g. 20).")
    try:
        await _call(request, "wallboard.target_save", queue=str(form.get("queue", ""))[:10], target=percent / 100,
                    threshold_s=threshold)
    except _api_error() as exc:
        return await _settings_page(request, 400, exc.message)
    return RedirectResponse("/wallboard/settings?done=saved", status_code=303)
