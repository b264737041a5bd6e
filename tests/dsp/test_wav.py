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
    with pytest.raises(WavError, match="not a WAV file"):
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


def _riff(fmt: bytes, data: bytes, data_size: int | None = None) -> bytes:
    chunks = (b"fmt " + len(fmt).to_bytes(4, "little") + fmt
              + b"data" + (len(data) if data_size is None else data_size).to_bytes(4, "little") + data)
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def _fmt(codec, channels=1, rate=8000, bits=16, extra=b""):
    block = channels * bits // 8
    return (codec.to_bytes(2, "little") + channels.to_bytes(2, "little") + rate.to_bytes(4, "little")
            + (rate * block).to_bytes(4, "little") + block.to_bytes(2, "little") + bits.to_bytes(2, "little") + extra)


def test_g711_wav_is_decoded_by_read_any_and_named_by_read_wav(tmp_path):
    from dsp_ext.g711 import alaw_encode, ulaw_decode, ulaw_encode
    x = (np.sin(np.arange(800) / 5) * 12000).astype(np.int16)
    for codec, enc, name in ((7, ulaw_encode, "mu-law"), (6, alaw_encode, "A-law")):
        path = tmp_path / f"{name}.wav"
        path.write_bytes(_riff(_fmt(codec, bits=8, extra=b"\0\0"), enc(x).tobytes()))
        y, rate, ch = read_wav_any(path)
        assert (rate, ch) == (8000, 1) and np.max(np.abs(y[:, 0].astype(int) - x)) <= 400
        with pytest.raises(WavError, match=name):
            read_wav(path)
    assert ulaw_decode(ulaw_encode(x)).dtype == np.int16


def test_extensible_pcm_and_a_recording_cut_off_by_a_crash(tmp_path):
    x = np.arange(-500, 500, dtype=np.int16)
    guid_pcm = (1).to_bytes(2, "little") + bytes(14)
    ext = (22).to_bytes(2, "little") + (16).to_bytes(2, "little") + (4).to_bytes(4, "little") + guid_pcm
    (tmp_path / "ext.wav").write_bytes(_riff(_fmt(0xFFFE, extra=ext), x.tobytes()))
    assert np.array_equal(read_wav(tmp_path / "ext.wav"), x)
    # the header still claims the size it was opened with; the data stops early, mid-sample
    (tmp_path / "cut.wav").write_bytes(_riff(_fmt(1), x.tobytes()[:1001], data_size=0xFFFFFFFF))
    assert np.array_equal(read_wav(tmp_path / "cut.wav"), x[:500])
    (tmp_path / "nodata.wav").write_bytes(_riff(_fmt(1), b"")[:-8])
    with pytest.raises(WavError, match="no data chunk|without a data chunk"):
        read_wav(tmp_path / "nodata.wav")
    (tmp_path / "adpcm.wav").write_bytes(_riff(_fmt(0x11, bits=4), b"\0" * 10))
    with pytest.raises(WavError, match="format 17 is not supported"):
        read_wav(tmp_path / "adpcm.wav")
