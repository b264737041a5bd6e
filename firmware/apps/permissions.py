"""Outbound permissions (toll-fraud defence): the one gate every outside number passes.

`OutsidePolicy.authorise(origin, number)` (the engine's `authorise_outside`) decides
from the caller's class of service, the class's allowed/denied patterns, a PIN
override in force, the call-rate limit and who is asking (an extension, or an
outside caller being passed on by a transfer, forward, IVR or voicemail call-back).
`Call.dial_line` calls `admit()` before it seizes a line, so a feature that
dials an outside number the normal way (a `Call` on a line) cannot skip the
check; `engine.dial_outside(ch, number, origin)` is the convenient way to
place such a call. Features that join an outside caller to an outside leg that
is already up (a transfer completing) must ask `authorise_outside` with
`Origin(..., outside_party=True)` first.

Also here: the `*0<code>#` authorisation-code override with lock-out, DISA, the
maximum call duration (warning tone, then the call is cleared) and the
intercept a refused caller hears.
"""
from __future__ import annotations

import hmac
import logging
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.tones import tone

from ..calls import Call, DialSession, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from ..sources import PeerAudio
from . import AppSession
from .permissions_patterns import MAX_NUMBER_DIGITS, CountryNumbers, country_numbers, first_match
from .permissions_store import (
    CLASSES,
    DEFAULTS,
    TRUNK_VIAS,
    code_hash,
    disa_destination_problem,
    effective_classes,
    load,
)

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.permissions")

AUTH_CODE_FEATURE = "*0"
GRANT_S = 60.0                  # an accepted code is good for the next outside call dialled within this
HOUR_S = 3600.0
GLOBAL_LOCK_FACTOR = 3          # this many times pin_attempts wrong codes from anywhere lock every source
# Special information tone (ITU-T E.180 / ANSI T1.401 "intercept"): three rising tones, then congestion.
SIT_TONES = ((913.8, 274), (1370.6, 274), (1776.7, 380))
WARNING_FREQ = 1400.0           # end-of-call warning beeps, unlike any call-progress tone
WARNING_BEEPS = 3


@dataclass(frozen=True)
class Origin:
    """Who wants an outside line, and by which path."""
    extension: str | None = None   # whose class of service applies (None: nobody's)
    channel: str | None = None     # the port asking (an authorisation code is held per port)
    via: str = "dial"              # dial | transfer | forward | ivr | voicemail | disa | line
    outside_party: bool = False    # an outside caller would end up on the outside line


@dataclass(frozen=True)
class Decision:
    allowed: bool
    number: str
    reason: str                    # one line for the owner (call history); no secrets in it
    category: str = "unknown"      # emergency | local | national | international | premium | unknown
    cos: str = "internal"          # the class of service applied
    rate_key: str | None = None    # whose call-rate budget the call uses (None: not counted)
    max_duration_s: int = 0        # 0: no limit
    grant_channel: str | None = None   # an authorisation code on this port was used
    origin: Origin | None = None   # who asked (the gate asks again for them when the line is seized)
    retry_at: float | None = None  # a passing refusal (call-rate limit): asking again from then may succeed


@dataclass
class Grant:
    cos: str
    label: str
    until: float


def _sit() -> np.ndarray:
    gap = np.zeros(240, dtype=np.int16)
    return np.concatenate([np.concatenate([tone([f], ms, -13), gap]) for f, ms in SIT_TONES])


def _warning() -> np.ndarray:
    beep = np.concatenate([tone([WARNING_FREQ], 200, -13), np.zeros(1600, dtype=np.int16)])
    return np.concatenate([beep] * WARNING_BEEPS)


def _rank(cos: str) -> int:
    return CLASSES.index(cos) if cos in CLASSES else 0


