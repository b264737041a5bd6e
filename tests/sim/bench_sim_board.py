"""Benchmark (not a test): CPU cost of the simulated board in a 2-minute, two-call scenario.

    python3 tests/sim/bench_sim_board.py

Two phones off hook talking (tone in, tone out), line 1 in a call to a remote
that plays a tone, line 2 answering an inbound call with caller ID; the engine's
part is replaced by fixed tx frames, so only the board is measured.
"""
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from drivers.sim import SimBoard  # noqa: E402
from dsp_ext.levels import FRAME, RATE  # noqa: E402


def main() -> None:
    board = SimBoard(fxs=4, fxo=2, seed=0)
    t = np.arange(FRAME) / RATE
    tx_frame = np.round(3000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    tx = {name: tx_frame for name in ("fxs1", "fxs2", "fxo1", "fxo2")}
    a, b = board.co.remote("5550100"), board.co.remote("5550200")
    board.phone(1).off_hook()
    board.phone(2).off_hook()
    board.phone(1).play_tone(1000, 120_000)
    a.call(board.co.line_number(1), name="ALICE")
    b.call(board.co.line_number(2), name="BOB")
    for far in (a, b):                     # queued up front: the bench measures ticks, not tone synthesis
        far.say_silence(3000)
        far.play_tone(440, 100_000)
    frames = 120_000 // 10
    start = time.process_time()
    for k in range(frames):
        if k == 300:                       # answer both after the first ring and the caller ID
            board.fxo(1).set_off_hook(True)
            board.fxo(2).set_off_hook(True)
        board.tick(tx)
    cpu = time.process_time() - start
    print(f"{frames} frames (2 min simulated) in {cpu:.3f} s CPU = {cpu / frames * 1e6:.1f} us/frame; "
          f"line1 {board.line(1).state}, line2 {board.line(2).state}")


if __name__ == "__main__":
    main()
