"""The call center on the media thread: callers waiting in queues, agents taking their calls.

* `QueueService` (one per engine): queues and agents from the config, the `Dispatcher`, the
  queue event log, prompts and music on hold; a heartbeat each second (leave-when-empty, callback
  time, dispatching) and an immediate dispatch whenever something changes.
* `QueueCaller`: a caller waiting (an answered line, or a phone that dialled the queue number):
  announcements of position and estimated wait, periodic messages, music on hold, keys (exit,
  leave a message, callback), timeout / empty / full destinations.
* `AgentOffer`: one offer of a caller to one agent: the agent's phone rings (or, in headset mode,
  a zip tone and the call is through). One offer per agent at a time; an offer not answered
  within the queue's ring time is RINGNOANSWER, and N of those in a row pause the agent.
* `QueueConnection`: caller and agent talking; the end starts the agent's wrap-up (its own state,
  never "available"), and a post-call survey for the caller when the queue has one.
* `AgentReady`: headset mode, a logged-in agent's phone left off hook waiting for calls.
* Agent log in/out and pause from any phone (`*45` agent number # PIN #, `*46`, `*47`).
* Callbacks: the caller leaves, the entry keeps its place; at the head with an agent free the
  agent hears "callback for ..." and the number is dialled through the outbound gate.

Nothing here touches the disk on the tick: events go to the records writer thread, prompts and
music are read by loader threads, PIN hashes are checked on a worker thread.
"""
from __future__ import annotations

import logging
import math
import threading
import weakref
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import RATE, dbm0_to_peak

from ..apps import AppSession, far_end_gone, release_caller
from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from ..prompts import PromptLibrary, PromptPlayer, prompts_root, register_prompt
from ..sources import MixOf, PeerAudio
from . import model
from .consult import Consultation
from .dispatcher import Dispatcher, Entry, QueueRules
from .events import QueueEventLog
from .moh import MusicLibrary, moh_root

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.callcenter")

LOGIN_CODE, LOGOUT_CODE, PAUSE_CODE = "*45", "*46", "*47"
HEARTBEAT_MS = 1000
PIN_TRIES = 3
LOCKOUT_FAILURES = 5
LOCKOUT_S = 300
MAX_CALLBACK_DIGITS = 20
CALLBACK_RING_S = 45            # a callback not answered within this is "no_answer"
DIGIT_WAIT_MS = 6000
SURVEY_WAIT_MS = 6000

PHRASES = {
    "queue/position": "You are caller number",
    "queue/wait": "Your estimated wait is",
    "queue/minutes": "minutes",
    "queue/less_than_minute": "less than one minute",
    "queue/thank_you": "Thank you for waiting. An agent will be with you shortly.",
    "queue/callback_offer": "To be called back without losing your place in the queue, press the callback key.",
    "queue/callback_cid": "We will call you back at",
    "queue/callback_confirm": "To confirm, press one. To enter another number, press two.",
    "queue/callback_enter": "Please enter your phone number, then press hash.",
    "queue/callback_later": "To be called back at a time you choose, press three.",
    "queue/callback_time": "Please enter the time as four digits, hours then minutes, then press hash.",
    "queue/callback_refused": "That number cannot be called back.",
    "queue/callback_exists": "A callback to that number is already waiting.",
    "queue/callback_booked": "Thank you. We will call you back. Goodbye.",
    "queue/callback_for": "Callback for",
    "queue/survey_default": "Please rate the service you received, from one to five.",
    "queue/survey_thanks": "Thank you for your feedback. Goodbye.",
    "queue/survey_intro": "Hello. We are calling about your recent call with us. Please answer a short survey.",
    "agent/enter_number": "Please enter your agent number, then press hash.",
    "agent/enter_pin": "Please enter your PIN, then press hash.",
    "agent/logged_in": "You are logged in.",
    "agent/logged_out": "You are logged out.",
    "agent/login_failed": "Login incorrect.",
    "agent/paused": "You are paused.",
    "agent/unpaused": "You are available.",
}
for _name, _text in PHRASES.items():
    register_prompt(_name, {"en": _text})
PROMPT_REFS = tuple(PHRASES) + tuple(f"digits/{d}" for d in range(10)) + ("ivr/goodbye",)


def zip_tone() -> np.ndarray:
    """Headset mode's call announcement: two short 440 Hz bursts (about 0.3 s)."""
    t = np.arange(int(0.1 * RATE)) / RATE
    burst = dbm0_to_peak(-13.0) * np.sin(2 * np.pi * 440.0 * t)
    gap = np.zeros(int(0.08 * RATE))
    return np.concatenate([burst, gap, burst]).astype(np.int16)


ZIP = zip_tone()


@dataclass
class QueueAgent:
    """An agent's live status (set by the agent) and state (derived from what the phone does)."""
    username: str
    number: str
    pin_hash: str
    name: str = ""
    team: str = ""
    status: str = "logged_out"          # logged_out | available | paused
    reason: str = ""
    extension: str | None = None
    login_at: float = 0.0
    headset: bool = False
    offer: AgentOffer | None = None
    connection: Any = None              # QueueConnection or a callback in progress
    wrapup_until: float = 0.0
    wrapup_timer: Timer | None = None
    wrapup_started: float = 0.0
    wrapup_queue: str = ""
    missed: int = 0
    failures: int = 0
    locked_until: float = 0.0
    status_since: float = 0.0


