"""Signal levels in the 16-bit linear domain, 8 kHz.

A 0 dBm0 sine is the G.711 reference: +3.14 dBm0 is the largest sine a μ-law
channel carries, which we map to full scale (32767 peak). Every level in the
code base (tone profiles, DTMF, caller ID, echo tests) goes through these two
functions so that "−10 dBm0" means one thing everywhere.
"""
import math

import numpy as np

RATE = 8000          # samples per second
FRAME = 80           # samples per 10 ms frame
FULL_SCALE_DBM0 = 3.14
DBM0_PEAK = 32767 * 10 ** (-FULL_SCALE_DBM0 / 20)   # peak of a 0 dBm0 sine
DBM0_RMS = DBM0_PEAK / math.sqrt(2)


def dbm0_to_peak(dbm0: float) -> float:
    """Peak amplitude of a sine at `dbm0`."""
    return DBM0_PEAK * 10 ** (dbm0 / 20)


def rms_dbm0(samples: np.ndarray) -> float:
    """Level of a block of samples in dBm0 (−inf for silence)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(x * x)))
    return 20 * math.log10(rms / DBM0_RMS) if rms > 0 else float("-inf")
