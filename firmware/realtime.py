"""Real-time hygiene for the engine process: where the system permits it, the media thread
gets SCHED_FIFO and the process's memory is locked; the garbage collector never runs a full
(generation-2) collection while calls are up.

Each step is tried once and skipped silently where not permitted (a developer's laptop, a
container): one log line says what was done. On the appliance the systemd unit grants them
(`LimitRTPRIO`, `LimitMEMLOCK`, see image/).

GC: after start-up everything alive is frozen (`gc.freeze()`: moved out of the collector's
view, so it is never scanned again), and the thresholds make a generation-2 collection
practically unreachable by allocation counts; instead `GcHousekeeper` collects and freezes
again once a minute while no call is up, so cyclic garbage cannot pile up. Generation 0/1
collections (young objects only) stay as they are: they take microseconds.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("linebox.realtime")

MEDIA_PRIORITY = 40                 # SCHED_FIFO priority of the media thread (1-99; IRQ threads run at 50)
GC_THRESHOLDS = (2000, 50, 1_000_000)
SWITCH_INTERVAL_S = 0.001           # how long another thread may hold the interpreter when the media thread waits
SWITCH_INTERVAL_ENV = "LINEBOX_SWITCH_INTERVAL_US"     # override (microseconds, 50..5000): for bench.realtime
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


_saved: dict = {}
# How many objects the last freeze left frozen. Counted right after freezing (while no call is up)
# and remembered: gc.get_freeze_count() walks the whole frozen list holding the interpreter lock
# (~10 ms per 40 000 objects here), so a health read must never call it while calls are up.
_frozen = [0]


def freeze() -> int:
    """Collect, freeze what survived, and count it (only while no call is up: this holds the lock)."""
    gc.collect()
    gc.freeze()
    _frozen[0] = gc.get_freeze_count()
    return _frozen[0]


def frozen_objects() -> int:
    """The objects left frozen by the last `freeze()` (remembered, not counted now)."""
    return _frozen[0]


def tune_gc() -> None:
    """Collect once, freeze what survived start-up, and push full collections out of reach."""
    _saved.setdefault("threshold", gc.get_threshold())
    _saved.setdefault("switch", sys.getswitchinterval())
    frozen = freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(switch_interval())
    log.info("gc: %d start-up objects frozen, thresholds %s", frozen, GC_THRESHOLDS)


def switch_interval() -> float:
    """The interpreter's switch interval for the engine: SWITCH_INTERVAL_S, or the benchmark's
    override in LINEBOX_SWITCH_INTERVAL_US (ignored, with a log line, when not 50..5000)."""
    raw = os.environ.get(SWITCH_INTERVAL_ENV, "").strip()
    if not raw:
        return SWITCH_INTERVAL_S
    try:
        us = int(raw)
    except ValueError:
        us = -1
    if not 50 <= us <= 5000:
        log.warning("%s=%r ignored: give microseconds from 50 to 5000", SWITCH_INTERVAL_ENV, raw)
        return SWITCH_INTERVAL_S
    return us / 1e6


def lock_memory() -> bool:
    """mlockall(current + future, on fault): no page of the engine is ever swapped out or lazily
    paged in from disk mid-call. On fault: thread stacks are locked as they are used, not whole."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
            err = ctypes.get_errno()
            log.info("memory not locked (mlockall: %s); fine on a development machine", os.strerror(err))
            return False
    except (OSError, AttributeError) as exc:
        log.info("memory not locked (%s)", exc)
        return False
    log.info("memory locked (mlockall)")
    _saved["locked"] = True
    return True


def restore() -> None:
    """Undo the process-wide settings (a service run inside a longer-lived process: tests)."""
    if "threshold" in _saved:
        gc.set_threshold(*_saved.pop("threshold"))
        sys.setswitchinterval(_saved.pop("switch"))
        gc.unfreeze()
        _frozen[0] = 0
    if _saved.pop("locked", False):
        try:
            ctypes.CDLL(None, use_errno=True).munlockall()
        except (OSError, AttributeError):
            pass


ENGINE_NICE = -10


def raise_priority(nice: int = ENGINE_NICE) -> bool:
    """Lower the engine's nice value (call first, on the main thread: Linux threads inherit it
    from the thread that creates them). Why, besides the SCHED_FIFO media thread: another engine
    thread holding the interpreter lock must not be preempted by the web process or anything
    else at normal priority while the media thread waits for that lock."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current > nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    except (OSError, AttributeError) as exc:
        log.info("engine at normal priority (nice %d not permitted: %s)", nice, exc)
        return False
    log.info("engine threads at nice %d", nice)
    return True


def media_thread_realtime(priority: int = MEDIA_PRIORITY) -> bool:
    """Called on the media thread: SCHED_FIFO for this thread only (Linux: pid 0 = the caller)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        log.info("media thread at normal priority (SCHED_FIFO not permitted: %s)", exc)
        return False
    log.info("media thread runs SCHED_FIFO priority %d", priority)
    return True


class GcHousekeeper:
    """Full collections only while no call is up: every `every_s`, if `calls()` is 0."""

    def __init__(self, calls: Callable[[], int], every_s: float = 60.0) -> None:
        self.calls = calls
        self.every_s = every_s
        self.collected = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gc-housekeeper", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            if self.calls() == 0:
                freeze()
                self.collected += 1

    def stop(self) -> None:
        self._stop.set()
