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

from dsp_ext.levels import FRAME, RATE, dbm0_to_peak

if TYPE_CHECKING:
    from .channels import Channel


class MediaSource(Protocol):
    def frame(self) -> np.ndarray | None: ...


class ToneSource:
    """A call-progress tone of the country profile (dial, ringback, busy, ...)."""

    def __init__(self, country: str, name: str):
        self.name = name
        try:
            from dsp_ext.tones import ToneGenerator
        except ImportError:             # DSP core without the tone module: numpy stand-in
            self._gen = _NumpyTone(country, name)
        else:
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

    def __init__(self, samples: np.ndarray, on_done: Callable[[], None] | None = None):
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


DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}


def dtmf_samples(digits: str, on_ms: int = 120, off_ms: int = 100,
                 low_dbm0: float = -7.0, high_dbm0: float = -7.0) -> np.ndarray:
    """DTMF for dialling out on a line. Equal tone levels and 120 ms digits: well inside what
    every exchange receiver accepts (Q.24 asks for 40 ms), at 10 digits in about 2 s."""
    on, off = RATE * on_ms // 1000, RATE * off_ms // 1000
    t = np.arange(on) / RATE
    parts = []
    for d in digits:
        lo, hi = DTMF_FREQS[d.upper()]
        tone = dbm0_to_peak(low_dbm0) * np.sin(2 * np.pi * lo * t) + dbm0_to_peak(high_dbm0) * np.sin(2 * np.pi * hi * t)
        parts += [tone, np.zeros(off)]
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return np.round(np.concatenate(parts)).astype(np.int16)


class _NumpyTone:
    """Tone plan player in numpy, used only when `dsp_ext.tones` is not built."""

    def __init__(self, country: str, name: str):
        from dsp_ext.countries import profile
        self.spec = profile(country).tone(name)
        self.n = 0

    def generate(self, count: int) -> np.ndarray:
        spec = self.spec
        t = (self.n + np.arange(count)) / RATE
        amp = dbm0_to_peak(spec.level_dbm0)
        if spec.modulated:
            x = np.sin(2 * np.pi * spec.freqs[0] * t) * (1 + 0.5 * np.sin(2 * np.pi * spec.freqs[1] * t)) / 1.5
        else:
            x = sum(np.sin(2 * np.pi * f * t) for f in spec.freqs)
        x = amp * x
        if spec.cadence_ms:
            ms = (self.n + np.arange(count)) * 1000 // RATE
            period = sum(spec.cadence_ms)
            edges = np.cumsum(spec.cadence_ms)
            phase = ms % period
            seg = np.searchsorted(edges, phase, side="right")
            on = seg % 2 == 0
            if spec.then_continuous:
                on |= ms >= period
            x = np.where(on, x, 0.0)
        self.n += count
        return np.round(x).astype(np.int16)