class QueueService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dispatcher = Dispatcher(seed=0)
        self.events = QueueEventLog(engine.records, engine.clock.now)
        self.queues: dict[str, dict] = {}
        self.agents: dict[str, QueueAgent] = {}
        self.callers: dict[str, QueueCaller] = {}
        self.callbacks: dict[str, Callback] = {}         # entry id -> callback waiting or in progress
        self.surveys: dict[str, dict] = {}
        self.aht: dict[str, float] = {}                  # queue -> moving average handle time (s)
        self.library = PromptLibrary(prompts_root(engine.config))
        self.library.load_now([(r, "en") for r in PROMPT_REFS])
        cfg_path = getattr(engine.config, "path", None)
        self.music = MusicLibrary(moh_root(Path(cfg_path).parent) if cfg_path is not None else None)
        self.music.load_all()
        self._codes: set[str] = set()
        # Called with each new QueueConnection before the two talk (the agent desktop whispers the
        # caller's name to the agent from here); a hook must be quick (media thread).
        self.connect_hooks: list[Any] = []
        self._kick: Timer | None = None
        self._notice_due = False
        self._loaded = False
        from .survey_calls import FollowUpSurveys
        self.follow_ups = FollowUpSurveys(self)     # automated follow-up survey calls
        self.reload()
        engine.media_listeners.append(self.reload)
        engine.call_listeners.append(self._call_event)
        self._heartbeat()

    # ---- configuration (media thread; the config is memory)
    def reload(self) -> None:
        eng = self.engine
        cfg = eng.config
        try:
            queues = {q["number"]: q for q in model.load_queues(cfg)}
            agents = model.load_agents(cfg)
            self.surveys = {s["id"]: s for s in model.load_surveys(cfg)}
        except (AttributeError, KeyError, ValueError) as exc:
            log.error("call-center configuration unreadable: %s", exc)
            return
        before = {n: {a for a, _ in r.members} for n, r in self.dispatcher.queues.items()}
        for number in set(self.dispatcher.queues) - set(queues):
            self.dispatcher.drop_queue(number)
        for number, q in queues.items():
            self.dispatcher.set_queue(QueueRules(number, q["strategy"],
                                                 [(m["agent"], int(m["penalty"])) for m in q["members"]],
                                                 dict(q["skills"])))
            self.aht.setdefault(number, float(q["aht_s"]))
        if self._loaded:                     # membership changed by the owner: ADDMEMBER / REMOVEMEMBER
            for number in sorted(set(before) | set(queues)):
                old = before.get(number, set())
                new = {m["agent"] for m in queues[number]["members"]} if number in queues else set()
                for name in sorted(new - old):
                    self.events.log("ADDMEMBER", queue=number, agent=name)
                for name in sorted(old - new):
                    self.events.log("REMOVEMEMBER", queue=number, agent=name)
        self._loaded = True
        self.queues = queues
        seen = set()
        for a in agents:
            seen.add(a["username"])
            live = self.agents.get(a["username"])
            if live is None:
                live = self.agents[a["username"]] = QueueAgent(a["username"], a["number"], a["pin_hash"],
                                                               status_since=eng.clock.now())
            live.number, live.pin_hash, live.name, live.team = a["number"], a["pin_hash"], a["name"], a["team"]
            self.dispatcher.agent(a["username"]).skills = dict(a["skills"])
        for gone in set(self.agents) - seen:
            agent = self.agents[gone]
            if agent.status != "logged_out":
                self.logout(agent)
            self.agents.pop(gone, None)
            self.dispatcher.agents.pop(gone, None)
        wanted = {f"queue-{n}" for n in queues if n not in eng.plan.extensions}
        for name in self._codes - wanted:
            eng.register_app(name, eng.apps[name], code=None)
            eng.apps.pop(name, None)
        for name in wanted - self._codes:
            number = name.removeprefix("queue-")
            eng.register_app(name, partial(queue_app, number=number), code=number)
        self._codes = wanted
        refs = {(q["message"], "en") for q in queues.values() if q["message"]}
        refs |= {(r, "en") for s in self.surveys.values() for r in s["questions"]}
        self.library.want(sorted(refs))
        self.kick()

    # ---- agents
    def agent_on(self, ch: Channel) -> QueueAgent | None:
        ext = getattr(ch, "extension", None)
        if not ext:
            return None
        return next((a for a in self.agents.values() if a.extension == ext and a.status != "logged_out"), None)

    def channel_of(self, agent: QueueAgent) -> FxsChannel | None:
        return self.engine.channel_for_extension(agent.extension) if agent.extension else None

    def state_of(self, agent: QueueAgent) -> str:
        """idle | ringing | queue_call | direct_call | wrapup (logged-out agents are idle)."""
        if agent.offer is not None:
            return "ringing"
        if agent.connection is not None:
            return "queue_call"
        if agent.wrapup_until > self.engine.clock.now():
            return "wrapup"
        ch = self.channel_of(agent)
        if ch is not None and agent.status != "logged_out":
            if isinstance(ch.handler, AgentReady):
                return "idle"
            if ch.handler is not None or ch.off_hook:
                return "direct_call"
        return "idle"

    def is_free(self, agent: QueueAgent) -> bool:
        ch = self.channel_of(agent)
        return (agent.status == "available" and ch is not None and ch.usable and self.state_of(agent) == "idle")

    def login(self, agent: QueueAgent, extension: str) -> None:
        if agent.status != "logged_out":
            if agent.extension == extension:
                return
            self.logout(agent)
        for other in self.agents.values():          # one agent per phone
            if other is not agent and other.extension == extension and other.status != "logged_out":
                self.logout(other)
        now = self.engine.clock.now()
        agent.status, agent.reason, agent.extension = "available", "", extension
        agent.login_at = agent.status_since = now
        agent.missed = 0
        self.dispatcher.agent(agent.username).idle_since = now
        self.events.log("AGENTLOGIN", agent=agent.username, data=[extension])
        self.publish(agent)
        self.kick()

    def logout(self, agent: QueueAgent) -> None:
        if agent.status == "logged_out":
            return
        if agent.offer is not None:
            agent.offer.withdraw()
        ch = self.channel_of(agent)
        if ch is not None and isinstance(ch.handler, AgentReady):
            ch.handler.release()
        now = self.engine.clock.now()
        if agent.status == "paused":
            self.events.log("UNPAUSE", agent=agent.username, data=[agent.reason])
        self.events.log("AGENTLOGOFF", agent=agent.username,
                        data=[agent.extension or "", round(now - agent.login_at)])
        agent.status, agent.reason, agent.headset = "logged_out", "", False
        agent.status_since = now
        agent.extension = None
        self.publish(agent)
        self.check_empty()

    def pause(self, agent: QueueAgent, reason: str) -> None:
        if agent.status == "logged_out":
            raise ValueError("the agent is not logged in")
        if agent.status == "paused":
            if agent.reason == reason:
                return
            self.events.log("UNPAUSE", agent=agent.username, data=[agent.reason])
        agent.status, agent.reason = "paused", reason
        agent.status_since = self.engine.clock.now()
        if agent.offer is not None:
            agent.offer.withdraw()
        self.events.log("PAUSE", agent=agent.username, data=[reason])
        self.publish(agent)
        self.check_empty()

    def unpause(self, agent: QueueAgent) -> None:
        if agent.status != "paused":
            return
        self.events.log("UNPAUSE", agent=agent.username, data=[agent.reason])
        agent.status, agent.reason, agent.missed = "available", "", 0
        agent.status_since = self.engine.clock.now()
        self.publish(agent)
        self.kick()

    def begin_wrapup(self, agent: QueueAgent, queue: str) -> None:
        now = self.engine.clock.now()
        self.dispatcher.call_ended(agent.username, queue, now)
        secs = int(self.queues.get(queue, {}).get("wrapup_s", 0))
        agent.connection = None
        if secs <= 0:
            self.events.log("WRAPUPEND", call_id="NONE", queue=queue, agent=agent.username, data=[0])
            self.publish(agent)
            self.kick()
            return
        agent.wrapup_until = now + secs
        agent.wrapup_started, agent.wrapup_queue = now, queue
        agent.wrapup_timer = self.engine.timers.after_ms(secs * 1000, lambda: self._wrapup_over(agent, queue, secs))
        self.publish(agent)

    def _wrapup_over(self, agent: QueueAgent, queue: str, secs: int) -> None:
        agent.wrapup_until = 0.0
        agent.wrapup_timer = None
        self.dispatcher.agent(agent.username).idle_since = self.engine.clock.now()
        self.events.log("WRAPUPEND", queue=queue, agent=agent.username, data=[secs])
        self.publish(agent)
        self.kick()

    def end_wrapup(self, agent: QueueAgent) -> int | None:
        """The agent is ready before the queue's wrap-up time is over (the desktop's Ready button):
        wrap-up ends now (WRAPUPEND with the seconds it really took) and the queue may offer them a
        call at once. None: the agent is not in wrap-up."""
        now = self.engine.clock.now()
        if agent.wrapup_until <= now:
            return None
        if agent.wrapup_timer is not None:
            agent.wrapup_timer.cancel()
        secs = max(0, round(now - agent.wrapup_started))
        self._wrapup_over(agent, agent.wrapup_queue, secs)
        return secs

    # ---- queue figures
    def present(self, agent: QueueAgent, conditions: list[str]) -> bool:
        ch = self.channel_of(agent)
        if "unavailable" in conditions and (agent.status == "logged_out" or ch is None or not ch.usable):
            return False
        if "paused" in conditions and agent.status == "paused":
            return False
        return not ("wrapup" in conditions and self.state_of(agent) == "wrapup")

    def is_empty(self, number: str, conditions: list[str]) -> bool:
        if not conditions:
            return False
        for name in self.dispatcher.serves(number):
            agent = self.agents.get(name)
            if agent is not None and self.present(agent, conditions):
                return False
        return True

    def staffed(self, number: str) -> tuple[int, int]:
        """(agents logged in and not paused, of them free now) serving queue `number`."""
        staffed = free = 0
        for name in self.dispatcher.serves(number):
            agent = self.agents.get(name)
            if agent is None or agent.status != "available":
                continue
            staffed += 1
            free += self.is_free(agent)
        return staffed, free

    def estimate(self, number: str, position: int) -> int:
        """Estimated wait (s) for a caller at `position`: the callers ahead of them who will not find
        a free agent, times the queue's moving-average handle time, shared by the agents staffing it.
        (Method and its measured error: README, "Call center".)"""
        staffed, free = self.staffed(number)
        ahead = max(0, position - free)
        if ahead == 0:
            return 0
        return int(round(self.aht.get(number, 180.0) * ahead / max(1, staffed)))

    def learn_handle_time(self, number: str, seconds: float) -> None:
        old = self.aht.get(number, seconds)
        self.aht[number] = 0.8 * old + 0.2 * seconds

    # ---- dispatching
    def kick(self) -> None:
        """Dispatch on the next frame (several changes in one tick cost one pass)."""
        if self._kick is None:
            self._kick = self.engine.timers.after_frames(1, self._dispatch)

    def _heartbeat(self) -> None:
        self.check_empty()
        self._dispatch()
        self.engine.timers.after_ms(HEARTBEAT_MS, self._heartbeat)

    def free_lines(self) -> int:
        return sum(1 for line in self.engine.fxo if line.available)

    def _dispatch(self) -> None:
        self._kick = None
        now = self.engine.clock.now()
        free = {a.username for a in self.agents.values() if self.is_free(a)}
        if not free or not self.dispatcher.entries:
            return
        slots = self.free_lines()
        if slots:
            for cb in self.callbacks.values():
                if cb.entry_id in self.dispatcher.entries and not self.open_for_callbacks(cb.queue):
                    self.dispatcher.entries[cb.entry_id].not_before = max(
                        self.dispatcher.entries[cb.entry_id].not_before, now + 60)
        for entry, picked in self.dispatcher.assign(now, free, callback_slots=slots):
            for name in picked:
                agent = self.agents[name]
                AgentOffer(self, entry, agent)

    def open_for_callbacks(self, number: str) -> bool:
        q = self.queues.get(number)
        if q is None or not q.get("hours"):
            return True
        from ..apps.timeconditions import condition, is_open, local_time
        cond = condition(self.engine.config, q["hours"])
        if cond is None:
            return True
        tz = str(self.engine.config.settings().get("timezone") or "UTC")
        return is_open(cond, local_time(self.engine.clock.now(), tz))

    def check_empty(self) -> None:
        for caller in list(self.callers.values()):
            q = self.queues.get(caller.number)
            if q is None:
                continue
            if self.is_empty(caller.number, q["leave_empty"]) and not self.dispatcher.entries[caller.entry.id].offered:
                caller.exit("EXITEMPTY", q["empty_dest"])

    def offer_answered(self, offer: AgentOffer) -> None:
        entry_id = offer.entry.id
        for other in [o for o in self.offers_of(entry_id) if o is not offer]:
            other.withdraw(quiet=True)
        cb = self.callbacks.get(entry_id)
        if cb is not None:
            cb.agent_answered(offer)
            return
        caller = self.callers.get(entry_id)
        if caller is None:
            offer.withdraw(quiet=True)
            return
        caller.connect(offer)

    def ringing_offers(self) -> list[AgentOffer]:
        """Queue calls ringing an agent's phone now (headset offers are answered at once)."""
        return [a.offer for a in self.agents.values()
                if a.offer is not None and not a.offer.closed and not a.offer.headset]

    def pick_up(self, offer: AgentOffer, picker_ch: Channel) -> bool:
        """The logged-in agent at `picker_ch` answers the queue call ringing a colleague (pickup):
        every offer of that caller is withdrawn (the colleague's phone stops ringing, nothing is
        counted against them) and the call is the picker's (CONNECT, their call count). False:
        nothing changes (not an agent, busy, another team's call, the offer is over, a callback)."""
        agent = self.agent_on(picker_ch)
        caller = self.callers.get(offer.entry.id)
        if (agent is None or agent is offer.agent or caller is None or offer.closed or agent.offer is not None
                or agent.connection is not None or agent.status == "logged_out"):
            return False
        if agent.team and offer.agent.team and agent.team != offer.agent.team:
            return False
        started = min([o.started for o in self.offers_of(offer.entry.id)] or [offer.started])
        self.withdraw_offers(offer.entry.id)
        caller.connect_agent(agent, picker_ch, started)
        return True

    def offers_of(self, entry_id: str) -> list[AgentOffer]:
        return [a.offer for a in self.agents.values() if a.offer is not None and a.offer.entry.id == entry_id]

    def withdraw_offers(self, entry_id: str) -> None:
        for offer in self.offers_of(entry_id):
            offer.withdraw(quiet=True)

    def missed(self, agent: QueueAgent, queue: str) -> None:
        agent.missed += 1
        limit = int(self.queues.get(queue, {}).get("autopause_after", 0))
        if limit and agent.missed >= limit and agent.status == "available":
            self.pause(agent, "autopause")

    # ---- live view
    def publish(self, agent: QueueAgent | None = None) -> None:
        """Tell listeners that queues or agents changed (a notice, no data: each viewer asks
        `queue.status` for what its role may see; at most one notice per tick)."""
        if not self._notice_due:
            self._notice_due = True
            self.engine.timers.after_frames(1, self._notify)

    def _notify(self) -> None:
        self._notice_due = False
        self.engine.control.publish(_update("queues", None))

    def snapshot(self) -> dict:
        now = self.engine.clock.now()
        queues = []
        for number, q in self.queues.items():
            waiting = []
            for e in self.dispatcher.waiting(number):
                caller = self.callers.get(e.id)
                cb = self.callbacks.get(e.id)
                waiting.append({"id": e.id, "position": self.dispatcher.position(e.id), "since": e.entered,
                                "wait_s": round(now - e.entered), "kind": e.kind, "priority": e.priority,
                                "caller": (caller.caller_number if caller else cb.number if cb else ""),
                                "ringing": sorted(e.offered)})
            staffed, free = self.staffed(number)
            queues.append({"number": number, "name": q["name"], "strategy": q["strategy"], "waiting": waiting,
                           "staffed": staffed, "free": free, "aht_s": round(self.aht.get(number, 0))})
        agents = [{"username": a.username, "name": a.name, "team": a.team, "status": a.status,
                   "reason": a.reason, "state": self.state_of(a), "extension": a.extension,
                   "headset": a.headset, "since": a.status_since,
                   "queues": [n for n in self.queues if self.dispatcher.penalty(n, a.username) is not None]}
                  for a in self.agents.values()]
        return {"at": now, "queues": queues, "agents": agents}

    # ---- callbacks: outcome of the outbound leg
    def _call_event(self, call: Call, event: str) -> None:
        cb = getattr(call, "queue_callback", None)
        if cb is not None:
            cb.call_event(call, event)
        if event == "ended":
            for ch in (call.a, call.b):
                if isinstance(ch, FxsChannel) and ch.off_hook:
                    self.engine.timers.after_frames(1, partial(self._back_to_headset, ch))

    def _back_to_headset(self, ch: FxsChannel) -> None:
        """A call of a headset agent's phone ended (click-to-dial, a pickup, a direct call) with the
        phone still off hook: it waits for queue calls again instead of hearing busy tone."""
        agent = self.agent_on(ch)
        if (agent is None or not agent.headset or not ch.off_hook or agent.offer is not None
                or agent.connection is not None):
            return
        if ch.handler is None or type(ch.handler) is Parked:
            AgentReady(self, ch, agent)
            self.publish(agent)


