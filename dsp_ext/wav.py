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


def read_wav_any(path: str | os.PathLike) -> tuple[np.ndarray, int, int]:
    """(samples as frames x channels int16, sample rate, channels) of any PCM WAV."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            if w.getcomptype() != "NONE":
                raise WavError(f"{path}: compressed WAV ({w.getcompname()}); expected {EXPECTED}")
            raw = w.readframes(frames)
    except FileNotFoundError:
        raise WavError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WavError(f"{path}: is a directory, not a WAV file") from None
    except PermissionError:
        raise WavError(f"{path}: cannot read it (permission denied)") from None
    except (wave.Error, EOFError) as e:
        raise WavError(f"{path}: not a PCM WAV file ({e}); expected {EXPECTED}") from None
    except OSError as e:
        raise WavError(f"{path}: cannot read it ({e.strerror or e})") from None
    if channels < 1 or rate < 1:
        raise WavError(f"{path}: header declares {channels} channels at {rate} Hz; expected {EXPECTED}")
    usable = len(raw) - len(raw) % (width * channels)
    raw = raw[:usable]
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.int16)
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        x = (b[:, 1].astype(np.int16) | (b[:, 2].astype(np.int16) << 8)).astype(np.int16)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4") >> 16).astype(np.int16)
    else:
        raise WavError(f"{path}: {8 * width}-bit samples are not supported; expected {EXPECTED}")
    return x.reshape(-1, channels), rate, channels


def read_wav(path: str | os.PathLike) -> np.ndarray:
    """Samples of an 8 kHz mono 16-bit PCM WAV (int16), else WavError."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
    except (wave.Error, EOFError, OSError):
        rate = channels = width = None   # read_wav_any gives the precise error
    if rate is not None:
        problems = []
        if rate != RATE:
            problems.append(f"{rate} Hz")
        if channels != 1:
            problems.append("stereo" if channels == 2 else f"{channels} channels")
        if width != 2:
            problems.append(f"{8 * width}-bit")
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
