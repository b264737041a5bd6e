"""How well the media loop keeps time: tick work, late ticks, frames lost, GC pauses.

The media thread only does arithmetic on preallocated memory here (`TickHealth.tick` per
frame: a few float operations and one store into a ring); everything else (percentiles,
the Prometheus text) is computed by whoever reads it, on another thread.

* work      time the tick spent computing, without the time the board blocked waiting for
            the audio period (ALSA read on hardware, pacing sleep on the simulator)
* late      a tick whose work took longer than one period, or that started more than
            1.5 periods after the previous one (the thread was kept from running)
* lost      frames the audio device dropped: ALSA xruns on hardware, re-synchronisations of
            the simulated clock (more than MAX_LAG behind) on the simulator
* cpu       the media thread's own CPU time in the tick (`time.thread_time`): work minus cpu is
            time the thread was ready but not running (waiting for the interpreter lock, or
            preempted by another process)
* stages    where the work goes, tick by tick (`STAGES`: the control queue, the board, the echo
            cancellers, the tone and answer analysers, caller ID, DTMF, timers, media sources,
            status publishing), so a regression names its stage
"""
from __future__ import annotations

import gc
import threading
import time
from typing import Any

import numpy as np

from .realtime import frozen_objects

PERIOD_S = 0.010
# Prometheus histogram bucket upper bounds (seconds) for the tick work time
BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.010, 0.020, 0.050, 0.100)
RING = 60_000                 # the last 10 minutes of ticks, for exact percentiles over a window
# the stages of one tick, in the order MediaLoop.step runs them (see firmware/media.py)
STAGES = ("control", "board", "events", "echo", "tones", "progress", "callerid", "dtmf", "timers",
          "sources", "publish")
STAGE = {name: i for i, name in enumerate(STAGES)}


