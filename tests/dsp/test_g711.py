"""G.711 against the reference codec (Python's audioop is Sun's g711.c) and its defining properties."""
import warnings

import numpy as np
import pytest

from dsp_ext.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL = np.arange(-32768, 32768, dtype=np.int16)
CODES = np.arange(256, dtype=np.uint8)


@pytest.mark.parametrize("ours, ref", [(ulaw_encode, audioop.lin2ulaw), (alaw_encode, audioop.lin2alaw)])
def test_encode_is_bit_exact_for_every_input(ours, ref):
    assert np.array_equal(ours(ALL), np.frombuffer(ref(ALL.tobytes(), 2), np.uint8))


@pytest.mark.parametrize("ours, ref", [(ulaw_decode, audioop.ulaw2lin), (alaw_decode, audioop.alaw2lin)])
def test_decode_is_bit_exact_for_every_code(ours, ref):
    assert np.array_equal(ours(CODES), np.frombuffer(ref(CODES.tobytes(), 2), np.int16))


@pytest.mark.parametrize("enc, dec", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_decode_then_encode_is_identity_and_monotonic(enc, dec):
    lin = dec(CODES)
    back = enc(lin)
    # μ-law has two codes for zero (0x7F, 0xFF); the encoder uses 0xFF
    same = back == CODES
    assert same.all() if enc is alaw_encode else (~same).sum() == 1 and back[0x7F] == 0xFF
    y = dec(enc(ALL))
    assert np.all(np.diff(y.astype(np.int32)) >= 0)


def test_known_values():
    assert ulaw_encode(np.array([0], np.int16))[0] == 0xFF
    assert alaw_encode(np.array([0], np.int16))[0] == 0xD5
    assert ulaw_decode(np.array([0x80], np.uint8))[0] == 32124
    assert alaw_decode(np.array([0xAA], np.uint8))[0] == 32256


def test_quantisation_error_is_relative():
    x = ALL[np.abs(ALL.astype(np.int32)) > 256].astype(np.float64)
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        err = np.abs(dec(enc(x.astype(np.int16))) - x) / np.abs(x)
        assert err.max() < 0.07   # 4-bit mantissa: half a step is 1/32 of the segment, <= 6.25%


def test_bytes_in_and_bad_codes():
    assert ulaw_decode(b"\xff\x7f").tolist() == [0, 0]
    with pytest.raises(ValueError, match="0..255"):
        alaw_decode(np.array([300]))
