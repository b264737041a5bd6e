"""Echo-path models and test signals for the echo canceller tests and the bench.

The eight G.168 Annex D hybrid models are read at run time from spandsp's
`g168models.h` (Debian `libspandsp-dev`); the coefficients are not copied into
this repository. Everything here is numpy only and deterministic given a seed.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import numpy as np

from drivers.sim import echo as sim_echo
from dsp_ext.g711 import ulaw_decode, ulaw_encode
from dsp_ext.levels import DBM0_RMS, RATE

HEADER = sim_echo.G168_HEADER
MODEL_NAMES = sim_echo.G168_MODELS


def g168_models(header: pathlib.Path = HEADER) -> dict[str, np.ndarray]:
    """Impulse responses (float, unscaled) of the Annex D models, keyed 'd2'..'d9'."""
    return sim_echo.g168_models(header)


def echo_path(model: np.ndarray, erl_db: float, delay: int = 0) -> np.ndarray:
    """`model` delayed by `delay` samples and scaled so that its power gain on a
    flat-spectrum signal is -erl_db (ERL measured on white noise)."""
    h = np.concatenate([np.zeros(delay), model])
    return h * (10 ** (-erl_db / 20) / np.sqrt(np.sum(h * h)))


def mulaw_roundtrip(x: np.ndarray) -> np.ndarray:
    """Through a G.711 mu-law channel: round, clip, encode, decode (int16 out)."""
    v = np.clip(np.rint(np.asarray(x, dtype=np.float64)), -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(v))


def _speech_shape(n: int) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1 / RATE)
    # long-term speech spectrum, roughly: rises to ~500 Hz, -6 dB/oct above ~800 Hz, band-limited 3.4 kHz
    return (1 - np.exp(-(f / 250) ** 2)) / np.sqrt(1 + (f / 800) ** 2) * (f < 3500)


def speech_like(seconds: float, level_dbm0: float, seed: int, voiced: float = 0.0) -> np.ndarray:
    """A composite-source-like signal (float): syllables of voiced (harmonics of a
    random pitch) or unvoiced (shaped noise) sound, 60-250 ms long with a
    raised-cosine envelope, separated by 20-150 ms gaps. The active parts are at
    `level_dbm0`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    active = np.zeros(n, dtype=bool)
    t = int(rng.integers(0, 160))
    while t < n:
        length = int(rng.integers(480, 2000))
        seg_n = min(length, n - t)
        if rng.random() < voiced:
            f0 = rng.uniform(90, 230)
            k = np.arange(1, int(3500 / f0))
            amps = _speech_shape_at(k * f0)
            tt = np.arange(seg_n) / RATE
            phases = rng.uniform(0, 2 * np.pi, k.size)
            seg = (amps[:, None] * np.sin(2 * np.pi * f0 * k[:, None] * tt + phases[:, None])).sum(0)
        else:
            spec = np.fft.rfft(rng.standard_normal(length)) * _speech_shape(length)
            spec *= 1 + np.fft.rfftfreq(length, 1 / RATE) / 1500  # unvoiced: brighter
            seg = np.fft.irfft(spec, length)[:seg_n]
        env = np.sin(np.pi * (np.arange(seg_n) + 0.5) / length) ** 0.5
        seg = seg * env
        seg *= 1 / np.sqrt(np.mean(seg * seg) + 1e-12)
        out[t:t + seg_n] = seg
        active[t:t + seg_n] = True
        t += length + int(rng.integers(160, 1200))
    rms = np.sqrt(np.mean(out[active] ** 2)) if active.any() else 1.0
    return out * (DBM0_RMS * 10 ** (level_dbm0 / 20) / rms)


def _speech_shape_at(freqs: np.ndarray) -> np.ndarray:
    return (1 - np.exp(-(freqs / 250) ** 2)) / np.sqrt(1 + (freqs / 800) ** 2)


def line(far: np.ndarray, h: np.ndarray, near_extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Send `far` (float) over a G.711 line with echo path `h`.

    Returns (far_sent, near_received, echo): far as the canceller sees it
    (mu-law decoded), what comes back (echo + near_extra, mu-law coded and
    decoded) and the echo component alone (float, before coding)."""
    far_sent = mulaw_roundtrip(far)
    echo = np.convolve(far_sent.astype(np.float64), h)[: far.size]
    near = echo if near_extra is None else echo + near_extra
    return far_sent, mulaw_roundtrip(near), echo


def power_db(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-9)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def espeak_speech(text: str, voice: str, level_dbm0: float, wpm: int = 170) -> np.ndarray:
    """Synthetic real speech (espeak-ng, resampled to 8 kHz by sox), float, with the
    active part (samples above -45 dBm0 peak) at `level_dbm0`."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text],
                         check=True, capture_output=True).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True).stdout
    x = np.frombuffer(raw, dtype=np.int16).astype(np.float64)
    active = np.abs(x) > DBM0_RMS * 10 ** (-45 / 20)
    return x * (DBM0_RMS * 10 ** (level_dbm0 / 20) / np.sqrt(np.mean(x[active] ** 2)))
