"""Desk actions on live calls. Everything here runs on the media thread: quick, no I/O."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..callcenter import service_of
from ..channels import ChannelHandler, FxsChannel
from ..dialplan import Route

if TYPE_CHECKING:
    from ..channels import Channel
    from ..engine import Engine

DIAL_RE = re.compile(r"\+?[0-9*#]{2,24}")
CLICK_TO_DIAL_RING_S = 30


class DeskRefusal(Exception):
    """`code`: one of the engine API error codes (forbidden, conflict, not_found, bad_request,
    unavailable); `message` says what was wrong and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _service(engine: Engine) -> Any:
    svc = service_of(engine)
    if svc is None:
        raise DeskRefusal("unavailable", "The call center is not running; ask the owner to set up a queue.")
    return svc


def _agent(engine: Engine, username: str) -> tuple[Any, Any]:
    svc = _service(engine)
    agent = svc.agents.get(username)
    if agent is None:
        raise DeskRefusal("forbidden", "You are not a call-center agent; ask the owner to add you as one.")
    return svc, agent


def _call_of(agent: Any) -> tuple[str, Any]:
    """('ringing', offer) | ('talking', connection) | ('', None)."""
    if agent.offer is not None:
        return "ringing", agent.offer
    conn = agent.connection
    if conn is not None and hasattr(conn, "hold"):
        return "talking", conn
    return "", None


def _own_connection(engine: Engine, username: str, call_id: str) -> Any:
    """The agent's queue call `call_id`, or a refusal: another agent's (or team's) call is
    forbidden, whoever asks."""
    svc, agent = _agent(engine, username)
    phase, conn = _call_of(agent)
    if phase == "talking" and conn.call.id == call_id:
        return conn
    if any(a is not agent and a.connection is not None and getattr(a.connection, "call", None) is not None
           and a.connection.call.id == call_id for a in svc.agents.values()):
        raise DeskRefusal("forbidden", "That call is another agent's; you can act only on your own calls.")
    if phase == "ringing" and conn.entry.id == call_id:
        raise DeskRefusal("conflict", "That call is still ringing; answer it on your phone first.")
    raise DeskRefusal("not_found", "That call is no longer yours (it ended or was transferred); "
                                   "the page shows your calls now.")


def agent_view(engine: Engine, username: str) -> dict:
    """What the desktop shows live: the agent's status and state, and their call if any."""
    svc, agent = _agent(engine, username)
    now = engine.clock.now()
    phase, obj = _call_of(agent)
    call: dict | None = None
    if phase == "ringing":
        entry = obj.entry
        caller = svc.callers.get(entry.id)
        cb = svc.callbacks.get(entry.id)
        number = cb.number if cb else caller.caller_number if caller else ""
        raw = caller.call.cid_number if caller else number
        call = {"call_id": entry.id, "phase": "ringing", "number": number, "raw": raw or "",
                "name": (caller.call.cid_name or "") if caller else "", "queue": entry.queue,
                "queue_name": svc.queues.get(entry.queue, {}).get("name", ""),
                "wait_s": round(now - entry.entered), "callback": cb is not None,
                "menu_path": _menu_path(caller.call if caller else None), "ringing_since": obj.started}
    elif phase == "talking":
        c = obj.call
        phase = {"message": "message", "held": "held", "consult": "consult", "whisper": "whisper",
                 "conference": "conference"}.get(obj.mode, "talking")
        call = {"call_id": c.id, "phase": phase,
                "recording": is_recording(engine, c),
                "number": "".join(ch for ch in (c.cid_number or "") if ch.isdigit()) or (c.src or ""),
                "raw": c.cid_number or "", "name": c.cid_name or "", "queue": obj.queue,
                "queue_name": svc.queues.get(obj.queue, {}).get("name", ""),
                "wait_s": round(obj.connected_at - obj.entered), "talk_s": round(now - obj.connected_at),
                "callback": False, "menu_path": _menu_path(c)}
    wrapup_left = max(0, round(agent.wrapup_until - now)) if agent.wrapup_until > now else 0
    state = svc.state_of(agent)
    state_since = _state_since(svc, agent, state, obj)
    return {"username": agent.username, "name": agent.name, "team": agent.team, "status": agent.status,
            "reason": agent.reason, "state": state, "extension": agent.extension,
            "headset": agent.headset, "since": agent.status_since, "at": now,
            "in_state_s": round(now - agent.status_since), "state_since": state_since,
            "state_s": round(now - state_since), "wrapup_left_s": wrapup_left, "call": call}


