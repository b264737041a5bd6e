"""Supervisor on a queue call: silent listen, whisper to the agent, barge in (three-way).

A supervisor's phone joins an agent's queue call as a third ear and, if the mode allows, a third
voice. Nothing is recorded or copied: each tick the supervisor's phone plays the sum of what the
caller and the agent captured (`ChannelMix`), and in *whisper* the agent's own source gets the
supervisor's voice added (`VoiceOver`); in *barge* the caller's source does too. The caller's
source is never touched in *listen* or *whisper*, so the caller cannot hear a whisper.

    *222<ext>   listen to the queue call of the agent at extension <ext>
    *223<ext>   whisper          (end the extension with # or wait)
    *224<ext>   barge in
    during the session the supervisor keys 4 listen, 5 whisper, 6 barge

Who may: only the phones the owner lists as supervisor phones (config table `cc_supervisor_phones`:
{"username": "bob", "extension": "204"}); a supervisor who leads teams (`cc_teams.leader`) reaches
only those teams' agents, one who leads none reaches every agent. The browser's actions pass the same
rule through `supervision.start` (the web checks the user's role, the engine checks the team).

Per-sample work is numpy into buffers allocated once per session (no allocation per tick).
"""
from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import FRAME

from ..calls import Parked
from ..channels import Channel, ChannelHandler, FxsChannel
from ..clock import Timer
from . import model

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.callcenter.supervision")

LISTEN_CODE, WHISPER_CODE, BARGE_CODE = "*222", "*223", "*224"
MODES = ("listen", "whisper", "barge")
MODE_KEYS = {"4": "listen", "5": "whisper", "6": "barge"}
SUPERVISOR_PHONES = "cc_supervisor_phones"
POLL_MS = 100
INT16_MIN, INT16_MAX = -32768, 32767


