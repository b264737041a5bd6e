"""Engine time, counted in audio frames.

The media loop advances the clock once per 10 ms frame, so every timer in the
engine (ring cadence, inter-digit timeout, caller-ID gap) is a number of
frames. Wall-clock time is derived: start epoch + frames × 10 ms. On hardware
the ALSA period paces the frames, so this tracks real time; on the simulated
board the frames run as fast as the CPU allows and records, timers and the
status page stay consistent with each other in simulated time.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

FRAME_MS = 10


def frames(ms: float) -> int:
    """Frames covering `ms` milliseconds (at least one for any positive delay)."""
    return max(0, math.ceil(ms / FRAME_MS))


class FrameClock:
    def __init__(self, start_epoch: float):
        self.start_epoch = float(start_epoch)
        self.frame = 0

    def advance(self) -> None:
        self.frame += 1

    @property
    def seconds(self) -> float:
        """Seconds since the engine started."""
        return self.frame * FRAME_MS / 1000.0

    def now(self) -> float:
        """Wall-clock (engine clock) time, epoch seconds."""
        return self.start_epoch + self.frame * FRAME_MS / 1000.0

    def at(self, frame: int) -> float:
        return self.start_epoch + frame * FRAME_MS / 1000.0


class Timer:
    """Handle of a scheduled callback; `cancel()` is cheap and idempotent."""

    __slots__ = ("due", "fn", "cancelled")

    def __init__(self, due: int, fn: Callable[[], None]):
        self.due = due
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FrameTimers:
    """Callbacks scheduled a number of frames ahead, run by the media loop."""

    def __init__(self, clock: FrameClock):
        self.clock = clock
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()

    def after_frames(self, n: int, fn: Callable[[], None]) -> Timer:
        t = Timer(self.clock.frame + max(1, int(n)), fn)
        heapq.heappush(self._heap, (t.due, next(self._seq), t))
        return t

    def after_ms(self, ms: float, fn: Callable[[], None]) -> Timer:
        return self.after_frames(max(1, frames(ms)), fn)

    def run_due(self) -> None:
        """Run every timer due at or before the current frame, in schedule order."""
        heap, now = self._heap, self.clock.frame
        while heap and heap[0][0] <= now:
            _, _, t = heapq.heappop(heap)
            if not t.cancelled:
                t.cancelled = True      # a fired timer is spent; cancel() on it is a no-op
                t.fn()

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)
