"""What a port plays: each channel has one media source, asked for one frame per tick.

A source returns an int16[FRAME] array, or None for silence (the board then
plays silence without us allocating a frame). Apps (prompts, conference
mixers, music on hold) add sources of their own; the media loop only knows
this one method.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from dsp_ext.dtmf import dtmf_encode
from dsp_ext.levels import FRAME
from dsp_ext.tones import ToneGenerator

if TYPE_CHECKING:
    from .channels import Channel


class MediaSource(Protocol):
    def frame(self) -> np.ndarray | None: ...


class ToneSource:
    """A call-progress tone of the country profile (dial, ringback, busy, ...)."""

    tonal = True        # narrowband: a line's echo canceller must not learn from it

    def __init__(self, country: str, name: str):
        self.name = name
        self._gen = ToneGenerator.for_country(country, name)

    def frame(self) -> np.ndarray | None:
        return self._gen.generate(FRAME)


class PeerAudio:
    """Bridge: play what the peer channel captured this tick (after echo cancelling)."""

    def __init__(self, peer: Channel):
        self.peer = peer

    def frame(self) -> np.ndarray | None:
        return self.peer.rx


class SampleSource:
    """Play a block of samples once (caller-ID FSK, DTMF digits, a prompt), then call `on_done`."""

    def __init__(self, samples: np.ndarray, on_done: Callable[[], None] | None = None, tonal: bool = False):
        self.tonal = tonal  # DTMF, FSK, beeps: a line's echo canceller must not learn from it
        n = len(samples)
        padded = np.zeros(-(-n // FRAME) * FRAME, dtype=np.int16)
        padded[:n] = samples
        self._frames = padded.reshape(-1, FRAME)
        self._next = 0
        self._on_done = on_done

    @property
    def done(self) -> bool:
        return self._next >= len(self._frames)

    def frame(self) -> np.ndarray | None:
        if self._next < len(self._frames):
            f = self._frames[self._next]
            self._next += 1
            return f
        if self._on_done is not None:
            fn, self._on_done = self._on_done, None
            fn()
        return None


def dtmf_samples(digits: str, on_ms: int = 120, off_ms: int = 100,
                 low_dbm0: float = -7.0, high_dbm0: float = -7.0) -> np.ndarray:
    """DTMF for dialling out on a line. Equal tone levels and 120 ms digits: well inside what
    every exchange receiver accepts (Q.24 asks for 40 ms), at 10 digits in about 2 s."""
    return dtmf_encode(digits, on_ms=on_ms, off_ms=off_ms, level_dbm0=low_dbm0,
                       twist_db=high_dbm0 - low_dbm0)


class MixOf:
    """Play the sum of what two channels captured this tick (a three-way call: each party hears
    the other two), saturated to int16. Buffers are allocated once; outputs alternate between
    two banks because the board plays a tick's frame at the start of the next one."""

    def __init__(self, a: Channel, b: Channel):
        self.a, self.b = a, b
        self._sum = np.zeros(FRAME, dtype=np.int32)
        self._out = np.zeros((2, FRAME), dtype=np.int16)
        self._bank = 0

    def frame(self) -> np.ndarray | None:
        ra, rb = self.a.rx, self.b.rx
        if ra is None and rb is None:
            return None
        self._sum[:] = 0
        for rx in (ra, rb):
            if rx is not None:
                np.add(self._sum, rx, out=self._sum)
        np.clip(self._sum, -32768, 32767, out=self._sum)
        self._bank ^= 1
        out = self._out[self._bank]
        out[:] = self._sum
        return out
