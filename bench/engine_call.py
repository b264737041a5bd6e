"""`python3 -m bench.engine_call`: how fast the engine runs calls in simulated time.

Design goal (DESIGN.md, principle 3): a two-minute call scenario in well under a
second. Measures whole scenarios on the simulated board (board + DSP + engine),
best of 3, and prints a Markdown table.
"""
from __future__ import annotations

import time

import numpy as np

from dsp_ext.levels import DBM0_RMS
from firmware.harness import Pbx

CALL_S = 120


def _talk(phone, seconds: float) -> None:
    rng = np.random.default_rng(1)
    phone.play(np.round(rng.standard_normal(int(seconds * 8000)) * DBM0_RMS * 10 ** (-20 / 20)).astype(np.int16))


def extension_call() -> float:
    with Pbx() as pbx:
        a, b = pbx.phone("201"), pbx.phone("202")
        a.off_hook()
        pbx.run(0.5)
        a.dial("202")
        pbx.run_until(lambda: b.is_ringing, 5)
        b.off_hook()
        pbx.run(0.5)
        _talk(a, CALL_S / 2)
        t = time.perf_counter()
        pbx.run(CALL_S)
        return time.perf_counter() - t


def outside_call() -> float:
    with Pbx() as pbx:
        a = pbx.phone("201")
        r = pbx.co.remote("5550100")
        a.off_hook()
        pbx.run(0.5)
        a.dial("95550100")
        pbx.run_until(lambda: r.is_ringing, 15)
        r.answer()
        pbx.run(0.5)
        _talk(a, CALL_S / 2)
        t = time.perf_counter()
        pbx.run(CALL_S)
        return time.perf_counter() - t


def idle() -> float:
    with Pbx() as pbx:
        t = time.perf_counter()
        pbx.run(CALL_S)
        return time.perf_counter() - t


def main() -> None:
    print(f"| scenario ({CALL_S} s simulated) | CPU seconds (best of 3) | us per 10 ms tick | x real time |")
    print("|---|---:|---:|---:|")
    for name, fn in (("idle board (4 FXS, 2 FXO)", idle), ("extension to extension, talking", extension_call),
                     ("outside line (echo canceller, tone detector), talking", outside_call)):
        best = min(fn() for _ in range(3))
        print(f"| {name} | {best:.3f} | {best / (CALL_S * 100) * 1e6:.0f} | {CALL_S / best:.0f}x |")


if __name__ == "__main__":
    main()
