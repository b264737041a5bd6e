"""Speech for simulated far ends: espeak-ng at 8 kHz, cached per text and voice.

Far ends that answer with a voice ("Hello?"), an answering machine's greeting,
the announcement after special information tones. Real synthesised speech,
not noise, so the answer detector is tested on what it will hear.
"""
from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np

from dsp_ext.levels import DBM0_RMS, RATE

__all__ = ["speak", "speech_available", "HELLO", "MACHINE_GREETING", "SIT_ANNOUNCEMENT"]

HELLO = "Hello?"
MACHINE_GREETING = ("Hi, you have reached the Smith family. We cannot come to the phone right now. "
                    "Please leave your name, your number and a short message after the tone, "
                    "and we will call you back as soon as we can.")
SIT_ANNOUNCEMENT = "We are sorry. The number you have dialled is not in service. Please check the number and try again."


def speech_available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=32)
def _speak(text: str, voice: str, wpm: int) -> bytes:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise OSError("espeak-ng is not installed (apt-get install espeak-ng): simulated far ends speak with it")
    out = subprocess.run([exe, "-v", voice, "-s", str(wpm), "--stdout", "--", text],
                         check=True, capture_output=True, timeout=60).stdout
    # a RIFF/WAVE header then 16-bit mono at espeak's rate (22050 Hz)
    if out[:4] != b"RIFF":
        raise OSError("espeak-ng did not return a WAV stream")
    rate = int.from_bytes(out[24:28], "little")
    pos = 12
    while pos + 8 <= len(out):
        size = int.from_bytes(out[pos + 4:pos + 8], "little")
        if out[pos:pos + 4] == b"data":
            data = out[pos + 8:] if size in (0, 0xFFFFFFFF) or pos + 8 + size > len(out) else out[pos + 8:pos + 8 + size]
            break
        pos += 8 + size
    else:
        raise OSError("espeak-ng WAV stream has no data")
    x = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)
    # band-limit to the telephone band, then resample to 8 kHz (FFT filter + linear interpolation)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(x.size, 1 / rate)
    spec[(f < 250) | (f > 3500)] = 0
    y = np.fft.irfft(spec, x.size)
    t = np.arange(0, x.size * RATE // rate) * (rate / RATE)
    z = np.interp(t, np.arange(x.size), y)
    # trim leading/trailing silence: the far end's words start when it says so
    loud = np.flatnonzero(np.abs(z) > 0.02 * np.abs(z).max())
    if loud.size:
        z = z[loud[0]:loud[-1] + 1]
    return z.astype(np.float32).tobytes()


def speak(text: str, level_dbm0: float = -18.0, voice: str = "en-us", wpm: int = 160) -> np.ndarray:
    """`text` spoken by espeak-ng, int16 at 8 kHz, its active speech at `level_dbm0`."""
    z = np.frombuffer(_speak(text, voice, wpm), dtype=np.float32).astype(np.float64)
    frames = z[: z.size // 80 * 80].reshape(-1, 80)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    active = frames[rms > rms.max() * 0.05]
    level = np.sqrt((active ** 2).mean()) if active.size else 1.0
    gain = DBM0_RMS * 10 ** (level_dbm0 / 20) / max(level, 1e-9)
    return np.clip(np.rint(z * gain), -32768, 32767).astype(np.int16)
