"""The call engine: channels per port, the dial plan, calls, and what each port event means.

Single-threaded: only the media thread calls in (events from `MediaLoop`,
commands queued through `EngineControl.call`). All timing is frame-clocked
(`self.timers`). Nothing here touches disk or network: config is read when it
changes (on the media thread, via the config listener → `control.call`), and
call records are queued to the records writer thread.

Extension points for apps (issue 5): `register_app(name, factory, code=...)`
adds a feature code whose digits hand the channel to `factory(engine, ch, arg)`,
which installs its own `ChannelHandler`; apps use the same primitives as calls
(`ch.play`, `ch.play_tone`, `PeerAudio`, `timers`, `ch.taps`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.port import Board, EventType, FxoPort, FxsPort, PortEvent
from dsp_ext.countries import CountryProfile, profile

from .apps.permissions import Decision, Origin, OutsidePolicy
from .calls import Call, DialSession, Parked
from .channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from .clock import FrameClock, FrameTimers
from .control import EngineControl, PortStatus, StatusUpdate
from .dialplan import DialPlan, FeatureCode, Route, inbound_targets
from .plan_config import load_plan

log = logging.getLogger("linebox.engine")

# factory(engine, channel, arg) from a feature code; factory(engine, line, arg, call) for an
# inbound line routed to "name:arg" (the line already answered, `call` holds its record).
AppFactory = Callable[..., Any]
UnansweredPolicy = Callable[["Engine", str, str], "str | None"]


@dataclass
class EngineSettings:
    """Timings and codes the engine reads from config `settings()` (all optional there)."""
    country: str = "US"
    access_code: str = "9"
    first_digit_ms: int = 15000      # dial tone with nothing dialled -> congestion
    interdigit_ms: int = 4000        # extension digits
    outside_digit_ms: int = 3000     # after the last digit of an outside number, dial it
    invalid_ms: int = 1500           # unknown number -> congestion after this pause
    ring_timeout_ms: int = 60000     # ringing an extension with no answer
    line_seize_ms: int = 1000        # line seized -> dial (exchange dial tone comes up)
    line_answer_ms: int = 0          # 0: outside calls count as answered once dialled (no supervision)
    cid_wait_ms: int = 7000          # inbound: wait this long for caller ID before ringing phones


class Engine:
    def __init__(self, board: Board, config: Any, records: Any, control: EngineControl | None = None,
                 start_epoch: float | None = None, country: str | None = None):
        self.board = board
        self.config = config
        self.records = records
        self.control = control or EngineControl()
        self.clock = FrameClock(time.time() if start_epoch is None else start_epoch)
        self.timers = FrameTimers(self.clock)
        self.channels: dict[str, Channel] = {}
        for port in board.ports:
            if isinstance(port, FxsPort):
                self.channels[port.name] = FxsChannel(self, port)
            elif isinstance(port, FxoPort):
                self.channels[port.name] = FxoChannel(self, port)
        self.fxs = [c for c in self.channels.values() if isinstance(c, FxsChannel)]
        self.fxo = [c for c in self.channels.values() if isinstance(c, FxoChannel)]
        self.calls: set[Call] = set()
        self.apps: dict[str, AppFactory] = {}
        self._feature_codes: list[FeatureCode] = []
        self._country_override = country
        self.settings = EngineSettings()
        self.plan = DialPlan()
        self.inbound_routes: dict[str, str] = {}
        self.profile: CountryProfile = profile("US")
        self.country = "US"
        self._call_seq = 0
        self._dirty = True
        self.supervision_listeners: list[Callable[[FxoChannel, tuple[str, ...]], None]] = []
        # Told to start (True) / stop (False) call-progress analysis on a line (answer supervision).
        self.progress_listeners: list[Callable[[FxoChannel, bool], None]] = []
        self.media_listeners: list[Callable[[], None]] = []   # told when country/profile changes
        # Apps that take the calls an extension cannot answer (voicemail, call forward...):
        # fn(engine, extension, reason "busy"|"unavailable") -> "app:arg" destination or None.
        self.unanswered_policies: list[tuple[int, UnansweredPolicy]] = []
        # Apps that change the dial tone a phone hears (message waiting: stutter dial tone):
        # fn(engine, channel) -> tone name or None.
        self.dial_tone_policies: list[Callable[[Engine, FxsChannel], str | None]] = []
        # Told when the service stops (media loop already stopped): apps finish their files.
        self.shutdown_listeners: list[Callable[[], None]] = []
        # Apps that take a call to an extension before it rings at all (do-not-disturb,
        # forward always): fn(engine, extension) -> "app:arg" destination or None.
        self.before_ring_policies: list[Callable[[Engine, str], str | None]] = []
        # Hook flash on a phone in a two-party call (transfer, three-way, call waiting):
        # fn(call, channel). Without one, a flash in a call does nothing.
        self.call_flash: Callable[[Call, Channel], None] | None = None
        # Told when a call is answered or ends: fn(call, "answered" | "ended") (recording policies).
        self.call_listeners: list[Callable[[Call, str], None]] = []
        # Keys pressed during a two-party call: fn(call, channel, digit) -> True when taken (the
        # recording code *1); a taken key goes no further. Only the digit event: its audio has
        # already gone to the far end by the time the receiver recognises it.
        self.in_call_digit_listeners: list[Callable[[Call, Channel, str], bool]] = []
        # An inbound call has started ringing phones: fn(call) (fax detection answers and listens)
        self.inbound_ringing_listeners: list[Callable[[Call], None]] = []
        # A tone heard on a line, before its handler: fn(ch, tone, kind, at) -> True when taken
        # (a calling fax's CNG on a watched inbound call, firmware/fax/detect.py)
        self.line_tone_listeners: list[Callable[[Channel, str, str, float], bool]] = []
        self.secret_digit_prefixes: list[str] = []    # feature codes followed by a secret (see shown_digits)
        self.outside_policy = OutsidePolicy(self)   # the one gate before any outside line (toll fraud)
        self.reload_config()
        from .apps import register_builtin
        register_builtin(self)
        if hasattr(config, "add_listener"):
            # The listener runs on the writer's thread: hop to the media thread.
            config.add_listener(lambda *_a, **_k: self.control.call(lambda eng: eng.reload_config()))

    # ---- configuration
    def reload_config(self) -> None:
        loaded = load_plan(self.config, self._feature_codes)
        s = loaded.settings
        if self._country_override:
            s.country = self._country_override
        try:
            self.profile = profile(s.country)
        except ValueError as exc:
            log.error("config: %s; keeping %s", exc, self.country)
            s.country = self.country
        self.country = self.profile.code
        self.settings = s
        self.plan = loaded.plan
        self.inbound_routes = loaded.inbound_routes
        self.outside_policy.reload()
        from .linecal.tone_plan import detector_tones, line_tone_plans
        self.line_plans = line_tone_plans(self.config, self.profile)    # calibration: per line, its exchange's tones
        self.line_tones = {port: detector_tones(plan, self.profile) for port, plan in self.line_plans.items()}
        from .linecal.gains import apply_line_gains
        apply_line_gains(self)                                          # installer-applied gains per line
        for ch in self.fxs:
            ext = self.plan.extension_on_port(ch.name)
            ch.extension = ext.number if ext else None
            ch.ext_name = ext.name if ext else ""
            ch.label = f"{ext.number} {ext.name}".strip() if ext else ch.name
        for i, ch in enumerate(self.fxo, 1):
            line = loaded.lines.get(ch.name)
            ch.enabled = line.enabled if line else False
            ch.line_number = line.number if line else ""
            name = (line.name if line and line.name else f"Line {i}")
            ch.label = f"{name} ({ch.line_number})" if ch.line_number else name
        for fn in self.media_listeners:
            fn()
        self.mark_dirty()

    def shown_digits(self, digits: str) -> str:
        """Dialled digits as the status page may show them: a secret after a feature code that
        takes one (an authorisation code after *0) is masked."""
        for prefix in self.secret_digit_prefixes:
            if digits.startswith(prefix) and len(digits) > len(prefix):
                return prefix + "•" * (len(digits) - len(prefix))
        return digits

    def register_app(self, name: str, factory: AppFactory, code: str | None = None,
                     takes_arg: bool = False) -> None:
        """Make `factory(engine, channel, arg)` reachable by dialling `code` (or by route name)."""
        self.apps[name] = factory
        self._feature_codes = [fc for fc in self._feature_codes if fc.app != name]
        if code:
            self._feature_codes.append(FeatureCode(code, name, takes_arg))
        self.plan.feature_codes = list(self._feature_codes)

    def add_unanswered_policy(self, fn: UnansweredPolicy, order: int = 100) -> None:
        """Lower `order` is asked first (call forward before voicemail, which uses 100)."""
        self.unanswered_policies.append((order, fn))
        self.unanswered_policies.sort(key=lambda p: p[0])

    def unanswered_destination(self, extension: str, reason: str) -> tuple[AppFactory, str] | None:
        """Where a call to `extension` goes when it is busy or not answered, if an app takes it."""
        for _order, fn in self.unanswered_policies:
            try:
                dest = fn(self, extension, reason)
            except Exception:           # a broken policy must not break plain calling
                log.exception("unanswered-call policy %r failed", fn)
                continue
            if dest:
                kind, _, arg = dest.partition(":")
                if kind in self.apps:
                    return self.apps[kind], arg
        return None

    def redirect_destination(self, extension: str) -> tuple[AppFactory, str] | None:
        """Where a call to `extension` goes instead of ringing it (DND, forward always), if anywhere."""
        for fn in self.before_ring_policies:
            try:
                dest = fn(self, extension)
            except Exception:           # a broken policy must not break plain calling
                log.exception("before-ring policy %r failed", fn)
                continue
            if dest:
                kind, _, arg = dest.partition(":")
                if kind in self.apps:
                    return self.apps[kind], arg
        return None

    def call_event(self, call: Call, event: str) -> None:
        for fn in self.call_listeners:
            try:
                fn(call, event)
            except Exception:           # a broken listener must not break plain calling
                log.exception("call listener %r failed", fn)

    def in_call_digit(self, call: Call, ch: Channel, digit: str) -> bool:
        for fn in self.in_call_digit_listeners:
            try:
                if fn(call, ch, digit):
                    return True
            except Exception:
                log.exception("in-call digit listener %r failed", fn)
        return False

    def dial_tone_for(self, ch: FxsChannel) -> str:
        for fn in self.dial_tone_policies:
            try:
                tone = fn(self, ch)
            except Exception:
                log.exception("dial-tone policy %r failed", fn)
                continue
            if tone:
                return tone
        return "dial"

    # ---- status
    def mark_dirty(self) -> None:
        self._dirty = True

    def port_status(self) -> list[PortStatus]:
        out = []
        for ch in self.channels.values():
            state = "fault" if not ch.usable else ch.state
            detail = ch.port.fault if not ch.usable else ch.detail
            if isinstance(ch, FxoChannel) and state == "idle":
                if ch.down:
                    state = "down"
                elif ch.in_use:
                    state = "in-use"
                elif not ch.enabled:
                    state = "disabled"
            out.append(PortStatus(port=ch.name, kind=str(ch.kind), label=ch.label, state=state,
                                  peer=ch.peer, since=ch.since, caller_id=ch.caller_id, detail=detail))
        return out

    def publish_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.control.publish(StatusUpdate("ports", ports=self.port_status()))

    # ---- records (queued to the writer thread by CallRecords)
    def new_call_id(self) -> str:
        self._call_seq += 1
        return f"{int(self.clock.start_epoch * 1000):x}-{self._call_seq}"

    def records_start(self, call: Call, line: str | None) -> str:
        call_id = self.new_call_id()
        self.records.call_started(call_id, start=self.clock.now(), src=call.src, dst=call.dst,
                                  direction=call.direction, line=line,
                                  caller_id_number=call.cid_number, caller_id_name=call.cid_name)
        self.publish_call(call_id, "started", src=call.src, dst=call.dst, direction=call.direction, line=line)
        return call_id

    def publish_call(self, call_id: str, event: str, **info: Any) -> None:
        """Live call events for the web UI ("started" | "answered" | "ended")."""
        self.control.publish(StatusUpdate("call", payload={"call_id": call_id, "event": event,
                                                            "at": self.clock.now(), **info}))

    def _record_failed(self, ch: Channel, dst: str, disposition: str, direction: str = "internal",
                       line: str | None = None) -> None:
        """An attempt that never got as far as ringing anything (busy, no line, invalid number)."""
        call_id = self.new_call_id()
        now = self.clock.now()
        src = getattr(ch, "extension", None) or ch.name
        self.records.call_started(call_id, start=now, src=src, dst=dst, direction=direction, line=line,
                                  caller_id_number=None, caller_id_name=None)
        self.records.call_ended(call_id, at=now, disposition=disposition)
        self.publish_call(call_id, "ended", src=src, dst=dst, direction=direction, disposition=disposition)

    def shutdown(self) -> None:
        """Service stopping (media loop already stopped): close the records of calls still up."""
        for fn in self.shutdown_listeners:
            try:
                fn()
            except Exception:
                log.exception("shutdown listener %r failed", fn)
        for call in list(self.calls):
            call.end("answered" if call.answered else "failed")

    # ---- events from the media loop
    def on_port_event(self, ev: PortEvent) -> None:
        ch = self.channels.get(ev.port)
        if ch is None:
            return
        t = ev.type
        if t is EventType.FAULT:
            self._hangup(ch)
            ch.set_state("idle", detail=str(ev.data))
            return
        if t is EventType.RECOVERED:
            self.mark_dirty()
            return
        if isinstance(ch, FxsChannel):
            self._fxs_event(ch, t, ev.data)
        elif isinstance(ch, FxoChannel):
            self._fxo_event(ch, t)

    def _fxs_event(self, ch: FxsChannel, t: EventType, data: object) -> None:
        if t is EventType.OFF_HOOK:
            if ch.ringing or (ch.handler is not None and ch.state == "ringing"):
                ch.stop_ringing()
                if ch.handler is not None:
                    ch.handler.on_answer(ch)
            elif ch.handler is None:
                if ch.usable:
                    DialSession(self, ch)
        elif t is EventType.ON_HOOK:
            self._hangup(ch)
        elif t is EventType.FLASH:
            if ch.handler is not None:
                ch.handler.on_flash(ch)
        elif t is EventType.PULSE_DIGIT:
            if ch.handler is not None:
                ch.handler.on_digit(ch, str(data))

    def _hangup(self, ch: Channel) -> None:
        handler = ch.handler
        ch.handler = None
        if isinstance(ch, FxsChannel):
            ch.stop_ringing()
        elif isinstance(ch, FxoChannel):
            ch.release()
        ch.silence()
        ch.listen_dtmf = False
        ch.set_state("idle")
        if handler is not None:
            handler.on_hangup(ch)

    def _fxo_event(self, ch: FxoChannel, t: EventType) -> None:
        if t is EventType.RING_ON:
            ch.ring_seen_frame = self.clock.frame
            if ch.handler is None and ch.state == "idle":
                self._inbound(ch)
            if ch.handler is not None:
                ch.handler.on_line_event(ch, "ring")
        elif t is EventType.LOOP_DROP:
            if ch.handler is not None:
                ch.handler.on_line_event(ch, "loop_drop")
        elif t is EventType.POLARITY_REVERSAL:
            if ch.handler is not None:
                ch.handler.on_line_event(ch, "polarity_reversal")
        elif t in (EventType.LINE_IN_USE, EventType.LINE_FREE):
            ch.in_use = t is EventType.LINE_IN_USE
            self.mark_dirty()
        elif t in (EventType.LINE_DOWN, EventType.LINE_UP):
            ch.down = t is EventType.LINE_DOWN
            if ch.down and ch.handler is not None:
                ch.handler.on_line_event(ch, "loop_drop")
            self.mark_dirty()

    def on_digit(self, ch: Channel, digit: str) -> None:
        """A DTMF digit heard on `ch` (the receiver runs on every off-hook port; the handler
        says with `listen_dtmf` whether digits mean anything to it right now)."""
        if ch.handler is not None and ch.listen_dtmf:
            ch.handler.on_digit(ch, digit)

    def on_tone(self, ch: Channel, tone: str, kind: str = "start", at: float | None = None) -> None:
        """A call-progress tone began ("start") or stopped ("end") on a line at engine time `at`."""
        at = self.clock.now() if at is None else at
        for fn in self.line_tone_listeners:
            if fn(ch, tone, kind, at):
                return
        if ch.handler is not None:
            ch.handler.on_tone(ch, tone, kind, at)

    def on_caller_id(self, ch: FxoChannel, number: str | None, name: str | None) -> None:
        ch.cid_number, ch.cid_name, ch.cid_frame = number, name, self.clock.frame
        handler = ch.handler
        if isinstance(handler, Call):
            self.inbound_caller_id(handler, number, name)
        elif handler is not None and hasattr(handler, "on_caller_id"):
            handler.on_caller_id(ch, number, name)

    def tone_plan(self, port: str) -> CountryProfile:
        """The call-progress tones of line `port`: what its calibration learned, else the country's."""
        return self.line_plans.get(port, self.profile)

    def start_supervision(self, line: FxoChannel, tones: tuple[str, ...] = ("busy", "congestion")) -> None:
        """Have the media loop (re)start call-progress tone detection on `line`: far-end
        disconnect (busy/congestion) and, on outside calls we dial, ringback for answer."""
        line.supervise = True
        for fn in self.supervision_listeners:
            fn(line, tones)

    def start_progress(self, line: FxoChannel) -> None:
        """Have the media loop analyse `line`'s audio for answer supervision (dsp_ext.progress)."""
        for fn in self.progress_listeners:
            fn(line, True)

    def stop_progress(self, line: FxoChannel) -> None:
        for fn in self.progress_listeners:
            fn(line, False)

    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        """A call-progress event on a line (ringback_on/off, voice_on/off, sit) at engine time `at`."""
        handler = ch.handler
        if handler is not None:
            handler.on_progress(ch, kind, at)

    # ---- placing calls
    def channel_for_extension(self, number: str) -> FxsChannel | None:
        ext = self.plan.extensions.get(number)
        if ext is None:
            return None
        ch = self.channels.get(ext.port)
        return ch if isinstance(ch, FxsChannel) else None

    def place_call(self, ch: FxsChannel, route: Route, digits: str) -> None:
        src = ch.extension or ch.name
        if route.kind == "extension":
            target = self.channel_for_extension(route.target)
            redirect = self.redirect_destination(route.target) if target is not ch else None
            if redirect is not None:
                redirect[0](self, ch, redirect[1])
                return
            if target is None or not target.usable:
                self._record_failed(ch, route.target, "failed")
                Parked(self, ch, "congestion")
            elif target is ch or target.handler is not None or target.off_hook or target.state != "idle":
                divert = None if target is ch else self.unanswered_destination(route.target, "busy")
                if divert is not None:
                    divert[0](self, ch, divert[1])
                    return
                self._record_failed(ch, route.target, "busy")
                Parked(self, ch, "busy")
            else:
                call = Call(self, ch, "internal", src, route.target,
                            cid_number=src, cid_name=ch.ext_name or None)
                call.ring_extension(target)
        elif route.kind == "outside":
            self.dial_outside(ch, route.target)
        elif route.kind == "app" and route.target in self.apps:
            self.apps[route.target](self, ch, route.arg)
        else:
            self._record_failed(ch, digits, "failed")
            Parked(self, ch, "congestion")

    # ---- outside numbers: every path (dial plan, transfer, forward, IVR, call-back, DISA) asks here
    def authorise_outside(self, origin: Origin, number: str) -> Decision:
        """May `origin` reach outside number `number`? (class of service, patterns, PIN override,
        call-rate limit, outside-caller rules). `Call.dial_line` asks again before seizing a line."""
        return self.outside_policy.authorise(origin, number)

    def dial_outside(self, ch: Channel, number: str, origin: Origin | None = None) -> Call | None:
        """Call outside number `number` from `ch` on a free line, if permitted (else intercept + a
        "denied" record). `origin` defaults to `ch` itself dialling (`Origin(via="transfer", ...)`)."""
        return self.outside_policy.dial(ch, number, origin)

    def pick_line(self) -> FxoChannel | None:
        """First free, enabled, working line in configured order."""
        for line in self.fxo:
            if line.available:
                return line
        return None

    # ---- inbound on a line
    def _inbound(self, line: FxoChannel) -> None:
        if not line.enabled or not line.usable:
            return
        fresh = self.clock.frame - line.cid_frame < 1000      # caller ID sent before the first ring
        if not fresh:
            line.forget_caller_id()
        dest = self.inbound_routes.get(line.name, "group:all")
        call = Call(self, line, "inbound", line.cid_number or "", dest, line=line.name,
                    cid_number=line.cid_number, cid_name=line.cid_name)
        line.set_state("ringing", caller_id=line.cid_number, detail=dest)
        kind, _, arg = dest.partition(":")
        call.dst_reachable = bool(arg and kind in self.apps) or bool(self._inbound_targets(call))
        call.waiting_for_cid = True
        if fresh or self.profile.cid_timing == "before_ring":
            self.ring_inbound(call)
        else:
            # Caller ID arrives after the first ring: ring the phones once it is in
            # (or at the second ring / a timeout) so they can display it.
            call.after(self.settings.cid_wait_ms, lambda: self.ring_inbound(call))

    def _inbound_targets(self, call: Call) -> list[FxsChannel]:
        out = []
        for ext in inbound_targets(call.dst, self.plan):
            ch = self.channels.get(ext.port)
            if isinstance(ch, FxsChannel) and ch.usable and ch.handler is None and not ch.off_hook:
                out.append(ch)
        return out

    def ring_inbound(self, call: Call) -> None:
        if call.ended or not call.waiting_for_cid:
            return
        call.waiting_for_cid = False
        kind, _, arg = call.dst.partition(":")
        if arg and kind in self.apps:
            call.hand_to_app(self.apps[kind], arg)
            return
        if call.dst in self.plan.extensions:
            redirect = self.redirect_destination(call.dst)
            if redirect is not None:
                call.hand_to_app(*redirect)
                return
        targets = self._inbound_targets(call)
        if not targets and call.dst in self.plan.extensions:
            divert = self.unanswered_destination(call.dst, "busy")
            if divert is not None:
                call.hand_to_app(*divert)
                return
        call.ring_targets(targets)
        for fn in self.inbound_ringing_listeners:
            fn(call)

    def inbound_caller_id(self, call: Call, number: str | None, name: str | None) -> None:
        if call.ended or call.direction != "inbound":
            return
        call.cid_number, call.cid_name = number, name
        if number and not call.src:
            call.src = number
        line = call.a
        line.set_state(line.state, peer=line.peer, caller_id=number, detail=line.detail)
        update = getattr(self.records, "update", None)
        if update is not None:
            update(call.id, src=call.src, caller_id_number=number, caller_id_name=name)
        self.ring_inbound(call)

    def ring_gone_ms(self) -> int:
        """No ring for this long after the last one: the caller has hung up."""
        return sum(self.profile.ring_cadence_ms) + 2500

    # ---- caller-ID signal towards our phones
    def caller_id_fsk(self, number: str | None, name: str | None) -> np.ndarray | None:
        from dsp_ext.callerid import encode_caller_id
        std = self.profile.cid_standard
        when = time.strftime("%m%d%H%M", time.localtime(self.clock.now()))
        number = _clean_number(number)
        name = None if std == "dtmf" else _clean_name(name)
        try:
            return encode_caller_id(std, "dtmf" if std == "dtmf" else "mdmf", number or None, name or None,
                                    when, None if number else "unavailable")
        except ValueError as exc:
            log.warning("caller ID not sent: %s", exc)
            return None


def _clean_number(number: str | None) -> str:
    """Caller ID is untrusted: keep what a phone display can show, bounded."""
    return "".join(c for c in (number or "") if c in "0123456789*#+")[:20]


def _clean_name(name: str | None) -> str:
    return "".join(c for c in (name or "") if 32 <= ord(c) < 127)[:15]


__all__ = ["Engine", "EngineSettings", "ChannelHandler", "Channel", "FxsChannel", "FxoChannel"]
