"""`python -m bench.supervision`: what supervision and campaigns cost.

1. The media-path work of a supervised call per 10 ms tick: the supervisor's mix (caller + agent)
   plus, in barge, the supervisor's voice added to both the agent's and the caller's frames;
   against the plain two-party bridge (which only hands the peer's frame over). Microseconds per
   tick, median of RUNS runs of FRAMES ticks.
2. Validating a 50,000-row campaign number list (the CSV parser, all or nothing).
Prints a Markdown table.
"""
from __future__ import annotations

import statistics
import sys
import time
from types import SimpleNamespace

import numpy as np

from dsp_ext.levels import FRAME
from firmware.callcenter.supervision import ChannelMix, VoiceOver
from firmware.campaigns.numbers import parse_number_list
from firmware.sources import PeerAudio

FRAMES = 20_000


def _per_tick_us(fn, frames: int) -> float:
    t0 = time.perf_counter()
    for _ in range(frames):
        fn()
    return (time.perf_counter() - t0) / frames * 1e6


def run_bench(runs: int = 5) -> str:
    rng = np.random.default_rng(1)
    caller, agent, sup = (SimpleNamespace(rx=rng.integers(-8000, 8000, FRAME).astype(np.int16)) for _ in range(3))
    bridge_a, bridge_c = PeerAudio(caller), PeerAudio(agent)      # type: ignore[arg-type]
    ear = ChannelMix([caller, agent])                             # type: ignore[list-item]
    to_agent, to_caller = VoiceOver(bridge_a, sup), VoiceOver(bridge_c, sup)   # type: ignore[arg-type]

    def plain() -> None:
        bridge_a.frame()
        bridge_c.frame()

    def barge() -> None:
        ear.frame()
        to_agent.frame()
        to_caller.frame()

    p = [_per_tick_us(plain, FRAMES) for _ in range(runs)]
    b = [_per_tick_us(barge, FRAMES) for _ in range(runs)]
    rows = "number,name,note\n" + "".join(f"+44 20 7{i:07d},Customer {i},note {i}\n" for i in range(50_000))
    data = rows.encode()
    t = []
    for _ in range(max(1, runs // 2)):
        t0 = time.perf_counter()
        parse_number_list(data)
        t.append(time.perf_counter() - t0)
    out = ["| what | figure |", "|---|---|",
           f"| two-party bridge, per tick | {statistics.median(p):.1f} µs |",
           f"| supervised call in barge (mix + 2 voice-overs), per tick | {statistics.median(b):.1f} µs |",
           f"| extra for supervision, share of the 10 ms tick | {(statistics.median(b) - statistics.median(p)) / 100:.2f} % |",
           f"| validate a 50,000-row number list ({len(data) // 1024} KiB) | {statistics.median(t) * 1000:.0f} ms |"]
    return "\n".join(out)


if __name__ == "__main__":
    print(run_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
