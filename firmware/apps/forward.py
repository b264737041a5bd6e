"""Per-extension phone preferences and what they do to calls: do-not-disturb, call forward
(always / busy / no answer), call waiting on or off, pickup group.

The preferences live in the config table `phone_prefs` (one document per extension), so the
owner's web page and the phone's feature codes change the same thing. A code dialled on a
phone changes the in-memory copy at once and is written by a background thread (the media
path never waits for the disk).

Forwards to an outside number go through the one outside-line gate
(`engine.authorise_outside`, then `Call.dial_line`), with the forwarding extension's class of
service and `via="forward"`; an outside caller is forwarded to an outside line only if the
owner allowed trunk-to-trunk forwarding.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..config import ConfigError

if TYPE_CHECKING:
    from ..engine import Engine
    from .permissions import Origin

log = logging.getLogger("linebox.phone")

TABLE = "phone_prefs"
NUMBER_RE = re.compile(r"[0-9]{1,24}")
GROUP_RE = re.compile(r"[0-9]{1,4}")
MAX_HOPS = 5                     # forward chains longer than this are a loop
BUSY_LINE_S = 6                  # a refused outside caller hears busy this long before the line is let go

CODES = {                        # feature code -> (app name, takes digits after it)
    "*78": ("dnd-on", False), "*79": ("dnd-off", False),
    "*72": ("forward-always", True), "*73": ("forward-always-off", False),
    "*90": ("forward-busy", True), "*91": ("forward-busy-off", False),
    "*92": ("forward-noanswer", True), "*93": ("forward-noanswer-off", False),
    "*71": ("call-waiting-on", False), "*70": ("call-waiting-off", False),
}


@dataclass(frozen=True)
class Prefs:
    dnd: bool = False
    call_waiting: bool = True
    fwd_always: str = ""         # as dialled on a phone: "202" or "95550199" (with the access code)
    fwd_busy: str = ""
    fwd_noanswer: str = ""
    pickup_group: str = "1"      # "" = in no pickup group


FIELDS = {f.name for f in dataclasses.fields(Prefs)}


def validate(extension: str, changes: dict[str, Any], config: Any = None) -> dict[str, Any]:
    """Checked, normalised changes; raises ConfigError with one line for the user."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in FIELDS:
            raise ConfigError(f"Unknown phone setting {str(key)[:30]!r}.")
        if key in ("dnd", "call_waiting"):
            if not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false.")
            out[key] = value
        elif key == "pickup_group":
            value = str(value).strip()
            if value and not GROUP_RE.fullmatch(value):
                raise ConfigError("Pickup group: 1 to 4 digits, or empty for none.")
            out[key] = value
        else:
            value = str(value).strip()
            if value and not NUMBER_RE.fullmatch(value):
                raise ConfigError("Forward to: digits only (an extension, or the access code and an "
                                  "outside number), at most 24.")
            if value == extension:
                raise ConfigError("An extension cannot be forwarded to itself.")
            out[key] = value
    if config is not None and config.extension(extension) is None:
        raise ConfigError(f"Extension {extension[:10]!r} does not exist.")
    return out


def load_all(config: Any) -> dict[str, Prefs]:
    out: dict[str, Prefs] = {}
    if not hasattr(config, "table"):
        return out
    for doc in config.table(TABLE).all():
        ext = str(doc.get("extension", ""))
        try:
            fields = validate(ext, {k: v for k, v in doc.items() if k in FIELDS})
        except ConfigError as exc:
            log.error("phone preferences of %r ignored: %s", ext[:10], exc)
            continue
        out[ext] = Prefs(**fields)
    return out


def prefs_of(config: Any, extension: str) -> Prefs:
    return load_all(config).get(extension, Prefs())


def save(config: Any, extension: str, **changes: Any) -> Prefs:
    """Change an extension's preferences (web page or phone code); one atomic config write."""
    from tinydb import Query
    fields = validate(extension, changes, config)
    # Read and write as one transaction: the engine's own writer (feature codes, PhonePrefs) and
    # the engine API's store thread both change these documents.
    with config.transaction():
        current = dataclasses.asdict(prefs_of(config, extension))
        current.update(fields)
        config.table(TABLE).upsert({"extension": extension, **current}, Query().extension == extension)
    return Prefs(**current)