def _update(kind: str, payload: Any) -> Any:
    from ..control import StatusUpdate
    return StatusUpdate(kind, payload=payload)


_SERVICES: weakref.WeakKeyDictionary[Any, QueueService] = weakref.WeakKeyDictionary()


def service_of(engine: Engine) -> QueueService | None:
    return _SERVICES.get(engine)


# ---- sending a caller somewhere ------------------------------------------------------------------

def send_to(engine: Engine, ch: Channel, call: Call, dest: str) -> None:
    """Hand `ch` (released by its last handler) to destination "kind:value"; none: hang up."""
    kind, _, value = dest.partition(":")
    if not dest or kind == "hangup":
        goodbye(engine, ch, call)
        return
    if kind == "extension":
        from ..apps.forward import ring_extension_for
        if isinstance(ch, FxsChannel):
            call.end("answered")
        else:
            ch.handler = call                 # the caller's record takes the line on to the phone
        ring_extension_for(engine, ch, value, call if isinstance(ch, FxoChannel) else None)
        return
    factory = engine.apps.get(kind)
    if factory is None:
        log.warning("queue destination %s has no app running; hanging up", dest[:40])
        goodbye(engine, ch, call)
        return
    if isinstance(ch, FxoChannel):
        ch.handler = call
    factory(engine, ch, value, call)


def goodbye(engine: Engine, ch: Channel, call: Call | None) -> None:
    release_caller(engine, ch)
    if call is not None:
        call.end("answered")


# ---- the caller ----------------------------------------------------------------------------------

