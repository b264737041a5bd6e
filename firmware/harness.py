"""A whole Linebox in simulated time, for tests and demos: `Pbx()`.

Builds the simulated board, config and call records in a temp dir, the
engine and the media loop, with no media thread: `run(seconds)` steps the media
loop frame by frame, so a scenario is deterministic and runs far faster than
real time.

    with Pbx() as pbx:
        a, b = pbx.phone("201"), pbx.phone("202")
        a.off_hook(); pbx.run(0.5); a.dial("202")
        pbx.run_until(lambda: b.is_ringing, 3)

Held still, the engine still answers. A media-thread command queued by another thread (a web
page's `/api/calls` fetch runs `calls.list` on the media thread; a store command applying a
change live) is run at the current simulated instant when the test is not stepping, by a small
thread that starts on the first such command: a page polled while the test waits on it sees the
engine as it is, without the test stepping for it. No simulated time passes for it, and it never
runs inside a step: every step, and that thread, hold `engine_lock` (test code that touches the
engine from its own ticking thread holds it too). Commands the test submits itself still run at
the start of its next step, as they always did.
"""
from __future__ import annotations

import concurrent.futures
import math
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dsp_ext.levels import DBM0_PEAK, RATE

from .control import EngineControl
from .engine import Engine
from .media import MediaLoop
from .sqlite_files import close_under

START_EPOCH = 1_767_261_600.0      # 2026-01-01 10:00 UTC: every run starts at the same time
# How long a command queued by another thread waits for the test's own next step before the
# harness runs it with the engine held still (real seconds; a stepping test gets there first).
STILL_ENGINE_GRACE_S = 0.005


