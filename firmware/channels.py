"""Channels: the engine's view of one port, its state, its media source and its handler.

A channel never decides what an event means: it forwards each event to its
current `handler` (a dial session, a call, later an IVR or voicemail app), so
features are added as handlers without touching the port code. What a channel
does own is the port-level timing that is the same for everybody: the FXS ring
cadence with caller ID between rings, and the FXO seize/dial sequence.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from drivers.port import FxoPort, FxsPort, PortKind

from .clock import Timer, frames
from .sources import MediaSource, SampleSource, ToneSource, dtmf_samples

if TYPE_CHECKING:
    from .calls import Call
    from .engine import Engine


# Longer than any exchange's flash window (up to ~1 s): seizing again sooner would
# be taken as a hook flash, not a new call.
RELEASE_GUARD_MS = 1500


class ChannelHandler:
    """What a channel's events mean right now. Subclasses override what they care about."""

    def on_digit(self, ch: Channel, digit: str) -> None: ...
    def on_hangup(self, ch: Channel) -> None: ...           # FXS on hook / FXO far end gone
    def on_answer(self, ch: Channel) -> None: ...           # a ringing FXS phone picked up
    def on_flash(self, ch: Channel) -> None: ...
    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None: ...   # tone start/end on a line
    def on_line_event(self, ch: Channel, event: str) -> None: ...   # polarity reversal, ...
    def on_progress(self, ch: Channel, kind: str, at: float) -> None: ...   # answer supervision audio

    def hand_over(self) -> Call | None:
        """Let go of the channel for another app (a calling fax was heard, firmware/fax/detect.py):
        stop driving it and return its call, still up; None to keep it (a person is on the call)."""
        return None


class Channel:
    kind: PortKind

    def __init__(self, engine: Engine, port):
        self.engine = engine
        self.port = port
        self.name: str = port.name
        self.label: str = port.name
        self.state = "idle"
        self.since = engine.clock.now()
        self.peer: str | None = None
        self.caller_id: str | None = None
        self.detail: str | None = None
        self.handler: ChannelHandler | None = None
        self.source: MediaSource | None = None
        self.rx: np.ndarray | None = None        # this tick's captured frame (after echo cancelling)
        self.taps: list[Callable[[np.ndarray | None, np.ndarray | None], None]] = []   # recorders
        self.listen_dtmf = False     # deliver DTMF digits heard on this port to the handler
        self.data_mode = False       # fax/modem data: no echo canceller (nor its NLP, comfort noise), no DTMF
        self.detect_fax = False      # look for fax tones on this line (apps answering calls, bridged calls)
        self.fax_watched = False     # an inbound call on a line with a fax box: CNG diverts it (fax/detect.py)

    @property
    def detect_fax(self) -> bool:
        """Look for fax tones on this line: its handler asks, or its inbound call is watched for a calling fax."""
        return self._detect_fax or self.fax_watched

    @detect_fax.setter
    def detect_fax(self, on: bool) -> None:
        self._detect_fax = on

    # ---- status
    def set_state(self, state: str, peer: str | None = None, caller_id: str | None = None,
                  detail: str | None = None) -> None:
        if state != self.state:
            self.since = self.engine.clock.now()
        self.state, self.peer, self.caller_id, self.detail = state, peer, caller_id, detail
        self.engine.mark_dirty()

    # ---- media
    def play_tone(self, name: str) -> None:
        self.source = ToneSource(self.engine.country, name)

    def play(self, samples: np.ndarray, on_done: Callable[[], None] | None = None, tonal: bool = False) -> None:
        """Play `samples` once; `tonal=True` for DTMF, FSK and beeps (the line's echo canceller
        then does not adapt on them)."""
        self.source = SampleSource(samples, on_done, tonal)

    def silence(self) -> None:
        self.source = None

    @property
    def usable(self) -> bool:
        return self.port.usable

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state}>"