def _state_since(svc: Any, agent: Any, state: str, obj: Any) -> float:
    """When the agent's current state began: the offer, the call's connection, the wrap-up, the
    end of the last call or wrap-up (idle), else their status change."""
    if state == "ringing" and obj is not None:
        return float(obj.started)
    if state == "queue_call" and hasattr(agent.connection, "connected_at"):
        return float(agent.connection.connected_at)
    if state == "wrapup":
        return float(agent.wrapup_started)
    if state == "idle" and agent.status != "logged_out":
        return max(float(agent.status_since), float(svc.dispatcher.agent(agent.username).idle_since))
    return float(agent.status_since)


def ready(engine: Engine, username: str) -> dict:
    """The agent is ready before their wrap-up time is over: wrap-up ends now and the queue may
    offer them the next call at once (the wrap-up form stays open for the last call)."""
    svc, agent = _agent(engine, username)
    secs = svc.end_wrapup(agent)
    if secs is None:
        raise DeskRefusal("conflict", "You are not in wrap-up; there is nothing to end.")
    return {"state": svc.state_of(agent), "wrapup_s": secs}


def _menu_path(call: Any) -> list[dict]:
    """The auto-attendant keys the caller chose on the way in (`call.menu_path`, kept by the IVR)."""
    path = getattr(call, "menu_path", None) or []
    return [{"menu": str(p.get("menu", ""))[:40], "key": str(p.get("key", ""))[:2], "at": p.get("at")}
            for p in path if isinstance(p, dict)][:20]


def hold(engine: Engine, username: str, call_id: str) -> dict:
    conn = _own_connection(engine, username, call_id)
    conn.hold()
    return {"phase": "held"}


def resume(engine: Engine, username: str, call_id: str) -> dict:
    conn = _own_connection(engine, username, call_id)
    conn.resume()
    return {"phase": "talking"}


def hang_up(engine: Engine, username: str, call_id: str) -> dict:
    conn = _own_connection(engine, username, call_id)
    conn.hang_up_by_agent()
    return {"phase": "ended"}


def transfer(engine: Engine, username: str, call_id: str, target: str) -> dict:
    """Blind transfer of the agent's call to an extension, a queue number or a permitted outside
    number (the outbound gate decides; a refused number is not dialled)."""
    target = target.strip()
    if not DIAL_RE.fullmatch(target):
        raise DeskRefusal("bad_request", "Transfer to: type an extension, a queue number or an outside number "
                                         "(digits only).")
    conn = _own_connection(engine, username, call_id)
    outside = _outside_number(engine, target)
    if outside is not None:
        _outside_refusal(conn.transfer_outside(outside, _gate(engine, conn, outside)))
        return {"phase": "transferred", "target": target, "outside": True}
    if not conn.transfer_to(target):
        raise DeskRefusal("bad_request", f"{target[:24]} is not an extension, a queue or an outside number here "
                                         "(nor your own phone); check the number and try again.")
    return {"phase": "transferred", "target": target}


# ---- transfers to outside numbers: the outbound permission gate first ----------------------------

def _outside_number(engine: Engine, target: str) -> str | None:
    """The outside number `target` means (dialled with the access code, or a plain number of 7+
    digits that is no extension or queue), else None."""
    route = engine.plan.resolve(target, final=True)
    if route.kind == "outside":
        return str(route.target)
    digits = target.lstrip("+")
    if route.kind not in ("extension", "app") and digits.isdigit() and 7 <= len(digits) <= 20:
        return digits
    return None


def _gate(engine: Engine, conn: Any, number: str) -> Any:
    """Ask the outbound gate for the agent's extension (by transfer; an outside caller needs the
    owner's trunk-to-trunk permission). Refused: nothing is dialled."""
    from ..callcenter.outside_transfer import outside_origin
    decision = engine.authorise_outside(outside_origin(conn.agent.extension, conn.agent_ch, conn.caller_ch), number)
    if not decision.allowed:
        raise DeskRefusal("forbidden", f"Transfer to {number[:24]} not permitted: {decision.reason}. Nothing was "
                                       "dialled; ask the owner (Outbound permissions) if you need it.")
    return decision


def _outside_refusal(why: str) -> None:
    if why == "no_line":
        raise DeskRefusal("unavailable", "All outside lines are busy; try again in a moment.")
    if why == "refused":
        raise DeskRefusal("forbidden", "The outside line refused the number (the call limit may be reached); "
                                       "you are back with the caller.")
    if why:
        raise DeskRefusal("conflict", "Take the call back (or finish the consultation) first.")


