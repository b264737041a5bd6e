"""Caller ID from an attacker: random and hostile bytes through the message
parser, and hostile messages through the whole receiver (modem included).

What must hold whatever arrives: no exception, names/numbers bounded in
length and free of control characters, numbers only 0-9 * # +, a damaged
message flagged (checksum_ok=False) or dropped, never silently "valid".
"""
import numpy as np
import pytest

from dsp_ext.callerid import FSK_STANDARDS, CallerIdReceiver, FskModulator, fsk_bits
from dsp_ext.cid_message import (
    MAX_NAME,
    MAX_NUMBER,
    CallerIdMessage,
    parse_dtmf_digits,
    parse_fsk_message,
)

HOSTILE_NAME = (b"$(rm -rf /);`reboot`|nc -e sh\x00\x07\x1b[2J\r\n\x7f\xff" * 40)[:1024]


def frame(msg_type: int, body: bytes, good_checksum: bool = True) -> bytes:
    head = bytes([msg_type, len(body) & 0xFF]) + body
    check = (-sum(head)) & 0xFF
    return head + bytes([check if good_checksum else check ^ 0x5A])


def assert_safe(msg: CallerIdMessage) -> None:
    assert isinstance(msg, CallerIdMessage)
    if msg.number is not None:
        assert 0 < len(msg.number) <= MAX_NUMBER and set(msg.number) <= set("0123456789*#+")
    if msg.name is not None:
        assert 0 < len(msg.name) <= MAX_NAME and msg.name.isprintable()
    if msg.datetime is not None:
        assert len(msg.datetime) == 8 and msg.datetime.isdigit()
    assert msg.number_absent in (None, "private", "unavailable")
    assert msg.name_absent in (None, "private", "unavailable")
    assert msg.kind in ("call", "mwi") and msg.format in ("sdmf", "mdmf", "dtmf")


def test_parser_survives_random_bytes():
    rng = np.random.default_rng(1234)
    parsed = 0
    for _ in range(20000):
        n = int(rng.integers(0, 300))
        raw = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        if n >= 2 and rng.random() < 0.7:
            # make most of them plausible enough to get past the type/length gate
            raw = bytes([int(rng.choice([0x04, 0x06, 0x80, 0x82])), max(0, n - 3) & 0xFF]) + raw[2:]
        msg = parse_fsk_message(raw, "bell202")
        if msg is not None:
            parsed += 1
            assert_safe(msg)
            if sum(raw) & 0xFF:
                assert not msg.checksum_ok
    assert parsed > 1000       # the generator really reached the parsing code


@pytest.mark.parametrize("good_checksum", [True, False])
def test_hostile_name_and_number_are_bounded_and_cleaned(good_checksum):
    body = bytes([0x07, 200]) + HOSTILE_NAME[:200] + bytes([0x02, 40]) + b"12;34|$(5)\x00\n" * 3 + b"5678"
    msg = parse_fsk_message(frame(0x80, body, good_checksum), "v23")
    assert_safe(msg)
    assert msg.checksum_ok is good_checksum
    assert msg.number == "1234512345123455678"
    assert "\x00" not in msg.name and "\x1b" not in msg.name and len(msg.name) == MAX_NAME


def test_malformed_mdmf_is_flagged():
    # a parameter claiming more bytes than the message holds
    msg = parse_fsk_message(frame(0x80, bytes([0x02, 50]) + b"555"), "bell202")
    assert msg is not None and not msg.checksum_ok
    # repeated parameters: the first one counts
    msg = parse_fsk_message(frame(0x80, b"\x02\x03555\x02\x03666"), "bell202")
    assert msg.number == "555"


def test_truncated_and_mislabelled_messages_are_dropped():
    good = frame(0x80, b"\x02\x0a5551234567")
    for cut in range(len(good)):
        assert parse_fsk_message(good[:cut], "bell202") is None
    assert parse_fsk_message(good + b"\x00", "bell202") is None           # length disagrees
    assert parse_fsk_message(frame(0x99, b"\x02\x01\x35"), "bell202") is None   # unknown type
    assert parse_fsk_message(frame(0x04, b"1123"), "bell202") is None      # SDMF too short


def test_dtmf_parser_bounds():
    assert parse_dtmf_digits("A" + "1" * 1000 + "C") is None
    assert parse_dtmf_digits("A" + "1" * 40 + "C").number == "1" * MAX_NUMBER
    for junk in ("", "C", "#", "AC", "A*C", "B99C", "D9#", "ABCD", "A12B3", "123", "A12\x00C"):
        assert parse_dtmf_digits(junk) is None


# ---- through the modem -------------------------------------------------------

def modulate(raw: bytes, standard: str = "bell202", seizure: int = 300, level: float = -13.0) -> np.ndarray:
    std = FSK_STANDARDS[standard]
    bits = fsk_bits(raw, seizure, 180)
    signal = FskModulator(std.mark_hz, std.space_hz, std.baud, level).modulate(bits)
    return np.concatenate([np.zeros(800, np.int16), signal, np.zeros(800, np.int16)])


def receive(samples: np.ndarray, standard: str = "auto") -> list[CallerIdMessage]:
    rx = CallerIdReceiver(standard)
    return [m for i in range(0, len(samples), 80) for m in rx.process(samples[i:i + 80])]


@pytest.mark.parametrize("good_checksum", [True, False])
def test_hostile_message_over_the_air(good_checksum):
    body = bytes([0x01, 8]) + b"11230910" + bytes([0x07, 240]) + HOSTILE_NAME[:240]
    [msg] = receive(modulate(frame(0x80, body, good_checksum)))
    assert_safe(msg)
    assert msg.checksum_ok is good_checksum and msg.datetime == "11230910"


def test_cut_off_message_is_dropped():
    signal = modulate(frame(0x80, bytes([0x02, 10]) + b"5551234567" + bytes([0x07, 200]) + b"A" * 200))
    assert receive(signal[: len(signal) // 2]) == []


def test_kilobyte_of_garbage_after_a_valid_preamble():
    rng = np.random.default_rng(99)
    for standard in ("bell202", "v23"):
        for _trial in range(4):
            junk = bytes([0x80]) + rng.integers(0, 256, 1024, dtype=np.uint8).tobytes()
            for msg in receive(modulate(junk, standard)):
                assert_safe(msg)


def test_random_audio_and_bad_sample_values():
    rng = np.random.default_rng(7)
    rx = CallerIdReceiver("auto")
    for trial in range(50):
        n = int(rng.integers(0, 2000))
        kind = trial % 5
        if kind == 0:
            x = rng.integers(-32768, 32768, n).astype(np.int16)
        elif kind == 1:
            x = np.where(rng.random(n) < 0.5, 32767, -32768).astype(np.int16)
        elif kind == 2:
            x = np.full(n, 32767, np.int16)
        elif kind == 3:
            x = rng.normal(0, 1e6, n)                          # float, far beyond full scale
            x[::7] = np.nan
        else:
            x = np.tile(np.array([32767, -32768], np.int16), n // 2)
        for msg in rx.process(x):
            assert_safe(msg)


# The C fuzz driver, tests/dsp/c/fuzz_callerid.c, is run under ASan/UBSan by
# tests/dsp/test_sanitizers.py together with every other fuzzer.
