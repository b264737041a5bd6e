"""Caller ID: FSK encoder/receiver (Bell 202, V.23), SDMF/MDMF, MWI, CAS.

Received signals come from a reference modulator written here in numpy (not
our C modulator), with the tolerances the standards allow: carrier ±1 %,
baud ±1 %, levels −5..−40 dBm0, white noise at S/N 20 dB, and a line model
(band limit, slope, a reflection).
"""
import numpy as np
import pytest

from dsp_ext.callerid import (
    FSK_STANDARDS,
    CallerIdReceiver,
    CasDetector,
    cas_tone,
    encode_caller_id,
    encode_mwi,
    fsk_bits,
)
from dsp_ext.cid_message import build_call_message
from dsp_ext.levels import RATE, dbm0_to_peak, rms_dbm0

NUMBER = "5551234567"
NAME = "SMITH JOHN"
WHEN = "11230910"


def reference_fsk(bits: np.ndarray, mark: float, space: float, baud: float, level_dbm0: float,
                  rng: np.random.Generator, twist_db: float = 0.0) -> np.ndarray:
    """Phase-continuous FSK from first principles: integrate the instantaneous frequency.
    `twist_db`: how much louder the space tone is than the mark tone."""
    spb = RATE / baud
    n = int(len(bits) * spb)
    index = np.minimum((np.arange(n) / spb).astype(int), len(bits) - 1)
    is_mark = bits[index] == 1
    freq = np.where(is_mark, mark, space)
    gain = np.where(is_mark, 1.0, 10 ** (twist_db / 20))
    phase = rng.uniform(0, 2 * np.pi) + np.cumsum(2 * np.pi * freq / RATE)
    return dbm0_to_peak(level_dbm0) * gain * np.sin(phase)


def line_model(x: np.ndarray) -> np.ndarray:
    """A loaded loop, roughly: 300-3400 Hz band limit, ~3 dB more loss at 2.2 kHz
    than at 1.2 kHz, and a reflection 3 ms later at -15 dB."""
    taps = np.arange(-24, 25)
    h = (np.sinc(2 * 3400 / RATE * taps) * 2 * 3400 / RATE - np.sinc(2 * 300 / RATE * taps) * 2 * 300 / RATE)
    h *= np.hamming(len(taps))
    y = np.convolve(x, h, mode="same")
    y = np.convolve(y, [0.75, 0.25], mode="same")            # high-frequency roll-off
    echo = np.zeros_like(y)
    echo[24:] = y[:-24] * 10 ** (-15 / 20)
    return y + echo


def to_line(x: np.ndarray, snr_db: float | None, level_dbm0: float, rng: np.random.Generator,
            pad: int = 800) -> np.ndarray:
    x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    if snr_db is not None:
        sigma = dbm0_to_peak(level_dbm0) / np.sqrt(2) * 10 ** (-snr_db / 20)
        x = x + rng.normal(0, sigma, len(x))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def receive(samples: np.ndarray, standard: str = "auto", frame: int = 80) -> list:
    rx = CallerIdReceiver(standard)
    found = []
    for i in range(0, len(samples), frame):
        found += rx.process(samples[i:i + frame])
    return found


# ---- round trip with our own encoder -----------------------------------------

@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("fmt", ["sdmf", "mdmf"])
def test_round_trip(standard, fmt):
    name = NAME if fmt == "mdmf" else None
    signal = encode_caller_id(standard, fmt, number=NUMBER, name=name, datetime=WHEN)
    for rx_standard in ("auto", standard):
        [msg] = receive(to_line(signal, None, -13, np.random.default_rng(0)), rx_standard)
        assert (msg.standard, msg.format, msg.kind) == (standard, fmt, "call")
        assert (msg.number, msg.name, msg.datetime, msg.checksum_ok) == (NUMBER, name, WHEN, True)


def test_signal_structure_and_level():
    signal = encode_caller_id("bell202", "mdmf", number=NUMBER, name=NAME, datetime=WHEN, level_dbm0=-13)
    message = build_call_message("mdmf", NUMBER, NAME, WHEN, None)
    bits = 300 + 180 + 10 * len(message) + 4
    assert abs(len(signal) - bits * RATE / 1200) <= 1
    assert rms_dbm0(signal) == pytest.approx(-13, abs=0.2)
    # phase-continuous: no step larger than a sine at the space frequency can make
    peak = dbm0_to_peak(-13)
    assert np.max(np.abs(np.diff(signal.astype(float)))) <= peak * 2 * np.pi * 2200 / RATE + 2


