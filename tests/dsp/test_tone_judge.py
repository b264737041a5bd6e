"""The busy/congestion detector's per-block judge in C (`tone_judge_process`) and its
recognition that skips work while the on/off runs keep their shape: both must give exactly
what the numpy judge and the full recognition every block give (the far-end disconnect
decision depends on them), on speech, tones of every profile, noise and learned tones."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.speech import speak
from dsp_ext.countries import PROFILES, ToneSpec
from dsp_ext.levels import DBM0_RMS, RATE
from dsp_ext.tones import ToneDetector, ToneGenerator, ToneJudgeReference

ALL = ("busy", "congestion", "dial", "ringback", "stutter_dial")


class FullRecognition(ToneDetector):
    """The detector as it was: the whole recognition on every block."""

    def _decide(self):
        self._reshaped = True
        return super()._decide()


@pytest.fixture(scope="module")
def talk() -> np.ndarray:
    return speak("Hello, this is the warehouse, your parcel left this morning and should arrive on "
                 "Thursday before noon. Please call us back if nobody is at home.", -14.0)


def noise(n: int, dbm0: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, DBM0_RMS * 10 ** (dbm0 / 20), n)


def line(country: str, name: str, talk: np.ndarray, seed: int) -> np.ndarray:
    """Speech, then the tone (at a random level, a little off frequency), with speech over its
    start and line noise throughout: what a line carries when the far end hangs up."""
    rng = np.random.default_rng(seed)
    spec = ToneGenerator.for_country(country, name).spec
    off = rng.uniform(0.985, 1.015)
    level = spec.level_dbm0 + rng.uniform(-12, 3)
    body = ToneGenerator(ToneSpec(tuple(f * off for f in spec.freqs) if not spec.modulated
                                  else (spec.freqs[0] * off, spec.freqs[1]), spec.cadence_ms, level,
                                  spec.modulated)).generate(RATE * 7)
    x = np.concatenate([talk.astype(np.float64), body, np.zeros(RATE)])
    x[talk.size:talk.size + RATE] += talk[:RATE] * rng.uniform(0, 1)
    x += noise(x.size, rng.uniform(-65, -35), seed)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def chunks(x: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.size:
        n = int(rng.choice([1, 80, 160, 199, 200, 201, 3200, 4000]))
        out.append(x[i:i + n])
        i += n
    return out


def judged(det: ToneDetector, parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """What the C judge of a fresh copy of `det` says, block by block."""
    from dsp_ext._ffi import ffi, lib, samples_ptr
    from dsp_ext.tones import _new_judge
    state = _new_judge(det.freqs, det._sig_list)
    ns = len(det._sig_list)
    ons, levels = [], []
    for part in parts:
        most = part.size // 200 + 1
        on = np.zeros(most * ns, np.uint8)
        level = np.zeros(most * ns)
        nb = lib.tone_judge_process(state, samples_ptr(np.ascontiguousarray(part)), part.size,
                                    ffi.from_buffer("uint8_t[]", on), ffi.from_buffer("double[]", level), most)
        ons.append(on[:nb * ns].reshape(nb, ns))
        levels.append(level[:nb * ns].reshape(nb, ns))
    return np.concatenate(ons).astype(bool), np.concatenate(levels)


@pytest.mark.parametrize("country", sorted(PROFILES))
def test_c_judge_equals_the_numpy_judge(country: str, talk: np.ndarray) -> None:
    for k, name in enumerate(("busy", "congestion", "ringback")):
        x = line(country, name, talk, seed=10 + k)
        det = ToneDetector(country, ALL)
        parts = chunks(x, seed=k)
        ref = ToneJudgeReference(det)
        want = [ref.process(p) for p in parts]
        on_ref = np.concatenate([w[0] for w in want])
        level_ref = np.concatenate([w[1] for w in want])
        on, level = judged(det, parts)
        assert on.shape == on_ref.shape == (x.size // 200, len(det._sig_list))
        assert on_ref.any() and not on_ref.all()         # the tone was heard, and the speech was not it
        assert np.array_equal(on, on_ref)
        assert np.allclose(level, level_ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("country", sorted(PROFILES))
@pytest.mark.parametrize("tones", [("busy", "congestion"), ALL])
def test_recognition_equals_the_full_recognition_every_block(country: str, tones: tuple[str, ...],
                                                             talk: np.ndarray) -> None:
    heard = 0
    for k, name in enumerate(ALL):
        x = line(country, name, talk, seed=100 + k)
        got = []
        full = FullRecognition(country, tones)
        fast = ToneDetector(country, tones)
        for part in chunks(x, seed=k):
            want = full.process(part)
            got = fast.process(part)
            assert got == want, (name, part.size)
            heard += len(want)
    assert heard > 0


def test_learned_tone_and_loose_cadence_recognised_the_same() -> None:
    # an exchange's busy tone 30 % slower than the plan (matched loosely) and a learned
    # disconnect tone beside the country's
    odd = ToneSpec((470.0, 590.0), (300, 200), -20.0)
    slow = ToneSpec((480.0, 620.0), (650, 650), -24.0)
    x = np.concatenate([ToneGenerator(slow).generate(RATE * 8), np.zeros(RATE),
                        ToneGenerator(odd).generate(RATE * 5), np.zeros(RATE)]).astype(np.float64)
    x = np.clip(x + noise(x.size, -50, 7), -32768, 32767).astype(np.int16)
    full = FullRecognition("US", ("busy", "congestion"), extra={"disconnect": odd})
    fast = ToneDetector("US", ("busy", "congestion"), extra={"disconnect": odd})
    want, got = [], []
    for part in chunks(x, seed=3):
        want += full.process(part)
        got += fast.process(part)
    assert got == want
    assert [(e.kind, e.tone) for e in got] == [("start", "busy"), ("end", "busy"),
                                               ("start", "disconnect"), ("end", "disconnect")]


def test_judge_refuses_what_does_not_fit() -> None:
    from dsp_ext._ffi import ffi, lib
    state = ffi.new("tone_judge_t *")
    assert lib.tone_judge_init(state, ffi.new("double[]", [425.0]), 1, 200, 8000.0, 1.0, 1.0, 0.75) == 0
    assert lib.tone_judge_add_sig(state, 1, ffi.new("int[]", [1]), ffi.new("double[]", [10.0]), 0) == -1
    assert lib.tone_judge_add_sig(state, 2, ffi.new("int[]", [0, 0]), ffi.new("double[]", [10.0, 10.0]), 1) == -1
    assert lib.tone_judge_add_sig(state, 1, ffi.new("int[]", [0]), ffi.new("double[]", [10.0]), 0) == 0
    assert lib.tone_judge_init(state, ffi.new("double[]", [425.0]), 0, 200, 8000.0, 1.0, 1.0, 0.75) == -1
    # no tone asked for: nothing to hear, whatever it is fed
    assert ToneDetector("US", ()).process(ToneGenerator.for_country("US", "busy").generate(RATE * 5)) == []
