"""Call-center pages: queues/agents/pause reasons/surveys/music (admin), the live queue view
(admin; supervisors see the teams they lead), and an agent's own log in / pause page.

Everything goes through the engine API (`web(request).api.call("queue.save", ...)`); the store
validates, a refusal comes back as ApiError and is shown above the form with what was typed.
The live view listens on /api/callcenter/events: each engine "queues" notice makes it fetch a
fresh, role-scoped `queue.status` (so no other team's data crosses the wire)."""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from .accounts import User
from .guards import AdminUser, AnyUser, MonitorUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "deleted": "Deleted.", "uploaded": "Uploaded."}
STREAM_SECONDS = 25.0
MAX_UPLOAD = 20 * 1024 * 1024


def _api_error() -> type[Exception]:
    from firmware.api import ApiError
    return ApiError


def _f(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _call(request: Request, name: str, **args: Any) -> Any:
    return await web(request).api.call(name, **args)


# ---- admin: configuration ----------------------------------------------------------------------

def _queue_from_form(form: Any) -> dict:
    def lst(name: str) -> list[str]:
        return [v for v in form.getlist(name) if isinstance(v, str)][:5]
    return {"number": _f(form, "number", 6), "name": _f(form, "name", 40), "strategy": _f(form, "strategy", 20),
            "members": _f(form, "members", 2000), "skills": _f(form, "skills", 500),
            "ring_s": _f(form, "ring_s", 6), "wrapup_s": _f(form, "wrapup_s", 6),
            "max_callers": _f(form, "max_callers", 6), "max_wait_s": _f(form, "max_wait_s", 6),
            "join_empty": lst("join_empty"), "leave_empty": lst("leave_empty"),
            "timeout_dest": _f(form, "timeout_dest", 60), "empty_dest": _f(form, "empty_dest", 60),
            "full_dest": _f(form, "full_dest", 60), "exit_dest": _f(form, "exit_dest", 60),
            "vip_numbers": _f(form, "vip_numbers", 12000),
            "announce_position": form.get("announce_position") in ("on", "1", "true"),
            "whisper_name": form.get("whisper_name") in ("on", "1", "true"),
            "announce_every_s": _f(form, "announce_every_s", 6), "message": _f(form, "message", 60),
            "message_every_s": _f(form, "message_every_s", 6), "exit_key": _f(form, "exit_key", 1),
            "voicemail_key": _f(form, "voicemail_key", 1), "voicemail_box": _f(form, "voicemail_box", 10),
            "callback_key": _f(form, "callback_key", 1), "callback_as": _f(form, "callback_as", 10),
            "moh": _f(form, "moh", 30) or "default", "survey": _f(form, "survey", 30),
            "survey_call_min": _f(form, "survey_call_min", 4) or 0, "survey_as": _f(form, "survey_as", 10),
            "autopause_after": _f(form, "autopause_after", 3), "aht_s": _f(form, "aht_s", 6),
            "hours": _f(form, "hours", 30)}


async def _admin_page(request: Request, *, edit: str = "", agent_edit: str = "", status_code: int = 200,
                      error: str | None = None, done: str = "", typed: dict | None = None,
                      typed_agent: dict | None = None) -> Response:
    qs = await _call(request, "queue.list")
    ag = await _call(request, "agent.list")
    surveys = (await _call(request, "survey.list"))["surveys"]
    music = (await _call(request, "moh.list"))["classes"]
    queues = qs["queues"]
    current = typed or next((q for q in queues if q["number"] == edit), None) or {
        "number": "", "name": "", "strategy": "ringall", "members": [], "skills": {}, "ring_s": 15, "wrapup_s": 10,
        "max_callers": 0, "max_wait_s": 0, "join_empty": ["unavailable"], "leave_empty": ["unavailable"],
        "timeout_dest": "", "empty_dest": "", "full_dest": "", "exit_dest": "", "vip_numbers": [],
        "announce_position": True, "announce_every_s": 60, "message": "", "message_every_s": 0, "exit_key": "",
        "voicemail_key": "", "voicemail_box": "", "callback_key": "", "callback_as": "", "moh": "default",
        "survey": "", "autopause_after": 3, "aht_s": 180, "hours": ""}
    if not isinstance(current.get("members"), str):
        current = {**current, "members": ", ".join(f"{m['agent']}:{m['penalty']}" for m in current["members"])}
    if not isinstance(current.get("skills"), str):
        current = {**current, "skills": ", ".join(f"{k}:{v}" for k, v in current["skills"].items())}
    if not isinstance(current.get("vip_numbers"), str):
        current = {**current, "vip_numbers": "\n".join(current["vip_numbers"])}
    agent = typed_agent or next((a for a in ag["agents"] if a["username"] == agent_edit), None) or {
        "username": "", "name": "", "number": "", "skills": {}, "team": ""}
    if not isinstance(agent.get("skills"), str):
        agent = {**agent, "skills": ", ".join(f"{k}:{v}" for k, v in agent["skills"].items())}
    kinds = (await web(request).api.call("destinations.list", purpose="ivr"))["kinds"]
    choices = [{"label": k["label"], "kind": k["kind"], "items": [(t["value"], t["name"]) for t in k["targets"]]}
               for k in kinds if k["label"] not in ("Repeat this menu", "Previous menu")]
    return render(request, "callcenter_admin.html", status_code=status_code, title="Call center",
                  queues=queues, strategies=qs["strategies"], conditions=qs["empty_conditions"], current=current,
                  editing=edit if not typed else (typed.get("original") or ""), agents=ag["agents"],
                  agent=agent, agent_editing=agent_edit if not typed_agent else (typed_agent.get("original") or ""),
                  teams=ag["teams"], reasons=ag["pause_reasons"], surveys=surveys, music=music, choices=choices,
                  error=error, flash=DONE.get(done))


@router.get("/callcenter/config")
async def admin_page(request: Request, user: AdminUser, queue: str = "", agent: str = "", done: str = "") -> Response:
    return await _admin_page(request, edit=queue[:6], agent_edit=agent[:32], done=done)


@router.post("/callcenter/queues/save")
async def queue_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _f(form, "original", 6) or None
    data = _queue_from_form(form)
    try:
        saved = await _call(request, "queue.save", queue=data, original=original)
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message, typed={**data, "original": original})
    return RedirectResponse(f"/callcenter/config?queue={saved['queue']['number']}&done=saved", status_code=303)


