"""`python -m bench.progress_analyser`: media-thread cost of answer supervision per line.

Times `dsp_ext.progress.CallProgressAnalyser.process` fed frame by frame (10 ms, as the
media loop does) on ringback, on espeak-ng speech over line noise, and on silence, and
the offline echo-path estimate the calibration runs on the store thread. Prints
microseconds per 10 ms frame (the tick budget is 10 000 us for every port together).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from dsp_ext.progress import CallProgressAnalyser
from dsp_ext.tones import ToneGenerator


def per_frame_us(signal: np.ndarray, runs: int = 5) -> float:
    frames = signal[: signal.size // 80 * 80].reshape(-1, 80)
    times = []
    for _ in range(runs):
        a = CallProgressAnalyser("US")
        t0 = time.perf_counter()
        for f in frames:
            a.process(f, None)
        times.append((time.perf_counter() - t0) / len(frames) * 1e6)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    secs = 20
    noise = (rng.standard_normal(8000 * secs) * 30).astype(np.int16)
    ringback = ToneGenerator.for_country("US", "ringback").generate(8000 * secs)
    try:
        from drivers.sim.speech import MACHINE_GREETING, speak
        speech = np.resize(speak(MACHINE_GREETING), 8000 * secs) + noise
    except OSError:
        speech = None
    print("| signal | us per 10 ms frame |")
    print("|---|---|")
    print(f"| silence + line noise | {per_frame_us(noise):.1f} |")
    print(f"| US ringback | {per_frame_us(ringback):.1f} |")
    if speech is not None:
        print(f"| espeak-ng speech + noise | {per_frame_us(speech.astype(np.int16)):.1f} |")
    from firmware.linecal.echo_path import estimate_echo_path, probe
    p = probe()
    y = np.convolve(p.astype(float), np.r_[np.zeros(60), 0.2, -0.1, 0.05])[: p.size]
    t0 = time.perf_counter()
    for _ in range(10):
        estimate_echo_path(p, y, (350.0, 440.0))
    print(f"\necho-path estimate (store thread, 10 probe periods): {(time.perf_counter() - t0) / 10 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
