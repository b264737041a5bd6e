"""Fax/modem tone detection: CNG, CED, ANS with phase reversals, ANSam (V.25, V.8, T.30)."""
import numpy as np
import pytest

from dsp_ext._ffi import ffi, lib, samples_ptr
from dsp_ext.faxtone import FaxToneDetector
from dsp_ext.levels import DBM0_PEAK, DBM0_RMS, RATE, dbm0_to_peak


def answer_tone(seconds=3.3, freq=2100.0, level=-12.0, am=False, reversals=False):
    t = np.arange(int(seconds * RATE)) / RATE
    phase = np.pi * (np.floor(t / 0.45) % 2) if reversals else 0.0
    env = 1 + 0.2 * np.sin(2 * np.pi * 15 * t) if am else 1.0
    return dbm0_to_peak(level) * env * np.sin(2 * np.pi * freq * t + phase)


def cng(cycles=2, level=-10.0, freq=1100.0):
    burst = dbm0_to_peak(level) * np.sin(2 * np.pi * freq * np.arange(RATE // 2) / RATE)
    return np.concatenate([np.concatenate([burst, np.zeros(3 * RATE)]) for _ in range(cycles)])


def detect(x, lead=0.25, snr_db=None, seed=5, frame=80):
    x = np.concatenate([np.zeros(int(lead * RATE)), x, np.zeros(RATE // 2)])
    if snr_db is not None:
        x = x + np.random.default_rng(seed).normal(0, DBM0_RMS * 10 ** ((-12 - snr_db) / 20), x.size)
    x = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    det = FaxToneDetector()
    ev = []
    for i in range(0, x.size, frame):
        ev += det.process(x[i:i + frame])
    return [(e.tone, e.kind, round(e.time, 2), e.phase_reversals) for e in ev]


@pytest.mark.parametrize("snr", [None, 15])
def test_cng_each_burst_with_start_and_end(snr):
    assert detect(cng(2), snr_db=snr) == [("CNG", "start", 0.25, False), ("CNG", "end", 0.75, False),
                                          ("CNG", "start", 3.75, False), ("CNG", "end", 4.25, False)]


@pytest.mark.parametrize("am, reversals, name", [
    (False, False, "CED"), (False, True, "CED"), (True, False, "ANSam"), (True, True, "ANSam")])
@pytest.mark.parametrize("freq", [2085.0, 2100.0, 2115.0])
def test_answer_tones_and_phase_reversals(am, reversals, name, freq):
    ev = detect(answer_tone(freq=freq, am=am, reversals=reversals), snr_db=20)
    assert ev == [(name, "start", 0.25, False), (name, "end", 3.55, reversals)]


@pytest.mark.parametrize("x", [
    answer_tone(freq=2130), answer_tone(freq=2070), cng(1, freq=1160),
    answer_tone(level=-50), answer_tone(seconds=0.2), np.zeros(RATE)],
    ids=["2130Hz", "2070Hz", "1160Hz", "too-weak", "too-short", "silence"])
def test_not_fax_tones(x):
    assert detect(x, snr_db=None) == []


def test_noise_and_dtmf_are_not_fax_tones():
    from dsp_ext.dtmf import dtmf_encode
    rng = np.random.default_rng(9)
    assert detect(rng.normal(0, DBM0_RMS * 0.3, RATE * 5)) == []
    assert detect(dtmf_encode("0123456789*#ABCD" * 3, 100, 50).astype(float)) == []


def test_c_api_reports_reversals_within_a_second_for_the_echo_canceller():
    """The echo canceller's disabler polls the C state: 2100 Hz with reversals within ~1 s."""
    state = ffi.new("faxtone_rx_t *")
    lib.faxtone_rx_init(state, DBM0_PEAK)
    x = np.clip(np.rint(answer_tone(reversals=True, level=-20)), -32768, 32767).astype(np.int16)
    seen = {}
    for i in range(0, x.size, 80):
        bits = lib.faxtone_rx_process(state, samples_ptr(x[i:i + 80]), 80)
        for bit in (lib.FAXTONE_ANS, lib.FAXTONE_REVERSALS):
            if bits & bit and bit not in seen:
                seen[bit] = (i + 80) / RATE
    assert seen[lib.FAXTONE_ANS] <= 0.35
    assert 0.45 < seen[lib.FAXTONE_REVERSALS] <= 0.6        # first reversal at 450 ms
    assert abs(lib.faxtone_rx_ans_freq(state) - 2100) < 1
    tail = np.zeros(400, np.int16)
    assert lib.faxtone_rx_process(state, samples_ptr(tail), tail.size) == 0


def test_no_fax_tone_in_speech_music_or_noise():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus
    if not corpus.tools_available():
        pytest.skip("espeak-ng and sox are needed to build the talk-off corpus")
    hits = [(name, FaxToneDetector().process(x)) for name, x in corpus.speech() + corpus.music() + corpus.noises()]
    assert [h for h in hits if h[1]] == []
