"""`python3 -m bench.realtime_tick`: what one media tick costs in CPU, stage by stage, with no
web and no other thread: the compute share of `bench.realtime`'s tick figures.

The engine and the simulated board of `linebox run` (16 phones, 16 lines) in simulated time
(`firmware.harness.Pbx`, the same MediaLoop.step as the service), N outside calls up with a tone
both ways (echo canceller, busy detector, fax-tone detector and DTMF receivers all working).
The stage timers read the media thread's own CPU clock (`time.thread_time`) instead of the wall
clock, and the tick is run in short segments; the figure printed is the cheapest segment's
mean (and the median segment's), which another process taking the CPU can only make dearer,
so it stays comparable on a busy machine.

    python3 -m bench.realtime_tick                 # 8 calls, 40 segments of 100 ticks
    python3 -m bench.realtime_tick --calls 16 --segments 80
    python3 -m bench.realtime_tick --tail 3000     # tick by tick: each stage's p50 / p99 / max,
                                                   # and what the p99 ticks spent in each stage
"""
from __future__ import annotations

import argparse
import gc
import os
import time
import types

import numpy as np

PHONES = LINES = 16


def office(calls: int):
    from firmware.harness import Pbx
    pbx = Pbx(fxs=PHONES, fxo=LINES)
    for k in range(1, calls + 1):
        pbx.phone(str(200 + k)).off_hook()
    pbx.run(1.0)
    for k in range(1, calls + 1):
        pbx.phone(str(200 + k)).dial(f"9555{1000 + k}")
    pbx.run_until(lambda: all(pbx.co.remote(f"555{1000 + k}").is_ringing for k in range(1, calls + 1)), 60)
    for k in range(1, calls + 1):
        pbx.co.remote(f"555{1000 + k}").answer()
    pbx.run(1.0)
    for k in range(1, calls + 1):
        pbx.co.remote(f"555{1000 + k}").play_tone([1000.0], 600_000, -15.0)
        pbx.phone(str(200 + k)).play_tone([1500.0], 600_000, -15.0)
    pbx.run(15.0)                 # past answer supervision: the steady state of a call
    if len(pbx.engine.calls) < calls:
        raise SystemExit(f"bench.realtime_tick: only {len(pbx.engine.calls)} of {calls} calls came up")
    return pbx


def measure(calls: int, segments: int, ticks: int) -> dict:
    import firmware.media as media_module
    from firmware.media_health import STAGES
    pbx = office(calls)
    try:
        gc.collect()
        gc.freeze()                               # as the service does after start-up
        media_module.time = types.SimpleNamespace(perf_counter=time.thread_time)   # stage clocks: CPU
        media = pbx.media
        st = media.health.stage_now
        st[:] = [0.0] * len(st)
        seg_cpu, seg_stages = [], []
        for _ in range(segments):
            acc = np.zeros(len(STAGES))
            c0 = time.thread_time()
            for _ in range(ticks):
                media.step()
                acc += st
                st[:] = [0.0] * len(st)
            seg_cpu.append((time.thread_time() - c0) / ticks)
            seg_stages.append(acc / ticks)
    finally:
        media_module.time = time
        gc.unfreeze()
        pbx.close()
    order = np.argsort(seg_cpu)
    return {"calls": calls, "best": seg_cpu[order[0]] * 1e3, "median": seg_cpu[order[len(order) // 2]] * 1e3,
            "stages": dict(zip(STAGES, (np.min(seg_stages, axis=0) * 1e3).tolist(), strict=True))}


def tail(calls: int, ticks: int) -> str:
    """Tick by tick (CPU clock): each stage's mean / p50 / p99 / max, and the ticks at or above
    the p99 of the whole tick: what they spent in each stage (which stage makes the tail)."""
    import firmware.media as media_module
    from firmware.media_health import STAGES
    pbx = office(calls)
    rows = np.zeros((ticks, len(STAGES) + 1))
    runs = [0]

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            runs[0] += 1
    try:
        gc.collect()
        gc.freeze()
        gc.callbacks.append(count)
        media_module.time = types.SimpleNamespace(perf_counter=time.thread_time)
        media = pbx.media
        st = media.health.stage_now
        st[:] = [0.0] * len(st)
        for i in range(ticks):
            c0 = time.thread_time()
            media.step()
            rows[i, -1] = time.thread_time() - c0
            rows[i, :-1] = st
            st[:] = [0.0] * len(st)
    finally:
        gc.callbacks.remove(count)
        media_module.time = time
        gc.unfreeze()
        pbx.close()
    rows *= 1e3
    total = rows[:, -1]
    slow = total >= np.percentile(total, 99)
    out = [f"{calls} calls, {ticks} ticks, media-thread CPU per tick (ms); {runs[0]} garbage collections; "
           f"the p99 ticks: {int(slow.sum())}",
           "| stage | mean | p50 | p99 | max | mean in the p99 ticks |", "|---|---:|---:|---:|---:|---:|"]
    for k, name in enumerate((*STAGES, "whole tick")):
        a = rows[:, k]
        out.append(f"| {name} | {a.mean():.3f} | {np.percentile(a, 50):.3f} | {np.percentile(a, 99):.3f} | "
                   f"{a.max():.3f} | {a[slow].mean():.3f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m bench.realtime_tick", description=__doc__.split("\n")[0])
    p.add_argument("--calls", default="8", help="comma-separated outside-call counts (up to 16)")
    p.add_argument("--segments", type=int, default=40)
    p.add_argument("--ticks", type=int, default=100, help="ticks per segment")
    p.add_argument("--tail", type=int, default=0, metavar="TICKS",
                   help="instead: time TICKS ticks one by one and break the p99 ticks down by stage")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    if args.tail:
        for n in args.calls.split(","):
            print(tail(int(n), args.tail))
        print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
        return
    rows = [measure(int(n), args.segments, args.ticks) for n in args.calls.split(",")]
    print(f"media tick CPU (ms), cheapest / median segment of {args.segments} x {args.ticks} ticks; "
          f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    names = [k for k in rows[0]["stages"]]
    print("| calls | tick CPU best / median | " + " | ".join(names) + " |")
    print("|---:|---|" + "---:|" * len(names))
    for r in rows:
        print(f"| {r['calls']} | {r['best']:.3f} / {r['median']:.3f} | "
              + " | ".join(f"{r['stages'][k]:.3f}" for k in names) + " |")


if __name__ == "__main__":
    main()
