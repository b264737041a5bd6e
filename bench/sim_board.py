"""`python3 -m bench.sim_board`: what one tick of the simulated board costs, without the engine.

The board of `linebox run`'s benchmark office (16 phones, 16 lines): 8 phones off hook sending a
tone, 8 lines in calls to far parties sending a tone (echo, noise, far audio, the far parties'
earpieces), the other 8 phones and 8 lines idle; every tick is given the same tx frames, as the
engine would send. The simulated board runs inside the media loop in sim mode, so its tick counts
toward the media tick (`bench.realtime`'s "board" stage).

    python3 -m bench.sim_board                  # CPU per tick: cheapest / median of 30 segments of 100
    python3 -m bench.sim_board --callgrind      # instructions per tick under valgrind (not noisy):
                                                # the run with N ticks minus the run with none
    python3 -m bench.sim_board --calls 4,8,16   # several offices: 8, 16 and all 32 ports busy
    python3 -m bench.sim_board --calls 0 --ports 32     # `linebox run --sim-phones 32 --sim-lines 32` idle

Instruction counts do not move with the machine's load, so they compare two trees on a busy
machine; the CPU time is what the tick costs here and now.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

PHONES = LINES = 16
CALLS = 8


def board(calls: int = CALLS, ports: int = PHONES):
    """`ports` phones and `ports` lines, `calls` of each in a call (phone k off hook, line k
    talking to a far party)."""
    from drivers.sim import SimBoard
    from dsp_ext.levels import FRAME, RATE
    if not 0 <= calls <= ports:
        raise SystemExit(f"bench.sim_board: calls must be 0..{ports}, got {calls}")
    b = SimBoard(fxs=ports, fxo=ports, seed=0)
    t = np.arange(FRAME) / RATE
    tone = np.round(3000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    for k in range(1, calls + 1):
        b.phone(k).off_hook()
        b.phone(k).play_tone(1500, 60_000)
        b.co.remote(f"555{1000 + k}").call(b.co.line_number(k))
    for _ in range(60):                   # ringing, caller ID
        b.tick({})
    for k in range(1, calls + 1):
        b.fxo(k).set_off_hook(True)
    for _ in range(100):
        b.tick({})
    for k in range(1, calls + 1):
        b.co.remote(f"555{1000 + k}").play_tone(1000, 60_000)
    if sum(1 for line in b.co.lines if line.state == "connected") != calls:
        raise SystemExit("bench.sim_board: the calls did not come up")
    tx = {**{f"fxs{k}": tone for k in range(1, calls + 1)}, **{f"fxo{k}": tone for k in range(1, calls + 1)}}
    return b, tx


def run_ticks(n: int, calls: int = CALLS, ports: int = PHONES) -> None:
    b, tx = board(calls, ports)
    for _ in range(n):
        b.tick(tx)


def cpu(segments: int, ticks: int, calls: int = CALLS, ports: int = PHONES) -> tuple[float, float]:
    b, tx = board(calls, ports)
    per = []
    for _ in range(segments):
        c0 = time.thread_time()
        for _ in range(ticks):
            b.tick(tx)
        per.append((time.thread_time() - c0) / ticks)
    per.sort()
    return per[0] * 1e6, per[len(per) // 2] * 1e6


def callgrind(ticks: int, calls: int = CALLS, ports: int = PHONES) -> float:
    """Instructions per tick: valgrind's count with `ticks` ticks minus the count with none."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, ticks):
            out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.{n}",
                                  sys.executable, "-m", "bench.sim_board", "--run", str(n),
                                  "--calls", str(calls), "--ports", str(ports)],
                                 capture_output=True, text=True, check=True, env=dict(os.environ))
            m = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
            if not m:
                raise SystemExit(f"bench.sim_board: no count from valgrind:\n{out.stderr[-2000:]}")
            counts.append(int(m.group(1)))
    return (counts[1] - counts[0]) / ticks


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m bench.sim_board", description=__doc__.split("\n")[0])
    p.add_argument("--segments", type=int, default=30)
    p.add_argument("--ticks", type=int, default=100, help="ticks per segment (callgrind: ticks counted)")
    p.add_argument("--calls", default=str(CALLS), help="calls up, comma-separated for several offices (0: idle)")
    p.add_argument("--ports", type=int, default=PHONES, help="phones, and as many lines (16: the benchmark office)")
    p.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead")
    p.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)     # valgrind's inner run
    args = p.parse_args(argv)
    try:
        offices = [int(c) for c in str(args.calls).split(",")]
    except ValueError:
        raise SystemExit(f"bench.sim_board: --calls takes numbers like 8 or 4,8,16, got {args.calls!r}") from None
    if args.run is not None:
        run_ticks(args.run, offices[0], args.ports)
        return
    for calls in offices:
        office = f"simulated board, {args.ports} phones x {args.ports} lines, {calls} calls ({2 * calls} ports busy)"
        load = os.getloadavg()[0]
        if args.callgrind:
            ticks = max(args.ticks, 50)
            print(f"{office}: {callgrind(ticks, calls, args.ports) / 1e6:.3f} M instructions per tick "
                  f"(callgrind, {ticks} ticks)", flush=True)
            continue
        best, median = cpu(args.segments, args.ticks, calls, args.ports)
        print(f"{office}: CPU per tick {best:.0f} us cheapest, {median:.0f} us median of {args.segments} x "
              f"{args.ticks} ticks; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after", flush=True)


if __name__ == "__main__":
    main()
