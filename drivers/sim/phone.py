"""A virtual analog phone: a hook switch, a bell, a keypad that sends DTMF as audio.

It is a standalone model with one per-frame method, so anything that powers a
phone can host it: the simulated board's FXS ports, or a SLIC chip emulator.

    phone = VirtualPhone()
    loop_closed, mic = phone.step(ear, ringing, onhook_audio, reversed)

once per 10 ms frame, where `ear` is the audio on the line toward the phone
(int16[FRAME]), `ringing` whether ringing voltage is on the line now,
`onhook_audio` whether the line passes audio to an on-hook phone (on-hook
transmission, for caller ID and message-waiting FSK) and `reversed` the loop
polarity. It returns the *raw* loop state (no debouncing: hook flashes and
rotary pulses are breaks in it, the host classifies them) and what the
mouthpiece sends (silence while the loop is open).

User actions (`off_hook`, `dial`, ...) take effect at the next `step`.

A phone on hook with no ringing, no on-hook audio and nothing planned is at rest
(`at_rest`): its `step` changes nothing but the frame count. A host may then stop
stepping it and call `rest(frames)` for the frames it skipped when it wakes it
again; `on_wake` (set by the host) is called when the user lifts the handset.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable

import numpy as np

from dsp_ext.levels import FRAME

from .audio import Earpiece, Mouthpiece

__all__ = ["VirtualPhone"]

_SILENCE = np.zeros(FRAME, dtype=np.int16)     # what an on-hook mouthpiece sends (shared, read-only)
_SILENCE.flags.writeable = False

FRAME_MS = 10
PULSE_BREAK_MS = 60          # 10 pulses per second, 60/40 break/make
PULSE_MAKE_MS = 40
PULSE_INTERDIGIT_MS = 700


class VirtualPhone:
    def __init__(self, name: str = "phone") -> None:
        self.name = name
        self.frame = 0                                   # frames stepped so far
        self._off_hook = False                           # where the user left the handset
        self._hook_plan: deque[bool] = deque()           # raw loop per frame for flashes / pulses
        self._loop = False                               # raw loop state of the last frame
        self.mouth = Mouthpiece()
        self.ear = Earpiece()
        self._cid = None                                 # CallerIdReceiver, created on first use
        # observations
        self.is_ringing = False
        self.ring_edges: list[tuple[int, bool]] = []     # (frame, True=bell started / False=stopped)
        self.rings = 0
        self.caller_id = None                            # last CallerIdMessage heard on hook
        self.caller_ids: list = []                       # every one, oldest first
        self.message_waiting: bool | None = None         # from FSK MWI; None until one is heard
        self.reversed = False
        self.lamp = False                                # neon message-waiting lamp (set by the host)
        self.on_wake: Callable[[], None] | None = None   # the host's: the user did something (lifted)

    # --- user actions -------------------------------------------------------------------------
    def off_hook(self) -> None:
        self._off_hook = True
        self._hook_plan.clear()
        if self.on_wake is not None:
            self.on_wake()

    def on_hook(self) -> None:
        self._off_hook = False
        self._hook_plan.clear()
        self.mouth.clear()

    def flash(self, ms: int = 500) -> None:
        """Press the flash button (an on-hook break of `ms`)."""
        self._require_off_hook("flash")
        if ms < FRAME_MS:
            raise ValueError(f"flash must be at least {FRAME_MS} ms, got {ms}")
        self._hook_plan.extend([False] * (ms // FRAME_MS))

    def dial(self, digits: str, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -8.0) -> None:
        """Key DTMF digits: tone pairs sent as audio through the mouthpiece."""
        self.mouth.dial(digits, on_ms=on_ms, off_ms=off_ms, level_dbm0=level_dbm0)

    def dial_pulse(self, digits: str) -> None:
        """Rotary dialling: 10 pulses per second, 60 ms break / 40 ms make, 700 ms between digits."""
        self._require_off_hook("pulse-dial")
        digits = str(digits)
        if not digits.isdigit():
            raise ValueError(f"pulse dialling takes digits 0-9 only, got {digits!r}")
        plan = self._hook_plan
        for d in digits:
            for _ in range(int(d) or 10):
                plan.extend([False] * (PULSE_BREAK_MS // FRAME_MS))
                plan.extend([True] * (PULSE_MAKE_MS // FRAME_MS))
            plan.extend([True] * (PULSE_INTERDIGIT_MS // FRAME_MS))

    def play(self, samples: np.ndarray | str | os.PathLike) -> None:
        """Send PCM (int16 array, or a WAV file path) into the mouthpiece."""
        self.mouth.play(samples)

    def play_tone(self, freqs, ms: int, level_dbm0: float = -10.0) -> None:
        self.mouth.play_tone(freqs, ms, level_dbm0)

    def say_silence(self, ms: int) -> None:
        """Queue a pause between queued sounds."""
        self.mouth.say_silence(ms)

    # --- observations -------------------------------------------------------------------------
    @property
    def is_off_hook(self) -> bool:
        return self._off_hook

    @property
    def busy_dialling(self) -> bool:
        """True while queued sounds or pulse/flash breaks are still being sent."""
        return self.mouth.busy or bool(self._hook_plan)

    def heard(self, ms: int | None = None) -> np.ndarray:
        """What the earpiece got while off hook since `clear_heard` (or the last `ms`)."""
        return self.ear.heard(ms)

    def clear_heard(self) -> None:
        self.ear.clear()

    @property
    def at_rest(self) -> bool:
        """On hook, silent and not ringing, nothing planned: `step` with no ringing and no
        on-hook audio would only count the frame."""
        return not (self._off_hook or self._hook_plan or self.is_ringing or self._loop)

    def rest(self, frames: int) -> None:
        """Account for `frames` frames at rest that the host did not step (same polarity)."""
        self.frame += frames

    # --- the per-frame contract ---------------------------------------------------------------
    def step(self, ear: np.ndarray, ringing: bool, onhook_audio: bool = False,
             reversed: bool = False) -> tuple[bool, np.ndarray]:
        """Advance one frame. Returns (raw loop closed, mouthpiece audio int16[FRAME])."""
        self.frame += 1
        if not (ringing or onhook_audio) and not (self._off_hook or self._hook_plan or self.is_ringing):
            # at rest (most phones, most frames): the same as below, without its work
            self.reversed = reversed
            self._loop = False
            return False, _SILENCE
        self.reversed = reversed
        loop = self._hook_plan.popleft() if self._hook_plan else self._off_hook
        self._loop = loop
        bell = bool(ringing) and not loop
        if bell != self.is_ringing:
            self.is_ringing = bell
            self.ring_edges.append((self.frame, bell))
            if bell:
                self.rings += 1
        if loop:
            self.ear.record(ear)
            return True, self.mouth.frame()
        if onhook_audio and not bell:
            self._listen_on_hook(ear)
        return False, _SILENCE

    def _listen_on_hook(self, ear: np.ndarray) -> None:
        if self._cid is None:
            from dsp_ext.callerid import CallerIdReceiver
            self._cid = CallerIdReceiver(standard="auto")
        for msg in self._cid.process(np.asarray(ear, dtype=np.int16)):
            if msg.kind == "mwi":
                self.message_waiting = bool(msg.message_waiting)
            else:
                self.caller_id = msg
                self.caller_ids.append(msg)

    def _require_off_hook(self, what: str) -> None:
        if not self._off_hook:
            raise ValueError(f"{self.name}: cannot {what} while on hook (call off_hook() first)")

    def __repr__(self) -> str:
        return f"VirtualPhone({self.name!r}, {'off' if self._off_hook else 'on'} hook)"

