"""Fax sessions on the engine: the T.30 terminal runs on the fax thread, the media tick only swaps frames.

spandsp reads and writes TIFF files from inside its rx/tx calls (at page
boundaries), so a terminal must not run on the media tick. Each session has two
frame queues:

    media tick ── rx frame ──► [to_fax]  ──► fax thread: terminal.receive / transmit
    media tick ◄── tx frame ── [from_fax] ◄──┘

`FaxLink` is the channel's media source: each tick it hands over the frame the
port captured and sends the oldest frame the fax thread produced. The fax path
runs `LATENCY_FRAMES` behind (silence first), far inside T.30's timing margins.
On real hardware the thread is always ahead (a page of work costs milliseconds);
if it ever is not, the tick sends silence and counts an underrun (logged at the
session's end) instead of waiting. With `lockstep` (a board in simulated time,
where the tick runs as fast as the CPU) the tick waits for the fax thread's frame
however long it takes, so simulated runs are deterministic even on a busy machine;
the audio is the same either way.

When a session ends, the thread finishes it off the tick too (`on_done` runs on
the fax thread: it writes the inbox), then posts `on_finished` to the media thread.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from dsp_ext.fax import FaxReport, FaxTerminal
from dsp_ext.levels import FRAME

__all__ = ["FaxLink", "FaxWorker", "LATENCY_FRAMES", "NEGOTIATE_FRAMES"]

log = logging.getLogger("linebox.fax")

LATENCY_FRAMES = 8             # 80 ms: like a longer line; T.30 timing does not notice
NEGOTIATE_FRAMES = 60 * 100      # no capabilities exchanged after 60 s: not a fax (see loopback.py)
LOCKSTEP_WAIT_S = 5.0           # lockstep: a warning each time the fax thread keeps the tick this long
_SILENCE = np.zeros(FRAME, dtype=np.int16)
_SILENCE.flags.writeable = False


class FaxLink:
    """Media source of a channel in a fax session (the tick side). Not tonal: the canceller is off anyway."""

    tonal = False

    def __init__(self, worker: FaxWorker, ch: Any, make_terminal: Callable[[], FaxTerminal],
                 on_done: Callable[[FaxReport], Any], on_finished: Callable[[Any], None],
                 lockstep: bool = False) -> None:
        self.ch = ch
        self.lockstep = lockstep
        self.to_fax: deque[np.ndarray] = deque()
        self.from_fax: deque[np.ndarray] = deque([_SILENCE] * LATENCY_FRAMES)
        self.underruns = 0
        self.frames = 0
        self.closed = False          # the tick side stopped (hang-up): the thread ends the terminal
        self.finished = False        # the thread finished the session
        self._make_terminal = make_terminal
        self._on_done = on_done
        self._on_finished = on_finished
        self.terminal: FaxTerminal | None = None
        self._worker = worker
        self._produced = threading.Condition()
        worker.add(self)

    # ---- media tick
    def frame(self) -> np.ndarray | None:
        if self.finished:
            return None
        rx = self.ch.rx
        self.to_fax.append(_SILENCE if rx is None else rx.copy())
        self.frames += 1
        self._worker.wake()
        if self.lockstep and not self.from_fax:
            self._wait_for_the_fax_thread()
        if self.from_fax:
            return self.from_fax.popleft()
        self.underruns += 1
        return _SILENCE

    def _wait_for_the_fax_thread(self) -> None:
        """Simulated time: wait as long as the fax thread needs (a page written to a busy disk can
        take seconds), so the run stays deterministic; only a dead fax thread ends the wait."""
        waited = 0.0
        with self._produced:
            while not self._produced.wait_for(lambda: bool(self.from_fax) or self.finished, LOCKSTEP_WAIT_S):
                waited += LOCKSTEP_WAIT_S
                if not self._worker.alive():
                    log.error("fax: the fax thread is gone; %s goes on with silence", self.ch.name)
                    return
                log.warning("fax: simulated time has waited %.0f s for the fax thread on %s", waited, self.ch.name)

    def close(self) -> None:
        """The call went away (tick side): the fax thread hangs the terminal up and finishes."""
        self.closed = True
        self._worker.wake()

    # ---- fax thread
    def _pump(self) -> bool:
        """Process what the tick handed over; True once the session is over."""
        if self.terminal is None:
            self.terminal = self._make_terminal()
        t = self.terminal
        worked = False
        while self.to_fax:
            rx = self.to_fax.popleft()
            t.receive(rx)
            tx = t.transmit(FRAME)
            self.from_fax.append(tx)
            worked = True
        if worked:
            with self._produced:
                self._produced.notify_all()
        frames_in = self.frames - len(self.to_fax)
        if not t.done and frames_in >= NEGOTIATE_FRAMES and not t.report().negotiated:
            t.hang_up()
        if self.closed and not t.done:
            t.hang_up()
        return t.done


class FaxWorker:
    """The one fax thread: runs every session's terminal and its end-of-session file work."""

    def __init__(self, post: Callable[[Callable[[Any], Any]], Any]) -> None:
        self._post = post                     # run fn(engine) on the media thread
        self._links: list[FaxLink] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = 0

    def add(self, link: FaxLink) -> None:
        with self._lock:
            self._links.append(link)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fax", daemon=True)
                self._thread.start()
        with self._idle:
            self._busy += 1

    def wake(self) -> None:
        self._wake.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every session has finished (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            with self._lock:
                links = list(self._links)
            for link in links:
                try:
                    over = link._pump()
                except Exception:        # one broken session must not stop the others
                    log.exception("fax session failed")
                    over = True
                if over:
                    self._finish(link)

    def _finish(self, link: FaxLink) -> None:
        with self._lock:
            if link in self._links:
                self._links.remove(link)
        t = link.terminal
        report = t.report() if t is not None else None
        result: Any = None
        try:
            if report is not None:
                result = link._on_done(report)
        except Exception:
            log.exception("fax: finishing the session failed")
        if link.underruns:             # real time: the thread fell behind the tick (sent as silence)
            log.warning("fax: %s: %d frames of silence sent while the fax thread was behind",
                        link.ch.name, link.underruns)
        link.finished = True
        with link._produced:
            link._produced.notify_all()
        self._post(lambda _engine, r=result: link._on_finished(r))
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()
