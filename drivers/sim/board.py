"""The simulated board: virtual phones on FXS ports, FXO ports on a simulated central office.

    board = SimBoard(fxs=4, fxo=2, country="US", seed=0)
    t = board.tick({"fxs1": frame, ...})       # exactly one 10 ms frame of the simulated world
    board.phone(1).off_hook(); board.phone("fxs2").dial("202")
    board.co.remote("5550100").call(board.co.line_number(1), name="ALICE")

Indices are 1-based like the port names (phone 1 is on fxs1, line 1 on fxo1).
With `realtime=False` (tests) ticks run as fast as the CPU allows; with
`realtime=True` (the service) each tick is paced to the wall clock.

Threads: tick() and everything it touches belong to the media thread. Other
threads (web, CLI) hand actions over with `post(fn, ...)`, which runs them at
the start of the next tick and returns a Future with the result.
"""
from __future__ import annotations

import queue
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from dsp_ext.levels import FRAME

from ..port import Board, PortEvent, Tick, pick_port
from .audio import as_pcm
from .co import CentralOffice, resting_signal
from .line import SubscriberLine
from .phone import VirtualPhone
from .ports import SimFxoPort, SimFxsPort

__all__ = ["SimBoard", "Recording"]

FRAME_S = FRAME / 8000
MAX_PORTS = 64
_FRAME_SHAPE = (FRAME,)
_SILENCE = np.zeros(FRAME, dtype=np.int16)      # an asleep FXS port's rx (shared, read-only)
_SILENCE.flags.writeable = False
REST_CHECK_FRAMES = 8        # how often awake ports are looked at for rest (they sleep at most this late)
MAX_LAG_S = 0.2              # realtime: further behind than this, resynchronise instead of bursting


@dataclass
class Recording:
    """Result of `SimBoard.advance`: rx per port over the span, events with their frame number."""
    rx: dict[str, np.ndarray]
    events: list[tuple[int, PortEvent]] = field(default_factory=list)

    def of(self, port: str) -> list[tuple[int, PortEvent]]:
        return [(f, e) for f, e in self.events if e.port == port]