class TickHealth:
    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self.bucket_counts = [0] * (len(BUCKETS) + 1)     # the last one is +Inf
        self.work_sum = 0.0
        self.ticks = 0
        self.late_ticks = 0
        self.late_work = 0
        self.late_gap = 0
        self.gap_max = 0.0
        self.work_max = 0.0
        self.frames_lost = 0
        self.active_calls = 0
        self.ring = np.zeros(0, dtype=np.float32)      # allocated by start(): a Pbx in a test never needs them
        self.gaps = np.zeros(0, dtype=np.float32)
        self.cpu = np.zeros(0, dtype=np.float32)
        self.stage_ring = np.zeros((0, len(STAGES)), dtype=np.float32)
        self.cpu_sum = 0.0
        # the step adds its stage times here (a plain list, fixed size); tick() moves them to the ring
        self.stage_now = [0.0] * len(STAGES)
        self.stage_sum = [0.0] * len(STAGES)
        self._prev_start: float | None = None
        self.started_at = time.time()
        self.gc: GcWatch | None = None
        self._cache: dict[tuple[float, bool], tuple[float, dict[str, Any]]] = {}

    def start(self) -> None:
        """The service's media thread is about to run: allocate the rings, watch the GC."""
        self.ring = np.zeros(RING, dtype=np.float32)
        self.gaps = np.zeros(RING, dtype=np.float32)
        self.cpu = np.zeros(RING, dtype=np.float32)
        self.stage_ring = np.zeros((RING, len(STAGES)), dtype=np.float32)
        if self.gc is None:
            self.gc = GcWatch(self)
        self.gc.media_thread = threading.get_ident()

    def close(self) -> None:
        if self.gc is not None:
            self.gc.close()

    def tick(self, start: float, work: float, cpu: float = 0.0) -> None:
        """One frame: `start` (perf_counter at its start), `work` seconds spent computing and
        `cpu` seconds of the thread's own CPU; takes the stage times from `stage_now` (and
        zeroes them for the next tick)."""
        i = self.ticks % RING
        ring = self.ring.size > 0
        now = self.stage_now
        sums = self.stage_sum
        for k in range(len(now)):
            sums[k] += now[k]
        if ring:
            self.ring[i] = work
            self.cpu[i] = cpu
            self.stage_ring[i] = now
        for k in range(len(now)):
            now[k] = 0.0
        self.cpu_sum += cpu
        self.ticks += 1
        self.work_sum += work
        for k, bound in enumerate(BUCKETS):
            if work <= bound:
                self.bucket_counts[k] += 1
                break
        else:
            self.bucket_counts[-1] += 1
        if work > self.work_max:
            self.work_max = work
        late = work > self.period_s
        if late:
            self.late_work += 1
        prev = self._prev_start
        self._prev_start = start
        if prev is not None:
            gap = start - prev
            if ring:
                self.gaps[i] = gap
            if gap > self.gap_max:
                self.gap_max = gap
            if gap > 1.5 * self.period_s:
                self.late_gap += 1
                late = True
        if late:
            self.late_ticks += 1

    # ---- readers (any thread but the media one)
    def read(self, window_s: float = 60.0, detail: bool = False) -> dict[str, Any]:
        """The figures. Counters are read fresh every time; the percentiles over the last
        `window_s` are computed at most twice a second (a page refreshed by many browsers must
        not cost the media loop the interpreter lock for each of them). `detail` adds the
        thread CPU and per-stage figures (more percentiles: for a benchmark or a diagnosis, not
        for every status page)."""
        now = time.monotonic()
        key = (window_s, detail)
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < 0.5:
            window = cached[1]
        else:
            window = self._window(window_s, detail)
            self._cache = {key: (now, window)}
        return {
            "ticks": self.ticks, "late_ticks": self.late_ticks, "late_work": self.late_work,
            "late_gap": self.late_gap, "frames_lost": self.frames_lost, "active_calls": self.active_calls,
            "work_sum": self.work_sum, "cpu_sum": self.cpu_sum,
            "stage_sum": dict(zip(STAGES, self.stage_sum, strict=True)), "work_max": self.work_max, "gap_max": self.gap_max,
            "buckets": list(BUCKETS), "bucket_counts": list(self.bucket_counts),
            "window": window,
            "gc": self.gc.read() if self.gc is not None else GcWatch.idle(),
            "uptime_s": time.time() - self.started_at,
        }

    def _window(self, window_s: float, detail: bool = False) -> dict[str, Any]:
        n = min(self.ticks, self.ring.size, max(1, int(window_s / self.period_s)))
        end = self.ticks
        idx = (np.arange(end - n, end) % RING) if n else np.array([], dtype=int)
        work = self.ring[idx].astype(np.float64) if n else np.zeros(0)
        gaps = self.gaps[idx].astype(np.float64) if n else np.zeros(0)
        gaps = gaps[gaps > 0]

        def pct(a: np.ndarray, q: float) -> float:
            return float(np.percentile(a, q)) if a.size else 0.0
        out: dict[str, Any] = {
            "ticks": int(n), "work_p50": pct(work, 50), "work_p99": pct(work, 99),
            "work_max": float(work.max()) if work.size else 0.0,
            "late": int((work > self.period_s).sum() + (gaps > 1.5 * self.period_s).sum()),
            "gap_max": float(gaps.max()) if gaps.size else 0.0}
        if not detail:
            return out
        cpu = self.cpu[idx].astype(np.float64) if n else np.zeros(0)
        stages = self.stage_ring[idx].astype(np.float64) if n else np.zeros((0, len(STAGES)))
        # the tick without the board's own work (on the simulator that is the simulated
        # exchange, lines and phones, which the appliance does not spend; on the HAT, its I/O)
        off_board = work - stages[:, STAGE["board"]] if n else np.zeros(0)
        out.update({
            "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99), "cpu_max": float(cpu.max()) if n else 0.0,
            "engine_p50": pct(off_board, 50), "engine_p99": pct(off_board, 99),
            # per stage: mean, p99 and max over the window (in seconds)
            "stages": {name: {"mean": float(stages[:, k].mean()) if n else 0.0, "p99": pct(stages[:, k], 99),
                              "max": float(stages[:, k].max()) if n else 0.0}
                       for k, name in enumerate(STAGES)},
            "tail": self._tail(work, cpu, stages)})
        return out

    @staticmethod
    def _tail(work: np.ndarray, cpu: np.ndarray, stages: np.ndarray) -> dict[str, Any]:
        """The slowest ticks (work at or above the window's p99): what they spent, on average,
        in each stage, and how much of their work was the thread's own CPU (the rest it waited
        for the interpreter lock or a processor). Says which stage makes the p99."""
        if not work.size:
            return {"ticks": 0, "work_mean": 0.0, "cpu_mean": 0.0, "stages": {name: 0.0 for name in STAGES}}
        slow = work >= np.percentile(work, 99)
        return {"ticks": int(slow.sum()), "work_mean": float(work[slow].mean()), "cpu_mean": float(cpu[slow].mean()),
                "stages": {name: float(stages[slow, k].mean()) for k, name in enumerate(STAGES)}}


