"""DTMF receiver and generator against the Q.24 bars of issue 3 (signals generated here)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.dtmf import DIGITS, DtmfGenerator, DtmfReceiver, dtmf_encode
from dsp_ext.levels import RATE, dbm0_to_peak, rms_dbm0

ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
sys.path.insert(0, str(Path(__file__).resolve().parent))   # corpus.py

KEYS = ("123A", "456B", "789C", "*0#D")
FREQ = {KEYS[r][c]: (ROWS[r], COLS[c]) for r in range(4) for c in range(4)}


def burst(digit, ms, low_dbm0=-10.0, twist_db=0.0, dev=0.0, phase=0.0):
    lo, hi = FREQ[digit]
    t = np.arange(ms * RATE // 1000) / RATE
    x = (dbm0_to_peak(low_dbm0) * np.sin(2 * np.pi * lo * (1 + dev) * t + phase)
         + dbm0_to_peak(low_dbm0 + twist_db) * np.sin(2 * np.pi * hi * (1 + dev) * t + 2 * phase))
    return x


def silence(ms):
    return np.zeros(ms * RATE // 1000)


def to16(x):
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def run(x, frame=80):
    rx = DtmfReceiver()
    x = to16(x)
    events = []
    for i in range(0, x.size, frame):
        events += rx.process(x[i:i + frame])
    return events


def digits(events):
    return "".join(e.digit for e in events if e.kind == "start")


def test_every_digit_round_trips_with_start_end_and_level():
    x = np.concatenate([dtmf_encode(DIGITS, 60, 60, level_dbm0=-12, twist_db=2), np.zeros(800, np.int16)])
    ev = run(x)
    assert digits(ev) == DIGITS
    assert [e.kind for e in ev] == ["start", "end"] * len(DIGITS)
    for i, (s, e) in enumerate(zip(ev[0::2], ev[1::2], strict=True)):
        assert s.digit == e.digit
        assert abs(s.time - i * 0.120) <= 0.015 and abs(e.time - (i * 0.120 + 0.060)) <= 0.015
        assert abs(s.level_dbm0 - (-10.0)) <= 0.5      # the stronger (column) tone


@pytest.mark.parametrize("frame", [1, 7, 80, 160, 1000])
def test_frame_size_does_not_matter(frame):
    x = np.concatenate([dtmf_encode("159#", 50, 50), np.zeros(400, np.int16)])
    ev = run(x, frame)
    assert digits(ev) == "159#"
    assert ev == run(x, 80)


def test_generator_levels_timing_and_continuity():
    gen = DtmfGenerator(on_ms=100, off_ms=50, level_dbm0=-10, twist_db=2)
    assert not gen.busy
    gen.queue("5")
    assert gen.busy
    x = np.concatenate([gen.generate(80) for _ in range(20)])      # 1600 samples = 200 ms
    assert not gen.busy
    on = x[:800].astype(float)
    assert np.count_nonzero(x[800:]) == 0 and np.count_nonzero(on[:4]) > 0
    t = np.arange(800) / RATE
    basis = np.stack([f(2 * np.pi * fr * t) for fr in (770, 1336) for f in (np.sin, np.cos)], axis=1)
    coef = np.linalg.lstsq(basis, on, rcond=None)[0]
    for i, level in enumerate((-10, -8)):
        amp = np.hypot(coef[2 * i], coef[2 * i + 1])
        assert abs(20 * np.log10(amp / dbm0_to_peak(0)) - level) < 0.05
    assert abs(rms_dbm0(on) - 10 * np.log10(10 ** -1 + 10 ** -0.8)) < 0.1
    # phase continuity across frame boundaries: no jumps bigger than the tone's slope allows
    assert np.max(np.abs(np.diff(on))) < 2 * np.pi * 1336 / RATE * dbm0_to_peak(-8) + 2 * np.pi * 770 / RATE * dbm0_to_peak(-10)


def test_generator_rejects_bad_digits_and_keeps_its_queue():
    gen = DtmfGenerator()
    gen.queue("12")
    with pytest.raises(ValueError, match="'x'"):
        gen.queue("3x4")
    x = gen.generate(8 * 320)
    assert digits(run(np.concatenate([x, np.zeros(800, np.int16)]))) == "12"
    with pytest.raises(ValueError, match="'E'"):
        dtmf_encode("E")


def test_long_digit_strings_queue_beyond_the_c_buffer():
    s = (DIGITS * 20)[:300]
    gen = DtmfGenerator(40, 40)
    gen.queue(s)
    x = gen.generate(len(s) * 640 + 800)
    assert digits(run(x)) == s


# ---- Q.24 conformance: each case is run at several alignments against the 102-sample blocks ----

OFFSETS = (0, 17, 34, 51, 68, 85)


def detected(x, offsets=OFFSETS):
    """For each alignment, the digits reported for signal x (float samples)."""
    return [digits(run(np.concatenate([silence(0)[:0], np.zeros(k), x, silence(100)]), frame=80)) for k in offsets]


@pytest.mark.parametrize("digit", list(DIGITS))
@pytest.mark.parametrize("dev", [-0.015, 0.015])
def test_accepts_frequency_deviation_of_1_5_percent(digit, dev):
    assert detected(burst(digit, 50, -10, 2, dev)) == [digit] * len(OFFSETS)


@pytest.mark.parametrize("digit", list(DIGITS))
@pytest.mark.parametrize("dev", [-0.035, 0.035])
def test_rejects_frequency_deviation_of_3_5_percent(digit, dev):
    assert detected(burst(digit, 100, -10, 2, dev)) == [""] * len(OFFSETS)


@pytest.mark.parametrize("which", ["row", "col"])
@pytest.mark.parametrize("dev", [-0.035, 0.035])
def test_rejects_when_only_one_tone_is_off_frequency(which, dev):
    lo, hi = FREQ["8"]
    t = np.arange(800) / RATE
    x = (dbm0_to_peak(-10) * np.sin(2 * np.pi * lo * (1 + (dev if which == "row" else 0)) * t)
         + dbm0_to_peak(-8) * np.sin(2 * np.pi * hi * (1 + (dev if which == "col" else 0)) * t))
    assert detected(x) == [""] * len(OFFSETS)


@pytest.mark.parametrize("digit", list("1590*#AD"))
@pytest.mark.parametrize("twist", [-8.0, 4.0])       # high minus low: normal = low stronger, reverse = high stronger
def test_accepts_normal_twist_8db_and_reverse_twist_4db(digit, twist):
    assert detected(burst(digit, 50, -14, twist)) == [digit] * len(OFFSETS)


@pytest.mark.parametrize("digit", list("1590*#AD"))
@pytest.mark.parametrize("twist", [-10.0, 6.0])
def test_rejects_twist_beyond(digit, twist):
    assert detected(burst(digit, 100, -14, twist)) == [""] * len(OFFSETS)


@pytest.mark.parametrize("digit", list(DIGITS))
def test_accepts_40ms(digit):
    offsets = range(0, 102, 6)
    assert detected(burst(digit, 40), offsets) == [digit] * len(offsets)


@pytest.mark.parametrize("digit", list(DIGITS))
def test_rejects_23ms(digit):
    offsets = range(0, 102, 6)
    assert detected(burst(digit, 23), offsets) == [""] * len(offsets)


def test_bridges_gaps_up_to_10ms_and_splits_at_40ms():
    for gap_at in (10, 17, 25, 33, 40, 47):
        x = np.concatenate([burst("6", gap_at, phase=0), silence(10), burst("6", 100 - gap_at, phase=1.0)])
        assert detected(x) == ["6"] * len(OFFSETS), gap_at
    x = np.concatenate([burst("6", 60), silence(40), burst("6", 60)])
    assert detected(x) == ["66"] * len(OFFSETS)


def test_dynamic_range_35db():
    # per-tone levels from 0 dBm0 (a little below full scale for the pair) down to -35 dBm0
    for level in (0, -5, -10, -15, -20, -25, -30, -35):
        assert detected(burst("9", 50, level, 0.0), (0, 40)) == ["9", "9"], level
    assert detected(burst("9", 50, -50, 0.0), (0, 40)) == ["", ""]


def test_level_report():
    for level, twist in ((-5.0, 2.0), (-20.0, -3.0), (-33.0, 0.0)):
        ev = run(np.concatenate([burst("3", 60, level, twist), silence(50)]))
        assert abs(ev[0].level_dbm0 - max(level, level + twist)) < 0.3


@pytest.mark.parametrize("on_ms, snr_db", [(50, 15), (40, 15), (50, 12)])
def test_all_1000_bursts_in_white_noise(on_ms, snr_db):
    """1000 bursts (50 ms gaps) at -4 dBm0 (composite) in white noise at S/N 15 dB and worse."""
    rng = np.random.default_rng(1000 + on_ms + snr_db)
    seq = "".join(rng.choice(list(DIGITS), 1000))
    per_tone = -4 - 10 * np.log10(2)
    x = dtmf_encode(seq, on_ms, 50, level_dbm0=per_tone, twist_db=0).astype(np.float64)
    duty = on_ms / (on_ms + 50)
    assert abs(rms_dbm0(x) - (-4 + 10 * np.log10(duty))) < 0.1
    from dsp_ext.levels import DBM0_RMS
    x += rng.normal(0, DBM0_RMS * 10 ** ((-4 - snr_db) / 20), x.size)
    rx = DtmfReceiver()
    ev = rx.process(to16(x))
    assert digits(ev) == seq


@pytest.mark.parametrize("country", ["US", "UK", "DE", "FR"])
@pytest.mark.parametrize("above_db", [10.0, 12.0])
def test_digits_found_with_dial_tone_up_to_12db_above_them(country, above_db):
    """Someone dials over the exchange's dial tone, which is 10-12 dB louder than the digits."""
    from dsp_ext.levels import rms_dbm0
    from dsp_ext.tones import ToneGenerator
    dial = ToneGenerator.for_country(country, "dial").generate(8 * 2000).astype(float)
    per_tone = rms_dbm0(dial) - above_db - 3.0        # the two tones together are above_db below the dial tone
    sig = dtmf_encode("1234567890*#ABCD", 50, 50, level_dbm0=per_tone, twist_db=0).astype(float)
    assert digits(run(dial + np.concatenate([sig, np.zeros(dial.size - sig.size)]))) == "1234567890*#ABCD"


