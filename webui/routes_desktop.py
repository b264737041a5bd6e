"""The agent desktop (/desk): one live page for a call-center agent: queue log in/out and pause,
state and time in state, the screen pop of a ringing call, call control (hold, transfer, record, information
message), click-to-dial, pickup and voicemail to a colleague, DND, wrap-up, and links to their voicemail, messages, address book and phone.

Everything goes through the engine API: `desk.*` (call control, wrap-up), `agent.*` (status),
`customers.pop` / `dispositions.list` / `interactions.record` (the customer database), and
`forward.save` (DND). The agent is always the session's user: the browser names only the call
it acts on, and the engine refuses a call that is not that agent's own (403).
The live page follows /api/desk/events: each engine "queues" notice sends the agent's fresh
view; a new call's record is looked up once per call and sent with it."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from .accounts import User
from .guards import AnyUser, BadRequest, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

STREAM_SECONDS = 25.0
CALL_ACTIONS = {"hold": "desk.hold", "resume": "desk.resume", "hangup": "desk.hangup", "transfer": "desk.transfer",
                "record": "desk.record", "stop-recording": "desk.record", "message": "desk.info_message",
                "consult": "desk.consult", "complete": "desk.consult_complete", "cancel": "desk.consult_cancel",
                "conference": "desk.conference"}
COLLEAGUE_ACTIONS = {"pickup": "desk.pickup", "voicemail": "desk.voicemail_to"}
STATUS_ACTIONS = ("login", "logout", "pause", "unpause")


def _api_error() -> type[Exception]:
    from firmware.api import ApiError
    return ApiError


async def _call(request: Request, name: str, **args: Any) -> Any:
    return await web(request).api.call(name, **args)


async def _optional(request: Request, name: str, default: Any, **args: Any) -> Any:
    """A command of another domain the desktop can do without (not installed: `default`)."""
    try:
        return await _call(request, name, **args)
    except _api_error() as exc:
        if getattr(exc, "code", "") == "not_found" and "unknown command" in getattr(exc, "message", ""):
            return default
        raise


async def _body(request: Request) -> dict:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object.")
    return data


def _text(data: dict, name: str, limit: int) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name}: send text.")
    return value.strip()[:limit]


async def desk_view(request: Request, user: User, pops: dict[str, Any] | None = None) -> dict:
    """The agent's live view plus the customer record of their current call (looked up once per
    call when `pops` caches it)."""
    if pops is None or "_agent" not in pops:      # a user who is no agent: no live (media) calls
        agents = (await _call(request, "agent.list"))["agents"]
        is_agent = any(a["username"] == user.username for a in agents)
        if pops is not None:
            pops["_agent"] = is_agent
    else:
        is_agent = pops["_agent"]
    if not is_agent:
        return {"agent": None, "error": "You are not a call-center agent."}
    try:
        me = await _call(request, "desk.state", username=user.username)
    except _api_error() as exc:
        if getattr(exc, "code", "") in ("forbidden", "unavailable"):
            return {"agent": None, "error": exc.message}
        raise
    pop = None
    call = me.get("call")
    if call:
        cache = pops if pops is not None else {}
        if call["call_id"] not in cache:
            cache[call["call_id"]] = await _optional(request, "customers.pop", None,
                                                     number=call["raw"] or call["number"], call_id=call["call_id"])
        pop = cache[call["call_id"]]
    return {"agent": me, "pop": pop}


@router.get("/desk")
async def desk_page(request: Request, user: AnyUser) -> Response:
    view = await desk_view(request, user)
    reasons: list = []
    recent: list = []
    if view["agent"] is not None:
        reasons = (await _call(request, "agent.list"))["pause_reasons"]
        recent = (await _call(request, "desk.recent", username=user.username))["calls"]
    dispositions = await _optional(request, "dispositions.list", [])
    dnd = False
    if user.extension:
        dnd = bool((await _optional(request, "forward.get", {}, extension=user.extension)).get("dnd"))
    messages = (await _call(request, "desk.info_messages"))["messages"]
    bulletins: list = []
    if view["agent"] is not None:       # the supervisors' bulletins (to everybody and the agent's team)
        bulletins = (await _optional(request, "bulletins.list", {"bulletins": []},
                                     team=view["agent"]["team"] or ""))["bulletins"]
    data = {**view, "recent": recent, "reasons": reasons, "dispositions": dispositions,
            "extension": user.extension or "", "dnd": dnd, "messages": messages, "bulletins": bulletins}
    return render(request, "desk.html", title="Agent desktop", data=data)


@router.get("/api/desk/state")
async def desk_state(request: Request, user: AnyUser) -> JSONResponse:
    view = await desk_view(request, user)
    if view["agent"] is not None:
        view["recent"] = (await _call(request, "desk.recent", username=user.username))["calls"]
    return JSONResponse(view)


_DESK_CLOSES: set[asyncio.Task] = set()


async def _desk_watch(request: Request, username: str, open_: bool) -> None:
    """Tell the engine this agent's desk opened or closed its stream (a previewed campaign number
    stays with them while it is open). Never in the way of the desk itself."""
    try:
        await _optional(request, "campaign.desk_watch", None, username=username, open=open_)
    except Exception:  # noqa: BLE001 - the engine gone or busy: the stream's lease there runs out instead
        pass


@router.get("/api/desk/events")
async def desk_events(request: Request, user: AnyUser) -> StreamingResponse:
    state = web(request)
    queue = state.control.subscribe()
    pops: dict[str, Any] = {}
    team: list[str] = [""]

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + STREAM_SECONDS
        # the engine keeps a previewed campaign number with the agent while a desk follows this
        # stream; told when it closes (a task of its own: this one may be cancelled by then)
        await _desk_watch(request, user.username, True)
        try:
            yield "retry: 500\n\n"
            first = await desk_view(request, user, pops)
            team[0] = (first.get("agent") or {}).get("team") or ""
            last = [_shown(first)]
            yield _sse("desk", first)
            while (left := ends_at - loop.time()) > 0:
                try:
                    update = await asyncio.wait_for(queue.get(), min(10.0, left))
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                burst = [update]
                while not queue.empty():                  # a burst of changes: one fresh view
                    burst.append(queue.get_nowait())
                kinds = {u.kind for u in burst}
                if "shutdown" in kinds:
                    return
                for u in burst:
                    if u.kind == "bulletin" and isinstance(u.payload, dict):
                        to = u.payload.get("team")
                        if u.payload.get("withdrawn") or not to or to == team[0]:   # not another team's
                            yield _sse("bulletin", u.payload)
                    elif u.kind == "campaign" and isinstance(u.payload, dict):
                        released = _released_preview(u.payload, user.username)
                        if released is not None:
                            yield _sse("preview", released)
                if "queues" in kinds or "ports" in kinds:
                    # "ports": a phone changed (the agent's may have gone on hook: state direct call ->
                    # idle); sent only when what the desk shows changed
                    view = await desk_view(request, user, pops)
                    if "queues" in kinds or _shown(view) != last[0]:
                        last[0] = _shown(view)
                        yield _sse("desk", view)
        finally:
            state.control.unsubscribe(queue)
            closing = loop.create_task(_desk_watch(request, user.username, False))
            _DESK_CLOSES.add(closing)
            closing.add_done_callback(_DESK_CLOSES.discard)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _released_preview(payload: dict, username: str) -> dict | None:
    """The engine gave this agent's previewed campaign number back to the list (they paused,
    logged out, or their desk was closed too long): what the desk's preview card needs to drop
    the contact and say why. None for any other campaign event or another agent's number."""
    if payload.get("result") != "released" or payload.get("agent") != username:
        return None
    return {"campaign": str(payload.get("campaign", "")), "number": str(payload.get("number", "")),
            "why": str(payload.get("why", ""))}