def consult(engine: Engine, username: str, call_id: str, target: str) -> dict:
    """Attended transfer, first step: the caller hears music, the agent's phone rings colleague
    `target` (an extension) or calls a permitted outside number; then complete_consult (or
    hanging up) hands the caller over."""
    target = target.strip()
    if not DIAL_RE.fullmatch(target):
        raise DeskRefusal("bad_request", "Consult: type a colleague's extension or an outside number (digits only).")
    conn = _own_connection(engine, username, call_id)
    outside = _outside_number(engine, target)
    if outside is not None:
        _outside_refusal(conn.consult_outside(outside, _gate(engine, conn, outside)))
        return {"phase": "consult", "target": target, "outside": True}
    why = conn.consult(target)
    if why == "not_extension":
        raise DeskRefusal("bad_request", f"{target[:24]} is not a colleague's extension nor an outside number; "
                                         "a queue takes a blind transfer.")
    if why == "target_busy":
        raise DeskRefusal("conflict", f"Extension {target[:10]} is busy or not working; try again later.")
    if why:
        raise DeskRefusal("conflict", "Take the call back (or finish the consultation) first.")
    return {"phase": "consult", "target": target}


def conference(engine: Engine, username: str, call_id: str) -> dict:
    """The consulted colleague (answered) joins the call: three-way."""
    conn = _own_connection(engine, username, call_id)
    if not conn.conference():
        raise DeskRefusal("conflict", "Consult a colleague first and wait until they answer; then join "
                                      "the three of you.")
    return {"phase": "conference"}


def complete_consult(engine: Engine, username: str, call_id: str) -> dict:
    conn = _own_connection(engine, username, call_id)
    if not conn.complete_consult():
        raise DeskRefusal("conflict", "There is no consultation to complete.")
    return {"phase": "transferred"}


def cancel_consult(engine: Engine, username: str, call_id: str) -> dict:
    conn = _own_connection(engine, username, call_id)
    if not conn.cancel_consult():
        raise DeskRefusal("conflict", "There is no consultation to cancel.")
    return {"phase": "talking"}


# ---- click-to-dial ---------------------------------------------------------------------------------

def _route_for(engine: Engine, number: str) -> Route:
    route = engine.plan.resolve(number, final=True)
    if route.kind in ("extension", "outside") or (route.kind == "app" and str(route.target).startswith("queue-")):
        return route
    digits = number.lstrip("+")
    if digits.isdigit() and 3 <= len(digits) <= 20:    # a plain outside number, typed without the access code
        return Route("outside", digits)
    raise DeskRefusal("bad_request", f"{number[:24]} is neither an extension, a queue nor an outside number; "
                                     "type digits only.")


def click_to_dial(engine: Engine, username: str, number: str) -> dict:
    """Call `number` from the agent's phone: in headset mode (phone off hook, ready) it is dialled at
    once; otherwise the phone rings first and the number is dialled when it is picked up. Outside
    numbers go through the outbound permission gate of the agent's extension, asked here (so the
    browser hears a refusal at once) and again when the line is seized."""
    number = number.strip()
    if not DIAL_RE.fullmatch(number):
        raise DeskRefusal("bad_request", "Number to dial: digits only (2 to 24), optionally starting with +.")
    svc, agent, ch = _phone_of(engine, username)
    route = _route_for(engine, number)
    if route.kind == "outside":
        from ..apps.permissions import Origin
        decision = engine.authorise_outside(Origin(extension=agent.extension, channel=ch.name, via="dial"),
                                            route.target)
        if not decision.allowed:
            raise DeskRefusal("forbidden", f"Not permitted: {decision.reason}. Ask the owner if you need it.")
    return _from_phone(engine, svc, agent, ch, route, number, "Click to dial")



def _phone_of(engine: Engine, username: str) -> tuple[Any, Any, FxsChannel]:
    svc, agent = _agent(engine, username)
    if agent.status == "logged_out" or not agent.extension:
        raise DeskRefusal("conflict", "Log in at a phone first: the call is made from your phone.")
    ch = engine.channel_for_extension(agent.extension)
    if ch is None or not ch.usable:
        raise DeskRefusal("unavailable", f"The phone of extension {agent.extension} is not working; check it.")
    return svc, agent, ch


def _from_phone(engine: Engine, svc: Any, agent: Any, ch: FxsChannel, route: Route, label: str,
                caller_name: str) -> dict:
    """Make `route` happen from the agent's phone: at once in headset mode, else ring it first."""
    state = svc.state_of(agent)
    ready = agent.headset and ch.off_hook and state == "idle"
    if not ready and (state != "idle" or ch.off_hook or ch.handler is not None):
        raise DeskRefusal("conflict", "Your phone is busy; finish the call (or wrap-up) first.")
    if ready:
        ch.handler = None
        ch.silence()
        engine.place_call(ch, route, label)
        svc.publish(agent)
        return {"dialled": label, "how": "headset"}
    ClickToDialRing(engine, ch, route, label, caller_name)
    svc.publish(agent)
    return {"dialled": label, "how": "ringing"}