class OutsidePolicy:
    """The permissions in force (rebuilt on each config reload) and the counters behind them."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.perms: dict[str, Any] = dict(DEFAULTS)
        self.numbers: CountryNumbers = country_numbers("US")
        self.classes: dict[str, dict[str, list[str]]] = effective_classes(self.perms, "US")
        self._calls: dict[str, deque[float]] = {}       # rate key -> start times in the last hour
        self._failures: dict[str, deque[float]] = {}    # source -> wrong-code times
        self._locked_until: dict[str, float] = {}       # source ("*" = everyone) -> end of lock-out
        self._grants: dict[str, Grant] = {}             # port -> code accepted on it
        engine.register_app("auth-code", self._auth_code_app, code=AUTH_CODE_FEATURE, takes_arg=True)
        engine.secret_digit_prefixes.append(AUTH_CODE_FEATURE)    # never shown on the status page
        engine.register_app("disa", Disa)
        try:
            from ..config import DESTINATION_KINDS
        except ImportError:
            return
        DESTINATION_KINDS.setdefault("disa", disa_destination_problem)

    def reload(self) -> None:
        self.perms = load(self.engine.config)
        country = self.engine.country
        self.numbers = country_numbers(country)
        self.classes = effective_classes(self.perms, country)

    # ---- the decision
    def origin_of(self, ch: Channel, via: str = "dial") -> Origin:
        if isinstance(ch, FxsChannel):
            return Origin(extension=ch.extension, channel=ch.name, via=via)
        return Origin(channel=ch.name, via="line" if via == "dial" else via, outside_party=True)

    def class_of(self, extension: str | None) -> str:
        if extension is None:
            return "internal"
        entry = self.perms["extensions"].get(extension)
        cos = entry.get("class") if isinstance(entry, dict) else None
        return cos if cos in CLASSES else self.perms["default_class"]

    def _limit(self, extension: str | None, key: str) -> int:
        entry = self.perms["extensions"].get(extension or "")
        value = entry.get(key) if isinstance(entry, dict) else None
        return value if isinstance(value, int) else int(self.perms[key])

    def _grant(self, channel: str | None) -> Grant | None:
        g = self._grants.get(channel or "")
        if g is not None and g.until < self.engine.clock.now():
            del self._grants[channel or ""]
            return None
        return g

    def authorise(self, origin: Origin, number: str) -> Decision:
        return replace(self._decide(origin, str(number)), origin=origin)

    def _decide(self, origin: Origin, number: str) -> Decision:
        if not number.isdigit() or len(number) > MAX_NUMBER_DIGITS:
            return Decision(False, number[:MAX_NUMBER_DIGITS], "not a number that can be dialled")
        if origin.outside_party and not self.perms["trunk_to_trunk"].get(origin.via, False):
            how = f" by {origin.via} (not allowed by the owner)" if origin.via in TRUNK_VIAS else ""
            return Decision(False, number, f"an outside caller may not be connected to an outside line{how}")
        category = self.numbers.category(number)
        disa = origin.via == "disa"
        if disa and not self.perms["disa"]["enabled"]:
            return Decision(False, number, "DISA is disabled", category)
        if category == "emergency" and not origin.outside_party and not disa:
            return Decision(True, number, "emergency number", category, self.class_of(origin.extension))
        grant = self._grant(origin.channel)
        cos = self.class_of(origin.extension)
        if disa:
            cos = "internal"       # only an authorisation code opens DISA, and never beyond its own class
            if grant is not None:
                cos = CLASSES[min(_rank(grant.cos), _rank(self.perms["disa"]["class"]))]
        elif grant is not None and _rank(grant.cos) > _rank(cos):
            cos = grant.cos
        via_code = f" (authorisation code {grant.label})" if grant is not None else ""
        patterns = self.classes.get(cos, {"allow": [], "deny": []})
        denied_by = first_match(patterns["deny"], number)
        if denied_by is not None:
            return Decision(False, number, f"{category} number denied for class {cos} "
                                           f"(pattern {denied_by}){via_code}", category, cos)
        if first_match(patterns["allow"], number) is None:
            return Decision(False, number, f"{category} number not allowed for class {cos}{via_code}",
                            category, cos)
        rate_key = "disa" if disa else (origin.extension or origin.channel or "?")
        limit = self._limit(None if disa else origin.extension, "calls_per_hour")
        recent = self._recent_calls(rate_key)
        if limit and len(recent) >= limit:
            return Decision(False, number, f"call-rate limit: {limit} outside calls per hour reached",
                            category, cos, retry_at=recent[-limit] + HOUR_S)
        max_s = 60 * self._limit(None if disa else origin.extension, "max_minutes")
        return Decision(True, number, f"allowed for class {cos}{via_code}", category, cos, rate_key, max_s,
                        origin.channel if grant is not None else None)

    def _recent_calls(self, key: str) -> deque[float]:
        q = self._calls.setdefault(key, deque())
        now = self.engine.clock.now()
        while q and q[0] <= now - HOUR_S:
            q.popleft()
        return q

    # ---- the gate in Call.dial_line
    def admit(self, call: Call, line: FxoChannel, number: str) -> bool:
        """Before `call` seizes `line` to dial `number`: check, count the call, arm the duration
        limit. A refused call ends as "denied"."""
        earlier: Decision | None = getattr(call, "outside_decision", None)
        # An earlier decision only says who is asking; the answer is always worked out afresh here,
        # at the moment the line is seized (limits, codes and config may have changed meanwhile).
        origin = earlier.origin if earlier is not None and earlier.origin is not None else self.origin_of(call.a)
        decision = self.authorise(origin, number)
        call.outside_decision = decision
        if not decision.allowed:
            self._refuse_call(call, decision)
            return False
        self.commit(call, line, decision)
        return True

    def commit(self, call: Call, line: FxoChannel, decision: Decision) -> None:
        """An allowed outside leg starts: count it, use up the code, arm the duration limit.
        (`admit` does this; a transfer that joins existing legs after `authorise` calls it.)"""
        if decision.rate_key is not None:
            self._recent_calls(decision.rate_key).append(self.engine.clock.now())
        if decision.grant_channel is not None:
            self._grants.pop(decision.grant_channel, None)      # one call per code entry
        if decision.max_duration_s:
            DurationLimit(self, call, line, decision.max_duration_s)

    def _refuse_call(self, call: Call, decision: Decision) -> None:
        # %r: src may be an outside caller's caller ID (untrusted: quotes, escapes, no raw newlines)
        log.info("outside call %r -> %r denied: %s", call.src[:40], decision.number, decision.reason)
        self.engine.records.set_reason(call.id, decision.reason)
        a = call.a
        call.end("denied")
        Refused(self.engine, a)

    def dial(self, ch: Channel, number: str, origin: Origin | None = None) -> Call | None:
        """Place an outside call from `ch` (a phone, or a line for DISA): check, pick a line, dial."""
        eng = self.engine
        origin = origin or self.origin_of(ch)
        decision = self.authorise(origin, number)
        src = getattr(ch, "extension", None) or ch.name
        if not decision.allowed:
            self.record_denied(ch, decision.number, decision.reason)
            Refused(eng, ch)
            return None
        line = eng.pick_line()
        if line is None:
            eng._record_failed(ch, number, "failed", direction="outbound")
            if isinstance(ch, FxsChannel):
                Parked(eng, ch, "congestion")
            else:
                Refused(eng, ch)
            return None
        ext_name = getattr(ch, "ext_name", "") or None
        call = Call(eng, ch, "outbound", src, number, line=line.name,
                    cid_number=src if isinstance(ch, FxsChannel) else None, cid_name=ext_name)
        call.outside_decision = decision
        call.dial_line(line, number)
        return call

    def record_denied(self, ch: Channel, dst: str, reason: str) -> None:
        eng = self.engine
        call_id = eng.new_call_id()
        now = eng.clock.now()
        src = getattr(ch, "extension", None) or ch.name
        log.info("outside call %r -> %r denied: %s", src, dst, reason)
        eng.records.call_started(call_id, start=now, src=src, dst=dst, direction="outbound", line=None,
                                 caller_id_number=None, caller_id_name=None)
        eng.records.set_reason(call_id, reason)
        eng.records.call_ended(call_id, at=now, disposition="denied")
        eng.publish_call(call_id, "ended", src=src, dst=dst, direction="outbound", disposition="denied",
                         reason=reason)

    # ---- authorisation codes
    def locked(self, source: str) -> bool:
        now = self.engine.clock.now()
        return any(self._locked_until.get(k, 0.0) > now for k in (source, "*"))

    def check_code(self, source: str, code: str) -> dict | None:
        """The code's entry if `code` is right and `source` is not locked out; counts failures."""
        if self.locked(source):
            return None
        for entry in self.perms["auth_codes"]:
            try:
                if hmac.compare_digest(code_hash(entry["salt"], code), entry["hash"]):
                    self._failures.pop(source, None)
                    return entry
            except (KeyError, TypeError, ValueError):
                continue
        self._failed(source)
        return None

    def _failed(self, source: str) -> None:
        now = self.engine.clock.now()
        window = 60.0 * self.perms["lockout_minutes"]
        attempts = int(self.perms["pin_attempts"])
        for key, limit in ((source, attempts), ("*", attempts * GLOBAL_LOCK_FACTOR)):
            q = self._failures.setdefault(key, deque())
            q.append(now)
            while q and q[0] <= now - window:
                q.popleft()
            if len(q) >= limit:
                self._locked_until[key] = now + window
                q.clear()
                log.warning("authorisation codes locked for %s for %d minutes after %d wrong codes",
                            "everyone" if key == "*" else key, self.perms["lockout_minutes"], limit)

    def grant(self, channel: str, cos: str, label: str) -> None:
        self._grants[channel] = Grant(cos, label, self.engine.clock.now() + GRANT_S)

    def revoke(self, channel: str) -> None:
        self._grants.pop(channel, None)

    def _auth_code_app(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
        """*0<code># on a phone: the next outside call from it uses the code's class."""
        if not isinstance(ch, FxsChannel):       # a (hand-edited) inbound route to it: never for a line
            if call is not None:
                engine.records.set_reason(call.id, "authorisation codes are for extensions only")
                call.end("denied")
            Refused(engine, ch)
            return
        source = ch.extension or ch.name
        if self.locked(source):
            self.record_denied(ch, AUTH_CODE_FEATURE, "authorisation codes locked out after wrong codes")
            Refused(engine, ch)
            return
        entry = self.check_code(source, arg)
        if entry is None:
            why = ("wrong authorisation code; codes now locked out" if self.locked(source)
                   else "wrong authorisation code")
            self.record_denied(ch, AUTH_CODE_FEATURE, why)
            Refused(engine, ch)
            return
        self.grant(ch.name, str(entry.get("class", "internal")), str(entry.get("label", "")))
        AuthorisedDialSession(engine, ch)


class AuthorisedDialSession(DialSession):
    """Dial tone again after an accepted code; hanging up before dialling out drops the code."""

    def on_hangup(self, ch: Channel) -> None:
        super().on_hangup(ch)
        self.engine.outside_policy.revoke(ch.name)


class Refused(ChannelHandler):
    """What a refused caller hears: the intercept tones, then congestion (a line is let go)."""

    def __init__(self, engine: Engine, ch: Channel):
        self.engine, self.ch = engine, ch
        ch.handler = self
        ch.listen_dtmf = False
        ch.set_state("congestion", detail="not permitted")
        ch.play(_sit(), self._after)

    def _after(self) -> None:
        ch = self.ch
        if ch.handler is not self:
            return
        if isinstance(ch, FxsChannel):
            Parked(self.engine, ch, "congestion")
        else:
            ch.handler = None
            if isinstance(ch, FxoChannel):
                ch.release()
            ch.silence()
            ch.set_state("idle")

    def on_flash(self, ch: Channel) -> None:
        if isinstance(ch, FxsChannel):
            DialSession(self.engine, ch)


class DurationLimit:
    """Longest outside call: warning beeps to both sides `warning_s` before, then the call is cleared."""

    def __init__(self, policy: OutsidePolicy, call: Call, line: FxoChannel, max_s: int):
        self.policy, self.call, self.line = policy, call, line
        timers = policy.engine.timers
        warn_s = int(policy.perms["warning_s"])
        self._timers: list[Timer] = [timers.after_ms(int(max_s * 1000), self._cut)]
        if max_s > warn_s:
            self._timers.append(timers.after_ms(int((max_s - warn_s) * 1000), self._warn))

    def _live(self) -> bool:
        return not self.call.ended and self.line.handler is self.call

    def _warn(self) -> None:
        if not self._live():
            return
        beeps = _warning()
        for ch in (self.call.a, self.line):
            peer = self.call.peer_of(ch)
            if peer is not None and ch.handler is self.call:
                ch.play(beeps, lambda ch=ch, peer=peer: self._resume(ch, peer))

    def _resume(self, ch: Channel, peer: Channel) -> None:
        if self._live() and ch.handler is self.call:
            ch.source = PeerAudio(peer)

    def _cut(self) -> None:
        if not self._live():
            return
        minutes = int(self.policy.perms["max_minutes"])
        reason = "maximum call duration reached"
        log.info("outside call %s cut: %s (%d min)", self.call.id, reason, minutes)
        self.policy.engine.records.set_reason(self.call.id, reason)
        self.call.far_end_gone(self.line, reason)


class Disa(AppSession):
    """Direct inward system access: an outside caller enters an authorisation code and `#`,
    gets dial tone, and dials an outside number ended by `#` (or a pause). Disabled by default."""

    name = "disa"
    code_timeout_ms = 10000
    number_timeout_ms = 4000

    def start(self) -> None:
        self.policy: OutsidePolicy = self.engine.outside_policy
        self.digits = ""
        self.stage = "code"
        self._timer: Timer | None = None
        if not self.policy.perms["disa"]["enabled"] or not isinstance(self.ch, FxoChannel):
            self._refuse("DISA is disabled")
            return
        self.source = f"disa:{self.ch.name}"
        self.ch.play_tone("dial")
        self._arm(self.code_timeout_ms)

    def _arm(self, ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.after(ms, self._timeout)

    def _refuse(self, reason: str) -> None:
        self.engine.records.set_reason(self.call.id, reason)
        self.finish()
        if not self.ch.usable:
            return
        Refused(self.engine, self.ch)

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.finished:
            return
        if not self.digits:
            ch.silence()
        if digit == "#":
            self._entered()
            return
        if not digit.isdigit() or len(self.digits) >= MAX_NUMBER_DIGITS:
            self._refuse("DISA: unexpected digits")
            return
        self.digits += digit
        self._arm(self.code_timeout_ms if self.stage == "code" else self.number_timeout_ms)

    def _timeout(self) -> None:
        if self.finished:
            return
        if self.stage == "number" and self.digits:
            self._entered()
        else:
            self._refuse("DISA: nothing dialled")

    def _entered(self) -> None:
        digits, self.digits = self.digits, ""
        if self.stage == "code":
            if self.policy.locked(self.source):
                self._refuse("DISA: authorisation codes locked out")
                return
            entry = self.policy.check_code(self.source, digits)
            if entry is None:
                self._refuse("DISA: wrong authorisation code")
                return
            self.policy.grant(self.ch.name, str(entry.get("class", "internal")), str(entry.get("label", "")))
            self.stage = "number"
            self.ch.play_tone("dial")
            self._arm(self.number_timeout_ms * 3)
            return
        line = self.ch
        assert isinstance(line, FxoChannel)
        self.finish()                   # the inbound record ends; the outside call gets its own
        self.policy.dial(line, digits, Origin(channel=line.name, via="disa"))
        self.policy.revoke(line.name)

    def on_hangup(self, ch: Channel) -> None:
        self.policy.revoke(ch.name)
        super().on_hangup(ch)

    def leave(self) -> None:
        self.policy.revoke(self.ch.name)
        super().leave()
