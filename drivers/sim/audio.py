"""What a simulated person sends into a phone and what they hear from it.

Shared by `VirtualPhone` (on our FXS ports) and `RemoteParty` (subscribers at
the simulated central office), so both have the same user actions and
observations. Everything is int16 PCM at 8 kHz, consumed and produced one
10 ms frame at a time; nothing here knows about hook state or calls.
"""
from __future__ import annotations

import os
from collections import deque

import numpy as np

from dsp_ext.levels import FRAME, RATE

__all__ = ["Mouthpiece", "Earpiece", "as_pcm"]

DEFAULT_HEARD_MAX_S = 300.0     # bounded so a sim left running for days does not grow without limit


def as_pcm(samples: np.ndarray | str | os.PathLike) -> np.ndarray:
    """int16 PCM from an array (int or float in int16 scale) or a WAV file path."""
    if isinstance(samples, str | os.PathLike):
        from dsp_ext.wav import read_wav  # imported lazily: only demos play files
        samples = read_wav(os.fspath(samples))
        if isinstance(samples, tuple):         # (rate, samples) style
            samples = samples[-1]
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"audio must be a 1-D array of samples, got shape {x.shape}")
    if x.dtype == np.int16:
        return x.copy()
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"audio must be numeric samples, got dtype {x.dtype}")
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


class Mouthpiece:
    """A queue of sounds played one after the other, read out frame by frame.

    `dial`, `play`, `play_tone` and `say_silence` append to the queue, so
    `dial("12"); play_tone((1000,), 500)` sends the digits and then the tone.
    """

    def __init__(self) -> None:
        self._queue: deque[np.ndarray] = deque()
        self._pos = 0                           # read position in _queue[0]

    @property
    def busy(self) -> bool:
        """True while something is still queued."""
        return bool(self._queue)

    def clear(self) -> None:
        self._queue.clear()
        self._pos = 0

    def play(self, samples: np.ndarray | str | os.PathLike) -> None:
        pcm = as_pcm(samples)
        if pcm.size:
            self._queue.append(pcm)

    def play_tone(self, freqs: float | tuple[float, ...] | list[float], ms: int,
                  level_dbm0: float = -10.0) -> None:
        from dsp_ext.tones import tone
        if ms <= 0:
            raise ValueError(f"tone length must be positive, got {ms} ms")
        f = (float(freqs),) if isinstance(freqs, int | float) else tuple(float(v) for v in freqs)
        self.play(tone(f, ms, level_dbm0))

    def dial(self, digits: str, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -8.0) -> None:
        from dsp_ext.dtmf import dtmf_encode
        digits = check_dtmf_digits(digits)
        self.play(dtmf_encode(digits, on_ms=on_ms, off_ms=off_ms, level_dbm0=level_dbm0))

    def say_silence(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"silence length must be >= 0, got {ms} ms")
        self.play(np.zeros(ms * RATE // 1000, dtype=np.int16))

    def frame(self) -> np.ndarray:
        """The next FRAME samples (silence once the queue is empty)."""
        q = self._queue
        if not q:
            return np.zeros(FRAME, dtype=np.int16)
        head, pos = q[0], self._pos
        if pos + FRAME < head.size:             # common case: inside one sound
            self._pos = pos + FRAME
            return head[pos:pos + FRAME].copy()
        out = np.zeros(FRAME, dtype=np.int16)
        filled = 0
        while q and filled < FRAME:
            head = q[0]
            take = min(FRAME - filled, head.size - self._pos)
            out[filled:filled + take] = head[self._pos:self._pos + take]
            filled += take
            self._pos += take
            if self._pos >= head.size:
                q.popleft()
                self._pos = 0
        return out


def check_dtmf_digits(digits: str) -> str:
    digits = str(digits).upper()
    bad = sorted(set(digits) - set("0123456789*#ABCD"))
    if bad:
        raise ValueError(f"not DTMF digits: {''.join(bad)!r} (use 0-9 * # A-D)")
    return digits


class Earpiece:
    """Everything heard since the last `clear`, kept frame by frame (bounded to `max_s`).

    Frames of the usual FRAME samples are copied into rows of preallocated blocks of
    `BLOCK_FRAMES` frames (one row store per frame: every phone and far party off hook records
    every frame); a frame of another length is kept as a copy of its own."""

    BLOCK_FRAMES = 100

    def __init__(self, max_s: float = DEFAULT_HEARD_MAX_S) -> None:
        self._max = max(1, int(max_s * RATE / FRAME))
        self._parts: deque[np.ndarray] = deque()     # int16 blocks [rows, FRAME] or odd frames [1, n]
        self._rows = 0                               # rows used in the last part, when it is a block
        self._skip = 0                               # rows of the first part already dropped
        self._count = 0                              # frames kept

    def record(self, frame: np.ndarray) -> None:
        parts = self._parts
        if frame.shape == (FRAME,) and parts and self._rows < self.BLOCK_FRAMES:
            parts[-1][self._rows] = frame
            self._rows += 1
        elif frame.shape == (FRAME,):
            block = np.empty((self.BLOCK_FRAMES, FRAME), dtype=np.int16)
            block[0] = frame
            parts.append(block)
            self._rows = 1
        else:
            parts.append(np.array(frame, dtype=np.int16, copy=True).reshape(1, -1))
            self._rows = self.BLOCK_FRAMES          # full: the next frame starts a new block
        self._count += 1
        if self._count > self._max:                 # drop the oldest frame
            self._count -= 1
            self._skip += 1
            if self._skip >= self._used(parts[0], len(parts) == 1):
                parts.popleft()
                self._skip = 0

    def _used(self, part: np.ndarray, last: bool) -> int:
        """Frames kept in `part`: a block's rows in use, or 1 (a frame of another length)."""
        if part.shape == (self.BLOCK_FRAMES, FRAME):
            return self._rows if last else self.BLOCK_FRAMES
        return 1

    def clear(self) -> None:
        self._parts.clear()
        self._rows = self._skip = self._count = 0

    def _samples(self) -> np.ndarray:
        parts = list(self._parts)
        pieces = []
        for k, part in enumerate(parts):
            used = self._used(part, k == len(parts) - 1)
            start = self._skip if k == 0 else 0
            pieces.append(part[start:used].reshape(-1))
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)

    def heard(self, ms: int | None = None) -> np.ndarray:
        """What was heard: all of it, or only the last `ms` milliseconds."""
        if not self._count:
            return np.zeros(0, dtype=np.int16)
        x = self._samples()
        if ms is None:
            return x
        n = max(0, int(ms) * RATE // 1000)
        return x[-n:].copy() if n else np.zeros(0, dtype=np.int16)