class QueueCaller(ChannelHandler):
    """One caller waiting in a queue."""

    def __init__(self, svc: QueueService, ch: Channel, call: Call, number: str) -> None:
        self.svc, self.engine, self.ch, self.call, self.number = svc, svc.engine, ch, call, number
        self.q = svc.queues[number]
        self.timers: list[Timer] = []
        self.done = False
        self.mode = "waiting"             # waiting | cb-confirm | cb-enter | cb-booked
        self.keyed = ""
        self.cb_number = ""
        self.refusals = 0
        self._digit_timer: Timer | None = None
        self.caller_number = _digits(call.cid_number or call.src or "")
        self.music = svc.music.source(self.q["moh"])
        ch.handler = self
        ch.listen_dtmf = True
        now = self.engine.clock.now()
        prio = int(self.q["vip_priority"]) if self.caller_number and self.caller_number in self.q["vip_numbers"] else 0
        self.entry = svc.dispatcher.add(Entry(call.id, number, now, priority=prio))
        svc.callers[call.id] = self
        self.orig_position = svc.dispatcher.position(call.id)
        self.estimate = svc.estimate(number, self.orig_position)
        svc.events.log("ENTERQUEUE", call_id=call.id, queue=number,
                       data=["", self.caller_number, self.orig_position, self.estimate])
        ch.set_state("in-call", peer=f"queue {number}", caller_id=call.cid_number, detail="waiting")
        self.announce(first=True)
        if self.q["max_wait_s"]:
            self.after(self.q["max_wait_s"] * 1000, lambda: self.exit("EXITWITHTIMEOUT", self.q["timeout_dest"]))
        if self.q["announce_every_s"] and self.q["announce_position"]:
            self._every(self.q["announce_every_s"] * 1000, self.announce)
        if self.q["message"] and self.q["message_every_s"]:
            self._every(self.q["message_every_s"] * 1000, self.play_message)
        svc.publish()
        svc.kick()

    # ---- helpers
    def after(self, ms: int, fn: Any) -> Timer:
        t = self.engine.timers.after_ms(ms, fn)
        self.timers.append(t)
        return t

    def _every(self, ms: int, fn: Any) -> None:
        def tick() -> None:
            if self.done:
                return
            fn()
            self.after(ms, tick)
        self.after(ms, tick)

    def say(self, refs: list[str | None], then: Any = None) -> None:
        prompts = [self.svc.library.get(r) for r in refs if r]
        player = PromptPlayer(then or self.to_music).enqueue(*prompts)
        self.ch.source = player

    def to_music(self) -> None:
        if not self.done and self.mode == "waiting":
            self.ch.source = self.music

    def announce(self, first: bool = False) -> None:
        if self.done or self.mode != "waiting":
            return
        refs: list[str | None] = []
        if self.q["announce_position"]:
            pos = self.svc.dispatcher.position(self.entry.id)
            est = self.estimate if first else self.svc.estimate(self.number, pos)
            refs += ["queue/position", *[f"digits/{d}" for d in str(pos)], "queue/wait"]
            if est < 60:
                refs.append("queue/less_than_minute")
            else:
                refs += [*[f"digits/{d}" for d in str(math.ceil(est / 60))], "queue/minutes"]
        elif first:
            refs.append("queue/thank_you")
        if first and self.q["callback_key"]:
            refs += ["queue/callback_offer", f"digits/{self.q['callback_key']}" if self.q["callback_key"].isdigit() else None]
        self.say(refs)

    def play_message(self) -> None:
        if not self.done and self.mode == "waiting":
            self.say([self.q["message"]])

    @property
    def waited(self) -> int:
        return round(self.engine.clock.now() - self.entry.entered)

    # ---- endings
    def _leave_queue(self) -> None:
        self.done = True
        for t in self.timers:
            t.cancel()
        if self._digit_timer:
            self._digit_timer.cancel()
        self.svc.withdraw_offers(self.entry.id)
        self.svc.dispatcher.remove(self.entry.id)
        self.svc.callers.pop(self.entry.id, None)
        self.svc.publish()

    def exit(self, event: str, dest: str, key: str = "") -> None:
        if self.done:
            return
        pos = self.svc.dispatcher.position(self.entry.id)
        data: list[Any] = [pos, self.orig_position, self.waited]
        if event == "EXITWITHKEY":
            data = [key, *data]
        self.svc.events.log(event, call_id=self.call.id, queue=self.number, data=data)
        self._leave_queue()
        ch = self.ch
        if ch.handler is self:
            ch.handler = None
        ch.silence()
        send_to(self.engine, ch, self.call, dest)

    def abandon(self) -> None:
        if self.done:
            return
        pos = self.svc.dispatcher.position(self.entry.id)
        self.svc.events.log("ABANDON", call_id=self.call.id, queue=self.number,
                            data=[pos, self.orig_position, self.waited])
        self._leave_queue()
        self.call.end("answered")

    def on_hangup(self, ch: Channel) -> None:
        if self.mode == "cb-booked":
            return
        self.abandon()

    def hand_over(self) -> Call | None:
        """A calling fax heard while waiting (firmware/fax/detect.py): leave the queue, keep the call."""
        if self.done or self.mode == "cb-booked":
            return None
        self.svc.events.log("EXITFAX", call_id=self.call.id, queue=self.number,
                            data=[self.svc.dispatcher.position(self.entry.id), self.orig_position, self.waited])
        self._leave_queue()
        return self.call

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if far_end_gone(ch, tone, kind):
            self._line_gone()

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "loop_drop":
            self._line_gone()

    def _line_gone(self) -> None:
        ch = self.ch
        if isinstance(ch, FxoChannel):
            ch.release()
            ch.handler = None
            ch.silence()
            ch.set_state("idle")
        if self.mode == "cb-booked":
            return
        self.abandon()

    # ---- an agent takes the call
    def connect(self, offer: AgentOffer) -> None:
        self.connect_agent(offer.agent, offer.ch, offer.started, offer)

    def connect_agent(self, agent: QueueAgent, agent_ch: Channel, ring_started: float,
                      offer: AgentOffer | None = None) -> None:
        """`agent` takes the call on `agent_ch`: the offer answered, or a pickup from the agent's
        own phone of the call ringing a colleague (`offer` None; the offers were withdrawn)."""
        svc = self.svc
        now = self.engine.clock.now()
        hold = round(now - self.entry.entered)
        ring = round(now - ring_started)
        self.done = True
        for t in self.timers:
            t.cancel()
        svc.dispatcher.connected(self.entry.id, agent.username, now)
        svc.callers.pop(self.entry.id, None)
        if offer is not None:
            offer.close()
        svc.events.log("CONNECT", call_id=self.call.id, queue=self.number, agent=agent.username,
                       data=[hold, agent_ch.name, ring])
        QueueConnection(svc, self.ch, self.call, agent, agent_ch, self.number, self.entry.entered,
                        self.orig_position)
        svc.publish()

    # ---- keys
    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.done:
            return
        if self.mode == "waiting":
            q = self.q
            if digit == q["exit_key"]:
                self.exit("EXITWITHKEY", q["exit_dest"], digit)
            elif digit == q["voicemail_key"]:
                self.exit("EXITWITHKEY", f"voicemail:{q['voicemail_box']}", digit)
            elif digit == q["callback_key"]:
                self.start_callback()
        elif self.mode == "cb-confirm":
            if digit == "1":
                self.book_callback(self.cb_number)
            elif digit == "2":
                self.ask_number()
            elif digit == "3" and self.cb_number:
                self.ask_time()
        elif self.mode == "cb-time":
            self._arm_digits(self._time_keyed)
            if digit == "#":
                self._time_keyed()
            else:
                self.keyed += digit
                if len(self.keyed) > 4:
                    self.refuse_callback("queue/callback_refused")
        elif self.mode == "cb-enter":
            self._arm_digits()
            if digit == "#":
                self._number_keyed()
            else:
                self.keyed += digit          # '*' too: refused as "not a number" at the end
                if len(self.keyed) > MAX_CALLBACK_DIGITS:
                    self.refuse_callback("queue/callback_refused")
        elif self.mode == "refused" and digit == "#":
            pass                             # the rest of a refused entry

    # ---- callback request
    def start_callback(self) -> None:
        self.mode = "cb-confirm"
        problem = self.svc_check(self.caller_number) if self.caller_number else "queue/callback_refused"
        if problem == "queue/callback_exists":
            self.refuse_callback(problem)
        elif problem is None:
            self.cb_number = self.caller_number
            self.say(["queue/callback_cid", *[f"digits/{d}" for d in self.cb_number], "queue/callback_confirm",
                      "queue/callback_later"], then=lambda: None)
        else:
            self.ask_number()

    def ask_number(self) -> None:
        self.mode = "cb-enter"
        self.keyed = ""
        self.say(["queue/callback_enter"], then=lambda: None)
        self._arm_digits()

    def _arm_digits(self, then: Any = None) -> None:
        if self._digit_timer:
            self._digit_timer.cancel()
        self._digit_timer = self.engine.timers.after_ms(DIGIT_WAIT_MS, then or self._number_keyed)

    def ask_time(self) -> None:
        """"Call me back at 15:00": four digits HHMM in the site's timezone (the next such time)."""
        self.mode = "cb-time"
        self.keyed = ""
        self.say(["queue/callback_time"], then=lambda: None)
        self._arm_digits(self._time_keyed)

    def _time_keyed(self) -> None:
        if self.done or self.mode != "cb-time":
            return
        if self._digit_timer:
            self._digit_timer.cancel()
        keyed, self.keyed = self.keyed, ""
        at = callback_time(self.engine, keyed)
        if at is None:
            self.refuse_callback("queue/callback_refused")
            return
        self.book_callback(self.cb_number, at)

    def _number_keyed(self) -> None:
        if self.done or self.mode != "cb-enter":
            return
        if self._digit_timer:
            self._digit_timer.cancel()
        number, self.keyed = self.keyed, ""
        problem = self.svc_check(number)
        if problem is not None:
            self.refuse_callback(problem)
            return
        self.cb_number = number
        self.mode = "cb-confirm"
        self.say(["queue/callback_cid", *[f"digits/{d}" for d in number], "queue/callback_confirm",
                  "queue/callback_later"], then=lambda: None)

    def svc_check(self, number: str) -> str | None:
        """None when `number` may be called back; else the prompt saying why not."""
        return callback_problem(self.svc, self.q, number)

    def refuse_callback(self, prompt: str) -> None:
        """Refused (the prompt says why); the caller keeps waiting in their place. Keys still
        arriving from the refused entry are ignored until the prompt has been said."""
        self.keyed = ""
        self.mode = "refused"
        self.refusals += 1
        if self._digit_timer:
            self._digit_timer.cancel()

        def back() -> None:
            if self.mode == "refused":
                self.mode = "waiting"
                self.to_music()
        self.say([prompt], then=back)

    def back_to_waiting(self) -> None:
        self.mode = "waiting"
        if self._digit_timer:
            self._digit_timer.cancel()
        self.to_music()

    def book_callback(self, number: str, at: float | None = None) -> None:
        problem = self.svc_check(number)
        if problem is not None:
            self.refuse_callback(problem)
            return
        svc = self.svc
        pos = svc.dispatcher.position(self.entry.id)
        svc.events.log("CALLBACKREQ", call_id=self.call.id, queue=self.number,
                       data=[number, pos, self.waited, "" if at is None else int(at)])
        for t in self.timers:
            t.cancel()
        self.entry.kind = "callback"
        self.entry.not_before = at or 0.0
        svc.withdraw_offers(self.entry.id)
        svc.callers.pop(self.entry.id, None)
        svc.callbacks[self.entry.id] = Callback(svc, self.entry, self.number, number, self.orig_position)
        self.done = True
        self.mode = "cb-booked"
        self.say(["queue/callback_booked"], then=lambda: goodbye_if_mine(self))
        svc.publish()


def goodbye_if_mine(caller: QueueCaller) -> None:
    ch = caller.ch
    if ch.handler is caller:
        ch.handler = None
        goodbye(caller.engine, ch, caller.call)
    else:
        caller.call.end("answered")


def callback_problem(svc: QueueService, q: dict, number: str) -> str | None:
    from ..apps.permissions import Origin
    if not number.isdigit() or not 3 <= len(number) <= MAX_CALLBACK_DIGITS:
        return "queue/callback_refused"
    if any(cb.number == number and not cb.finished for cb in svc.callbacks.values()):
        return "queue/callback_exists"
    origin = Origin(extension=q["callback_as"] or None, channel=None, via="callback")
    if not svc.engine.authorise_outside(origin, number).allowed:
        return "queue/callback_refused"
    return None