def test_works_with_dial_tone_present():
    from dsp_ext.tones import ToneGenerator
    for country in ("US", "UK", "DE", "FR"):
        dial = ToneGenerator.for_country(country, "dial").generate(8 * 1200).astype(float)
        sig = dtmf_encode("1234567890*#", 50, 50, level_dbm0=-10, twist_db=2).astype(float)
        assert digits(run(dial + np.concatenate([sig, np.zeros(dial.size - sig.size)]))) == "1234567890*#", country


def test_no_digit_from_line_echo_of_a_digit_we_sent():
    """We send digits; the hybrid echoes them back (6-20 dB down, 2-20 ms late) plus line noise.
    Given what we sent, the receiver reports nothing; a real far-end digit during the echo is reported."""
    from dsp_ext.levels import DBM0_RMS
    rng = np.random.default_rng(7)
    sent = dtmf_encode("0123456789*#ABCD", 70, 70, level_dbm0=-8, twist_db=2)
    for erl_db, delay in ((6, 16), (12, 80), (20, 160)):
        echo = np.concatenate([np.zeros(delay), sent[:sent.size - delay] * 10 ** (-erl_db / 20)])
        near = echo + rng.normal(0, DBM0_RMS * 10 ** (-50 / 20), echo.size)
        rx = DtmfReceiver()
        ev = []
        for i in range(0, sent.size, 80):
            ev += rx.process(to16(near[i:i + 80]), sent=sent[i:i + 80])
        assert ev == [], (erl_db, delay)
        assert digits(run(near)) == "0123456789*#ABCD"       # without the guard, the echo is detected
    # a real digit from the far end while we are sending a different one still gets through
    far = np.concatenate([np.zeros(2240), burst("7", 100, -6, 2), np.zeros(sent.size - 2240 - 800)])
    rx = DtmfReceiver()
    ev = []
    for i in range(0, sent.size, 80):
        ev += rx.process(to16(far[i:i + 80] + 0.25 * sent[i:i + 80]), sent=sent[i:i + 80])
    assert digits(ev) == "7"