def _colleague(engine: Engine, extension: str) -> str:
    extension = extension.strip()
    if not extension.isdigit() or extension not in engine.plan.extensions:
        raise DeskRefusal("bad_request", f"{extension[:10]!r} is not an extension here; choose a colleague's "
                                         "extension.")
    return extension


def pickup(engine: Engine, username: str, extension: str) -> dict:
    """Answer the call ringing a colleague's phone from the agent's own phone (as `**ext`)."""
    from ..apps.pickup import ringing_phones
    extension = _colleague(engine, extension)
    svc, agent, ch = _phone_of(engine, username)
    ringing = [target for target, _take in ringing_phones(engine) if getattr(target, "extension", None) == extension]
    if not ringing:
        raise DeskRefusal("conflict", f"Nothing is ringing at extension {extension} now.")
    colleague = svc.agent_on(ringing[0])
    if (colleague is not None and colleague.offer is not None and agent.team and colleague.team
            and agent.team != colleague.team):
        raise DeskRefusal("forbidden", f"The call ringing extension {extension} is for another team; "
                                       "leave it to that team.")
    return _from_phone(engine, svc, agent, ch, Route("app", "pickup-directed", extension), f"**{extension}",
                       "Pickup")


def leave_voicemail(engine: Engine, username: str, extension: str) -> dict:
    """Leave a colleague a voicemail message from the agent's phone (straight to their mailbox)."""
    from ..apps.voicemail_store import mailbox_config
    extension = _colleague(engine, extension)
    svc, agent, ch = _phone_of(engine, username)
    if not mailbox_config(engine.config, extension).get("enabled"):
        raise DeskRefusal("conflict", f"Extension {extension} has no voicemail (its mailbox is off); send a "
                                      "message instead.")
    return _from_phone(engine, svc, agent, ch, Route("app", "voicemail", extension), f"voicemail {extension}",
                       "Voicemail")


class ClickToDialRing(ChannelHandler):
    """The agent's phone rings ("Click to dial <number>"); picked up, the number is dialled."""

    def __init__(self, engine: Engine, ch: FxsChannel, route: Route, number: str, caller_name: str) -> None:
        self.engine, self.ch, self.route, self.number = engine, ch, route, number
        ch.handler = self
        ch.set_state("ringing", peer=f"{caller_name.lower()} {number}", caller_id=number)
        ch.start_ringing("".join(c for c in number if c.isdigit())[:15] or None, caller_name)
        self.timer = engine.timers.after_ms(CLICK_TO_DIAL_RING_S * 1000, self._give_up)

    def _give_up(self) -> None:
        if self.ch.handler is self:
            self.ch.stop_ringing()
            self.ch.handler = None
            self.ch.set_state("idle")

    def on_answer(self, ch: Channel) -> None:
        self.timer.cancel()
        ch.stop_ringing()
        ch.handler = None
        ch.silence()
        self.engine.place_call(ch, self.route, self.number)

    def on_hangup(self, ch: Channel) -> None:
        self.timer.cancel()
        if ch.handler is self:
            ch.handler = None
            ch.set_state("idle")


__all__ = ["DeskRefusal", "agent_view", "ready", "hold", "resume", "hang_up", "transfer", "click_to_dial",
           "ClickToDialRing", "record", "info_message", "pickup", "leave_voicemail", "consult", "complete_consult",
           "cancel_consult", "conference"]


# ---- recording and information messages ---------------------------------------------------------

def record(engine: Engine, username: str, call_id: str, on: bool) -> dict:
    """Start (or stop) recording the agent's own call: a stereo WAV, the agent on the left, the
    caller on the right (the recording service's file, listed on the Recordings page)."""
    from ..apps.recording import service_of as recording_service
    conn = _own_connection(engine, username, call_id)
    rec = recording_service(engine)
    if rec is None:
        raise DeskRefusal("unavailable", "Recording is not available on this box.")
    if on:
        if rec.recording(conn.call) is None and rec.start(conn.call, conn.agent_ch, "desk") is None:
            raise DeskRefusal("unavailable", "The recording could not start; see the Recordings page.")
    else:
        rec.stop(conn.call)
    conn.svc.publish(conn.agent)
    return {"recording": rec.recording(conn.call) is not None}


def is_recording(engine: Engine, call: Any) -> bool:
    from ..apps.recording import service_of as recording_service
    rec = recording_service(engine)
    return rec is not None and rec.recording(call) is not None


def info_message(engine: Engine, username: str, call_id: str, samples: Any) -> dict:
    """Play a recorded information message (read off the tick by the store thread) to the
    agent's caller; the caller comes back to the agent when it ends."""
    conn = _own_connection(engine, username, call_id)
    conn.play_to_caller(samples)
    return {"phase": "message"}
