"""Measuring a line's echo path: a broadband probe, its impulse response, delay and ERL.

The probe is a maximum-length sequence (MLS, period 1023 samples = 128 ms, the
longest tail our canceller covers), played for several periods at a safe level
(-20 dBm0 by default: under a speaking voice, far under the exchange's limits).
An MLS is white and its periodic autocorrelation is a single spike, so the
circular cross-correlation of what came back with one period of the probe,
averaged over whole periods, *is* the echo path's impulse response (plus the
noise, down by the number of periods averaged).

The exchange's dial tone is on the line while we probe (it is the one moment
the line is up, quiet of speech and ours alone): before correlating, the tone
frequencies (learned from the line just before) are fitted by least squares
and removed, so they leave no ripple in the response.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp_ext.levels import DBM0_RMS, RATE

__all__ = ["mls", "probe", "EchoPathEstimate", "estimate_echo_path", "voice_band_erl_db", "PROBE_PERIOD"]

MLS_ORDER = 10
PROBE_PERIOD = (1 << MLS_ORDER) - 1          # 1023 samples, 127.9 ms
_TAPS = {10: (10, 7)}                        # x^10 + x^7 + 1: a primitive polynomial


def mls(order: int = MLS_ORDER) -> np.ndarray:
    """One period of a maximum-length sequence of +-1 (length 2**order - 1)."""
    a, b = _TAPS[order]
    state = [1] * order
    out = np.empty((1 << order) - 1)
    for i in range(out.size):
        bit = state[a - 1] ^ state[b - 1]
        out[i] = 1.0 if state[-1] else -1.0
        state = [bit] + state[:-1]
    return out


def probe(level_dbm0: float = -20.0, periods: int = 10) -> np.ndarray:
    """`periods` periods of the MLS at `level_dbm0` (RMS), int16."""
    amp = DBM0_RMS * 10 ** (level_dbm0 / 20)
    return np.rint(np.tile(mls(), periods) * amp).astype(np.int16)


def voice_band_erl_db(ir: np.ndarray) -> float:
    """Echo return loss of an impulse response: minus its mean power gain over 300-3400 Hz."""
    n = 4096
    h = np.fft.rfft(np.asarray(ir, dtype=np.float64), n)
    f = np.fft.rfftfreq(n, 1 / RATE)
    band = (f >= 300) & (f <= 3400)
    gain = float(np.mean(np.abs(h[band]) ** 2))
    return float("inf") if gain <= 0 else -10 * math.log10(gain)


@dataclass(frozen=True)
class EchoPathEstimate:
    ir: np.ndarray              # impulse response, PROBE_PERIOD taps (128 ms)
    erl_db: float               # voice-band echo return loss
    delay_ms: float             # bulk delay: first tap within 20 dB of the strongest
    peak_ms: float              # where the response is strongest
    tail_ms: float              # the echo has died into the measurement's noise by then
    snr_db: float               # echo energy over the estimate's noise floor (late taps)
    probe_level_dbm0: float

    def as_dict(self, taps: int = 512) -> dict:
        return {"erl_db": round(self.erl_db, 1), "delay_ms": round(self.delay_ms, 2),
                "peak_ms": round(self.peak_ms, 2), "tail_ms": round(self.tail_ms, 1),
                "snr_db": round(self.snr_db, 1), "probe_level_dbm0": self.probe_level_dbm0,
                "ir": [round(float(v), 6) for v in self.ir[:taps]]}


def _remove_tones(y: np.ndarray, freqs: tuple[float, ...]) -> np.ndarray:
    if not freqs:
        return y
    t = np.arange(y.size) / RATE
    basis = np.stack([fn(2 * np.pi * f * t) for f in freqs for fn in (np.sin, np.cos)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return y - basis @ coef


def estimate_echo_path(sent: np.ndarray, received: np.ndarray, tone_freqs: tuple[float, ...] = (),
                       level_dbm0: float = -20.0) -> EchoPathEstimate:
    """The echo path from what we sent (a `probe()`, aligned sample for sample with `received`,
    what came back on the line before any echo canceller). The first period only fills the path
    and is skipped; at least two more are needed."""
    x = np.asarray(sent, dtype=np.float64).reshape(-1)
    y = np.asarray(received, dtype=np.float64).reshape(-1)
    n = PROBE_PERIOD
    size = min(x.size, y.size)
    playing = np.flatnonzero(x[:size])
    if playing.size == 0:
        raise ValueError("the probe sent was silent")
    start = int(playing[0])                   # the probe within the capture: whole periods only
    periods = (int(playing[-1]) + 1 - start) // n
    if periods < 3:
        raise ValueError(f"echo probe too short: {periods} periods of {n} samples, need at least 3")
    end = start + periods * n
    x = x[start + n:end]
    y = _remove_tones(y[start:end], tone_freqs)[n:]
    amp2 = float(np.mean(x[:n] ** 2))
    if amp2 <= 0:
        raise ValueError("the probe sent was silent")
    ref = np.fft.rfft(x[:n])
    acc = np.zeros(n)
    for k in range(periods - 1):
        seg = y[k * n:(k + 1) * n]
        acc += np.fft.irfft(np.fft.rfft(seg) * np.conj(ref), n)
    # the MLS autocorrelation is n at lag 0 and -1 elsewhere: undo the small DC bias
    h = acc / (periods - 1) / (amp2 * (n + 1))
    h -= h.mean() * (1.0 / (n + 1))
    energy = h ** 2
    peak = int(np.argmax(np.abs(h)))
    strong = np.flatnonzero(np.abs(h) >= np.abs(h[peak]) * 0.1)
    delay = int(strong[0]) if strong.size else peak
    # the estimate's noise floor: the late taps, well after any echo a hybrid makes
    noise = float(np.median(energy[n // 2:])) + 1e-30
    smooth = np.convolve(energy, np.ones(8) / 8, "same")
    above = np.flatnonzero(smooth >= max(10 * noise, float(energy[peak]) * 1e-4))
    tail = int(above[-1]) if above.size else peak
    clean = h.copy()
    clean[min(n, tail + 16):] = 0.0            # what is left after the echo is measurement noise
    snr = 10 * math.log10(max(float(energy[delay:tail + 1].mean()), 1e-30) / noise)
    return EchoPathEstimate(clean, voice_band_erl_db(clean), delay * 1000 / RATE, peak * 1000 / RATE,
                            (tail + 1) * 1000 / RATE, snr, level_dbm0)