# ---- talk-off: speech (espeak-ng, many voices and languages), synthetic music, noise ----

def _corpus():
    import corpus
    if not corpus.tools_available():
        pytest.skip("espeak-ng and sox are needed to build the talk-off corpus")
    return corpus.speech() + corpus.music_corpus() + corpus.noises()


def test_no_talk_off_on_speech_music_and_noise():
    """Over an hour of distinct multilingual espeak-ng speech (each voice at two levels), nine
    minutes of synthetic harmonic music (melodies and chords, piano/organ/strings, drums), noises:
    not one digit."""
    hits = []
    total = 0
    distinct_speech = 0
    for name, x in _corpus():
        total += x.size
        if name.startswith("speech") and name.endswith(" -18 dBm0"):
            distinct_speech += x.size
        for frame in (80,):
            ev = run(x, frame)
            hits += [(name, e.digit, round(e.time, 2)) for e in ev if e.kind == "start"]
    assert distinct_speech / RATE >= 60 * 60, distinct_speech / RATE / 60
    assert total / RATE > 120 * 60
    assert hits == []


def test_digits_still_detected_over_background_speech():
    import corpus
    if not corpus.tools_available():
        pytest.skip("espeak-ng and sox are needed")
    speech = dict(corpus.speech(more=False))["speech en-us+f3 p70 s175 -18 dBm0"].astype(float)
    sig = dtmf_encode("159D#0", 60, 200, level_dbm0=-6, twist_db=2).astype(float)
    x = speech[:sig.size] * 10 ** (-8 / 20) + sig        # speech at -26 dBm0 behind the digits
    assert digits(run(x)) == "159D#0"