def test_call_waiting_signal_has_no_seizure():
    full = encode_caller_id("bell202", "mdmf", number=NUMBER, datetime=WHEN)
    cw = encode_caller_id("bell202", "mdmf", number=NUMBER, datetime=WHEN, call_waiting=True)
    assert abs((len(full) - len(cw)) - (300 + 100) * RATE / 1200) <= 1
    [msg] = receive(to_line(cw, None, -13, np.random.default_rng(0)))
    assert msg.number == NUMBER


@pytest.mark.parametrize("absent", ["private", "unavailable"])
@pytest.mark.parametrize("standard,fmt", [("bell202", "sdmf"), ("bell202", "mdmf"), ("v23", "mdmf")])
def test_number_absent(standard, fmt, absent):
    signal = encode_caller_id(standard, fmt, number_absent=absent, datetime=WHEN)
    [msg] = receive(to_line(signal, None, -13, np.random.default_rng(0)))
    assert msg.number is None and msg.number_absent == absent and msg.datetime == WHEN
    if fmt == "mdmf":
        assert msg.name_absent == absent


@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("active", [True, False])
def test_mwi(standard, active):
    [msg] = receive(to_line(encode_mwi(active, standard), None, -13, np.random.default_rng(0)))
    assert (msg.kind, msg.message_waiting, msg.standard, msg.checksum_ok) == ("mwi", active, standard, True)


def test_mwi_needs_an_fsk_standard():
    for standard in ("dtmf", "bell103"):
        with pytest.raises(ValueError):
            encode_mwi(True, standard)


def test_sdmf_mwi_is_understood():
    # GR-30 SDMF message waiting: type 0x06, three bytes 0x42 (on) / 0x6F (off)
    for body, waiting in ((b"\x42\x42\x42", True), (b"\x6f\x6f\x6f", False)):
        head = bytes([0x06, len(body)]) + body
        msg_bytes = head + bytes([(-sum(head)) & 0xFF])
        std = FSK_STANDARDS["bell202"]
        x = reference_fsk(fsk_bits(msg_bytes), std.mark_hz, std.space_hz, std.baud, -13, np.random.default_rng(1))
        [msg] = receive(to_line(x, None, -13, np.random.default_rng(1)))
        assert (msg.format, msg.kind, msg.message_waiting) == ("sdmf", "mwi", waiting)


def test_encoder_rejects_bad_input_with_a_reason():
    bad = [
        dict(number="555-CALL"), dict(number="1" * 21), dict(number=NUMBER, name="\x07bell"),
        dict(number=NUMBER, datetime="1399"), dict(number=NUMBER, datetime="13011200"),
        dict(number=NUMBER, number_absent="private"), dict(), dict(number_absent="secret"),
        dict(number=NUMBER, fmt="xdmf"), dict(number=NUMBER, standard="bell103"),
        dict(number=NUMBER, level_dbm0=10), dict(number=NUMBER, name=NAME, fmt="sdmf"),
    ]
    for kwargs in bad:
        kwargs.setdefault("datetime", WHEN)
        with pytest.raises(ValueError) as err:
            encode_caller_id(**kwargs)
        assert str(err.value) and "\n" not in str(err.value)


# ---- robustness: levels, tolerances, noise, line -----------------------------

def _impaired(standard, fmt, level, freq_err, baud_err, seed, line):
    rng = np.random.default_rng(seed)
    std = FSK_STANDARDS[standard]
    message = build_call_message(fmt, NUMBER, NAME if fmt == "mdmf" else None, WHEN, None)
    x = reference_fsk(fsk_bits(message), std.mark_hz * (1 + freq_err), std.space_hz * (1 + freq_err),
                      std.baud * (1 + baud_err), level, rng)
    if line:
        x = line_model(x)
    return to_line(x, 20.0, rms_dbm0(x), rng)


