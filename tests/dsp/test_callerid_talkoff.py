"""No caller ID or CAS out of speech, music or noise (talk-off).

A CAS detector runs during conversations (caller ID on call waiting) and the
caller-ID receiver on idle lines that may carry anything; neither may fire on
what people say or play. Speech comes from espeak-ng in several voices and
languages, resampled to 8 kHz by sox.
"""
import shutil
import subprocess

import numpy as np
import pytest

from dsp_ext.callerid import CallerIdReceiver, CasDetector
from dsp_ext.levels import RATE, dbm0_to_peak, rms_dbm0

SENTENCES = {
    "en-us": "Hello, thanks for calling. Please hold while we connect your call to the next agent.",
    "en-gb+f3": "Six silly sisters sell shiny seashells; she sells them by the seashore each summer.",
    "de+m3": "Guten Tag, hier ist der automatische Anrufbeantworter. Bitte sprechen Sie nach dem Ton.",
    "fr+f2": "Bonjour, votre correspondant n'est pas disponible, veuillez rappeler plus tard.",
    "hi": "Namaste, aapka call mahatvapurna hai, kripya line par bane rahiye.",
}


def speech(voice: str, text: str, tmp_path) -> np.ndarray:
    wav, raw = tmp_path / "s.wav", tmp_path / "s.raw"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16",
                    "-e", "signed-integer", str(raw)], check=True, capture_output=True)
    return np.fromfile(raw, dtype=np.int16)


def at_level(x: np.ndarray, dbm0: float) -> np.ndarray:
    x = x.astype(float)
    x *= 10 ** ((dbm0 - rms_dbm0(x)) / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def music(seed: int, seconds: float = 6.0) -> np.ndarray:
    """Chords of harmonic notes with vibrato and a beat, spanning the FSK and CAS bands."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        span = (t >= start) & (t < start + 0.5)
        for midi in rng.choice(np.arange(60, 100), 3, replace=False):
            f = 440 * 2 ** ((midi - 69) / 12)
            vib = 1 + 0.004 * np.sin(2 * np.pi * 5 * t[span])
            for h in (1, 2, 3, 4):
                if f * h < 3600:
                    out[span] += np.sin(2 * np.pi * f * h * vib * (t[span] - start)) / h
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9) * rng.normal(0, 1.5, t.size)
    return out + beat


def false_alarms(x: np.ndarray) -> tuple[int, list]:
    cas, rx = CasDetector(), CallerIdReceiver("auto")
    hits, messages = 0, []
    for k in range(0, len(x), 80):
        hits += cas.process(x[k:k + 80])
        messages += rx.process(x[k:k + 80])
    return hits, messages


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng or sox not installed")
def test_no_talk_off_on_speech(tmp_path):
    clips = [speech(voice, text, tmp_path) for voice, text in SENTENCES.items()]
    assert all(len(c) > RATE for c in clips)
    for level in (-25.0, -10.0, 0.0):
        x = at_level(np.concatenate(clips), level)
        assert false_alarms(x) == (0, [])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_talk_off_on_music(seed):
    assert false_alarms(at_level(music(seed), -12.0)) == (0, [])


def test_no_talk_off_on_noise_bursts():
    rng = np.random.default_rng(8)
    bursts = (rng.random(80) < 0.5).repeat(RATE // 10)          # 100 ms on/off at random, 8 s
    x = rng.normal(0, 1, bursts.size) * bursts
    x = np.convolve(x, np.ones(3) / 3, mode="same") * dbm0_to_peak(-10)
    assert false_alarms(np.clip(x, -32768, 32767).astype(np.int16)) == (0, [])