@router.post("/api/desk/call/{action}")
async def call_action(request: Request, action: str, user: AnyUser) -> JSONResponse:
    """Hold, resume, hang up or transfer the agent's own call `call_id`."""
    name = CALL_ACTIONS.get(action)
    if name is None:
        return JSONResponse({"error": "Unknown action; use hold, resume, hangup or transfer."}, status_code=404)
    data = await _body(request)
    args: dict[str, Any] = {"username": user.username, "call_id": _text(data, "call_id", 64)}
    if action in ("transfer", "consult"):
        args["target"] = _text(data, "target", 24)
    elif action in ("record", "stop-recording"):
        args["on"] = action == "record"
    elif action == "message":
        args["ref"] = _text(data, "ref", 64)
    return JSONResponse(await _call(request, name, **args))


@router.post("/api/desk/colleague/{action}")
async def colleague_action(request: Request, action: str, user: AnyUser) -> JSONResponse:
    """From the agent's own phone: pick up the call ringing a colleague's `extension`, or leave
    them a voicemail."""
    name = COLLEAGUE_ACTIONS.get(action)
    if name is None:
        return JSONResponse({"error": "Unknown action; use pickup or voicemail."}, status_code=404)
    data = await _body(request)
    return JSONResponse(await _call(request, name, username=user.username, extension=_text(data, "extension", 10)))


