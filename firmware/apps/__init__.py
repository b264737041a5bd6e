"""Apps: what a channel does when it is not simply bridged to another one.

An app is a `ChannelHandler` started by the engine for a channel, either from
a feature code dialled on a phone (`engine.register_app(name, factory,
code="*97")`) or as the destination of an inbound line (`inbound_routes`
destination "name:arg", e.g. "ivr:main"). It drives the channel with the same
primitives calls use: `ch.play(samples, on_done)`, `ch.play_tone(name)`,
`PeerAudio`, `engine.timers`, `ch.taps` for recording, and can hand the
channel on (`engine.place_call`, a new `Call`, another app).

`AppSession` does the bookkeeping every app needs: the call record, hang-up
of either side, far-end disconnect on lines, and its own timers.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer

if TYPE_CHECKING:
    from ..engine import Engine


def far_end_gone(ch: Channel, tone: str, kind: str) -> bool:
    """A line's far end hung up, as exchanges signal it with tones: busy or congestion starting."""
    return isinstance(ch, FxoChannel) and kind == "start" and tone in ("busy", "congestion")


def release_caller(engine: Engine, ch: Channel) -> None:
    """Done with a caller still there: a line is released (idle), a phone off hook hears busy."""
    if isinstance(ch, FxoChannel):
        ch.release()
        ch.handler = None
        ch.silence()
        ch.set_state("idle")
    elif isinstance(ch, FxsChannel) and ch.off_hook:
        Parked(engine, ch, "busy")


class AppSession(ChannelHandler):
    """Base for apps. Subclasses implement `start()` and override the events they use."""

    name = "app"

    def __init__(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None):
        self.engine, self.ch, self.arg = engine, ch, arg
        self.finished = False
        self.handing_over = False       # finishing to give the channel and its call to another app
        self._timers: list[Timer] = []
        if call is None:
            # Reached by a feature code: the attempt gets its own record.
            src = getattr(ch, "extension", None) or ch.name
            call = Call(engine, ch, "internal", src, f"{self.name}{':' + arg if arg else ''}")
            call.mark_answered()
        self.call = call
        ch.handler = self
        ch.listen_dtmf = True
        ch.detect_fax = isinstance(ch, FxoChannel)     # a calling fax's CNG switches the call to fax
        ch.set_state("in-call", peer=self.name, caller_id=ch.caller_id)
        self.start()

    def start(self) -> None:
        raise NotImplementedError

    def after(self, ms: int, fn: Callable[[], None]) -> Timer:
        t = self.engine.timers.after_ms(ms, fn)
        self._timers.append(t)
        return t

    # ---- endings
    def on_hangup(self, ch: Channel) -> None:
        self.finish()

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if far_end_gone(ch, tone, kind):
            self.leave()

    def hand_over(self) -> Call | None:
        """Another app takes the channel and its call (a calling fax heard: firmware/fax/detect.py)."""
        if self.finished:
            return None
        self.handing_over = True
        self.finish()
        self.ch.silence()
        return self.call

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "loop_drop":
            self.leave()

    def leave(self) -> None:
        """The app is done with a caller still there: a phone hears busy, a line is released."""
        release_caller(self.engine, self.ch)
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        for t in self._timers:
            t.cancel()
        self.ch.detect_fax = False
        if not self.handing_over:
            self.call.end("answered")


class EchoTest(AppSession):
    """*43 from a phone: hear yourself half a second later (checks the phone and its port).

    Not offered to lines: looped back through a line, the line's own echo re-enters the
    loop and can build up into howl."""

    name = "echo-test"
    delay_ms = 500

    def start(self) -> None:
        self.ch.source = DelayedLoop(self.ch, self.delay_ms)


class DelayedLoop:
    """Media source: the channel's own captured audio, `delay_ms` later."""

    def __init__(self, ch: Channel, delay_ms: int):
        self.ch = ch
        self._buf: deque[np.ndarray | None] = deque([None] * max(1, delay_ms // 10))

    def frame(self) -> np.ndarray | None:
        rx = self.ch.rx
        self._buf.append(None if rx is None else rx.copy())
        return self._buf.popleft()


def register_builtin(engine: Engine) -> None:
    engine.register_app("echo-test", EchoTest, code="*43")
    from .voicemail import register as register_voicemail
    register_voicemail(engine)
    from .ivr import register as register_ivr
    register_ivr(engine)
    from .transfer import register_phone_services
    register_phone_services(engine)
    from .conference import register as register_conference
    register_conference(engine)
    from .recording import register as register_recording
    register_recording(engine)
    from ..firstboot.readout import register as register_setup_code
    register_setup_code(engine)
    from ..callcenter import register as register_callcenter
    register_callcenter(engine)
    from ..campaigns import register as register_campaigns
    register_campaigns(engine)
    from ..desk import register as register_desk
    register_desk(engine)
    from ..fax import register as register_fax
    register_fax(engine)
