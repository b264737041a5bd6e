"""Interoperability with spandsp's ADSI module (an independent implementation):
spandsp's adsi_rx decodes our encoder's output, and our receiver decodes
spandsp's adsi_tx output, for CLASS (Bell 202), CLIP (V.23) and CLIP-DTMF."""
import sys
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.callerid import CallerIdReceiver, CasDetector, encode_caller_id, encode_mwi
from dsp_ext.cid_message import build_call_message, build_mwi_message
from dsp_ext.levels import rms_dbm0

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spandsp_adsi  # noqa: E402  (test helper next to this file)
from test_callerid import line_model, to_line  # noqa: E402  (the line model of our conformance tests)

try:
    SPANDSP = spandsp_adsi.load()
except OSError as err:            # only a missing library is a reason to skip
    SPANDSP = None
    SKIP_REASON = str(err)

pytestmark = pytest.mark.skipif(SPANDSP is None, reason=SKIP_REASON if SPANDSP is None else "")

NUMBER = "5551234567"
NAME = "SMITH JOHN"
WHEN = "11230910"
CODES = {"bell202": spandsp_adsi.CLASS, "v23": spandsp_adsi.CLIP}
SILENCE = np.zeros(800, np.int16)


def padded(signal: np.ndarray) -> np.ndarray:
    return np.concatenate([SILENCE, signal, SILENCE])


def spandsp_decodes(standard_code: int, signal: np.ndarray) -> list[bytes]:
    rx = spandsp_adsi.AdsiReceiver(SPANDSP, standard_code)
    try:
        return rx.process(padded(signal))
    finally:
        rx.close()


def spandsp_sends(standard_code: int, message: bytes, preamble: tuple[int, ...] | None = None) -> np.ndarray:
    tx = spandsp_adsi.AdsiTransmitter(SPANDSP, standard_code)
    try:
        if preamble:
            SPANDSP.adsi_tx_set_preamble(tx._state, *preamble)
        return tx.send(message)
    finally:
        tx.close()


def ours_decode(signal: np.ndarray, standard: str = "auto") -> list:
    rx = CallerIdReceiver(standard)
    x = padded(signal)
    return [m for i in range(0, len(x), 80) for m in rx.process(x[i:i + 80])]


# ---- our encoder -> spandsp adsi_rx -------------------------------------------

@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("fmt", ["sdmf", "mdmf"])
@pytest.mark.parametrize("level", [-5.0, -13.0, -28.0])   # spandsp itself stops at about -30
def test_spandsp_decodes_our_fsk(standard, fmt, level):
    name = NAME if fmt == "mdmf" else None
    signal = encode_caller_id(standard, fmt, number=NUMBER, name=name, datetime=WHEN, level_dbm0=level)
    expected = build_call_message(fmt, NUMBER, name, WHEN, None)
    # spandsp hands over the message without its checksum byte, having verified it
    assert spandsp_decodes(CODES[standard], signal) == [expected[:-1]]


@pytest.mark.parametrize("standard", ["bell202", "v23"])
def test_spandsp_decodes_our_mwi_and_absent(standard):
    assert spandsp_decodes(CODES[standard], encode_mwi(True, standard)) == [build_mwi_message(True)[:-1]]
    signal = encode_caller_id(standard, "mdmf", number_absent="private", datetime=WHEN)
    assert spandsp_decodes(CODES[standard], signal) == [build_call_message("mdmf", None, None, WHEN, "private")[:-1]]


@pytest.mark.parametrize("kwargs,digits", [
    (dict(number=NUMBER), b"A5551234567C"),
    (dict(number_absent="private"), b"B10C"),
    (dict(number_absent="unavailable"), b"B00C"),
])
def test_spandsp_decodes_our_dtmf(kwargs, digits):
    signal = encode_caller_id("dtmf", "dtmf", **kwargs)
    assert spandsp_decodes(spandsp_adsi.CLIP_DTMF, signal) == [digits]


# ---- spandsp adsi_tx -> our receiver ------------------------------------------