class SteppedMediaLoop(MediaLoop):
    """The media loop as the harness steps it: each step holds `lock`, so the commands answered
    while the engine is held still never run inside a step."""

    def __init__(self, *args: Any, lock: threading.RLock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = lock

    def step(self) -> None:
        with self.lock:
            super().step()


class AnsweringControl(EngineControl):
    """EngineControl that tells the harness when another thread queues a media-thread command."""

    def __init__(self, on_foreign_call: Callable[[], None]) -> None:
        super().__init__()
        self._owner = threading.get_ident()
        self._on_foreign_call = on_foreign_call

    def call(self, fn: Callable[[Any], Any]) -> concurrent.futures.Future:
        fut = super().call(fn)
        if threading.get_ident() != self._owner:
            self._on_foreign_call()
        return fut


class Pbx:
    def __init__(self, country: str = "US", fxs: int = 4, fxo: int = 2, seed: int = 0,
                 data_dir: str | Path | None = None, start_epoch: float = START_EPOCH, **board_options: Any):
        from drivers.sim import SimBoard
        from firmware.config import Config
        from firmware.records import CallRecords
        self._tmp = tempfile.TemporaryDirectory(prefix="linebox-") if data_dir is None else None
        self.data_dir = Path(data_dir if data_dir is not None else self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.board = SimBoard(fxs=fxs, fxo=fxo, country=country, seed=seed, realtime=False, **board_options)
        self.config = Config(self.data_dir / "config.json")
        seed_config(self.config, self.board, country)
        from firmware.update import keep_schemas_while_tried  # the engine's own rule (firmware/service.py)
        tried = keep_schemas_while_tried(self.data_dir)
        self.records = CallRecords(self.data_dir / "records.db", migrate=not tried)
        self.engine_lock = threading.RLock()      # held by every step and by the still-engine answers
        self._queued = threading.Event()
        self._answers: threading.Thread | None = None
        self._answers_start = threading.Lock()
        self._closed = False
        self.control = AnsweringControl(self._foreign_call)
        self.engine = Engine(self.board, self.config, self.records, self.control, start_epoch=start_epoch)
        self.media = SteppedMediaLoop(self.board, self.engine, self.control, lock=self.engine_lock)

    # ---- the engine held still still answers other threads' media-thread commands
    def _foreign_call(self) -> None:
        if self._answers is None:
            with self._answers_start:
                if self._answers is None and not self._closed:
                    answers = threading.Thread(target=self._answer_while_still, daemon=True,
                                               name="harness-still-engine")
                    answers.start()            # published only once started: close() may join it
                    self._answers = answers
        self._queued.set()

    def _answer_while_still(self) -> None:
        while True:
            self._queued.wait()
            if self._closed:
                return
            time.sleep(STILL_ENGINE_GRACE_S)     # a test that is stepping runs it on its next tick
            self._queued.clear()
            with self.engine_lock:
                if self._closed:
                    return
                self.control.run_pending(self.engine)

    # ---- time
    def run(self, seconds: float) -> None:
        self.media.run_frames(round(seconds * 100))

    def run_until(self, predicate: Callable[[], Any], timeout_s: float = 10.0) -> float:
        """Step until `predicate()` is true; returns the simulated seconds it took.

        Raises TimeoutError (with the port states, to show where the scenario stuck)."""
        step = self.media.step
        for i in range(round(timeout_s * 100) + 1):
            if predicate():
                return i / 100
            step()
        raise TimeoutError(f"condition not met within {timeout_s}s of simulated time; ports: "
                           + ", ".join(f"{p.port}={p.state}" for p in self.engine.port_status()))

    @property
    def now(self) -> float:
        return self.engine.clock.now()

    # ---- parts
    def phone(self, extension: str):
        """The virtual phone on the FXS port of `extension`."""
        ext = self.engine.plan.extensions.get(str(extension))
        if ext is None:
            raise KeyError(f"no extension {extension!r}; have {sorted(self.engine.plan.extensions)}")
        return self.board.phone(fxs_index(self.board, ext.port))

    @property
    def co(self):
        return self.board.co

    def state(self, port: str) -> str:
        return next(p.state for p in self.engine.port_status() if p.port == port)

    def close(self) -> None:
        with self._answers_start:            # no answering thread is started after this
            self._closed = True
            answers = self._answers
        self._queued.set()
        if answers is not None and answers is not threading.current_thread():
            answers.join(timeout=5)
        close_under(self.data_dir)
        for obj in (self.records, self.config):
            close = getattr(obj, "close", None)
            if close is not None:
                close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Pbx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fxs_index(board, port: str) -> int:
    """`board.phone(i)` index of FXS port `port` ("fxs1" -> 1)."""
    names = [p.name for p in board.fxs_ports]
    if port not in names:
        raise KeyError(f"no FXS port {port!r}; have {names}")
    return int(port.removeprefix("fxs"))


def seed_config(config, board, country: str | None = None) -> None:
    """First start: extensions 201.. on the FXS ports, lines on the FXO ports, country."""
    first_run = not config.extensions() and not config.lines()
    config.seed_defaults([p.name for p in board.fxs_ports], [p.name for p in board.fxo_ports])
    co = getattr(board, "co", None)
    if first_run and co is not None:
        # On the simulator we know each line's number: show it ("Line 1 (5550001)").
        for line in config.lines():
            index = int(line["port"].removeprefix("fxo"))
            config.save_line({**line, "number": co.line_number(index)}, original_port=line["port"])
    if country:
        config.update_settings(country=country)


# ---- measuring audio -------------------------------------------------------------------------

def tone_level(samples: np.ndarray, freq: float) -> float:
    """Level (dBm0) of the `freq` component in `samples` (single-bin DFT / Goertzel)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    w = np.hanning(x.size)
    n = np.arange(x.size)
    X = np.dot(x * w, np.exp(-2j * np.pi * freq * n / RATE))
    amp = 2 * abs(X) / w.sum()
    return 20 * math.log10(amp / DBM0_PEAK) if amp > 0 else float("-inf")


def dominant_freqs(samples: np.ndarray, n: int = 2, min_gap_hz: float = 40.0,
                   floor_db: float = 20.0) -> list[float]:
    """The `n` strongest spectral peaks (Hz, rounded to the FFT resolution), strongest first;
    peaks more than `floor_db` below the strongest are left out."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 64:
        return []
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    order = np.argsort(spec)[::-1]
    top = spec[order[0]]
    out: list[float] = []
    for i in order:
        if spec[i] < top * 10 ** (-floor_db / 20) or len(out) >= n:
            break
        if all(abs(freqs[i] - f) >= min_gap_hz for f in out):
            out.append(float(freqs[i]))
    return out