class GcWatch:
    """Counts the garbage collector's runs per generation and how long gen-2 runs took."""

    def __init__(self, health: TickHealth | None = None) -> None:
        self.health = health
        self.collections = [0, 0, 0]
        self.gen2_seconds = 0.0
        self.gen2_on_media = 0
        self.gen2_during_calls = 0
        self._t0 = 0.0
        self.media_thread: int | None = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        gen = info.get("generation", 0)
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        self.collections[gen] += 1
        if gen == 2:
            self.gen2_seconds += time.perf_counter() - self._t0
            if threading.get_ident() == self.media_thread:
                self.gen2_on_media += 1
            if self.health is not None and self.health.active_calls:
                self.gen2_during_calls += 1

    @staticmethod
    def idle() -> dict[str, Any]:
        return {"collections": [0, 0, 0], "gen2_seconds": 0.0, "gen2_on_media_thread": 0, "gen2_during_calls": 0,
                "thresholds": list(gc.get_threshold()), "frozen": frozen_objects()}

    def close(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def read(self) -> dict[str, Any]:
        return {"collections": list(self.collections), "gen2_seconds": self.gen2_seconds,
                "gen2_on_media_thread": self.gen2_on_media,
                "gen2_during_calls": self.gen2_during_calls, "thresholds": list(gc.get_threshold()),
                "frozen": frozen_objects()}


def prometheus_text(h: dict[str, Any], extra: dict[str, float] | None = None) -> str:
    """The Prometheus text exposition of `TickHealth.read()` (plus `extra` gauges)."""
    out = ["# HELP linebox_media_tick_seconds Work time of one 10 ms media tick (without waiting for the audio period).",
           "# TYPE linebox_media_tick_seconds histogram"]
    cum = 0
    for bound, count in zip(h["buckets"], h["bucket_counts"], strict=False):
        cum += count
        out.append(f'linebox_media_tick_seconds_bucket{{le="{bound:g}"}} {cum}')
    cum += h["bucket_counts"][-1]
    out += [f'linebox_media_tick_seconds_bucket{{le="+Inf"}} {cum}',
            f"linebox_media_tick_seconds_sum {h['work_sum']:.6f}",
            f"linebox_media_tick_seconds_count {h['ticks']}",
            "# HELP linebox_media_late_ticks_total Ticks whose work exceeded one period or that started over 1.5 periods late.",
            "# TYPE linebox_media_late_ticks_total counter",
            f"linebox_media_late_ticks_total {h['late_ticks']}",
            "# HELP linebox_media_frames_lost_total Audio frames lost (ALSA xruns; simulator clock resyncs).",
            "# TYPE linebox_media_frames_lost_total counter",
            f"linebox_media_frames_lost_total {h['frames_lost']}",
            "# HELP linebox_media_tick_max_seconds Longest tick work since start.",
            "# TYPE linebox_media_tick_max_seconds gauge",
            f"linebox_media_tick_max_seconds {h['work_max']:.6f}",
            "# HELP linebox_active_calls Calls in progress.",
            "# TYPE linebox_active_calls gauge",
            f"linebox_active_calls {h['active_calls']}",
            "# HELP linebox_engine_gc_collections_total Garbage collections in the engine process, by generation.",
            "# TYPE linebox_engine_gc_collections_total counter"]
    for gen, n in enumerate(h["gc"]["collections"]):
        out.append(f'linebox_engine_gc_collections_total{{generation="{gen}"}} {n}')
    out += ["# HELP linebox_engine_gc_gen2_during_calls_total Full collections while a call was up (should stay 0).",
            "# TYPE linebox_engine_gc_gen2_during_calls_total counter",
            f"linebox_engine_gc_gen2_during_calls_total {h['gc']['gen2_during_calls']}"]
    for name, value in (extra or {}).items():
        out += [f"# TYPE {name} gauge", f"{name} {value:.6f}"]
    return "\n".join(out) + "\n"