# ---- interoperability with spandsp (loaded with cffi in ABI mode; declarations from dtmf.h) ----

def _spandsp():
    from cffi import FFI
    ffi = FFI()
    ffi.cdef("""
        typedef struct dtmf_tx_state_s dtmf_tx_state_t;
        typedef struct dtmf_rx_state_s dtmf_rx_state_t;
        typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
        dtmf_tx_state_t *dtmf_tx_init(dtmf_tx_state_t *s);
        int dtmf_tx_put(dtmf_tx_state_t *s, const char *digits, int len);
        void dtmf_tx_set_level(dtmf_tx_state_t *s, int level, int twist);
        void dtmf_tx_set_timing(dtmf_tx_state_t *s, int on_time, int off_time);
        int dtmf_tx(dtmf_tx_state_t *s, int16_t amp[], int max_samples);
        int dtmf_tx_free(dtmf_tx_state_t *s);
        dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback, void *user_data);
        int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples);
        size_t dtmf_rx_get(dtmf_rx_state_t *s, char *digits, int max);
        int dtmf_rx_free(dtmf_rx_state_t *s);
    """)
    for name in ("libspandsp.so.2", "libspandsp.so"):
        try:
            return ffi, ffi.dlopen(name)
        except OSError:
            continue
    pytest.skip("libspandsp not installed (apt install libspandsp-dev)")


def test_spandsp_decodes_our_digits():
    ffi, sp = _spandsp()
    seq = "0123456789*#ABCD" * 4
    x = np.concatenate([dtmf_encode(seq, 50, 50, level_dbm0=-20, twist_db=2), np.zeros(800, np.int16)])
    rx = sp.dtmf_rx_init(ffi.NULL, ffi.NULL, ffi.NULL)
    try:
        sp.dtmf_rx(rx, ffi.from_buffer("int16_t[]", x), x.size)
        buf = ffi.new("char[]", 256)
        got = ffi.string(buf, sp.dtmf_rx_get(rx, buf, 255)).decode()
    finally:
        sp.dtmf_rx_free(rx)
    assert got == seq


def test_we_decode_spandsp_digits():
    ffi, sp = _spandsp()
    seq = "0123456789*#ABCD" * 4
    tx = sp.dtmf_tx_init(ffi.NULL)
    try:
        sp.dtmf_tx_set_level(tx, -20, 2)
        sp.dtmf_tx_set_timing(tx, 50, 50)
        assert sp.dtmf_tx_put(tx, seq.encode(), len(seq)) == 0
        x = np.zeros(len(seq) * 800 + 1600, np.int16)
        n = sp.dtmf_tx(tx, ffi.from_buffer("int16_t[]", x), x.size)
    finally:
        sp.dtmf_tx_free(tx)
    assert n >= len(seq) * 800 - 400
    assert digits(run(x)) == seq