class SimBoard(Board):
    name = "sim"

    def __init__(self, fxs: int = 4, fxo: int = 2, country: str = "US", seed: int = 0,
                 realtime: bool = False, echo: bool = True, noise_dbm0: float | None = -70.0,
                 rest_idle: bool = True) -> None:
        for what, n in (("fxs", fxs), ("fxo", fxo)):
            if not isinstance(n, int) or not 0 <= n <= MAX_PORTS:
                raise ValueError(f"{what} port count must be 0..{MAX_PORTS}, got {n!r}")
        self.co = CentralOffice(country=country, seed=seed, echo=echo, noise_dbm0=noise_dbm0)
        self.co.rest_idle = self._rest_idle = bool(rest_idle)
        self._fxs = [SimFxsPort(f"fxs{i}") for i in range(1, fxs + 1)]
        self._fxo = []
        for i in range(1, fxo + 1):
            self.co.add_line()
            self._fxo.append(SimFxoPort(f"fxo{i}", i))
        super().__init__([*self._fxs, *self._fxo])
        self.frames = 0
        # Ports at rest are not stepped (event-driven): an on-hook phone with nothing on its line,
        # an on-hook FXO port on an idle line cost next to nothing per tick. A port wakes through
        # its `on_wake` when something can change (lifted, rung, seized, its line woken).
        self._fxs_awake = list(self._fxs)
        self._fxo_awake = list(self._fxo)
        self._fxo_of_line = {p.line_index: p for p in self._fxo}
        self._rx_blank = {p.name: _SILENCE for p in self.ports}
        for p in self._fxs:
            p.on_wake = self._wake_fxs
        for p in self._fxo:
            p.on_wake = self._wake_fxo
        self._realtime = bool(realtime)
        self._deadline: float | None = None
        self._posted: queue.SimpleQueue = queue.SimpleQueue()
        self.last_wait = 0.0          # realtime: how long the last tick slept for its period
        self.frames_lost = 0          # realtime: frames skipped by re-synchronising the clock

    @property
    def realtime(self) -> bool:
        return self._realtime

    @property
    def country(self) -> str:
        return self.co.country

    # --- the simulated world, by index or port name ---------------------------------------------
    def phone(self, i_or_port: int | str) -> VirtualPhone:
        return pick_port(self._fxs, "fxs", i_or_port).phone

    def line(self, i_or_port: int | str) -> SubscriberLine:
        return self.co.line(pick_port(self._fxo, "fxo", i_or_port).line_index)

    def fxs(self, i_or_port: int | str) -> SimFxsPort:
        return pick_port(self._fxs, "fxs", i_or_port)

    def fxo(self, i_or_port: int | str) -> SimFxoPort:
        return pick_port(self._fxo, "fxo", i_or_port)


    # --- thread hand-over -----------------------------------------------------------------------
    def post(self, fn: Callable, *args, **kwargs) -> Future:
        """Run `fn(*args, **kwargs)` on the media thread at the start of the next tick."""
        fut: Future = Future()
        self._posted.put((fut, fn, args, kwargs))
        return fut

    def _run_posted(self) -> None:
        while True:
            try:
                fut, fn, args, kwargs = self._posted.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args, **kwargs))
            except Exception as exc:        # the caller gets it through the Future; the tick goes on
                fut.set_exception(exc)

    # --- the media clock ------------------------------------------------------------------------
    def tick(self, tx: Mapping[str, np.ndarray] | None = None) -> Tick:
        tx = tx or {}
        ports = self.by_name
        for name, frame in tx.items():
            if name not in ports or frame is not None and (frame.__class__ is not np.ndarray or frame.dtype != np.int16
                                                           or frame.shape != _FRAME_SHAPE):
                _check_frame(ports, name, frame)        # raises the error that says what is wrong
        if not self._posted.empty():
            self._run_posted()
        events: list[PortEvent] = []
        rx = self._rx_blank.copy()          # ports asleep: silence, unless set below
        frames = self.frames + 1            # this tick's number
        # ports are looked at for rest every REST_CHECK_FRAMES frames, not every frame: a port at
        # rest gives the same frames stepped or not, so it may fall asleep a few frames late
        check = self._rest_idle and not frames % REST_CHECK_FRAMES
        resting = False
        for p in self._fxs_awake:
            rx[p.name] = p.step(tx.get(p.name), events)
            if check and p.at_rest:
                p.asleep_since = frames
                resting = True
        if resting:
            self._fxs_awake = [p for p in self._fxs if p.asleep_since is None]
        if self._fxo:
            signals, quiet = self.co.step_lines({p.line_index: p.cpe_input(tx.get(p.name)) for p in self._fxo_awake})
            by_line = self._fxo_of_line
            for index in signals:
                p = by_line.get(index)
                if p is not None and p.asleep:
                    self._wake_fxo(p)
            resting = False
            for p in self._fxo_awake:
                s = signals.get(p.line_index)
                if s is not None:
                    rx[p.name] = p.take_signal(s, events)
                else:
                    rx[p.name] = p.take_signal(resting_signal(quiet.get(p.line_index)), events)
                    if check and p.at_rest:
                        p.asleep = resting = True
            if resting:
                self._fxo_awake = [p for p in self._fxo if not p.asleep]
            for index, noise in quiet.items():
                p = by_line.get(index)
                if p is not None and p.asleep:
                    rx[p.name] = p.resting_rx(noise)
        else:
            self.co.step_lines({})
        self.frames = frames
        if self._realtime:
            self._pace()
        return Tick(rx, events)

    def _wake_fxs(self, port: SimFxsPort) -> None:
        if port.asleep_since is None:
            return
        port.phone.rest(self.frames - port.asleep_since)      # the frames it was not stepped
        port.asleep_since = None
        self._fxs_awake = [p for p in self._fxs if p.asleep_since is None]

    def _wake_fxo(self, port: SimFxoPort) -> None:
        if port.asleep:
            port.asleep = False
            self._fxo_awake = [p for p in self._fxo if not p.asleep]

    def _pace(self) -> None:
        now = time.monotonic()
        if self._deadline is None or now - self._deadline > MAX_LAG_S:
            if self._deadline is not None:      # too far behind: those frames are gone
                self.frames_lost += int((now - self._deadline) / FRAME_S)
            self._deadline = now
        self._deadline += FRAME_S
        delay = self._deadline - now
        if delay > 0:
            # While it waits for its period the board draws the lines' next noise blocks (work
            # that lets the interpreter lock go, done here instead of on some later tick); on
            # hardware this wait is the blocking ALSA read
            self.co.draw_noise_ahead()
            delay = self._deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.last_wait = time.monotonic() - now
        else:
            self.last_wait = 0.0

    def advance(self, ms: int, tx: Mapping[str, np.ndarray] | None = None) -> Recording:
        """Run `ms` of simulated time without an engine; `tx` holds whole signals to send per port.

        Returns every port's rx over the span and the events with the board frame they happened in.
        """
        n = -(-int(ms) // 10)
        tx = dict(tx or {})
        for name in tx:
            if name not in self.by_name:
                raise ValueError(f"no port {name!r} on this board")
        pcm = {name: as_pcm(sig) for name, sig in tx.items()}
        padded = {name: np.pad(sig, (0, max(0, n * FRAME - sig.size))) for name, sig in pcm.items()}
        rx = {p.name: np.empty(n * FRAME, dtype=np.int16) for p in self.ports}
        events: list[tuple[int, PortEvent]] = []
        for k in range(n):
            frame_tx = {name: sig[k * FRAME:(k + 1) * FRAME] for name, sig in padded.items()}
            t = self.tick(frame_tx)
            for name, frame in t.rx.items():
                rx[name][k * FRAME:(k + 1) * FRAME] = frame
            events.extend((self.frames, e) for e in t.events)
        return Recording(rx, events)

    def describe(self) -> dict:
        return {**super().describe(), "frames": self.frames, "co": self.co.describe()}


def _check_frame(ports: Mapping, name: str, frame) -> None:
    if name not in ports:
        raise ValueError(f"tx for unknown port {name!r}")
    if frame is not None and (getattr(frame, "dtype", None) != np.int16 or frame.shape != (FRAME,)):
        raise ValueError(f"tx for {name} must be int16[{FRAME}], got "
                         f"{getattr(frame, 'dtype', type(frame).__name__)}{getattr(frame, 'shape', '')}")