def _spandsp_message(standard_code: int, msg_type: int, fields: list[tuple[int, bytes]]) -> bytes:
    tx = spandsp_adsi.AdsiTransmitter(SPANDSP, standard_code)
    try:
        return tx.build(msg_type, fields)
    finally:
        tx.close()


@pytest.mark.parametrize("standard", ["bell202", "v23"])
@pytest.mark.parametrize("receiver", ["auto", "fixed"])
def test_we_decode_spandsp_mdmf(standard, receiver):
    code = CODES[standard]
    message = _spandsp_message(code, 0x80, [(1, WHEN.encode()), (2, NUMBER.encode()), (7, NAME.encode())])
    [msg] = ours_decode(spandsp_sends(code, message), standard if receiver == "fixed" else "auto")
    assert (msg.standard, msg.format, msg.number, msg.name, msg.datetime, msg.checksum_ok) == (
        standard, "mdmf", NUMBER, NAME, WHEN, True)


@pytest.mark.parametrize("standard", ["bell202", "v23"])
def test_we_decode_spandsp_through_a_noisy_line(standard):
    code = CODES[standard]
    message = _spandsp_message(code, 0x80, [(1, WHEN.encode()), (2, NUMBER.encode()), (7, NAME.encode())])
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x = line_model(spandsp_sends(code, message).astype(float) * 0.1)      # 20 dB of loop loss
        [msg] = ours_decode(to_line(x, 20.0, rms_dbm0(x), rng, pad=0))
        assert (msg.standard, msg.number, msg.name, msg.checksum_ok) == (standard, NUMBER, NAME, True)


def test_we_decode_spandsp_sdmf_mwi_and_absent():
    sdmf = bytes([0x04, 18]) + (WHEN + NUMBER).encode()
    [msg] = ours_decode(spandsp_sends(spandsp_adsi.CLASS, sdmf))
    assert (msg.format, msg.number, msg.datetime) == ("sdmf", NUMBER, WHEN)
    mwi = _spandsp_message(spandsp_adsi.CLIP, 0x82, [(0x0B, b"\xff")])
    [msg] = ours_decode(spandsp_sends(spandsp_adsi.CLIP, mwi))
    assert (msg.standard, msg.kind, msg.message_waiting) == ("v23", "mwi", True)
    absent = _spandsp_message(spandsp_adsi.CLASS, 0x80, [(1, WHEN.encode()), (4, b"O"), (8, b"P")])
    [msg] = ours_decode(spandsp_sends(spandsp_adsi.CLASS, absent))
    assert (msg.number, msg.number_absent, msg.name_absent) == (None, "unavailable", "private")


def test_we_decode_spandsp_call_waiting_preamble():
    # CID on call waiting: no channel seizure, 80 mark bits (GR-30)
    message = _spandsp_message(spandsp_adsi.CLASS, 0x80, [(1, WHEN.encode()), (2, NUMBER.encode())])
    [msg] = ours_decode(spandsp_sends(spandsp_adsi.CLASS, message, preamble=(0, 80, 5, 1)))
    assert msg.number == NUMBER


@pytest.mark.parametrize("digits,number,absent", [
    (b"A5551234567C", NUMBER, None), (b"D5551234567C", NUMBER, None), (b"A5551234567#", NUMBER, None),
    (b"5551234567#", NUMBER, None), (b"B10C", None, "private"), (b"D1#", None, "private"),
])
def test_we_decode_spandsp_dtmf(digits, number, absent):
    for receiver in ("dtmf", "auto"):
        [msg] = ours_decode(spandsp_sends(spandsp_adsi.CLIP_DTMF, digits), receiver)
        assert (msg.standard, msg.number, msg.number_absent) == ("dtmf", number, absent)


def test_our_cas_detector_hears_spandsp_alert_tone():
    tx = spandsp_adsi.AdsiTransmitter(SPANDSP, spandsp_adsi.CLASS)
    try:
        tone = tx.alert_tone()
    finally:
        tx.close()
    assert len(tone) > 0
    det = CasDetector()
    x = padded(tone)
    assert sum(det.process(x[i:i + 80]) for i in range(0, len(x), 80)) == 1