def test_reset_forgets_a_digit_in_progress_but_keeps_the_clock():
    rx = DtmfReceiver()
    x = to16(burst("5", 200))
    assert [e.kind for e in rx.process(x[:800])] == ["start"]
    rx.reset()
    ev = rx.process(np.concatenate([x[800:], to16(silence(100))]))
    # the tone still playing after the reset is a new digit, timed on the same clock
    assert [(e.kind, e.digit) for e in ev] == [("start", "5"), ("end", "5")]
    assert 0.1 <= ev[0].time <= 0.12 and abs(ev[1].time - 0.2) <= 0.015


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_through_g711_at_every_level(law):
    """The line is G.711: quantisation noise grows relative to weak tones."""
    from dsp_ext import g711
    enc, dec = getattr(g711, f"{law}_encode"), getattr(g711, f"{law}_decode")
    for level in (-3, -10, -20, -30, -35):
        x = dtmf_encode("0123456789*#ABCD", 50, 50, level_dbm0=level, twist_db=2)
        assert digits(run(np.concatenate([dec(enc(x)), np.zeros(800, np.int16)]))) == "0123456789*#ABCD", level


def test_float_input_is_rounded_and_clipped_never_wrapped():
    from dsp_ext._ffi import as_int16
    assert as_int16(np.array([np.nan, np.inf, -np.inf, 1.6, 4e4, -1e9])).tolist() == [0, 32767, -32768, 2, 32767, -32768]
    x = burst("8", 100, -10).astype(np.float64)
    x[50] = np.nan
    ev = DtmfReceiver().process(np.concatenate([x, silence(60)]))
    assert digits(ev) == "8"


def _with_echo_guard(near: np.ndarray, sent: np.ndarray) -> list:
    rx = DtmfReceiver()
    ev = []
    for i in range(0, sent.size, 80):
        ev += rx.process(to16(near[i:i + 80]), sent=sent[i:i + 80])
    return ev


@pytest.mark.parametrize("gap_ms", [100, 40])
def test_a_far_end_press_of_the_digit_we_just_sent_is_found(gap_ms):
    """We send "5" (120 ms); its echo comes back 12 dB down after 40 ms; the far end presses "5"
    itself gap_ms after our digit ended (at 40 ms that is while our echo is still arriving)."""
    sent = np.concatenate([np.zeros(800), dtmf_encode("5", 120, 0, level_dbm0=-7, twist_db=0), np.zeros(4000)])
    echo = np.concatenate([np.zeros(320), sent[:-320]]) * 10 ** (-12 / 20)
    start = 800 + 960 + gap_ms * 8
    press = np.zeros(sent.size)
    press[start:start + 960] = burst("5", 120, -12, 2)[:960]
    ev = _with_echo_guard(echo, sent)
    assert ev == []                                               # the echo alone: nothing
    ev = _with_echo_guard(echo + press, sent)
    starts = [e for e in ev if e.kind == "start"]
    assert [e.digit for e in starts] == ["5"], ev
    assert starts[0].time <= (start + 800) / RATE                 # found while the press is on


def test_both_copies_of_the_filter_loop_find_the_same_digits(tmp_path):
    """The receiver's filter loop has a baseline and an AVX2+FMA copy picked at run time
    (LINEBOX_DTMF_SIMD=generic forces the baseline). On digits over speech-like noise and a
    dial tone, both copies report the same digits at the same samples."""
    import os
    import subprocess
    rng = np.random.default_rng(5)
    tones = dtmf_encode("159#0*D", on_ms=60, off_ms=60, level_dbm0=-20.0).astype(np.float64)
    t = np.arange(tones.size) / RATE
    noisy = tones + rng.standard_normal(tones.size) * 300 + 2000 * np.sin(2 * np.pi * 350 * t)
    to16(noisy).tofile(tmp_path / "sig.raw")
    script = ("import sys, numpy as np\nfrom dsp_ext._dsp import ffi, lib\nfrom dsp_ext.dtmf import DtmfReceiver\n"
              "x = np.fromfile(sys.argv[1], dtype=np.int16)\nrx = DtmfReceiver()\n"
              "ev = [(e.kind, e.digit, e.time) for k in range(0, x.size, 80) for e in rx.process(x[k:k + 80])]\n"
              "print(ffi.string(lib.dtmf_simd_variant()).decode(), ev)\n")
    seen = {}
    for forced in ("generic", ""):
        env = {**os.environ, "LINEBOX_DTMF_SIMD": forced}
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "sig.raw")], capture_output=True,
                              text=True, env=env, check=True, cwd=Path(__file__).resolve().parents[2])
        variant, events = done.stdout.split(" ", 1)
        seen[variant] = events.strip()
    assert "generic" in seen
    assert len(set(seen.values())) == 1, seen
    assert "'1'" in next(iter(seen.values()))
