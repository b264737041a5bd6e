"""A remote subscriber: a person somewhere on the public network, driven by method calls.

Same user actions and observations as a `VirtualPhone` where they make sense
(`dial`, `play`, `play_tone`, `heard`, ...), but signalling is direct: `call()`
places a call without dial tone, `answer()` / `hang_up()` act at once. Audio
actions take effect frame by frame while the remote is off hook.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from dsp_ext.levels import FRAME

from .audio import Earpiece, Mouthpiece
from .subscriber import FRAME_MS, Call, Subscriber, cadence_on

if TYPE_CHECKING:
    from .co import CentralOffice

__all__ = ["RemoteParty"]


class RemoteParty(Subscriber):
    kind = "remote"

    def __init__(self, co: CentralOffice, number: str, name: str | None = None) -> None:
        super().__init__(co, number)
        self.name = name                             # sent as caller-ID name on its calls
        self.busy = False                            # True: behaves as a busy subscriber
        self.auto_answer_after_rings: int | None = None
        self.answer_into_ring_ms: int | None = None      # answer this far into ring N's burst instead
        self.greeting: np.ndarray | None = None          # said on answering (after greeting_delay_ms)
        self.greeting_delay_ms = 300
        self.mouth = Mouthpiece()
        self.ear = Earpiece()
        self.rings = 0
        self.caller: str | None = None               # number of whoever rang us last
        self._pending: tuple[str, str | None] | None = None
        self._ring0 = 0
        self._ring_on = False

    # --- user actions ---------------------------------------------------------------------------
    def call(self, number: str, name: str | None = None) -> None:
        """Dial `number` (digits; '-' and spaces ignored). Name overrides `self.name` for caller ID."""
        if self.state != "idle":
            raise ValueError(f"remote {self.number} cannot call while {self.state} (hang_up() first)")
        digits = self.co.normalize_number(number)
        self._pending = (digits, name if name is not None else self.name)
        self.set_state("dialing")

    def answer(self) -> None:
        if self.state != "ringing" or self.current_call is None:
            raise ValueError(f"remote {self.number} is not ringing (state {self.state})")
        self.co.answer(self.current_call)

    def far_end(self, answer_at_ring: int | None, say: np.ndarray | str | None = None,
                into_ring_ms: int | None = None, delay_ms: int = 300) -> None:
        """How this party answers our calls: at ring `answer_at_ring` (0: at once, before any
        ringback; None: never), saying `say` (samples, or text spoken by espeak-ng; None: silent)
        `delay_ms` after picking up. `into_ring_ms`: pick up that far into ring N's burst (cutting
        the ringback short) instead of when the burst ends."""
        if isinstance(say, str):
            from .speech import speak
            say = speak(say)
        self.auto_answer_after_rings = answer_at_ring
        self.answer_into_ring_ms = into_ring_ms
        self.greeting = say
        self.greeting_delay_ms = int(delay_ms)

    def hang_up(self) -> None:
        if self.state != "idle":
            self.co.hang_up(self)

    def dial(self, digits: str, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -8.0) -> None:
        """Send DTMF as audio into the call (e.g. to drive an IVR)."""
        self.mouth.dial(digits, on_ms=on_ms, off_ms=off_ms, level_dbm0=level_dbm0)

    def play(self, samples: np.ndarray | str | os.PathLike) -> None:
        self.mouth.play(samples)

    def play_tone(self, freqs, ms: int, level_dbm0: float = -10.0) -> None:
        self.mouth.play_tone(freqs, ms, level_dbm0)

    def say_silence(self, ms: int) -> None:
        self.mouth.say_silence(ms)

    # --- observations ---------------------------------------------------------------------------
    @property
    def is_off_hook(self) -> bool:
        return self.state not in ("idle", "ringing")

    @property
    def is_ringing(self) -> bool:
        return self.state == "ringing"

    @property
    def is_free(self) -> bool:
        return self.state == "idle" and not self.busy

    def heard(self, ms: int | None = None) -> np.ndarray:
        """What this party heard while off hook since `clear_heard` (or the last `ms`)."""
        return self.ear.heard(ms)

    def clear_heard(self) -> None:
        self.ear.clear()

    @property
    def at_rest(self) -> bool:
        """Idle and sending nothing: its frames would change nothing (a call or a ring wakes it)."""
        return self.state == "idle" and self.uplink is None

    # --- the CO's calls into this subscriber ----------------------------------------------------
    def ring(self, call: Call) -> None:
        self.current_call = call
        self.caller = call.caller.number
        self.rings = 0
        self._ring0 = self.co.frames
        self._ring_on = False
        self.set_state("ringing")

    def stop_ringing(self) -> None:
        self._ring_on = False

    def went_idle(self) -> None:
        self.current_call = None
        self._pending = None
        self.mouth.clear()
        self.set_state("idle")

    # --- per frame ------------------------------------------------------------------------------
    def advance(self) -> None:
        """Phase 2: place a pending call, count rings, auto-answer; then produce this frame's uplink."""
        if self.state == "dialing" and self._pending is not None:
            number, name = self._pending
            self._pending = None
            self.co.place_call(self, number, name)
        elif self.state == "ringing":
            self._advance_ringing()
        self.uplink = self.mouth.frame() if self.is_off_hook else None

    def _advance_ringing(self) -> None:
        cad = self.co.far_ring_cadence_ms
        t_ms = (self.co.frames - self._ring0) * FRAME_MS
        on = cadence_on(cad, t_ms)
        if on and not self._ring_on:
            self.rings += 1
        self._ring_on = on
        n = self.auto_answer_after_rings
        if n is None or self.current_call is None:
            return
        # answer when the last burst of the n-th ring cycle ends (n=0: at once)
        answer_ms = 0 if n <= 0 else (n - 1) * sum(cad) + sum(cad[:-1])
        if n > 0 and self.answer_into_ring_ms is not None:
            answer_ms = (n - 1) * sum(cad) + self.answer_into_ring_ms
        if t_ms >= answer_ms:
            self.co.answer(self.current_call)
            if self.greeting is not None:
                self.mouth.clear()
                self.mouth.say_silence(self.greeting_delay_ms)
                self.mouth.play(self.greeting)

    def listen(self) -> None:
        """Phase 3: record what the network sends us while off hook."""
        if self.is_off_hook:
            audio = self.network_audio()
            self.ear.record(audio if audio is not None else np.zeros(FRAME, dtype=np.int16))

    def __repr__(self) -> str:
        return f"RemoteParty({self.number!r}, {self.state})"
