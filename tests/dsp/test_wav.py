"""WAV I/O: strict reading, clear errors, atomic writes."""
import os
import wave

import numpy as np
import pytest

from dsp_ext.wav import WavError, read_wav, read_wav_any, write_wav


def _write(path, rate=8000, channels=1, width=2, frames=b"\x00\x00" * 10):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def test_round_trip(tmp_path):
    x = np.random.default_rng(1).integers(-32768, 32767, 8000, dtype=np.int16)
    write_wav(tmp_path / "a.wav", x)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), x)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


@pytest.mark.parametrize("kwargs, words", [
    ({"rate": 16000}, "16000 Hz"),
    ({"channels": 2, "frames": b"\x00" * 40}, "stereo"),
    ({"width": 1, "frames": b"\x80" * 10}, "8-bit"),
])
def test_wrong_format_is_named(tmp_path, kwargs, words):
    _write(tmp_path / "b.wav", **kwargs)
    with pytest.raises(WavError, match=words) as e:
        read_wav(tmp_path / "b.wav")
    assert "8000 Hz mono 16-bit" in str(e.value) and "\n" not in str(e.value)


def test_not_a_wav_and_missing(tmp_path):
    (tmp_path / "c.wav").write_bytes(b"this is text, not audio")
    with pytest.raises(WavError, match="not a PCM WAV"):
        read_wav(tmp_path / "c.wav")
    with pytest.raises(WavError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(WavError, match="directory"):
        read_wav(tmp_path)


def test_read_any_converts_widths_and_keeps_channels(tmp_path):
    _write(tmp_path / "s.wav", rate=44100, channels=2, frames=np.array([[1000, -1000]] * 4, "<i2").tobytes())
    x, rate, ch = read_wav_any(tmp_path / "s.wav")
    assert (x.shape, rate, ch) == ((4, 2), 44100, 2) and x[0].tolist() == [1000, -1000]
    _write(tmp_path / "u8.wav", width=1, frames=bytes([128, 255, 0]))
    assert read_wav_any(tmp_path / "u8.wav")[0][:, 0].tolist() == [0, 127 << 8, -32768]
    _write(tmp_path / "w24.wav", width=3, frames=bytes([0x11, 0x34, 0x12, 0x00, 0x00, 0x80]))
    assert read_wav_any(tmp_path / "w24.wav")[0][:, 0].tolist() == [0x1234, -32768]


def test_write_is_atomic_and_leaves_no_temp_on_error(tmp_path):
    target = tmp_path / "keep.wav"
    write_wav(target, np.ones(10, np.int16))
    with pytest.raises(WavError):
        write_wav(target, np.ones((10, 2), np.int16))
    assert np.array_equal(read_wav(target), np.ones(10, np.int16))
    with pytest.raises(TypeError):
        write_wav(target, np.ones(10, np.int16), 3)   # wrong call: nothing written
    assert os.listdir(tmp_path) == ["keep.wav"]
