"""Engine API: the calls in progress, for the live status page (`calls.list`, `calls.hangup`).

Both run on the media thread: they only read and change in-memory call state."""
from __future__ import annotations

from typing import Any

from .api import ApiContext, ApiError, command
from .calls import Call, Parked
from .channels import Channel, FxoChannel, FxsChannel


def call_state(call: Call) -> str:
    """What a person would say: "ringing", "dialling", "ringing out" (an outbound call not yet
    answered, as the engine reports it) or "in call"."""
    if call.answered:
        return "in call"
    if call.direction == "outbound":
        return "ringing out" if call.dialled_at is not None else "dialling"
    return "ringing"


def _party(ch: Channel | None) -> dict[str, Any] | None:
    if ch is None:
        return None
    if isinstance(ch, FxsChannel):
        return {"port": ch.name, "kind": "phone", "number": ch.extension or "", "name": ch.ext_name or "",
                "label": ch.label}
    return {"port": ch.name, "kind": "line", "number": getattr(ch, "line_number", "") or "", "name": "",
            "label": ch.label}


def describe_call(call: Call) -> dict[str, Any]:
    a, b = call.a, call.b
    line = next((ch for ch in (a, b) if isinstance(ch, FxoChannel)), None)
    if isinstance(a, FxoChannel):         # inbound: the caller is whoever the line's caller ID says
        caller = {"port": a.name, "kind": "line", "number": call.cid_number or call.src or "",
                  "name": call.cid_name or "", "label": a.label}
    else:
        caller = _party(a)
    if b is not None:
        callee = _party(b)
        if isinstance(b, FxoChannel):     # outbound: the number dialled on the line
            callee = {**callee, "number": call.dst}
    else:
        callee = {"port": None, "kind": "number", "number": call.dst, "name": "", "label": call.dst}
    ports = [ch.name for ch in (a, b, *call.ringing) if ch is not None]
    return {"id": call.id, "direction": call.direction, "state": call_state(call), "answered": call.answered,
            "caller": caller, "callee": callee, "line": line.label if line is not None else None,
            "ringing": [ch.name for ch in call.ringing], "ports": list(dict.fromkeys(ports)),
            "menu_path": [dict(step) for step in call.menu_path]}


@command("calls.list", on="media")
def calls_list(ctx: ApiContext) -> list[dict]:
    """Every call in progress: who calls whom, its state and the ports it holds."""
    return [describe_call(c) for c in sorted(ctx.engine.calls, key=lambda c: c.id) if not c.ended]


def hang_up(engine: Any, call: Call) -> None:
    """End `call` as if its far end had hung up: lines are released, phones still off hook hear
    busy tone, ringing phones stop, the call record is closed."""
    line = next((ch for ch in (call.a, call.b) if isinstance(ch, FxoChannel)), None)
    if line is not None:
        handler = line.handler
        if handler is not None and handler is not call:
            handler.on_hangup(line)            # an app (menu, voicemail) holding the line cleans up
        if not call.ended:
            call.far_end_gone(line, "hung up from the status page")
        return
    phones = [ch for ch in (call.a, call.b) if isinstance(ch, FxsChannel)]
    if phones:
        call.on_hangup(phones[0])              # the other phone hears busy tone; the record is closed
    call.end("answered" if call.answered else "no_answer")
    first = phones[0] if phones else None
    if isinstance(first, FxsChannel) and first.handler is None:
        if first.off_hook:
            Parked(engine, first, "busy")
        else:
            first.silence()
            first.set_state("idle")


@command("calls.hangup", on="media")
def calls_hangup(ctx: ApiContext, call_id: str) -> dict:
    """End the call `call_id` (from calls.list) for everyone in it."""
    call = next((c for c in ctx.engine.calls if c.id == call_id and not c.ended), None)
    if call is None:
        raise ApiError("not_found", "That call has already ended.")
    hang_up(ctx.engine, call)
    ctx.engine.mark_dirty()
    return {"ended": call_id}