def callback_time(engine: Engine, keyed: str) -> float | None:
    """HHMM keyed by a caller -> the next such time (epoch) in the site's timezone, or None."""
    import datetime as dt
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    if len(keyed) != 4 or not keyed.isdigit():
        return None
    hh, mm = int(keyed[:2]), int(keyed[2:])
    if hh > 23 or mm > 59:
        return None
    try:
        tz = ZoneInfo(str(engine.config.settings().get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    now = dt.datetime.fromtimestamp(engine.clock.now(), tz)
    when = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if when <= now + dt.timedelta(minutes=1):
        when += dt.timedelta(days=1)
    return when.timestamp()


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())[:MAX_CALLBACK_DIGITS]


# ---- offers to agents ----------------------------------------------------------------------------

class AgentOffer(ChannelHandler):
    def __init__(self, svc: QueueService, entry: Entry, agent: QueueAgent) -> None:
        self.svc, self.entry, self.agent = svc, entry, agent
        ch = svc.channel_of(agent)
        assert ch is not None
        self.ch = ch
        self.started = svc.engine.clock.now()
        self.closed = False
        self.headset = isinstance(ch.handler, AgentReady)
        agent.offer = self
        q = svc.queues[entry.queue]
        cb = svc.callbacks.get(entry.id)
        caller = svc.callers.get(entry.id)
        cid = cb.number if cb else caller.caller_number if caller else ""
        label = f"{q['name'] or 'queue'} {entry.queue}" + (" callback" if cb else "")
        ch.handler = self
        ch.set_state("ringing", peer=label, caller_id=cid)
        if self.headset:
            ch.play(ZIP, self._zip_done)
        else:
            ch.start_ringing(cid or None, (q["name"] or f"Queue {entry.queue}")[:15])
            self.timer: Timer | None = svc.engine.timers.after_ms(int(q["ring_s"]) * 1000, self._no_answer)
        svc.publish()

    def _zip_done(self) -> None:
        if not self.closed and self.ch.handler is self:
            self.svc.offer_answered(self)

    def on_answer(self, ch: Channel) -> None:
        if not self.closed:
            self.svc.offer_answered(self)

    def close(self) -> None:
        """The offer is over (answered or withdrawn): the phone stops ringing."""
        if self.closed:
            return
        self.closed = True
        t = getattr(self, "timer", None)
        if t is not None:
            t.cancel()
        if isinstance(self.ch, FxsChannel):
            self.ch.stop_ringing()
        if self.agent.offer is self:
            self.agent.offer = None
        self.svc.dispatcher.offer_ended(self.entry.id, self.agent.username)

    def _restore_phone(self) -> None:
        ch = self.ch
        if ch.handler is not self:
            return
        ch.handler = None
        ch.silence()
        if self.headset and ch.off_hook:
            AgentReady(self.svc, ch, self.agent)
        elif isinstance(ch, FxsChannel) and ch.off_hook:
            Parked(self.svc.engine, ch, "busy")
        else:
            ch.set_state("idle")

    def withdraw(self, quiet: bool = False) -> None:
        self.close()
        self._restore_phone()
        self.svc.publish()
        self.svc.kick()

    def _no_answer(self) -> None:
        if self.closed:
            return
        ms = round((self.svc.engine.clock.now() - self.started) * 1000)
        self.svc.events.log("RINGNOANSWER", call_id=self.entry.id, queue=self.entry.queue,
                            agent=self.agent.username, data=[ms])
        self.withdraw()
        self.svc.missed(self.agent, self.entry.queue)

    def on_hangup(self, ch: Channel) -> None:
        # Headset agent hung up during the zip, or the phone failed: not taken.
        self.close()
        self.agent.headset = False
        self.svc.kick()


# ---- caller and agent talking ------------------------------------------------------------------

class QueueConnection(ChannelHandler):
    def __init__(self, svc: QueueService, caller_ch: Channel, call: Call, agent: QueueAgent, agent_ch: Channel,
                 queue: str, entered: float, orig_position: int) -> None:
        self.svc, self.caller_ch, self.call, self.agent, self.agent_ch = svc, caller_ch, call, agent, agent_ch
        self.queue, self.entered, self.orig_position = queue, entered, orig_position
        self.connected_at = svc.engine.clock.now()
        self.ended = False
        self.mode = "talk"                  # talk | dial (agent transferring; caller on hold) | dial-failed | consult
        self.digits = ""
        self.consultation: Consultation | None = None
        self._timer: Timer | None = None
        agent.missed = 0
        agent.connection = self
        caller_ch.handler = agent_ch.handler = self
        caller_ch.source = PeerAudio(agent_ch)
        agent_ch.source = PeerAudio(caller_ch)
        caller_ch.listen_dtmf = agent_ch.listen_dtmf = True
        caller_ch.set_state("in-call", peer=agent_ch.label, caller_id=call.cid_number, detail=f"queue {queue}")
        agent_ch.set_state("in-call", peer=f"queue {queue}: {call.cid_number or call.src}", detail=f"queue {queue}")
        for hook in list(svc.connect_hooks):
            hook(self)

    def _complete(self, event: str) -> None:
        now = self.svc.engine.clock.now()
        self.ended = True
        hold = round(self.connected_at - self.entered)
        talk = round(now - self.connected_at)
        self.svc.events.log(event, call_id=self.call.id, queue=self.queue, agent=self.agent.username,
                            data=[hold, talk, self.orig_position])
        q = self.svc.queues.get(self.queue, {})
        self.svc.learn_handle_time(self.queue, talk + int(q.get("wrapup_s", 0)))
        self.svc.follow_ups.after_queue_call(self.call.id, self.queue, self.agent.username,
                                             _digits(self.call.cid_number or ""),
                                             isinstance(self.caller_ch, FxoChannel))

    def on_hangup(self, ch: Channel) -> None:
        if self.ended:
            return
        if ch is self.agent_ch and self.consultation is not None:
            self._transfer_consulted()
        elif ch is self.agent_ch:
            self._agent_left()
        else:
            if self.consultation is not None:
                self.consultation.drop()
                self.consultation = None
            self._caller_left()

    def _agent_left(self) -> None:
        self._complete("COMPLETEAGENT")
        agent_ch = self.agent_ch
        if agent_ch.handler is self:
            agent_ch.handler = None
        self.agent.headset = False
        self.svc.begin_wrapup(self.agent, self.queue)
        caller = self.caller_ch
        caller.silence()
        q = self.svc.queues.get(self.queue, {})
        survey = self.svc.surveys.get(q.get("survey", ""))
        if survey is not None and not q.get("survey_call_min"):    # else: a follow-up call asks it later
            SurveySession(self.svc, caller, self.call, self.queue, self.agent.username, survey)
        else:
            if caller.handler is self:
                caller.handler = None
            goodbye(self.svc.engine, caller, self.call)

    def _caller_left(self) -> None:
        self._complete("COMPLETECALLER")
        caller = self.caller_ch
        if isinstance(caller, FxoChannel):
            caller.release()
            caller.set_state("idle")
        if caller.handler is self:
            caller.handler = None
        caller.silence()
        self.call.end("answered")
        agent_ch = self.agent_ch
        if agent_ch.handler is self:
            agent_ch.handler = None
            agent_ch.silence()
            if isinstance(agent_ch, FxsChannel) and agent_ch.off_hook:
                if self.agent.headset:
                    AgentReady(self.svc, agent_ch, self.agent)
                else:
                    Parked(self.svc.engine, agent_ch, "busy")
            else:
                agent_ch.set_state("idle")
        self.svc.begin_wrapup(self.agent, self.queue)

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if ch is self.caller_ch and far_end_gone(ch, tone, kind):
            self.on_hangup(ch)

    # ---- blind transfer by the agent: flash, dial an extension or a queue number
    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, ms: int) -> None:
        self._cancel_timer()
        self._timer = self.svc.engine.timers.after_ms(ms, self._dial_timeout)

    def on_flash(self, ch: Channel) -> None:
        if self.ended or ch is not self.agent_ch or not isinstance(ch, FxsChannel):
            return
        if self.mode == "talk":
            self.mode, self.digits = "dial", ""
            q = self.svc.queues.get(self.queue, {})
            self.caller_ch.source = self.svc.music.source(q.get("moh", "default"))     # on hold
            ch.play_tone("dial")
            ch.set_state("dialtone", detail="transfer")
            self._arm(self.svc.engine.settings.first_digit_ms)
        else:                                   # changed their mind: back to the caller
            self._cancel_timer()
            if self.consultation is not None:
                self.consultation.drop()
                self.consultation = None
            self.mode = "talk"
            self.caller_ch.source = PeerAudio(ch)
            ch.source = PeerAudio(self.caller_ch)
            ch.set_state("in-call", peer=f"queue {self.queue}: {self.call.cid_number or self.call.src}",
                         detail=f"queue {self.queue}")

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.ended or ch is not self.agent_ch or self.mode != "dial":
            return
        if not self.digits:
            ch.silence()
        self.digits += digit
        route = self.svc.engine.plan.resolve(self.digits)
        if route.kind == "incomplete":
            self._arm(self.svc.engine.settings.interdigit_ms)
        elif route.kind == "invalid":
            self._arm(self.svc.engine.settings.invalid_ms)
        else:
            self._transfer(route)

    def _dial_timeout(self) -> None:
        self._timer = None
        if self.ended or self.mode != "dial":
            return
        self._transfer(self.svc.engine.plan.resolve(self.digits, final=True))

    def _transfer(self, route: Any) -> None:
        self._cancel_timer()
        agent_ch = self.agent_ch
        own = getattr(agent_ch, "extension", None)
        if route.kind == "extension" and route.target != own and isinstance(agent_ch, FxsChannel):
            # consult first: ring the colleague from the agent's phone; hanging up transfers
            phone = Consultation.target_free(self.svc.engine, route.target, agent_ch)
            if phone is None:
                self.mode = "dial-failed"
                agent_ch.play_tone("busy")
                agent_ch.set_state("busy", detail="transfer")
                return
            self.mode = "consult"
            self.consultation = Consultation(self.svc.engine, self, agent_ch, phone, route.target)
            return
        if route.kind == "extension" and route.target != own:
            dest, target = f"extension:{route.target}", route.target
        elif route.kind == "app" and str(route.target).startswith("queue-"):
            target = str(route.target).removeprefix("queue-")
            dest = f"queue:{target}"
        else:                                    # nothing a caller can be sent to: flash goes back
            self.mode = "dial-failed"
            agent_ch.play_tone("congestion")
            agent_ch.set_state("congestion", detail="transfer")
            return
        self._send_caller_on(target, dest)

    def on_line_event(self, ch: Channel, event: str) -> None:
        if ch is self.caller_ch and event == "loop_drop":
            self.on_hangup(ch)

    # ---- the agent's desktop (firmware/desk) acts through these
    @property
    def held(self) -> bool:
        return self.mode == "held"

    def hold(self) -> None:
        """The caller hears the queue's music on hold; the agent hears silence."""
        if self.ended or self.mode != "talk":
            return
        self.mode = "held"
        q = self.svc.queues.get(self.queue, {})
        self.caller_ch.source = self.svc.music.source(q.get("moh", "default"))
        self.agent_ch.silence()
        self.agent_ch.set_state("in-call", peer=f"queue {self.queue}: on hold", detail=f"queue {self.queue}")
        self.svc.publish(self.agent)

    def resume(self) -> None:
        """Back to talking after `hold`."""
        if self.ended or self.mode != "held":
            return
        self.mode = "talk"
        self.caller_ch.source = PeerAudio(self.agent_ch)
        self.agent_ch.source = PeerAudio(self.caller_ch)
        self.agent_ch.set_state("in-call", peer=f"queue {self.queue}: {self.call.cid_number or self.call.src}",
                                detail=f"queue {self.queue}")
        self.svc.publish(self.agent)

    def whisper_to_agent(self, samples: np.ndarray) -> None:
        """Before the two talk: the agent alone hears `samples` (the caller's name), the caller
        keeps hearing music on hold; then they are put through."""
        if self.ended or self.mode != "talk":
            return
        self.mode = "whisper"
        q = self.svc.queues.get(self.queue, {})
        self.caller_ch.source = self.svc.music.source(q.get("moh", "default"))

        def through() -> None:
            if not self.ended and self.mode == "whisper":
                self.mode = "held"
                self.resume()
        self.agent_ch.source = PromptPlayer(through).enqueue(samples)

    def play_to_caller(self, samples: np.ndarray) -> None:
        """Send the caller to a recorded information message (the agent hears it too), then
        straight back to talking with the agent."""
        if self.ended or self.mode not in ("talk", "held", "message"):
            return
        self.mode = "message"

        def back() -> None:
            if not self.ended and self.mode == "message":
                self.mode = "held"
                self.resume()
        self.caller_ch.source = PromptPlayer(back).enqueue(samples)
        self.agent_ch.source = PromptPlayer().enqueue(samples)
        self.svc.publish(self.agent)

    def hang_up_by_agent(self) -> None:
        """The agent ends the call from the browser: as if they hung up, but their phone stays
        off hook: ready for the next call in headset mode, else it hears busy tone."""
        if self.ended:
            return
        headset, agent_ch = self.agent.headset, self.agent_ch
        self._agent_left()
        if isinstance(agent_ch, FxsChannel) and agent_ch.off_hook and agent_ch.handler is None:
            agent_ch.silence()
            if headset:
                AgentReady(self.svc, agent_ch, self.agent)
            else:
                Parked(self.svc.engine, agent_ch, "busy")

    def transfer_to(self, number: str) -> bool:
        """Blind transfer to an extension or a queue number. False: `number` is neither (nothing
        changes)."""
        if self.ended or self.consultation is not None:
            return False
        route = self.svc.engine.plan.resolve(number, final=True)
        own = getattr(self.agent_ch, "extension", None)
        if route.kind == "extension" and route.target != own:
            dest, target = f"extension:{route.target}", str(route.target)
        elif route.kind == "app" and str(route.target).startswith("queue-"):
            target = str(route.target).removeprefix("queue-")
            dest = f"queue:{target}"
        else:
            return False
        self._cancel_timer()
        self._send_caller_on(target, dest)
        return True

    def _send_caller_on(self, target: str, dest: str, send: Any = None) -> None:
        """Blind transfer: log TRANSFER, send the caller to `dest` (or `send(caller channel)` does),
        free the agent's phone, start wrap-up."""
        now = self.svc.engine.clock.now()
        self.ended = True
        self.svc.events.log("TRANSFER", call_id=self.call.id, queue=self.queue, agent=self.agent.username,
                            data=[target, "", round(self.connected_at - self.entered), round(now - self.connected_at),
                                  self.orig_position])
        caller, agent_ch = self.caller_ch, self.agent_ch
        if caller.handler is self:
            caller.handler = None
        caller.silence()
        if send is not None:
            send(caller)
        else:
            send_to(self.svc.engine, caller, self.call, dest)
        if agent_ch.handler is self:
            agent_ch.handler = None
            agent_ch.silence()
            if self.agent.headset and isinstance(agent_ch, FxsChannel) and agent_ch.off_hook:
                AgentReady(self.svc, agent_ch, self.agent)
            elif isinstance(agent_ch, FxsChannel) and agent_ch.off_hook:
                Parked(self.svc.engine, agent_ch, "busy")
        self.svc.begin_wrapup(self.agent, self.queue)

    # ---- transfer to an outside number from the desktop (firmware/callcenter/outside_transfer.py)
    def transfer_outside(self, number: str, decision: Any) -> str:
        """Blind transfer to outside `number` (the gate said yes: `decision`; it is asked again when
        the line is seized). '' when done, else why not: busy | no_line."""
        from .outside_transfer import send_caller_out
        if self.ended or self.consultation is not None or self.mode not in ("talk", "held"):
            return "busy"
        line = self.svc.engine.pick_line()
        if line is None:
            return "no_line"
        self._cancel_timer()
        self._send_caller_on(number, "", send=lambda caller: send_caller_out(
            self.svc.engine, caller, self.call, number, decision, line))
        return ""

    def consult_outside(self, number: str, decision: Any) -> str:
        """Attended transfer to outside `number`: the caller hears music while the agent's phone
        calls it on a line. '' when started, else why not: busy | not_phone | no_line | refused."""
        from .outside_transfer import OutsideConsultation
        if self.ended or self.mode not in ("talk", "held") or self.consultation is not None:
            return "busy"
        agent_ch = self.agent_ch
        if not isinstance(agent_ch, FxsChannel):
            return "not_phone"
        line = self.svc.engine.pick_line()
        if line is None:
            return "no_line"
        q = self.svc.queues.get(self.queue, {})
        self.caller_ch.source = self.svc.music.source(q.get("moh", "default"))
        agent_ch.silence()
        self.mode = "consult"
        c = OutsideConsultation(self.svc.engine, self, agent_ch, line, number, decision)
        if c.over:                                    # refused at seizure after all
            self.consultation_over()
            return "refused"
        self.consultation = c
        self.svc.publish(self.agent)
        return ""

    def _transfer_to_outside(self, c: Any) -> None:
        """The attended outside transfer completes: the caller joins the line, the agent is free."""
        now = self.svc.engine.clock.now()
        self.ended = True
        self.svc.events.log("TRANSFER", call_id=self.call.id, queue=self.queue, agent=self.agent.username,
                            data=[c.number, "", round(self.connected_at - self.entered),
                                  round(now - self.connected_at), self.orig_position])
        caller, agent_ch = self.caller_ch, self.agent_ch
        if agent_ch.handler is self:
            agent_ch.handler = None
            agent_ch.silence()
        if caller.handler is self:
            caller.handler = None
        caller.silence()
        if not c.join_caller(caller, self.call):          # the far end left meanwhile
            goodbye(self.svc.engine, caller, self.call)
        self.svc.begin_wrapup(self.agent, self.queue)

    def consult(self, number: str) -> str:
        """Attended transfer from the desktop: the caller hears music while the agent's phone rings
        colleague `number` (an extension). '' when started, else why not."""
        if self.ended or self.mode not in ("talk", "held") or self.consultation is not None:
            return "busy"
        route = self.svc.engine.plan.resolve(number, final=True)
        agent_ch = self.agent_ch
        if route.kind != "extension" or route.target == getattr(agent_ch, "extension", None) \
                or not isinstance(agent_ch, FxsChannel):
            return "not_extension"
        phone = Consultation.target_free(self.svc.engine, route.target, agent_ch)
        if phone is None:
            return "target_busy"
        q = self.svc.queues.get(self.queue, {})
        self.caller_ch.source = self.svc.music.source(q.get("moh", "default"))
        agent_ch.silence()
        self.mode = "consult"
        self.consultation = Consultation(self.svc.engine, self, agent_ch, phone, route.target)
        self.svc.publish(self.agent)
        return ""

    def conference(self) -> bool:
        """The consulted colleague joins the caller and the agent: each hears the other two. The
        agent leaving hands the caller to the colleague; dropping the colleague goes back to two."""
        c = self.consultation
        if self.ended or c is None or not c.answered or not c.target_present:
            return False
        self.mode = "conference"
        caller, agent, target = self.caller_ch, self.agent_ch, c.target
        caller.source = MixOf(agent, target)
        agent.source = MixOf(caller, target)
        target.source = MixOf(caller, agent)
        agent.set_state("in-call", peer=f"queue {self.queue}: conference", detail=f"queue {self.queue}")
        self.svc.publish(self.agent)
        return True

    def complete_consult(self) -> bool:
        """The agent completes the attended transfer from the desktop (as hanging up would)."""
        if self.ended or self.consultation is None:
            return False
        headset = self.agent.headset
        self._transfer_consulted()
        agent_ch = self.agent_ch
        if isinstance(agent_ch, FxsChannel) and agent_ch.off_hook and agent_ch.handler is None:
            if headset:                              # the agent stays in headset mode
                AgentReady(self.svc, agent_ch, self.agent)
            else:
                Parked(self.svc.engine, agent_ch, "busy")
        self.svc.publish(self.agent)
        return True

    def cancel_consult(self) -> bool:
        """Back to the caller; the colleague is let go."""
        if self.ended or self.consultation is None:
            return False
        self.consultation.drop()
        self.consultation_over()
        self.svc.publish(self.agent)
        return True

    # ---- consult-first transfer (firmware/callcenter/consult.py)
    def consultation_over(self) -> None:
        """The colleague hung up or did not answer: the agent is back with the caller."""
        self.consultation = None
        if self.ended:
            return
        self.mode = "talk"
        agent_ch = self.agent_ch
        agent_ch.handler = self
        self.caller_ch.source = PeerAudio(agent_ch)
        agent_ch.source = PeerAudio(self.caller_ch)
        agent_ch.set_state("in-call", peer=f"queue {self.queue}: {self.call.cid_number or self.call.src}",
                           detail=f"queue {self.queue}")

    def _transfer_consulted(self) -> None:
        """The agent hung up during a consultation: the caller goes to the colleague (answered:
        joined at once; still ringing: the caller hears ringback, as a blind transfer)."""
        c = self.consultation
        assert c is not None
        self.consultation = None
        if not isinstance(c, Consultation):                 # an outside number
            if not self.agent_ch.off_hook:
                self.agent.headset = False
            self._transfer_to_outside(c)
            return
        now = self.svc.engine.clock.now()
        self.ended = True
        self.svc.events.log("TRANSFER", call_id=self.call.id, queue=self.queue, agent=self.agent.username,
                            data=[c.number, "", round(self.connected_at - self.entered), round(now - self.connected_at),
                                  self.orig_position])
        answered = c.hand_over()
        caller, target = self.caller_ch, c.target
        agent_ch = self.agent_ch
        if agent_ch.handler is self:
            agent_ch.handler = None
            agent_ch.silence()
        self.agent.headset = False
        if caller.handler is self:
            caller.handler = None
        caller.silence()
        if answered and target.off_hook:
            call = self.call                       # the caller's record goes on, now with the colleague
            call.b = target
            caller.handler = target.handler = call
            call._bridge(caller, target)
            caller.set_state("in-call", peer=target.label, caller_id=call.cid_number)
            target.set_state("in-call", peer=f"{call.cid_number or call.src}", caller_id=call.cid_number)
        else:
            target.stop_ringing()
            if target.handler is None:
                target.silence()
                target.set_state("idle")
            send_to(self.svc.engine, caller, self.call, f"extension:{c.number}")
        self.svc.begin_wrapup(self.agent, self.queue)


