"""N-1 conference mixing: each party hears everyone but itself, saturated to int16.

`ConferenceMixer` knows nothing about channels: slots in, frames out. All
buffers are allocated once (capacity x FRAME); a tick only writes into them
with numpy `out=` operations, so mixing allocates nothing per tick.

    mixer = ConferenceMixer(capacity=12)
    s = mixer.join()                 # slot number
    mixer.put(s, rx_frame)           # each party's captured frame (None = silence)
    mixer.mix()                      # once per tick, after every put
    tx = mixer.output(s)             # int16[FRAME]: everybody else, clipped

Outputs alternate between two banks: the frame returned in tick n is played by
the board at the start of tick n+1, before tick n+1's mix writes the other bank.
"""
from __future__ import annotations

import numpy as np

from dsp_ext.levels import FRAME, RATE, dbm0_to_peak

INT16_MIN, INT16_MAX = -32768, 32767


class ConferenceFull(Exception):
    """No free slot left in the mixer."""


class ConferenceMixer:
    def __init__(self, capacity: int = 12):
        if capacity < 2:
            raise ValueError("a conference needs room for at least two parties")
        self.capacity = capacity
        self._in = np.zeros((capacity, FRAME), dtype=np.int32)
        self._total = np.zeros(FRAME, dtype=np.int32)
        self._diff = np.zeros((capacity, FRAME), dtype=np.int32)
        self._out = np.zeros((2, capacity, FRAME), dtype=np.int16)
        self._bank = 0
        self._used = [False] * capacity
        self._cue: np.ndarray | None = None      # int32 samples everyone hears (join/leave tones)
        self._cue_pos = 0

    # ---- membership
    def join(self) -> int:
        for i, used in enumerate(self._used):
            if not used:
                self._used[i] = True
                self._in[i] = 0
                return i
        raise ConferenceFull(f"all {self.capacity} places in the conference are taken")

    def leave(self, slot: int) -> None:
        self._used[slot] = False
        self._in[slot] = 0

    @property
    def parties(self) -> int:
        return sum(self._used)

    # ---- per tick
    def put(self, slot: int, frame: np.ndarray | None) -> None:
        row = self._in[slot]
        if frame is None or not self._used[slot]:
            row.fill(0)
        else:
            row[:] = frame              # int16 -> int32 in place

    def cue(self, samples: np.ndarray) -> None:
        """Mix `samples` (int16) into what every party hears, starting with the next tick."""
        self._cue = np.asarray(samples, dtype=np.int32)
        self._cue_pos = 0

    def mix(self) -> None:
        np.sum(self._in, axis=0, out=self._total)
        cue = self._cue
        if cue is not None:
            part = cue[self._cue_pos:self._cue_pos + FRAME]
            self._total[:len(part)] += part
            self._cue_pos += FRAME
            if self._cue_pos >= len(cue):
                self._cue = None
        np.subtract(self._total, self._in, out=self._diff)      # N-1: everyone but the listener
        np.clip(self._diff, INT16_MIN, INT16_MAX, out=self._diff)
        self._bank ^= 1
        np.copyto(self._out[self._bank], self._diff, casting="unsafe")

    def output(self, slot: int) -> np.ndarray:
        return self._out[self._bank, slot]


def beeps(freqs: tuple[float, ...], ms: int = 120, gap_ms: int = 60, level_dbm0: float = -16.0) -> np.ndarray:
    """Short beeps in sequence (join: rising, leave: falling), soft enough not to drown speech."""
    n, gap = RATE * ms // 1000, RATE * gap_ms // 1000
    t = np.arange(n) / RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (RATE * 0.005))   # no clicks
    parts = []
    for f in freqs:
        parts += [dbm0_to_peak(level_dbm0) * ramp * np.sin(2 * np.pi * f * t), np.zeros(gap)]
    return np.round(np.concatenate(parts)).astype(np.int16)


JOIN_CUE = beeps((660.0, 880.0))
LEAVE_CUE = beeps((880.0, 660.0))
