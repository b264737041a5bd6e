"""Engine API commands of the agent desktop: `desk.*`.

`username` is always the agent the web logged in (a route passes its session's user, never a
browser field); `call_id` is what the browser believes it acts on, and is checked: an agent acts
only on their own calls and phone, anything else is refused `forbidden`.
Call control runs on the media thread (quick, no I/O); wrap-up is a store command (it writes).
"""
from __future__ import annotations

import re
from typing import Any

from ..api import ApiContext, ApiError, command
from . import live

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
NOTES_MAX = 4000


def _act(fn: Any, *args: Any) -> dict:
    try:
        return fn(*args)
    except live.DeskRefusal as exc:
        raise ApiError(exc.code, exc.message) from None


@command("desk.state", on="media")
def desk_state(ctx: ApiContext, username: str) -> dict:
    """The agent's status, state, time in state, wrap-up left, and their call (ringing, talking or
    held: call id, caller number as sent, queue, wait, the menu keys the caller chose)."""
    return _act(live.agent_view, ctx.engine, username)


@command("desk.ready", on="media")
def desk_ready(ctx: ApiContext, username: str) -> dict:
    """End the agent's wrap-up now (the Ready button): the queue may offer them a call at once."""
    return _act(live.ready, ctx.engine, username)


@command("desk.hold", on="media")
def desk_hold(ctx: ApiContext, username: str, call_id: str) -> dict:
    """Put the agent's own call on hold: the caller hears the queue's music on hold."""
    return _act(live.hold, ctx.engine, username, call_id)


@command("desk.resume", on="media")
def desk_resume(ctx: ApiContext, username: str, call_id: str) -> dict:
    """Take the agent's held call back."""
    return _act(live.resume, ctx.engine, username, call_id)


@command("desk.hangup", on="media")
def desk_hangup(ctx: ApiContext, username: str, call_id: str) -> dict:
    """End the agent's own call from the browser (the agent then goes to wrap-up)."""
    return _act(live.hang_up, ctx.engine, username, call_id)


@command("desk.transfer", on="media")
def desk_transfer(ctx: ApiContext, username: str, call_id: str, target: str) -> dict:
    """Blind transfer of the agent's own call to an extension or a queue number."""
    return _act(live.transfer, ctx.engine, username, call_id, target)


@command("desk.consult", on="media")
def desk_consult(ctx: ApiContext, username: str, call_id: str, target: str) -> dict:
    """Attended transfer: put the caller on music and ring colleague `target` from the agent's phone."""
    return _act(live.consult, ctx.engine, username, call_id, target)


@command("desk.consult_complete", on="media")
def desk_consult_complete(ctx: ApiContext, username: str, call_id: str) -> dict:
    """Hand the caller over to the consulted colleague (answered: joined at once)."""
    return _act(live.complete_consult, ctx.engine, username, call_id)


@command("desk.conference", on="media")
def desk_conference(ctx: ApiContext, username: str, call_id: str) -> dict:
    """Join the consulted colleague, the caller and the agent in a three-way call."""
    return _act(live.conference, ctx.engine, username, call_id)


@command("desk.consult_cancel", on="media")
def desk_consult_cancel(ctx: ApiContext, username: str, call_id: str) -> dict:
    """Let the consulted colleague go and take the caller back."""
    return _act(live.cancel_consult, ctx.engine, username, call_id)


@command("desk.dial", on="media")
def desk_dial(ctx: ApiContext, username: str, number: str) -> dict:
    """Click-to-dial from the agent's phone: rings the phone, dials when picked up (headset mode:
    dials at once). Outside numbers pass the outbound permission gate of the agent's extension."""
    return _act(live.click_to_dial, ctx.engine, username, number)