@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("level", [-5, -20, -40])
@pytest.mark.parametrize("line", [False, True])
def test_decodes_within_tolerances_in_noise(standard, level, line):
    failures = []
    cases = [(f, b) for f in (-0.01, 0.0, 0.01) for b in (-0.01, 0.01)]
    for seed, (freq_err, baud_err) in enumerate(cases):
        for fmt in ("sdmf", "mdmf"):
            samples = _impaired(standard, fmt, level, freq_err, baud_err, seed, line)
            for rx_standard in ("auto", standard):
                got = receive(samples, rx_standard)
                if not (len(got) == 1 and got[0].checksum_ok and got[0].number == NUMBER
                        and got[0].standard == standard):
                    failures.append((fmt, freq_err, baud_err, rx_standard, got))
    assert failures == []


@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("twist_db", [-6.0, 6.0])
def test_decodes_with_twist_between_the_tones(standard, twist_db):
    # a long loop loses more at 2.2 kHz than at 1.2 kHz; a short one with a
    # peaky hybrid the other way round
    std = FSK_STANDARDS[standard]
    message = build_call_message("mdmf", NUMBER, NAME, WHEN, None)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        freq_err, baud_err = (-0.01, 0.01, -0.01, 0.01)[seed], (-0.01, -0.01, 0.01, 0.01)[seed]
        x = reference_fsk(fsk_bits(message), std.mark_hz * (1 + freq_err), std.space_hz * (1 + freq_err),
                          std.baud * (1 + baud_err), -20, rng, twist_db)
        [msg] = receive(to_line(x, 20.0, rms_dbm0(x), rng))
        assert (msg.number, msg.standard, msg.checksum_ok) == (NUMBER, standard, True)


@pytest.mark.parametrize("standard", ["bell202", "v23"])
def test_decodes_under_mains_hum_and_dc(standard):
    # hum 20 dB above the caller ID (poor longitudinal balance) plus a DC offset
    rng = np.random.default_rng(4)
    std = FSK_STANDARDS[standard]
    message = build_call_message("mdmf", NUMBER, NAME, WHEN, None)
    x = np.concatenate([np.zeros(800), reference_fsk(fsk_bits(message), std.mark_hz, std.space_hz, std.baud,
                                                     -30, rng), np.zeros(800)])
    t = np.arange(len(x)) / RATE
    for mains in (50, 60):
        hum = dbm0_to_peak(-10) * (np.sin(2 * np.pi * mains * t) + 0.3 * np.sin(2 * np.pi * 3 * mains * t))
        [msg] = receive(to_line(x + hum + 3000, 30.0, -30, rng, pad=0))
        assert (msg.number, msg.standard, msg.checksum_ok) == (NUMBER, standard, True)


def test_frame_size_does_not_matter():
    samples = _impaired("v23", "mdmf", -20, 0.01, -0.01, 7, True)
    whole = receive(samples, frame=len(samples))
    assert whole == receive(samples, frame=1) == receive(samples, frame=77)
    assert whole[0].number == NUMBER


def test_weak_signal_below_threshold_is_ignored_quietly():
    signal = encode_caller_id("bell202", "mdmf", number=NUMBER, datetime=WHEN, level_dbm0=-60)
    assert receive(to_line(signal, None, -60, np.random.default_rng(0))) == []


@pytest.mark.parametrize("level", [-60, -40, -20, -5])
def test_no_messages_from_noise(level):
    rng = np.random.default_rng(abs(level))
    noise = rng.normal(0, dbm0_to_peak(level) / np.sqrt(2), 10 * RATE)
    assert receive(np.clip(noise, -32768, 32767).astype(np.int16)) == []