# ---- survey --------------------------------------------------------------------------------------

class SurveySession(AppSession):
    """After the agent hangs up: each question, a key 1-5 each (SURVEY events). The app bookkeeping
    (the caller hanging up, the line's far end gone, timers, the call record) is AppSession's."""

    name = "survey"

    def __init__(self, svc: QueueService, ch: Channel, call: Call, queue: str, agent: str, survey: dict,
                 record_as: str | None = None, intro: bool = False) -> None:
        self.svc, self.queue, self.agent = svc, queue, agent
        self.questions = list(survey["questions"])
        self.i = 0
        self.timer: Timer | None = None
        self.event_call_id = record_as or call.id      # a follow-up survey call answers for the queue call
        self.intro = intro
        super().__init__(svc.engine, ch, "", call)

    def start(self) -> None:
        self.ch.set_state("in-call", peer="survey", caller_id=self.call.cid_number)
        if self.intro:                                # the box called: say why first
            self.ch.source = PromptPlayer(self.ask).enqueue(self.svc.library.get("queue/survey_intro"))
            return
        self.ask()

    def ask(self) -> None:
        if self.finished:
            return
        if self.i >= len(self.questions):
            self.ch.source = PromptPlayer(self.end).enqueue(self.svc.library.get("queue/survey_thanks"))
            return
        prompt = self.svc.library.get(self.questions[self.i])
        self.ch.source = PromptPlayer(self._wait).enqueue(prompt)

    def _wait(self) -> None:
        if self.finished:
            return
        if self.timer:
            self.timer.cancel()
        self.timer = self.after(SURVEY_WAIT_MS, self._skip)

    def _skip(self) -> None:
        self.i += 1
        self.ask()

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.finished or self.i >= len(self.questions) or digit not in "12345":
            return
        if self.timer:
            self.timer.cancel()
        self.svc.events.log("SURVEY", call_id=self.event_call_id, queue=self.queue, agent=self.agent,
                            data=[self.i + 1, digit])
        self.i += 1
        self.ask()

    def end(self) -> None:
        """Thanked (or the far end is gone): let the caller go."""
        if self.finished:
            return
        if self.ch.handler is self:
            self.leave()
        else:
            self.finish()