def _agent_call(ctx: ApiContext, username: str, call_id: str) -> dict:
    """The queue call `call_id` as the event log has it, if agent `username` took it."""
    ctx.records.flush()
    rows = ctx.records.query("SELECT call_id, queue, agent FROM queue_events WHERE call_id = ? "
                             "AND event = 'CONNECT' ORDER BY id", (call_id,))
    if not rows:
        raise ApiError("not_found", "There is no such answered queue call; reload the page.")
    mine = [r for r in rows if r["agent"] == username]
    if not mine:
        raise ApiError("forbidden", "That call was another agent's; you can wrap up only your own calls.")
    enter = ctx.records.query("SELECT data2 FROM queue_events WHERE call_id = ? AND event = 'ENTERQUEUE' "
                              "ORDER BY id LIMIT 1", (call_id,))
    done = ctx.records.query("SELECT 1 FROM queue_events WHERE call_id = ? AND agent = ? "
                             "AND event = 'DISPOSITION'", (call_id, username))
    return {"queue": mine[-1]["queue"], "number": enter[0]["data2"] if enter else "", "done": bool(done)}


@command("desk.recent")
def desk_recent(ctx: ApiContext, username: str, limit: int = 5) -> dict:
    """The agent's last queue calls (newest first) and whether each is wrapped up: the desktop
    offers the wrap-up form for the newest one that is not."""
    ctx.records.flush()
    rows = ctx.records.query(
        "SELECT c.call_id, c.queue, c.ts, "
        "(SELECT data2 FROM queue_events e WHERE e.call_id = c.call_id AND e.event = 'ENTERQUEUE' LIMIT 1) "
        "AS number, EXISTS (SELECT 1 FROM queue_events d WHERE d.call_id = c.call_id AND d.agent = c.agent "
        "AND d.event = 'DISPOSITION') AS wrapped FROM queue_events c WHERE c.agent = ? AND c.event = 'CONNECT' "
        "ORDER BY c.id DESC LIMIT ?", (username, max(1, min(limit, 50))))
    return {"calls": [{**r, "wrapped": bool(r["wrapped"])} for r in rows]}


def _other(ctx: ApiContext, name: str, **args: Any) -> Any:
    """Run another domain's store command here, on the store thread, through its public contract
    (validated as any API call). None when that domain is not installed."""
    from ..api import REGISTRY, validate
    if name not in REGISTRY:
        return None
    cmd, kwargs = validate(name, args)
    return cmd.fn(ctx, **kwargs)


@command("desk.wrapup")
def desk_wrapup(ctx: ApiContext, username: str, call_id: str, disposition: str, notes: str = "",
                resolved: bool = False, work_order: dict | None = None, work_order_id: int | None = None,
                work_order_note: str = "") -> dict:
    """Close the agent's own call: a disposition code (one of dispositions.list), notes, resolved on
    this call; optionally create a work order (`work_order`: {title, description}) or add a note to
    an open one (`work_order_id`, `work_order_note`). Stores the interaction (interactions.record)
    and logs the queue event DISPOSITION (code | resolved | notes length). Refused for another
    agent's call, twice for one call, or an unknown code; nothing is stored then."""
    disposition = disposition.strip()
    if not CODE_RE.fullmatch(disposition):
        raise ApiError("bad_request", "Choose a disposition (what the call was about) before saving.")
    if len(notes) > NOTES_MAX:
        raise ApiError("bad_request", f"Notes: at most {NOTES_MAX} characters; shorten them.")
    if work_order is not None and work_order_id is not None:
        raise ApiError("bad_request", "Either create a work order or update one, not both.")
    call = _agent_call(ctx, username, call_id)
    if call["done"]:
        raise ApiError("conflict", "This call is already wrapped up.")
    codes = _other(ctx, "dispositions.list")
    if codes and disposition not in {c["code"] for c in codes}:
        raise ApiError("bad_request", f"Unknown disposition {disposition!r}; choose one of the list.")
    order = None
    if work_order is not None:
        pop = _other(ctx, "customers.pop", number=call["number"], call_id=call_id) or {}
        contact = pop.get("contact") or {}
        order = _other(ctx, "workorders.create", title=str(work_order.get("title", "")),
                       description=str(work_order.get("description", "")), contact_id=contact.get("id"),
                       number=call["number"], call_id=call_id, disposition=disposition, created_by=username)
    elif work_order_id is not None:
        current = _other(ctx, "workorders.get", id=work_order_id)
        if current is None:
            raise ApiError("unavailable", "Work orders are not installed on this box.")
        if work_order_note.strip():
            stamp = f"[{username}, call {call_id}] {work_order_note.strip()}"
            desc = (current.get("description") or "").rstrip()
            order = _other(ctx, "workorders.update", id=work_order_id,
                           changes={"description": f"{desc}\n{stamp}" if desc else stamp})
        else:
            order = current
    interaction = _other(ctx, "interactions.record", call_id=call_id, number=call["number"], agent=username,
                         queue=call["queue"], disposition=disposition, notes=notes, resolved=resolved,
                         recording=_recording_of(ctx, call_id), work_order_id=order["id"] if order else None)

    def log(engine: Any) -> None:
        from ..callcenter import service_of
        svc = service_of(engine)
        if svc is None:
            raise ApiError("unavailable", "The call center is not running.")
        svc.events.log("DISPOSITION", call_id=call_id, queue=call["queue"], agent=username,
                       data=[disposition, "1" if resolved else "0", len(notes)])
    ctx.on_media(log).result(10)
    ctx.records.flush()
    return {"call_id": call_id, "queue": call["queue"], "number": call["number"], "disposition": disposition,
            "resolved": resolved, "interaction": interaction, "work_order": order}


