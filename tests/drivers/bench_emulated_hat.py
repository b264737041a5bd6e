"""How fast the emulated HAT runs (real drivers + emulators), next to the simulated board.

    PYTHONPATH=. python3 tests/drivers/bench_emulated_hat.py
"""
import time

from drivers.emulated_hat import emulated_hat_board
from drivers.sim import SimBoard


def frames_per_second(board, seconds: float = 60.0) -> float:
    board.phone(1).off_hook()
    n = round(seconds * 100)
    t0 = time.perf_counter()
    for _ in range(n):
        board.tick({})
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    hat = emulated_hat_board("2fxs2fxo")
    before = hat.bus.transactions
    fps = frames_per_second(hat)
    per_tick = (hat.bus.transactions - before) / 6000
    sim = frames_per_second(SimBoard(fxs=2, fxo=2))
    print(f"emulated HAT 2FXS/2FXO: {fps:,.0f} frames/s ({fps / 100:.0f}x real time), "
          f"{per_tick:.1f} SPI transactions per 10 ms tick")
    print(f"simulated board 2FXS/2FXO: {sim:,.0f} frames/s ({sim / 100:.0f}x real time)")
    t0 = time.perf_counter()
    emulated_hat_board("2fxs2fxo")
    print(f"emulated HAT bring-up (reset, 4 chips init, calibration): {1000 * (time.perf_counter() - t0):.0f} ms wall")