def test_two_messages_back_to_back_and_reset():
    a = encode_caller_id("bell202", "mdmf", number="111", datetime=WHEN)
    b = encode_mwi(True, "bell202")
    gap = np.zeros(4000, np.int16)
    got = receive(np.concatenate([gap, a, gap, b, gap]))
    assert [(m.kind, m.number, m.message_waiting) for m in got] == [("call", "111", None), ("mwi", None, True)]
    rx = CallerIdReceiver("bell202")
    rx.process(a[: len(a) // 2])
    rx.reset()
    assert rx.process(np.concatenate([gap, b, gap]))[0].message_waiting is True


def test_receiver_rejects_unknown_standard():
    with pytest.raises(ValueError):
        CallerIdReceiver("bell103")


# ---- CAS (caller ID on call waiting) ----------------------------------------

def _cas_hits(samples: np.ndarray, frame: int = 80) -> int:
    det = CasDetector()
    return sum(det.process(samples[i:i + frame]) for i in range(0, len(samples), frame))


def test_cas_tone_shape():
    tone = cas_tone()
    assert len(tone) == 640
    spectrum = np.abs(np.fft.rfft(tone.astype(float)))
    freqs = np.fft.rfftfreq(len(tone), 1 / RATE)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top[0] == pytest.approx(2130, abs=15) and top[1] == pytest.approx(2750, abs=15)


@pytest.mark.parametrize("offset", [0, 13, 47])
@pytest.mark.parametrize("level", [-15, -32])
def test_cas_detected_once(offset, level):
    rng = np.random.default_rng(offset)
    x = np.concatenate([np.zeros(400 + offset), cas_tone(level).astype(float), np.zeros(800)])
    x += rng.normal(0, dbm0_to_peak(level - 20) / np.sqrt(2), len(x))
    assert _cas_hits(np.round(x).astype(np.int16)) == 1


def test_cas_rejects_short_single_and_fsk():
    short = cas_tone()[:360]                              # 45 ms
    t = np.arange(640) / RATE
    single = np.round(dbm0_to_peak(-15) * np.sin(2 * np.pi * 2130 * t)).astype(np.int16)
    fsk = encode_caller_id("bell202", "mdmf", number=NUMBER, datetime=WHEN)
    rng = np.random.default_rng(3)
    noise = np.clip(rng.normal(0, 3000, RATE), -32768, 32767).astype(np.int16)
    for signal in (short, single, fsk, noise):
        assert _cas_hits(np.concatenate([np.zeros(400, np.int16), signal, np.zeros(400, np.int16)])) == 0


# ---- DTMF caller ID ----------------------------------------------------------

@pytest.mark.parametrize("kwargs,number,absent", [
    (dict(number=NUMBER), NUMBER, None),
    (dict(number="5550100"), "5550100", None),
    (dict(number_absent="private"), None, "private"),
    (dict(number_absent="unavailable"), None, "unavailable"),
])
@pytest.mark.parametrize("level", [-5.0, -25.0])
def test_dtmf_caller_id_round_trip_in_noise(kwargs, number, absent, level):
    rng = np.random.default_rng(11)
    signal = encode_caller_id("dtmf", "dtmf", level_dbm0=level, **kwargs).astype(float)
    samples = to_line(signal, 20.0, level, rng)
    for rx_standard in ("dtmf", "auto"):
        [msg] = receive(samples, rx_standard)
        assert (msg.standard, msg.format, msg.number, msg.number_absent) == ("dtmf", "dtmf", number, absent)


def test_dtmf_caller_id_rejects_what_dtmf_cannot_carry():
    for kwargs in (dict(number="+4930123"), dict(number=NUMBER, name=NAME), dict(number=""),
                   dict(number=NUMBER, level_dbm0=float("nan"))):
        with pytest.raises(ValueError):
            encode_caller_id("dtmf", "dtmf", **kwargs)


def test_auto_tells_the_three_standards_apart():
    gap = np.zeros(4000, np.int16)
    signals = [encode_caller_id("bell202", number="111", datetime=WHEN), gap,
               encode_caller_id("v23", number="222", datetime=WHEN), gap,
               encode_caller_id("dtmf", "dtmf", number="333"), gap]
    got = receive(np.concatenate(signals))
    assert [(m.standard, m.number) for m in got] == [("bell202", "111"), ("v23", "222"), ("dtmf", "333")]


def test_caller_id_on_call_waiting_sequence():
    # CAS while the call is up, the phone acknowledges, then the short FSK burst
    rng = np.random.default_rng(5)
    speech_like = rng.normal(0, dbm0_to_peak(-25), 4000)
    cas = cas_tone(-20).astype(float)
    fsk = encode_caller_id("bell202", "mdmf", number=NUMBER, name=NAME, datetime=WHEN, call_waiting=True)
    x = np.concatenate([speech_like, cas, np.zeros(800), fsk.astype(float), np.zeros(800)])
    samples = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    cas_at = _first_cas_frame(samples)
    # confirmed once 60 ms of clean tone have been seen, before the tone ends
    assert cas_at is not None and 4000 + 480 <= (cas_at + 1) * 80 <= 4000 + 640
    [msg] = receive(samples[cas_at * 80:])
    assert (msg.number, msg.name) == (NUMBER, NAME)


def _first_cas_frame(samples: np.ndarray) -> int | None:
    det = CasDetector()
    for k in range(0, len(samples), 80):
        if det.process(samples[k:k + 80]):
            return k // 80
    return None
