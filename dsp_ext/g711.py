"""G.711 μ-law and A-law (`src/g711.c`): int16 samples <-> uint8 codes."""
import numpy as np

from dsp_ext._ffi import as_int16, ffi, lib, samples_ptr


def _codes(b: np.ndarray) -> np.ndarray:
    a = np.asarray(b)
    if a.dtype != np.uint8:
        if a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() > 255)):
            raise ValueError("G.711 codes must be bytes (uint8 values 0..255)")
        a = a.astype(np.uint8)
    return np.ascontiguousarray(a.reshape(-1))


def _encode(fn, x: np.ndarray) -> np.ndarray:
    src = as_int16(x)
    out = np.empty(src.size, dtype=np.uint8)
    fn(samples_ptr(src), ffi.from_buffer("uint8_t[]", out), src.size)
    return out


def _decode(fn, b) -> np.ndarray:
    src = _codes(np.frombuffer(b, dtype=np.uint8) if isinstance(b, bytes | bytearray) else b)
    out = np.empty(src.size, dtype=np.int16)
    fn(ffi.from_buffer("uint8_t[]", src), samples_ptr(out), src.size)
    return out


def ulaw_encode(x: np.ndarray) -> np.ndarray:
    return _encode(lib.g711_ulaw_encode, x)


def ulaw_decode(b: np.ndarray | bytes) -> np.ndarray:
    return _decode(lib.g711_ulaw_decode, b)


def alaw_encode(x: np.ndarray) -> np.ndarray:
    return _encode(lib.g711_alaw_encode, x)


def alaw_decode(b: np.ndarray | bytes) -> np.ndarray:
    return _decode(lib.g711_alaw_decode, b)