def _recording_of(ctx: ApiContext, call_id: str) -> str | None:
    """The call's first recording file, if it was recorded."""
    try:
        rows = ctx.records.query("SELECT file FROM call_recordings WHERE call_id = ? ORDER BY started LIMIT 1",
                                 (call_id,))
    except Exception:  # noqa: BLE001 - a box without the recordings table: no recording
        return None
    return rows[0]["file"] if rows else None


@command("desk.record", on="media")
def desk_record(ctx: ApiContext, username: str, call_id: str, on: bool) -> dict:
    """Start (`on`) or stop recording the agent's own call (stereo WAV: agent left, caller right)."""
    return _act(live.record, ctx.engine, username, call_id, on)


@command("desk.pickup", on="media")
def desk_pickup(ctx: ApiContext, username: str, extension: str) -> dict:
    """Answer the call ringing a colleague's extension, from the agent's phone (rings it first;
    headset mode: at once)."""
    return _act(live.pickup, ctx.engine, username, extension)


@command("desk.voicemail_to", on="media")
def desk_voicemail_to(ctx: ApiContext, username: str, extension: str) -> dict:
    """Leave colleague `extension` a voicemail message, from the agent's phone."""
    return _act(live.leave_voicemail, ctx.engine, username, extension)


@command("desk.info_messages")
def desk_info_messages(ctx: ApiContext) -> dict:
    """The recorded information messages an agent can send a caller to (the owner's uploaded
    prompts, `custom/<name>`: opening hours, fees, ...)."""
    from .. import prompts
    root = prompts.prompts_root(ctx.config)
    if root is None:
        return {"messages": []}
    return {"messages": [{"ref": p["ref"], "seconds": p["seconds"]} for p in prompts.list_prompts(root)
                         if p["kind"] == "uploaded"]}


@command("desk.info_message")
def desk_info_message(ctx: ApiContext, username: str, call_id: str, ref: str) -> dict:
    """Send the agent's caller to recorded information message `ref` (one of desk.info_messages);
    the caller comes back to the agent when it ends. The file is read here, off the media tick."""
    from .. import prompts
    if not ref.startswith("custom/") or not prompts.REF_RE.fullmatch(ref):
        raise ApiError("bad_request", "Choose one of the recorded information messages.")
    try:
        samples = prompts.load_prompt(ref, "en", prompts.prompts_root(ctx.config))
    except (KeyError, OSError, ValueError):
        raise ApiError("not_found", f"There is no information message {ref[:48]!r}; the owner uploads them "
                                    "on the Prompts page.") from None
    return ctx.on_media(lambda engine: _act(live.info_message, engine, username, call_id, samples)).result(10)
