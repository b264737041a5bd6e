"""Measurements the simulator tests make on captured audio (independent of the code under test)."""
from __future__ import annotations

import numpy as np

from dsp_ext.levels import DBM0_PEAK, FRAME, RATE


def tone_dbm0(x: np.ndarray, freq: float) -> float:
    """Level in dBm0 of the sine component at `freq` (a single-bin DFT, i.e. Goertzel)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.arange(x.size)
    amp = 2 * abs(np.sum(x * np.exp(-2j * np.pi * freq * n / RATE))) / x.size
    return 20 * np.log10(max(amp, 1e-9) / DBM0_PEAK)


def dominant_freqs(x: np.ndarray, count: int = 2) -> list[float]:
    """The `count` strongest spectral peaks (Hz, to the FFT resolution), ascending."""
    x = np.asarray(x, dtype=np.float64) * np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    peaks = [i for i in range(1, len(spec) - 1) if spec[i] >= spec[i - 1] and spec[i] > spec[i + 1]]
    peaks.sort(key=lambda i: spec[i], reverse=True)
    return sorted(float(freqs[i]) for i in peaks[:count])


def frame_levels(x: np.ndarray) -> np.ndarray:
    """RMS level of each 10 ms frame, in dBm0 (-200 for silence)."""
    f = np.asarray(x, dtype=np.float64)[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    rms = np.sqrt(np.mean(f * f, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10) / (DBM0_PEAK / np.sqrt(2)))


def on_off_runs(x: np.ndarray, threshold_dbm0: float = -40.0) -> list[tuple[bool, int]]:
    """Runs of (tone on?, length in ms) from per-frame levels."""
    on = frame_levels(x) > threshold_dbm0
    runs: list[tuple[bool, int]] = []
    for v in on:
        if runs and runs[-1][0] == v:
            runs[-1] = (bool(v), runs[-1][1] + 10)
        else:
            runs.append((bool(v), 10))
    return runs


def level_while_on(x: np.ndarray, freq: float, threshold_dbm0: float = -40.0) -> float:
    """Level at `freq` over only the 10 ms frames where something is sounding (cadenced tones)."""
    f = np.asarray(x)[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    on = f[frame_levels(x) > threshold_dbm0]
    return tone_dbm0(on.reshape(-1), freq) if on.size else float("-inf")