class FxsChannel(Channel):
    kind = PortKind.FXS
    port: FxsPort

    def __init__(self, engine: Engine, port: FxsPort):
        super().__init__(engine, port)
        self.extension: str | None = None     # number from config
        self.ext_name: str = ""
        self.ringing = False
        self._ring_timer: Timer | None = None
        self._cid_timer: Timer | None = None

    @property
    def off_hook(self) -> bool:
        return self.port.off_hook

    # ---- ringing with the country cadence, caller ID in the first long silence
    def start_ringing(self, cid_number: str | None = None, cid_name: str | None = None) -> None:
        self.stop_ringing()
        self.ringing = True
        prof = self.engine.profile
        fsk = self.engine.caller_id_fsk(cid_number, cid_name) if cid_number or cid_name else None
        if fsk is not None and prof.cid_timing == "before_ring":
            # Caller ID first, then the bell once the FSK has gone out.
            self._send_onhook(fsk, then=lambda: self._ring_step(0))
        else:
            self._ring_step(0, fsk)

    def _ring_step(self, i: int, fsk: np.ndarray | None = None) -> None:
        if not self.ringing:
            return
        cadence = self.engine.profile.ring_cadence_ms
        on = i % 2 == 0
        self.port.set_ringing(on)
        ms = cadence[i % len(cadence)]
        if fsk is not None and not on and ms >= 1500:
            # First long silence after a ring: on-hook transmission of the caller ID.
            self._cid_timer = self.engine.timers.after_ms(500, lambda sig=fsk: self._send_onhook(sig))
            fsk = None
        self._ring_timer = self.engine.timers.after_ms(ms, lambda sig=fsk: self._ring_step(i + 1, sig))

    def _send_onhook(self, fsk: np.ndarray, then: Callable[[], None] | None = None) -> None:
        if not self.ringing or self.off_hook:
            return
        self.port.set_onhook_transmission(True)

        def done() -> None:
            self.port.set_onhook_transmission(False)
            if self.source is sent:
                self.source = None
            if then is not None:
                self._ring_timer = self.engine.timers.after_ms(300, then)
        self.play(fsk, done, tonal=True)
        sent = self.source

    def stop_ringing(self) -> None:
        if self._ring_timer:
            self._ring_timer.cancel()
        if self._cid_timer:
            self._cid_timer.cancel()
        self._ring_timer = self._cid_timer = None
        if self.ringing:
            self.ringing = False
            self.port.set_ringing(False)
            self.port.set_onhook_transmission(False)
            if isinstance(self.source, SampleSource):
                self.source = None


class FxoChannel(Channel):
    kind = PortKind.FXO
    port: FxoPort

    def __init__(self, engine: Engine, port: FxoPort):
        super().__init__(engine, port)
        self.line_number: str = ""
        self.enabled = True
        self.in_use = False          # a parallel phone has the line
        self.down = False            # no line voltage
        self.supervise = False       # run the busy-tone detector (far-end disconnect)
        self.line_rx: np.ndarray | None = None   # this tick's frame as the line gave it (before echo cancelling)
        self.ring_seen_frame = -1
        self.cid_number: str | None = None
        self.cid_name: str | None = None
        self.cid_frame = -10**9
        self._dial_timer: Timer | None = None
        self.free_from_frame = 0     # just released: the exchange needs time to see us hang up

    @property
    def off_hook(self) -> bool:
        return self.port.is_off_hook

    @property
    def available(self) -> bool:
        return (self.enabled and self.usable and not self.in_use and not self.down
                and self.state == "idle" and self.handler is None
                and self.engine.clock.frame >= self.free_from_frame)

    def seize(self) -> None:
        self.port.set_off_hook(True)

    def release(self) -> None:
        if self._dial_timer:
            self._dial_timer.cancel()
            self._dial_timer = None
        self.supervise = False
        self.listen_dtmf = False
        self.data_mode = self.detect_fax = False     # the next call starts as voice
        self.source = None
        self.forget_caller_id()      # the next call on this line brings its own (else a quick next call shows this one's)
        if self.port.is_off_hook:
            self.free_from_frame = self.engine.clock.frame + frames(RELEASE_GUARD_MS)
        self.port.set_off_hook(False)

    def dial(self, number: str, after_ms: int, on_done: Callable[[], None]) -> None:
        """Seize, wait for the exchange's dial tone to come up, send the number as DTMF."""
        self.seize()

        def send() -> None:
            self._dial_timer = None
            self.play(dtmf_samples(number), on_done, tonal=True)
        self._dial_timer = self.engine.timers.after_ms(after_ms, send)

    def forget_caller_id(self) -> None:
        self.cid_number = self.cid_name = None
        self.cid_frame = -10**9
