"""`python3 -m bench.sim_board_idle`: what an idle office costs per media tick in the real service.

The real `linebox run` on a simulated board of N phones and N lines (default 32 × 32), nothing
going on: no call, no web client. Over a window the media loop's own figures from `metrics.read`
(tick work p50 / p99, the thread's CPU, the simulated board's share per tick): what an owner's
idle demo office costs the Pi's media thread every 10 ms.

    python3 -m bench.sim_board_idle                   # 32 x 32, 10 s window
    python3 -m bench.sim_board_idle --ports 16 --seconds 20
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.realtime import api, free_port, seed, start, stop, wait, web_up


def measure(ports: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="linebox-bench-idle-") as t:
        tmp = Path(t)
        data = seed(tmp)
        port = free_port()
        proc = start(data, port, ["--sim-phones", str(ports), "--sim-lines", str(ports)], tmp / "idle.log")
        try:
            wait(lambda: web_up(f"http://127.0.0.1:{port}"), 60, "the service")
            wait(lambda: api(data).call("api.ping"), 30, "the engine API")
            time.sleep(3.0)                     # start-up work (prompts check, first ticks) over
            time.sleep(seconds)
            with api(data) as a:
                m = a.call("metrics.read", window_s=seconds, detail=True)
        finally:
            stop(proc)
    w = m["window"]
    board = w.get("stages", {}).get("board", {})
    return {"ticks": w["ticks"], "p50": w["work_p50"] * 1e3, "p99": w["work_p99"] * 1e3,
            "cpu_p50": w.get("cpu_p50", 0.0) * 1e3, "cpu_p99": w.get("cpu_p99", 0.0) * 1e3,
            "board_mean": board.get("mean", 0.0) * 1e3, "board_p99": board.get("p99", 0.0) * 1e3,
            "calls": m.get("active_calls", 0)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python3 -m bench.sim_board_idle", description=__doc__.split("\n")[0])
    p.add_argument("--ports", type=int, default=32, help="phones, and as many lines (0-64)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured window")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    r = measure(args.ports, args.seconds)
    print(f"linebox run --sim-phones {args.ports} --sim-lines {args.ports}, idle, {r['ticks']} ticks: "
          f"tick work p50 / p99 {r['p50']:.3f} / {r['p99']:.2f} ms, thread CPU p50 / p99 {r['cpu_p50']:.3f} / "
          f"{r['cpu_p99']:.2f} ms, simulated board mean / p99 {r['board_mean']:.3f} / {r['board_p99']:.2f} ms; "
          f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