class PhonePrefs:
    """The engine's copy of every extension's preferences and the policies built on them."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.prefs: dict[str, Prefs] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self._fallback: ThreadPoolExecutor | None = None      # only without an engine API (test harness)
        self._last: Future | None = None
        self._hops = 0
        self.reload()

    def reload(self) -> None:
        with self._lock:
            if self._pending:             # our own write still on its way: the memory copy is newer
                return
        self.prefs = load_all(self.engine.config)

    def of(self, extension: str | None) -> Prefs:
        return self.prefs.get(extension or "", Prefs())

    def change(self, extension: str, **changes: Any) -> None:
        """From a phone's feature code: in force at once, saved by the engine API's store thread
        (the configuration's one writer), never on the media thread."""
        fields = validate(extension, changes)
        self.prefs[extension] = dataclasses.replace(self.of(extension), **fields)
        with self._lock:
            self._pending += 1

        def write() -> None:
            try:
                save(self.engine.config, extension, **fields)
            except Exception:
                log.exception("phone preferences of %s not saved", extension)
            finally:
                with self._lock:
                    self._pending -= 1
        self._last = self._submit(write)

    def _submit(self, fn: Callable[[], None]) -> Future:
        store = self.engine.control.store_writer
        if store is not None:
            try:
                return store(fn)
            except RuntimeError:         # the engine API has stopped (service shutting down)
                pass
        if self._fallback is None:
            self._fallback = ThreadPoolExecutor(1, thread_name_prefix="phone-prefs")
        return self._fallback.submit(fn)

    def flush(self) -> None:
        """Wait for background writes (tests, service stop)."""
        last = self._last
        if last is not None:
            last.result()

    # ---- policies the engine asks
    def before_ring(self, engine: Engine, extension: str) -> str | None:
        p = self.of(extension)
        if p.fwd_always:
            return f"forward:{extension}/always"
        if p.dnd:
            if p.fwd_busy:
                return f"forward:{extension}/busy"
            for _order, fn in engine.unanswered_policies:      # voicemail takes a DND caller
                if fn == self.unanswered:
                    continue
                dest = fn(engine, extension, "busy")
                if dest:
                    return dest
            return f"dnd:{extension}"
        return None

    def unanswered(self, engine: Engine, extension: str, reason: str) -> str | None:
        p = self.of(extension)
        if reason == "busy":
            from .callwaiting import can_wait
            if p.call_waiting and not p.dnd and can_wait(engine, extension):
                return f"callwaiting:{extension}"
            return f"forward:{extension}/busy" if p.fwd_busy else None
        if reason == "unavailable" and p.fwd_noanswer:
            return f"forward:{extension}/noanswer"
        return None


_PREFS: weakref.WeakKeyDictionary[Engine, PhonePrefs] = weakref.WeakKeyDictionary()


def prefs_service(engine: Engine) -> PhonePrefs:
    return _PREFS[engine]


# ---- what a caller gets --------------------------------------------------------------------

class BusyLine(ChannelHandler):
    """An outside caller (already answered) who cannot be put through hears busy, then the line
    is let go. `call` is the line's record."""

    def __init__(self, engine: Engine, line: FxoChannel, call: Call | None, disposition: str = "busy"):
        self.engine, self.line, self.call = engine, line, call
        line.handler = self
        line.listen_dtmf = False
        line.play_tone("busy")
        line.set_state("busy")
        self._disposition = disposition
        self._timer = engine.timers.after_ms(BUSY_LINE_S * 1000, self._release)

    def _release(self) -> None:
        if self.line.handler is self:
            self.line.release()
            self.line.handler = None
            self.line.silence()
            self.line.set_state("idle")
        if self.call is not None:
            self.call.end("answered" if self.call.answered else self._disposition)

    def on_hangup(self, ch: Channel) -> None:
        self._timer.cancel()
        self._release()

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if kind == "start" and tone in ("busy", "congestion"):
            self.on_hangup(ch)

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "loop_drop":
            self.on_hangup(ch)


def give_busy(engine: Engine, ch: Channel, call: Call | None, dst: str) -> None:
    if isinstance(ch, FxsChannel):
        engine._record_failed(ch, dst, "busy")
        Parked(engine, ch, "busy")
    elif isinstance(ch, FxoChannel):
        BusyLine(engine, ch, call)


def ring_extension_for(engine: Engine, ch: Channel, target_ext: str, call: Call | None) -> None:
    """Put `ch` (a phone, or an answered line with its record `call`) through to an extension."""
    if isinstance(ch, FxsChannel):
        from ..dialplan import Route
        engine.place_call(ch, Route("extension", target_ext), target_ext)
        return
    assert isinstance(ch, FxoChannel)
    redirect = engine.redirect_destination(target_ext)
    if redirect is not None:
        redirect[0](engine, ch, redirect[1], call)
        return
    target = engine.channel_for_extension(target_ext)
    if call is None or target is None or not target.usable or target.handler is not None or target.off_hook:
        divert = engine.unanswered_destination(target_ext, "busy") if target is not None else None
        if divert is not None and call is not None:
            divert[0](engine, ch, divert[1], call)
        else:
            give_busy(engine, ch, call, target_ext)
        return
    # The line was answered to be passed on: it is "answered" again only when the phone is,
    # so the ring timeout (and a forward on no answer) still applies.
    call.answered = False
    call.dst = target_ext
    call.ring_extension(target)


def dial_outside_for(engine: Engine, ch: Channel, number: str, origin: Origin, call: Call | None) -> Call | None:
    """Dial outside `number` for `ch` through the outside-line gate. `call`: the record of an
    outside caller on line `ch` (already answered). Refused: intercept + a "denied" record."""
    from .permissions import Refused
    decision = engine.authorise_outside(origin, number)
    if not decision.allowed:
        if call is not None:
            engine.records.set_reason(call.id, decision.reason)
            log.info("forward of %r -> %r denied: %s", call.src[:40], number, decision.reason)
            call.end("denied")
        else:
            engine.outside_policy.record_denied(ch, number, decision.reason)
        Refused(engine, ch)
        return None
    line = engine.pick_line()
    if line is None:
        if call is not None:
            give_busy(engine, ch, call, number)
        else:
            engine._record_failed(ch, number, "failed", direction="outbound")
            Parked(engine, ch, "congestion")
        return None
    if call is None:
        src = getattr(ch, "extension", None) or ch.name
        call = Call(engine, ch, "outbound", src, number, line=line.name, cid_number=src,
                    cid_name=getattr(ch, "ext_name", "") or None)
    else:
        call.dst = number
    call.outside_decision = decision          # the gate in dial_line sees the same decision
    call.dial_line(line, number)
    return call


def forward_app(engine: Engine, ch: Channel, arg: str, call: Call | None = None) -> None:
    from .permissions import Origin
    svc = prefs_service(engine)
    ext, _, kind = arg.partition("/")
    p = svc.of(ext)
    target = {"always": p.fwd_always, "busy": p.fwd_busy, "noanswer": p.fwd_noanswer}.get(kind, "")
    if not target or svc._hops >= MAX_HOPS:
        if target:
            log.warning("call forward loop at %s; caller gets busy", ext)
        give_busy(engine, ch, call, ext)
        return
    route = engine.plan.resolve(target, final=True)
    svc._hops += 1
    try:
        if route.kind == "extension" and route.target != ext:
            ring_extension_for(engine, ch, route.target, call)
        elif route.kind == "outside":
            origin = Origin(extension=ext, channel=ch.name, via="forward",
                            outside_party=isinstance(ch, FxoChannel))
            dial_outside_for(engine, ch, route.target, origin, call)
        else:
            give_busy(engine, ch, call, ext)
    finally:
        svc._hops -= 1


def dnd_app(engine: Engine, ch: Channel, arg: str, call: Call | None = None) -> None:
    give_busy(engine, ch, call, arg)


class Confirmation(ChannelHandler):
    """A feature code accepted: a short confirmation tone (stutter dial tone), then dial tone."""

    def __init__(self, engine: Engine, ch: FxsChannel, ok: bool = True):
        from ..calls import DialSession
        self.engine = engine
        ch.handler = self
        ch.listen_dtmf = False
        ch.set_state("dialtone", detail="feature set" if ok else "refused")
        if not ok:
            Parked(engine, ch, "congestion")
            return
        ch.play_tone("confirm" if _has_tone(engine, "confirm") else "dial")
        self._timer = engine.timers.after_ms(1500, lambda: ch.handler is self and DialSession(engine, ch))

    def on_hangup(self, ch: Channel) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()


def _has_tone(engine: Engine, name: str) -> bool:
    try:
        engine.profile.tone(name)
    except Exception:
        return False
    return True


def _code_app(field: str, value: Any):
    def app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
        if not isinstance(ch, FxsChannel) or not ch.extension:
            if isinstance(ch, FxoChannel):
                give_busy(engine, ch, call, field)
            return
        new = arg.rstrip("#") if value is None else value
        try:
            route = engine.plan.resolve(new, final=True) if value is None and new else None
            if route is not None and route.kind not in ("extension", "outside"):
                raise ConfigError("not a number that can be dialled")
            if route is not None and route.kind == "outside":
                # Checked again on every forwarded call; refusing now tells the user at once.
                from .permissions import Origin
                decision = engine.authorise_outside(
                    Origin(extension=ch.extension, channel=ch.name, via="forward"), route.target)
                if not decision.allowed:
                    raise ConfigError(decision.reason)
            prefs_service(engine).change(ch.extension, **{field: new})
        except ConfigError as exc:
            log.info("phone %s: %s refused: %s", ch.extension, field, exc)
            Confirmation(engine, ch, ok=False)
            return
        Confirmation(engine, ch)
    return app


_CODE_FIELDS = {
    "dnd-on": ("dnd", True), "dnd-off": ("dnd", False),
    "forward-always": ("fwd_always", None), "forward-always-off": ("fwd_always", ""),
    "forward-busy": ("fwd_busy", None), "forward-busy-off": ("fwd_busy", ""),
    "forward-noanswer": ("fwd_noanswer", None), "forward-noanswer-off": ("fwd_noanswer", ""),
    "call-waiting-on": ("call_waiting", True), "call-waiting-off": ("call_waiting", False),
}


def register(engine: Engine) -> PhonePrefs:
    svc = PhonePrefs(engine)
    _PREFS[engine] = svc
    engine.media_listeners.append(svc.reload)
    engine.before_ring_policies.append(svc.before_ring)
    engine.add_unanswered_policy(svc.unanswered, 50)      # before voicemail (100)
    engine.register_app("forward", forward_app)
    engine.register_app("dnd", dnd_app)
    for code, (name, takes_arg) in CODES.items():
        field, value = _CODE_FIELDS[name]
        engine.register_app(name, _code_app(field, value), code=code, takes_arg=takes_arg)
    return svc