class SupervisionRefused(Exception):
    """A supervision request that may not go ahead; the message says why and what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---- mixing (media thread, per tick) ------------------------------------------------------------

class ChannelMix:
    """Plays the sum of what `channels` captured this tick (the supervisor's ear)."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels
        self._acc = np.zeros(FRAME, dtype=np.int32)
        self._out = np.zeros((2, FRAME), dtype=np.int16)     # the board plays bank n while n^1 is written
        self._bank = 0

    def frame(self) -> np.ndarray | None:
        acc = self._acc
        acc.fill(0)
        heard = False
        for ch in self.channels:
            rx = ch.rx
            if rx is not None:
                np.add(acc, rx, out=acc)
                heard = True
        if not heard:
            return None
        self._bank ^= 1
        out = self._out[self._bank]
        np.clip(acc, INT16_MIN, INT16_MAX, out=acc)
        np.copyto(out, acc, casting="unsafe")
        return out


class VoiceOver:
    """Wraps a channel's source and adds the supervisor's voice to it (whisper, barge)."""

    def __init__(self, base: Any, voice: Channel) -> None:
        self.base = base
        self.voice = voice
        self.tonal = bool(getattr(base, "tonal", False))
        self._acc = np.zeros(FRAME, dtype=np.int32)
        self._out = np.zeros((2, FRAME), dtype=np.int16)
        self._bank = 0

    def frame(self) -> np.ndarray | None:
        under = self.base.frame() if self.base is not None else None
        extra = self.voice.rx
        if extra is None:
            return under
        acc = self._acc
        if under is None:
            acc.fill(0)
        else:
            acc[:] = under
        np.add(acc, extra, out=acc)
        np.clip(acc, INT16_MIN, INT16_MAX, out=acc)
        self._bank ^= 1
        out = self._out[self._bank]
        np.copyto(out, acc, casting="unsafe")
        return out


# ---- who may supervise whom ---------------------------------------------------------------------

def load_supervisor_phones(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    return sorted((dict(d) for d in config.table(SUPERVISOR_PHONES).all()
                   if isinstance(d.get("username"), str) and isinstance(d.get("extension"), str)),
                  key=lambda d: d["username"])


def save_supervisor_phone(config: Any, username: str, extension: str) -> dict:
    """Let supervisor `username` supervise from the phone of `extension` (one phone each)."""
    from tinydb import Query

    from ..config import ConfigError
    if not model.USERNAME_RE.fullmatch(username or ""):
        raise ConfigError("Supervisor: a user name (letters, digits, . _ -).")
    if not extension.isdigit() or config.extension(extension) is None:
        raise ConfigError(f"Extension {extension[:10]!r} does not exist; choose the supervisor's own phone.")
    row = {"username": username, "extension": extension}
    config.table(SUPERVISOR_PHONES).upsert(row, Query().username == username)
    return row


def delete_supervisor_phone(config: Any, username: str) -> None:
    from tinydb import Query
    config.table(SUPERVISOR_PHONES).remove(Query().username == username)


def led_teams(config: Any, username: str) -> list[str] | None:
    """The teams `username` leads, or None (the admin, or a supervisor leading no team: every agent)."""
    if not username:
        return None
    return sorted(t["id"] for t in model.load_teams(config) if t.get("leader") == username) or None


# ---- the session --------------------------------------------------------------------------------

_SESSIONS: weakref.WeakKeyDictionary[Any, list[SupervisionSession]] = weakref.WeakKeyDictionary()


def sessions_of(engine: Engine) -> list[SupervisionSession]:
    return [s for s in _SESSIONS.get(engine, []) if not s.ended]


class SupervisionSession(ChannelHandler):
    """The supervisor's phone (`sup_ch`) on the queue call of `agent`."""

    def __init__(self, svc: Any, sup_ch: Channel, agent: Any, mode: str, supervisor: str) -> None:
        conn = agent.connection
        caller_ch = getattr(conn, "caller_ch", None)
        agent_ch = getattr(conn, "agent_ch", None)
        if conn is None or caller_ch is None or agent_ch is None or getattr(conn, "ended", False):
            raise SupervisionRefused("conflict", f"Agent {agent.username} is not on a queue call now; "
                                                 "try again when the wallboard shows them in a call.")
        if sup_ch is caller_ch or sup_ch is agent_ch:
            raise SupervisionRefused("bad_request", "A phone cannot supervise its own call.")
        if any(s.agent is agent for s in sessions_of(svc.engine)):
            raise SupervisionRefused("conflict", f"Agent {agent.username}'s call is already being supervised.")
        self.svc, self.engine = svc, svc.engine
        self.sup_ch, self.agent, self.conn = sup_ch, agent, conn
        self.caller_ch, self.agent_ch = caller_ch, agent_ch
        self.supervisor = supervisor
        self.mode = "listen"
        self.ended = False
        self.started_at = self.engine.clock.now()
        self._agent_voice: VoiceOver | None = None
        self._caller_voice: VoiceOver | None = None
        sup_ch.handler = self
        sup_ch.listen_dtmf = True
        sup_ch.source = ChannelMix([caller_ch, agent_ch])
        _SESSIONS.setdefault(self.engine, []).append(self)
        self.set_mode(mode)
        self._poll: Timer | None = self.engine.timers.after_ms(POLL_MS, self._check)

    # ---- modes
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise SupervisionRefused("bad_request", f"Unknown mode {mode[:20]!r}; use listen, whisper or barge.")
        self.mode = mode
        self._apply()
        self.sup_ch.set_state("in-call", peer=f"{mode} {self.agent.username}", detail=f"supervision {mode}")
        self.engine.control.publish(_event("supervision", self.describe()))

    def _apply(self) -> None:
        """Make the agent's and the caller's sources carry the supervisor's voice as the mode says
        (again after the call's own code replaced a source, e.g. hold during a transfer)."""
        want_agent = self.mode in ("whisper", "barge")
        want_caller = self.mode == "barge"
        self._agent_voice = self._wrap(self.agent_ch, self._agent_voice, want_agent)
        self._caller_voice = self._wrap(self.caller_ch, self._caller_voice, want_caller)

    def _wrap(self, ch: Channel, current: VoiceOver | None, want: bool) -> VoiceOver | None:
        if want:
            if current is not None and ch.source is current:
                return current
            wrapper = VoiceOver(ch.source, self.sup_ch)
            ch.source = wrapper
            return wrapper
        if current is not None and ch.source is current:
            ch.source = current.base
        return None

    # ---- life
    def _check(self) -> None:
        self._poll = None
        if self.ended:
            return
        if self.conn.ended or self.agent.connection is not self.conn:
            self._finish()
            if isinstance(self.sup_ch, FxsChannel) and self.sup_ch.off_hook:
                Parked(self.engine, self.sup_ch, "busy")
            return
        self._apply()
        self._poll = self.engine.timers.after_ms(POLL_MS, self._check)

    def _finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._agent_voice = self._wrap(self.agent_ch, self._agent_voice, False)
        self._caller_voice = self._wrap(self.caller_ch, self._caller_voice, False)
        if self.sup_ch.handler is self:
            self.sup_ch.handler = None
            self.sup_ch.silence()
        sessions = _SESSIONS.get(self.engine, [])
        if self in sessions:
            sessions.remove(self)
        self.engine.control.publish(_event("supervision", self.describe()))

    def stop(self) -> None:
        """End the session from the browser: the supervisor's phone hears busy tone."""
        self._finish()
        if isinstance(self.sup_ch, FxsChannel) and self.sup_ch.off_hook:
            Parked(self.engine, self.sup_ch, "busy")

    def on_hangup(self, ch: Channel) -> None:
        self._finish()

    def on_digit(self, ch: Channel, digit: str) -> None:
        mode = MODE_KEYS.get(digit)
        if mode is not None and not self.ended and mode != self.mode:
            self.set_mode(mode)

    def describe(self) -> dict:
        return {"agent": self.agent.username, "supervisor": self.supervisor, "mode": self.mode,
                "extension": getattr(self.sup_ch, "extension", None), "since": self.started_at,
                "active": not self.ended}


def _event(kind: str, payload: dict) -> Any:
    from ..control import StatusUpdate
    return StatusUpdate(kind, payload=payload)


# ---- starting one -------------------------------------------------------------------------------

def allowed_agents(svc: Any, supervisor: str) -> list[Any]:
    """The live agents `supervisor` may supervise (their team if they lead one, else all)."""
    teams = led_teams(svc.engine.config, supervisor)
    return [a for a in svc.agents.values() if teams is None or a.team in teams]


def start(svc: Any, sup_ch: Channel, agent_ref: str, mode: str, supervisor: str) -> SupervisionSession:
    """Supervise the agent named by user name, agent number or phone extension `agent_ref`."""
    ref = agent_ref.strip().rstrip("#")
    target = next((a for a in svc.agents.values()
                   if ref and ref in (a.username, a.number) or (a.extension and a.extension == ref
                                                                 and a.status != "logged_out")), None)
    if target is None:
        raise SupervisionRefused("not_found", f"No agent is known as {ref[:20]!r}; give the agent's "
                                              "user name, agent number or the extension they are logged in at.")
    if target not in allowed_agents(svc, supervisor):
        raise SupervisionRefused("forbidden", f"Agent {target.username} is not in your team; a team leader "
                                              "supervises only their own team.")
    return SupervisionSession(svc, sup_ch, target, mode, supervisor)


def _phone_app(mode: str):
    def app(engine: Engine, ch: Channel, arg: str = "", call: Any = None) -> None:
        from .service import service_of
        svc = service_of(engine)
        if not isinstance(ch, FxsChannel):
            return
        ext = getattr(ch, "extension", None)
        row = next((r for r in load_supervisor_phones(engine.config) if r["extension"] == ext), None)
        try:
            if svc is None:
                raise SupervisionRefused("unavailable", "The call center is not running.")
            if row is None:
                raise SupervisionRefused("forbidden", "This phone is not a supervisor's phone.")
            start(svc, ch, arg, mode, row["username"])
        except SupervisionRefused as exc:
            log.info("supervision from %s refused: %s", ext, exc)
            Parked(engine, ch, "congestion")
    return app


def register(engine: Engine) -> None:
    engine.register_app("supervise-listen", _phone_app("listen"), code=LISTEN_CODE, takes_arg=True)
    engine.register_app("supervise-whisper", _phone_app("whisper"), code=WHISPER_CODE, takes_arg=True)
    engine.register_app("supervise-barge", _phone_app("barge"), code=BARGE_CODE, takes_arg=True)


class SupervisorRing(ChannelHandler):
    """The browser asked to supervise while the supervisor's phone was on hook: ring it, and
    start the session when it is picked up (the agent's call may have ended by then)."""

    RING_MS = 30000

    def __init__(self, svc: Any, sup_ch: FxsChannel, agent: Any, mode: str, supervisor: str) -> None:
        self.svc, self.sup_ch, self.agent, self.mode, self.supervisor = svc, sup_ch, agent, mode, supervisor
        sup_ch.handler = self
        sup_ch.set_state("ringing", peer=f"{mode} {agent.username}", caller_id="supervision")
        sup_ch.start_ringing(None, None)
        self._timer = svc.engine.timers.after_ms(self.RING_MS, self._give_up)

    def _give_up(self) -> None:
        if self.sup_ch.handler is self:
            self.sup_ch.stop_ringing()
            self.sup_ch.handler = None
            self.sup_ch.set_state("idle")

    def on_answer(self, ch: Channel) -> None:
        self._timer.cancel()
        try:
            SupervisionSession(self.svc, ch, self.agent, self.mode, self.supervisor)
        except SupervisionRefused as exc:
            log.info("supervision after ringing refused: %s", exc)
            Parked(self.svc.engine, ch, "congestion")     # type: ignore[arg-type]

    def on_hangup(self, ch: Channel) -> None:
        self._timer.cancel()


def start_from_browser(svc: Any, supervisor: str, extension: str, agent_ref: str, mode: str) -> dict:
    """The web's listen/whisper/barge: join at once if the supervisor's phone is off hook and free,
    else ring it first. Same team rule as the phone."""
    engine = svc.engine
    ch = engine.channel_for_extension(extension)
    if ch is None:
        raise SupervisionRefused("bad_request", f"Extension {extension[:10]!r} has no phone; give the "
                                                "extension of the phone on your desk.")
    if mode not in MODES:
        raise SupervisionRefused("bad_request", f"Unknown mode {mode[:20]!r}; use listen, whisper or barge.")
    existing = next((s for s in sessions_of(engine) if s.sup_ch is ch), None)
    if existing is not None:
        if existing.agent.username != agent_ref and existing.agent.number != agent_ref:
            raise SupervisionRefused("conflict", "Your phone is already supervising another call; stop that first.")
        existing.set_mode(mode)
        return existing.describe()
    if not ch.usable:
        raise SupervisionRefused("unavailable", f"The phone of extension {extension} is out of order.")
    if ch.off_hook:
        from ..calls import DialSession
        if not isinstance(ch.handler, (DialSession, Parked)) and ch.handler is not None:
            raise SupervisionRefused("conflict", "Your phone is in a call; hang up first.")
        return start(svc, ch, agent_ref, mode, supervisor).describe()
    if ch.handler is not None or ch.ringing:
        raise SupervisionRefused("conflict", "Your phone is ringing or busy; try again in a moment.")
    ref = agent_ref.strip()
    target = next((a for a in svc.agents.values() if ref in (a.username, a.number)), None)
    if target is None:
        raise SupervisionRefused("not_found", f"No agent is known as {ref[:20]!r}.")
    if target not in allowed_agents(svc, supervisor):
        raise SupervisionRefused("forbidden", f"Agent {target.username} is not in your team; a team leader "
                                              "supervises only their own team.")
    if target.connection is None:
        raise SupervisionRefused("conflict", f"Agent {target.username} is not on a queue call now.")
    SupervisorRing(svc, ch, target, mode, supervisor)
    return {"agent": target.username, "supervisor": supervisor, "mode": mode, "extension": extension,
            "since": None, "active": False, "ringing": True}
