"""The simulated board's ports: an FXS port with a virtual phone on it, an FXO port on a CO line.

`SimFxsPort` plays the SLIC: it feeds the phone's raw loop through the same
`HookClassifier` as the hardware drivers, trips ringing when the phone
answers, and passes audio to the on-hook phone only with on-hook transmission.

`SimFxoPort` plays the DAA: hook relay, ring detector (ringing voltage
debounced into RING_ON / RING_OFF), on-hook line monitor (rx carries the line
audio while on hook, for caller ID), polarity-reversal detection, loop-current
monitor (LOOP_DROP) and line-voltage monitor (LINE_DOWN / LINE_UP,
LINE_IN_USE / LINE_FREE).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dsp_ext.levels import FRAME

from ..hook import HookClassifier
from ..port import EventType, FxoPort, FxsPort, PortEvent
from .line import LineSignal
from .phone import VirtualPhone

__all__ = ["SimFxsPort", "SimFxoPort"]

FRAME_MS = 10
RING_ON_MS = 50             # ring detector: voltage present this long -> RING_ON
RING_OFF_MS = 50            # ... absent this long -> RING_OFF (equal, so burst lengths are kept)
LOOP_DROP_MS = 30           # loop current absent this long while off hook -> LOOP_DROP
LINE_MONITOR_MS = 50        # line voltage change must hold this long (LINE_DOWN/UP, IN_USE/FREE)
ONHOOK_V, OFFHOOK_V = 48.0, 8.0


def _scaled(samples: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(np.rint(samples.astype(np.float64) * gain), -32768, 32767).astype(np.int16)


_SILENCE = np.zeros(FRAME, dtype=np.int16)     # shared and read-only: a frame of nothing costs no allocation
_SILENCE.flags.writeable = False


class SimFxsPort(FxsPort):
    """A simulated SLIC with its phone. At rest (`at_rest`: on hook, not ringing, no on-hook
    audio, the phone idle) its frames give silence and no events, so the board stops stepping
    it; `on_wake` (the board's) is called when that may change: the phone lifted, ringing or
    on-hook audio switched on, the polarity changed."""

    def __init__(self, name: str, phone: VirtualPhone | None = None) -> None:
        super().__init__(name)
        self.phone = phone or VirtualPhone(name)
        self.hook = HookClassifier()
        self.ringing = False
        self.onhook_transmission = False
        self.reverse_polarity = False
        self.lamp = False
        self.asleep_since: int | None = None        # the board's frame count when it stopped stepping us
        self.on_wake: Callable[[SimFxsPort], None] | None = None
        self.phone.on_wake = self._wake

    def _wake(self) -> None:
        if self.asleep_since is not None and self.on_wake is not None:
            self.on_wake(self)

    @property
    def at_rest(self) -> bool:
        return (not (self.ringing or self.onhook_transmission or self.hook.off_hook)
                and self.hook.at_rest and self.phone.at_rest)

    @property
    def off_hook(self) -> bool:
        return self.hook.off_hook

    def set_ringing(self, on: bool) -> None:
        self.ringing = bool(on)
        if on:
            self._wake()

    def set_onhook_transmission(self, on: bool) -> None:
        self.onhook_transmission = bool(on)
        if on:
            self._wake()

    def set_reverse_polarity(self, on: bool) -> None:
        if bool(on) != self.reverse_polarity:
            self._wake()
        self.reverse_polarity = bool(on)

    def set_message_waiting_lamp(self, on: bool) -> None:
        self.lamp = self.phone.lamp = bool(on)

    def step(self, tx: np.ndarray | None, events: list[PortEvent]) -> np.ndarray:
        """One frame: play `tx` to the phone, return what its mouthpiece sent; append hook events."""
        ear = tx if tx is not None else _SILENCE
        loop, mic = self.phone.step(ear, self.ringing, self.onhook_transmission, self.reverse_polarity)
        if loop and self.ringing:
            self.ringing = False            # ring trip: the SLIC drops ringing when the loop closes
        for ev, data in self.hook.feed(loop):
            events.append(PortEvent(self.name, ev, data))
        return mic

    def describe(self) -> dict:
        return {**super().describe(), "chip": "simulated SLIC", "off_hook": self.off_hook,
                "ringing": self.ringing, "phone_off_hook": self.phone.is_off_hook}


class _Debounced:
    """A boolean that changes only after the raw value held for `ms`."""

    __slots__ = ("value", "_need", "_count")

    def __init__(self, value: bool, ms: int) -> None:
        self.value = value
        self._need = max(1, ms // FRAME_MS)
        self._count = 0

    def feed(self, raw: bool) -> bool:
        """Returns True when the debounced value changed this frame."""
        if raw == self.value:
            self._count = 0
            return False
        self._count += 1
        if self._count >= self._need:
            self.value, self._count = raw, 0
            return True
        return False


def _settled(d: _Debounced, value: bool) -> bool:
    return d.value == value and not d._count


class SimFxoPort(FxoPort):
    """A simulated DAA. Its gain stages scale the audio as the Si3050's do (whole dB, +-12)."""

    gain_range_db = (-12, 12)

    def __init__(self, name: str, line_index: int) -> None:
        super().__init__(name)
        self.tx_gain_db = self.rx_gain_db = 0
        self._tx_gain = self._rx_gain = 1.0
        self.line_index = line_index
        self._off_hook = False
        self._ring = _Debounced(False, RING_ON_MS)
        self._loop = _Debounced(True, LOOP_DROP_MS)
        self._power = _Debounced(True, LINE_MONITOR_MS)
        self._in_use = _Debounced(False, LINE_MONITOR_MS)
        self._reversed = False
        self._signal: LineSignal | None = None
        self.asleep = False                 # on hook on a line at rest, settled: the board does not step it
        self.on_wake: Callable[[SimFxoPort], None] | None = None     # the board's

    @property
    def at_rest(self) -> bool:
        """On hook, every monitor settled on a resting line (powered, not ringing, not in use,
        normal polarity): while its line rests too, its frames give the line's noise and no events."""
        return (not self._off_hook and not self._reversed and _settled(self._power, True)
                and _settled(self._ring, False) and _settled(self._in_use, False))

    @property
    def is_off_hook(self) -> bool:
        return self._off_hook

    def set_off_hook(self, off: bool) -> None:
        self._off_hook = bool(off)
        if off:
            self._loop = _Debounced(True, LOOP_DROP_MS)   # a fresh seizure starts with current
            if self.asleep and self.on_wake is not None:
                self.on_wake(self)

    @property
    def ringing(self) -> bool:
        return self._ring.value

    @property
    def line_voltage(self) -> float | None:
        s = self._signal
        if s is None:
            return ONHOOK_V
        if not s.powered:
            return 0.0
        loaded = (self._off_hook and s.loop_current) or (not self._off_hook and s.in_use)
        v = OFFHOOK_V if loaded else ONHOOK_V
        return -v if s.reversed else v

    def set_gains(self, tx_db: int, rx_db: int) -> None:
        for db in (tx_db, rx_db):
            if isinstance(db, bool) or not isinstance(db, int) or not -12 <= db <= 12:
                raise ValueError(f"{self.name}: gain must be -12..12 dB, got {db}")
        self.tx_gain_db, self.rx_gain_db = tx_db, rx_db
        self._tx_gain, self._rx_gain = 10 ** (tx_db / 20), 10 ** (rx_db / 20)

    def cpe_input(self, tx: np.ndarray | None) -> tuple[bool, np.ndarray | None]:
        """What this port puts on the line this frame: (loop closed, audio). On hook sends nothing."""
        if not self._off_hook:
            return (False, None)
        return (True, _scaled(tx, self._tx_gain) if tx is not None and self.tx_gain_db else tx)

    def take_signal(self, s: LineSignal, events: list[PortEvent]) -> np.ndarray:
        """The line's state this frame -> rx audio; appends the DAA's events."""
        self._signal = s
        name = self.name
        if self._power.feed(s.powered):
            events.append(PortEvent(name, EventType.LINE_UP if s.powered else EventType.LINE_DOWN))
        if not self._power.value:
            return _SILENCE
        ringing = s.ringing and not self._off_hook
        if self._ring.feed(ringing):
            events.append(PortEvent(name, EventType.RING_ON if ringing else EventType.RING_OFF))
        if s.reversed != self._reversed:
            self._reversed = s.reversed
            events.append(PortEvent(name, EventType.POLARITY_REVERSAL, s.reversed))
        if self._off_hook:
            if self._loop.feed(s.loop_current) and not s.loop_current:
                events.append(PortEvent(name, EventType.LOOP_DROP))
        elif self._in_use.feed(s.in_use):
            events.append(PortEvent(name, EventType.LINE_IN_USE if s.in_use else EventType.LINE_FREE))
        return _scaled(s.audio, self._rx_gain) if self.rx_gain_db else s.audio

    def resting_rx(self, noise: np.ndarray | None) -> np.ndarray:
        """rx of a frame asleep: the resting line's noise (None: silence) through the receive gain."""
        if noise is None:
            return _SILENCE
        return _scaled(noise, self._rx_gain) if self.rx_gain_db else noise

    def describe(self) -> dict:
        return {**super().describe(), "chip": "simulated DAA", "off_hook": self._off_hook,
                "ringing": self.ringing, "line_voltage": self.line_voltage}
