"""WAV files for the DSP tools: strict 8 kHz mono 16-bit PCM in and out.

`read_wav` is what every `linebox dsp` command uses; it refuses anything else
with a message that says what the file is and what is expected (sox converts:
`sox in.wav -r 8000 -c 1 -b 16 out.wav`). `read_wav_any` is for converters.
`write_wav` is atomic: a crash leaves either the old file or the new one.
"""
import os
import tempfile
import wave
from pathlib import Path

import numpy as np

from dsp_ext.levels import RATE

EXPECTED = "8000 Hz mono 16-bit PCM WAV"
FIX = "convert with: sox IN.wav -r 8000 -c 1 -b 16 OUT.wav"


class WavError(ValueError):
    """A file that is not the WAV we need; the message says why and what is expected."""


PCM, ALAW, MULAW, EXTENSIBLE = 1, 6, 7, 0xFFFE
CODECS = {PCM: "PCM", ALAW: "A-law", MULAW: "mu-law"}


def _read_bytes(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise WavError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WavError(f"{path}: is a directory, not a WAV file") from None
    except PermissionError:
        raise WavError(f"{path}: cannot read it (permission denied)") from None
    except OSError as e:
        raise WavError(f"{path}: cannot read it ({e.strerror or e})") from None


def _parse(path: str | os.PathLike, raw: bytes) -> tuple[int, int, int, int, bytes]:
    """(codec, rate, channels, bits per sample, sample bytes) from a RIFF/WAVE file.

    A data chunk that claims more than the file holds (a recording cut off by
    a crash, or a streamed header) is read as far as it goes."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise WavError(f"{path}: not a WAV file (no RIFF/WAVE header); expected {EXPECTED}")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], int.from_bytes(raw[pos + 4:pos + 8], "little")
        body = raw[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise WavError(f"{path}: WAV file without a valid format chunk; expected {EXPECTED}")
    if data is None:
        raise WavError(f"{path}: WAV file without a data chunk; expected {EXPECTED}")
    codec = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if codec == EXTENSIBLE and len(fmt) >= 26:
        codec = int.from_bytes(fmt[24:26], "little")      # first two bytes of the sub-format GUID
    if codec not in CODECS:
        raise WavError(f"{path}: WAV audio format {codec} is not supported (compressed?); expected {EXPECTED}")
    if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32) or (codec != PCM and bits != 8):
        raise WavError(f"{path}: WAV header declares {channels} channels, {rate} Hz, {bits}-bit "
                       f"{CODECS[codec]}; expected {EXPECTED}")
    return codec, rate, channels, bits, data


def read_wav_any(path: str | os.PathLike) -> tuple[np.ndarray, int, int]:
    """(samples as frames x channels int16, sample rate, channels) of a PCM
    (8/16/24/32-bit), A-law or mu-law WAV file."""
    codec, rate, channels, bits, data = _parse(path, _read_bytes(path))
    width = bits // 8
    data = data[: len(data) - len(data) % (width * channels)]
    if codec in (ALAW, MULAW):
        from dsp_ext.g711 import alaw_decode, ulaw_decode
        x = (alaw_decode if codec == ALAW else ulaw_decode)(np.frombuffer(data, np.uint8))
    elif width == 1:
        x = (np.frombuffer(data, np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        x = np.frombuffer(data, "<i2").astype(np.int16)
    elif width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3)
        x = (b[:, 1].astype(np.int16) | (b[:, 2].astype(np.int16) << 8)).astype(np.int16)
    else:
        x = (np.frombuffer(data, "<i4") >> 16).astype(np.int16)
    return x.reshape(-1, channels), rate, channels


def read_wav(path: str | os.PathLike) -> np.ndarray:
    """Samples of an 8 kHz mono 16-bit PCM WAV (int16), else WavError."""
    codec, rate, channels, bits, _ = _parse(path, _read_bytes(path))
    problems = []
    if rate != RATE:
        problems.append(f"{rate} Hz")
    if channels != 1:
        problems.append("stereo" if channels == 2 else f"{channels} channels")
    if codec != PCM:
        problems.append(CODECS[codec])
    elif bits != 16:
        problems.append(f"{bits}-bit")
    if problems:
        raise WavError(f"{path}: {', '.join(problems)}; expected {EXPECTED} ({FIX})")
    x, _, _ = read_wav_any(path)
    return np.ascontiguousarray(x[:, 0])


def write_wav(path: str | os.PathLike, samples: np.ndarray) -> None:
    """Write 8 kHz mono 16-bit PCM, atomically (temp file, fsync, rename, fsync dir)."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise WavError(f"{path}: can only write mono; got an array of shape {x.shape}")
    if x.dtype != np.int16:
        if x.dtype.kind not in "iuf":
            raise WavError(f"{path}: samples must be numeric, got {x.dtype}")
        x = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            with wave.open(f, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(x.astype("<i2").tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