@router.post("/callcenter/queues/{number}/delete")
async def queue_delete(request: Request, number: str, user: AdminUser) -> Response:
    try:
        await _call(request, "queue.delete", number=number[:6])
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=deleted", status_code=303)


@router.post("/callcenter/agents/save")
async def agent_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _f(form, "original", 32) or None
    data = {"username": _f(form, "username", 32), "name": _f(form, "name", 40), "number": _f(form, "number", 8),
            "skills": _f(form, "skills", 500), "team": _f(form, "team", 30)}
    pin = _f(form, "pin", 12)
    try:
        await _call(request, "agent.save", agent={**data, **({"pin": pin} if pin else {})}, original=original)
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message,
                                 typed_agent={**data, "original": original})
    return RedirectResponse("/callcenter/config?done=saved#agents", status_code=303)


@router.post("/callcenter/agents/{username}/delete")
async def agent_delete(request: Request, username: str, user: AdminUser) -> Response:
    try:
        await _call(request, "agent.delete", username=username[:32])
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=deleted#agents", status_code=303)


@router.post("/callcenter/pause-reasons/save")
async def reason_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    try:
        await _call(request, "pause_reason.save", reason={"code": _f(form, "code", 30), "label": _f(form, "label", 40)})
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=saved#reasons", status_code=303)


@router.post("/callcenter/teams/save")
async def team_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    try:
        await _call(request, "team.save", team={"id": _f(form, "id", 30), "name": _f(form, "name", 40),
                                                "leader": _f(form, "leader", 32)})
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=saved#teams", status_code=303)


@router.post("/callcenter/surveys/save")
async def survey_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    try:
        await _call(request, "survey.save", survey={"id": _f(form, "id", 30), "name": _f(form, "name", 40),
                                                    "questions": _f(form, "questions", 300)})
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=saved#surveys", status_code=303)


