"""Turn a raw loop-closure signal, sampled once per frame, into clean hook events.

Shared by every FXS port (SLIC drivers and the simulator), so an analog phone
behaves the same whatever board it is plugged into:

    raw break shorter than DEBOUNCE_MS        -> ignored (contact bounce)
    break up to PULSE_BREAK_MAX_MS            -> one dial pulse; the digit is
                                                 emitted once the loop has stayed
                                                 closed for INTERDIGIT_MS
    break up to FLASH_MAX_MS                  -> FLASH
    longer                                    -> ON_HOOK (sent as soon as the
                                                 break passes FLASH_MAX_MS)
"""
from dataclasses import dataclass

from .port import EventType

FRAME_MS = 10
_AT_REST: list = []          # feed()'s answer for a frame at rest (shared: callers only read it)


@dataclass
class HookTiming:
    debounce_ms: int = 20
    pulse_break_max_ms: int = 110
    flash_max_ms: int = 900
    interdigit_ms: int = 250


class HookClassifier:
    def __init__(self, timing: HookTiming | None = None):
        self.t = timing or HookTiming()
        self.off_hook = False          # debounced, logical state reported to the engine
        self._raw = False
        self._raw_ms = 0               # how long the raw signal has held its value
        self._break_ms = 0             # length of the current break while logically off hook
        self._pulses = 0
        self._make_ms = 0

    def feed(self, raw_off_hook: bool) -> list[tuple[EventType, object]]:
        """Call once per frame with the raw loop state; returns events for this frame."""
        if raw_off_hook is self._raw is self.off_hook and not (self._break_ms or self._pulses):
            # at rest (on hook and open, or off hook and closed, nothing being classified): nothing
            # can happen this frame. The common case on every port, every frame: kept cheap.
            self._raw_ms += FRAME_MS
            return _AT_REST
        t = self.t
        if raw_off_hook == self._raw:
            self._raw_ms += FRAME_MS
        else:
            self._raw, self._raw_ms = raw_off_hook, FRAME_MS
        stable = self._raw_ms >= t.debounce_ms
        events: list[tuple[EventType, object]] = []

        if not self.off_hook:
            if stable and self._raw:
                self.off_hook = True
                self._reset_dialling()
                events.append((EventType.OFF_HOOK, None))
            return events

        if not self._raw:                       # loop open while logically off hook
            self._break_ms = self._raw_ms
            self._make_ms = 0
            if self._break_ms > t.flash_max_ms:
                self.off_hook = False
                self._reset_dialling()
                events.append((EventType.ON_HOOK, None))
            return events

        if self._break_ms and stable:           # a break just ended: classify it
            if self._break_ms < t.debounce_ms:
                pass                            # contact bounce
            elif self._break_ms <= t.pulse_break_max_ms:
                self._pulses += 1
            else:
                self._flush_digit(events)
                events.append((EventType.FLASH, None))
            self._break_ms = 0
        if self._pulses:
            self._make_ms += FRAME_MS
            if self._make_ms >= t.interdigit_ms:
                self._flush_digit(events)
        return events

    @property
    def at_rest(self) -> bool:
        """True when the next frame with the same raw loop state can produce nothing: the raw loop
        agrees with the logical state and no break or pulse is being classified. A host may then
        stop feeding frames of that same state (the simulated board sleeps idle ports): frames at
        rest change nothing that is ever read again, since the next change of the raw loop
        restarts its count."""
        return bool(self._raw) == self.off_hook and not (self._break_ms or self._pulses)

    def _flush_digit(self, events) -> None:
        if self._pulses:
            events.append((EventType.PULSE_DIGIT, str(self._pulses % 10)))
        self._pulses = 0
        self._make_ms = 0

    def _reset_dialling(self) -> None:
        self._break_ms = self._pulses = self._make_ms = 0