# ---- headset mode ------------------------------------------------------------------------------

class AgentReady(ChannelHandler):
    """A logged-in agent's phone left off hook: silence, then a zip tone and a caller."""

    def __init__(self, svc: QueueService, ch: FxsChannel, agent: QueueAgent) -> None:
        self.svc, self.ch, self.agent = svc, ch, agent
        agent.headset = True
        ch.handler = self
        ch.listen_dtmf = True
        ch.silence()
        ch.set_state("agent-ready", peer=agent.username)
        svc.kick()

    def release(self) -> None:
        if self.ch.handler is self:
            self.ch.handler = None
            if self.ch.off_hook:
                Parked(self.svc.engine, self.ch, "busy")

    def on_hangup(self, ch: Channel) -> None:
        self.agent.headset = False
        self.svc.publish()

    def on_digit(self, ch: Channel, digit: str) -> None:
        if digit == "*":            # * in headset mode: pause / unpause
            if self.agent.status == "paused":
                self.svc.unpause(self.agent)
            elif self.agent.status == "available":
                self.svc.pause(self.agent, "phone")


# ---- callbacks ---------------------------------------------------------------------------------

@dataclass
class Callback:
    svc: QueueService
    entry: Entry
    queue: str
    number: str
    orig_position: int
    attempts: int = 0
    finished: bool = False
    agent: QueueAgent | None = None
    call: Call | None = None
    answered_at: float = 0.0
    timers: list[Timer] = field(default_factory=list)

    @property
    def entry_id(self) -> str:
        return self.entry.id

    def agent_answered(self, offer: AgentOffer) -> None:
        """The agent is on the line first: "callback for <number>", then the number is dialled."""
        svc, agent, ch = self.svc, offer.agent, offer.ch
        offer.close()
        # One agent per callback: while this one hears "callback for ...", nobody else may be offered
        # it. The entry leaves the line here; a failed attempt puts it back in its original place.
        svc.withdraw_offers(self.entry.id)
        svc.dispatcher.remove(self.entry.id)
        ch.handler = None
        self.agent = agent
        agent.connection = self
        player = PromptPlayer(lambda: self._dial(ch)).enqueue(
            svc.library.get("queue/callback_for"), *[svc.library.get(f"digits/{d}") for d in self.number])
        holder = CallbackAgentLeg(self, ch)
        ch.handler = holder
        ch.source = player
        ch.set_state("in-call", peer=f"callback {self.number}", detail=f"queue {self.queue}")

    def _dial(self, ch: Channel) -> None:
        svc = self.svc
        if self.finished or not isinstance(ch.handler, CallbackAgentLeg) or not isinstance(ch, FxsChannel):
            return
        from ..apps.permissions import Origin
        q = svc.queues.get(self.queue, {})
        origin = Origin(extension=q.get("callback_as") or None, channel=ch.name, via="callback")
        decision = svc.engine.authorise_outside(origin, self.number)
        self.attempts += 1
        svc.events.log("CALLBACKDIAL", call_id=self.entry.id, queue=self.queue,
                       agent=self.agent.username if self.agent else "NONE", data=[self.number, self.attempts])
        if not decision.allowed:
            self._failed("denied", final=True)
            return
        line = svc.engine.pick_line()
        if line is None:
            self._failed("failed")
            return
        svc.dispatcher.remove(self.entry.id)
        src = ch.extension or ch.name
        call = CallbackCall(svc.engine, ch, "outbound", src, self.number, line=line.name, cid_number=src)
        call.outside_decision = decision
        call.queue_callback = self
        self.call = call
        call.dial_line(line, self.number)
        if call.ended:
            return
        self.timers.append(svc.engine.timers.after_ms(CALLBACK_RING_S * 1000, self._ring_timeout))

    def _ring_timeout(self) -> None:
        call = self.call
        if call is None or call.answered or call.ended:
            return
        line = call.b
        if isinstance(line, FxoChannel):
            call.far_end_gone(line, "callback not answered", "no_answer")

    def call_event(self, call: Call, event: str) -> None:
        svc = self.svc
        if event == "answered":
            self.answered_at = svc.engine.clock.now()
            svc.events.log("CALLBACKANSWER", call_id=self.entry.id, queue=self.queue,
                           agent=self.agent.username if self.agent else "NONE", data=[self.number])
            return
        if event != "ended":
            return
        for t in self.timers:
            t.cancel()
        if call.answered and self.answered_at:
            talk = round(svc.engine.clock.now() - self.answered_at)
            svc.events.log("COMPLETEAGENT", call_id=self.entry.id, queue=self.queue,
                           agent=self.agent.username if self.agent else "NONE",
                           data=[0, talk, self.orig_position])
            self.finished = True
            svc.callbacks.pop(self.entry.id, None)
            self._agent_done()
        else:
            reason = {"busy": "busy", "no_answer": "no_answer", "denied": "denied"}.get(
                _disposition(svc, call), "failed")
            self._failed(reason)

    def _agent_done(self) -> None:
        agent = self.agent
        self.agent = None
        if agent is not None:
            self.svc.begin_wrapup(agent, self.queue)

    def _failed(self, reason: str, final: bool = False) -> None:
        svc = self.svc
        q = svc.queues.get(self.queue, {})
        gave_up = final or self.attempts >= int(q.get("callback_retries", 3))
        svc.events.log("CALLBACKFAIL", call_id=self.entry.id, queue=self.queue,
                       agent=self.agent.username if self.agent else "NONE", data=[self.number, reason])
        agent = self.agent
        if agent is not None:
            ch = svc.channel_of(agent)
            if ch is not None and isinstance(ch.handler, CallbackAgentLeg):
                ch.handler = None
                ch.silence()
                if ch.off_hook:
                    Parked(svc.engine, ch, "busy")
                else:
                    ch.set_state("idle")
            agent.connection = None
            self.agent = None
            svc.dispatcher.call_ended(agent.username, None, svc.engine.clock.now())
        if gave_up:
            if reason != "gave_up":
                svc.events.log("CALLBACKFAIL", call_id=self.entry.id, queue=self.queue,
                               data=[self.number, "gave_up"])
            self.finished = True
            svc.dispatcher.remove(self.entry.id)
            svc.callbacks.pop(self.entry.id, None)
            insert = getattr(svc.engine.records, "insert", None)
            if insert is not None:
                insert("callback_list", ts=svc.engine.clock.now(), call_id=self.entry.id, queue=self.queue,
                       number=self.number, attempts=self.attempts, reason=reason)
        else:
            backoff = int(q.get("callback_backoff_s", 120)) * (2 ** (self.attempts - 1))
            self.entry.not_before = svc.engine.clock.now() + backoff
            self.entry.offered.clear()
            if self.entry.id not in svc.dispatcher.entries:
                svc.dispatcher.entries[self.entry.id] = self.entry      # back in its original place
        svc.publish()
        svc.kick()