@router.post("/api/desk/dial")
async def dial(request: Request, user: AnyUser) -> JSONResponse:
    data = await _body(request)
    return JSONResponse(await _call(request, "desk.dial", username=user.username, number=_text(data, "number", 24)))


@router.post("/api/desk/status/{action}")
async def status_action(request: Request, action: str, user: AnyUser) -> JSONResponse:
    """Queue log in (at the phone of `extension`), log out, pause with `reason`, unpause."""
    if action not in STATUS_ACTIONS:
        return JSONResponse({"error": "Unknown action; use login, logout, pause or unpause."}, status_code=404)
    data = await _body(request)
    args: dict[str, Any] = {"username": user.username}
    if action == "login":
        args["extension"] = _text(data, "extension", 10) or (user.extension or "")
    elif action == "pause":
        args["reason"] = _text(data, "reason", 30)
    return JSONResponse(await _call(request, f"agent.{action}", **args))


@router.post("/api/desk/ready")
async def ready(request: Request, user: AnyUser) -> JSONResponse:
    """The Ready button: end the agent's wrap-up now; the queue may offer the next call at once."""
    return JSONResponse(await _call(request, "desk.ready", username=user.username))


@router.post("/api/desk/dnd")
async def dnd(request: Request, user: AnyUser) -> JSONResponse:
    """Do-not-disturb on the agent's own phone (direct calls; queue calls follow pause)."""
    data = await _body(request)
    if not user.extension:
        return JSONResponse({"error": "Your account has no phone; ask the administrator to set your extension."},
                            status_code=400)
    on = data.get("on") is True
    await _call(request, "forward.save", extension=user.extension, changes={"dnd": on})
    return JSONResponse({"dnd": on})


@router.post("/api/desk/wrapup")
async def wrapup(request: Request, user: AnyUser) -> JSONResponse:
    """Disposition, notes, "resolved on this call" and a new work order (or a note on an open one)
    for the agent's own call; the engine stores the interaction and logs DISPOSITION."""
    data = await _body(request)
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise BadRequest("notes: send text.")
    args: dict[str, Any] = {"username": user.username, "call_id": _text(data, "call_id", 64),
                            "disposition": _text(data, "disposition", 32), "notes": notes,
                            "resolved": data.get("resolved") is True}
    wo = data.get("work_order")
    if isinstance(wo, dict) and _text(wo, "title", 200):
        args["work_order"] = {"title": _text(wo, "title", 200), "description": _text(wo, "description", 4000)}
    woid = data.get("work_order_id")
    if isinstance(woid, int) and not isinstance(woid, bool):
        args["work_order_id"] = woid
        args["work_order_note"] = _text(data, "work_order_note", 2000)
    return JSONResponse(await _call(request, "desk.wrapup", **args))


@router.post("/api/desk/customer")
async def new_customer(request: Request, user: AnyUser) -> JSONResponse:
    """The "new customer" form of an unknown caller's pop: name, company, the number filled in."""
    data = await _body(request)
    contact = {"name": _text(data, "name", 120), "company": _text(data, "company", 120),
               "numbers": [_text(data, "number", 40)], "notes": _text(data, "notes", 2000)}
    return JSONResponse(await _call(request, "customers.save", contact=contact))


@router.get("/api/desk/kb")
async def knowledge(request: Request, user: AnyUser, q: str = "", disposition: str = "") -> JSONResponse:
    """Standard answers and articles: search, or those suggested for a disposition."""
    found = await _optional(request, "kb.search", [], q=q[:200], disposition=disposition[:40], limit=10)
    return JSONResponse({"articles": [{"id": a["id"], "title": a["title"], "body": a["body"]} for a in found]})


def _shown(view: dict) -> tuple:
    """What of a desk view changes the page (not the clocks)."""
    a = view.get("agent") or {}
    c = a.get("call") or {}
    return (a.get("status"), a.get("reason"), a.get("state"), a.get("headset"), a.get("extension"),
            c.get("call_id"), c.get("phase"), c.get("recording"))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"