@router.post("/callcenter/moh/upload")
async def moh_upload(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    upload = form.get("file")
    data = await upload.read(MAX_UPLOAD + 1) if hasattr(upload, "read") else b""
    if len(data) > MAX_UPLOAD:
        return await _admin_page(request, status_code=400, error="The file is larger than 20 MB.")
    try:
        await _call(request, "moh.upload", cls=_f(form, "cls", 30), track=_f(form, "name", 40),
                    data_b64=base64.b64encode(data).decode())
    except _api_error() as exc:
        return await _admin_page(request, status_code=400, error=exc.message)
    return RedirectResponse("/callcenter/config?done=uploaded#music", status_code=303)


# ---- live view -----------------------------------------------------------------------------------

async def _teams_led(request: Request, user: User) -> list[str] | None:
    """None: sees everything (admin, or a supervisor who leads no team); else the teams led."""
    if user.role == "admin":
        return None
    teams = (await web(request).api.call("agent.list"))["teams"]
    led = [t["id"] for t in teams if t.get("leader") == user.username]
    return led or None


async def _scoped_status(request: Request, user: User) -> dict:
    teams = await _teams_led(request, user)
    if teams is None:
        return await _call(request, "queue.status")
    parts = [await _call(request, "queue.status", team=t) for t in teams]
    out = {"at": parts[0]["at"], "agents": [], "queues": []}
    seen: set[str] = set()
    for part in parts:
        out["agents"] += part["agents"]
        for q in part["queues"]:
            if q["number"] not in seen:
                seen.add(q["number"])
                out["queues"].append(q)
    return out


@router.get("/callcenter/live")
async def live_page(request: Request, user: MonitorUser) -> Response:
    try:
        status = await _scoped_status(request, user)
    except (_api_error(), TimeoutError) as exc:
        status = {"at": 0, "queues": [], "agents": [], "error": getattr(exc, "message", "engine busy")}
    return render(request, "callcenter_live.html", title="Queues live", status=status,
                  scoped=await _teams_led(request, user))


@router.get("/api/callcenter/status")
async def live_json(request: Request, user: MonitorUser) -> JSONResponse:
    return JSONResponse(await _scoped_status(request, user))


@router.get("/api/callcenter/events")
async def live_events(request: Request, user: MonitorUser) -> StreamingResponse:
    state = web(request)
    queue = state.control.subscribe()

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + STREAM_SECONDS
        try:
            yield "retry: 500\n\n"
            yield _sse("queues", await _scoped_status(request, user))
            while (left := ends_at - loop.time()) > 0:
                try:
                    update = await asyncio.wait_for(queue.get(), min(10.0, left))
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if update.kind == "shutdown":
                    return
                if update.kind == "queues":
                    while not queue.empty():              # a burst of changes: one fresh view
                        queue.get_nowait()
                    yield _sse("queues", await _scoped_status(request, user))
        finally:
            state.control.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/api/callcenter/agents/{username}/{action}")
async def supervise_agent(request: Request, username: str, action: str, user: MonitorUser) -> JSONResponse:
    """A supervisor pauses, unpauses or logs out an agent; a team leader only their team's."""
    teams = await _teams_led(request, user)
    if teams is not None:
        agents = (await web(request).api.call("agent.list"))["agents"]
        agent = next((a for a in agents if a.get("username") == username[:32]), None)
        if agent is None or agent.get("team") not in teams:
            return JSONResponse({"error": "That agent is not in a team you lead."}, status_code=403)
    verbs = {"pause": ("agent.pause", {"reason": "supervisor"}), "unpause": ("agent.unpause", {}),
             "logout": ("agent.logout", {})}
    if action not in verbs:
        return JSONResponse({"error": "Unknown action; use pause, unpause or logout."}, status_code=404)
    name, extra = verbs[action]
    try:
        result = await _call(request, name, username=username[:32], **extra)
    except _api_error() as exc:
        code = {"not_found": 404, "conflict": 409}.get(exc.code, 400)
        return JSONResponse({"error": exc.message}, status_code=code)
    return JSONResponse(result)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


# ---- the agent's own page ----------------------------------------------------------------------

@router.get("/callcenter/agent")
async def agent_page(request: Request, user: AnyUser) -> Response:
    """The old "My queues" page: the agent desktop does all it did (log in, pause, log out) and more."""
    return RedirectResponse("/desk", status_code=308)