def _disposition(svc: QueueService, call: Call) -> str:
    return getattr(call, "final_disposition", "") or "failed"


class CallbackCall(Call):
    """The outbound leg of a callback: remembers how it ended (busy, no answer, ...)."""

    final_disposition = ""
    queue_callback: Callback | None = None

    def end(self, disposition: str) -> None:
        if not self.ended:
            self.final_disposition = disposition
        super().end(disposition)


class CallbackAgentLeg(ChannelHandler):
    """The agent waiting, hearing "callback for ...", before the line is dialled."""

    def __init__(self, cb: Callback, ch: Channel) -> None:
        self.cb, self.ch = cb, ch

    def on_hangup(self, ch: Channel) -> None:
        cb = self.cb
        if cb.finished:
            return
        cb._failed("failed")


# ---- apps: the queue as a destination, agent feature codes ------------------------------------

def queue_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None, *, number: str = "") -> None:
    svc = service_of(engine)
    number = number or arg
    if svc is None or number not in svc.queues:
        from ..apps.forward import give_busy
        give_busy(engine, ch, call, number)
        return
    q = svc.queues[number]
    if call is None:
        src = getattr(ch, "extension", None) or ch.name
        call = Call(engine, ch, "internal", src, number, cid_number=src, cid_name=getattr(ch, "ext_name", "") or None)
        call.mark_answered()
    ch.handler = None
    ch.silence()
    waiting = len(svc.dispatcher.waiting(number))
    if q["max_callers"] and waiting >= q["max_callers"]:
        send_to(engine, ch, call, q["full_dest"])
        return
    if svc.is_empty(number, q["join_empty"]):
        send_to(engine, ch, call, q["empty_dest"])
        return
    QueueCaller(svc, ch, call, number)


class AgentPhoneSession(ChannelHandler):
    """`*45`: agent number # PIN # at any phone logs that agent in on this phone (hot-desking)."""

    def __init__(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
        self.svc = service_of(engine)
        self.engine, self.ch = engine, ch
        self.mode = "number"
        self.digits = ""
        self.number = ""
        self.tries = 0
        self.timer: Timer | None = None
        self.closed = False
        ch.handler = self
        ch.listen_dtmf = True
        ch.set_state("in-call", peer="agent login")
        self.say("agent/enter_number")

    def say(self, *refs: str, then: Any = None) -> None:
        assert self.svc is not None
        self.ch.source = PromptPlayer(then).enqueue(*[self.svc.library.get(r) for r in refs])
        self._arm()

    def _arm(self) -> None:
        if self.timer:
            self.timer.cancel()
        self.timer = self.engine.timers.after_ms(15000, self.hang)

    def hang(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.ch.handler is self and isinstance(self.ch, FxsChannel):
            Parked(self.engine, self.ch, "busy")

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.closed or self.mode == "checking":
            return
        self._arm()
        if digit != "#":
            if len(self.digits) < 16:
                self.digits += digit
            return
        entered, self.digits = self.digits, ""
        if self.mode == "number":
            self.number = entered
            self.mode = "pin"
            self.say("agent/enter_pin")
        elif self.mode == "pin":
            self.mode = "checking"
            self._check(self.number, entered)

    def _check(self, number: str, pin: str) -> None:
        svc = self.svc
        assert svc is not None
        agent = next((a for a in svc.agents.values() if a.number == number), None)
        now = self.engine.clock.now()
        if agent is None or agent.locked_until > now:
            self.engine.timers.after_ms(500, lambda: self._checked(None, False))
            return
        stored = agent.pin_hash

        def work() -> None:
            ok = model.check_pin(stored, pin)
            self.engine.control.call(lambda _eng: self._checked(agent, ok))
        threading.Thread(target=work, name="agent-pin", daemon=True).start()

    def _checked(self, agent: QueueAgent | None, ok: bool) -> None:
        svc = self.svc
        assert svc is not None
        if self.closed or self.ch.handler is not self:
            return
        ext = getattr(self.ch, "extension", None)
        if agent is None or not ok or not ext:
            if agent is not None:
                agent.failures += 1
                if agent.failures >= LOCKOUT_FAILURES:
                    agent.locked_until = self.engine.clock.now() + LOCKOUT_S
                    agent.failures = 0
            self.tries += 1
            if self.tries >= PIN_TRIES:
                self.say("agent/login_failed", then=self.hang)
                self.mode = "done"
                return
            self.mode = "number"
            self.say("agent/login_failed", "agent/enter_number")
            return
        agent.failures = 0
        svc.login(agent, ext)
        self.mode = "done"
        self.say("agent/logged_in", then=lambda: self._ready(agent))

    def _ready(self, agent: QueueAgent) -> None:
        if self.timer:
            self.timer.cancel()
        self.closed = True
        ch = self.ch
        if ch.handler is self and isinstance(ch, FxsChannel) and ch.off_hook and self.svc is not None:
            AgentReady(self.svc, ch, agent)        # stays off hook: headset mode

    def on_hangup(self, ch: Channel) -> None:
        self.closed = True
        if self.timer:
            self.timer.cancel()


class AgentCodeSession(ChannelHandler):
    """`*46` log out / `*47` pause-unpause the agent logged in on this phone."""

    def __init__(self, engine: Engine, ch: Channel, what: str) -> None:
        svc = service_of(engine)
        self.engine, self.ch = engine, ch
        ch.handler = self
        ch.set_state("in-call", peer=f"agent {what}")
        agent = svc.agent_on(ch) if svc else None
        if svc is None or agent is None:
            ref = "agent/login_failed"
        elif what == "logout":
            svc.logout(agent)
            ref = "agent/logged_out"
        elif agent.status == "paused":
            svc.unpause(agent)
            ref = "agent/unpaused"
        else:
            svc.pause(agent, "phone")
            ref = "agent/paused"
        samples = svc.library.get(ref) if svc else None
        ch.source = PromptPlayer(self._done).enqueue(samples)

    def _done(self) -> None:
        if self.ch.handler is self and isinstance(self.ch, FxsChannel):
            Parked(self.engine, self.ch, "busy")


def register(engine: Engine) -> QueueService | None:
    if not hasattr(engine.config, "table"):
        return None
    svc = QueueService(engine)
    _SERVICES[engine] = svc
    engine.register_app("queue", queue_app)
    engine.register_app("agent-login", lambda eng, ch, arg="", call=None: AgentPhoneSession(eng, ch, arg, call),
                        code=LOGIN_CODE)
    engine.register_app("agent-logout", lambda eng, ch, arg="", call=None: AgentCodeSession(eng, ch, "logout"),
                        code=LOGOUT_CODE)
    engine.register_app("agent-pause", lambda eng, ch, arg="", call=None: AgentCodeSession(eng, ch, "pause"),
                        code=PAUSE_CODE)
    return svc
