"""The compiled C core and the one way to hand numpy sample buffers to it.

`samples_ptr` returns a cdata pointer into the array's own memory (no copy when
the input is already C-contiguous int16); the cdata keeps the array alive for as
long as it is referenced, so keep both in the same expression or local scope.
"""
import numpy as np

from dsp_ext._dsp import ffi, lib

__all__ = ["ffi", "lib", "as_int16", "samples_ptr"]


def as_int16(samples: np.ndarray) -> np.ndarray:
    """A C-contiguous 1-D int16 view of `samples` (copied only if needed).

    Other integer and float inputs are rounded and clipped to the int16 range,
    so a caller that mixes in float never wraps around silently; NaN becomes 0
    and infinities the rails.
    """
    a = np.asarray(samples)
    if a.dtype == np.int16:
        return np.ascontiguousarray(a.reshape(-1))
    if a.dtype.kind not in "iufb":
        raise TypeError(f"samples must be numeric (int16 expected), got dtype {a.dtype}")
    f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=32767.0, neginf=-32768.0)
    return np.ascontiguousarray(np.clip(np.rint(f), -32768, 32767).astype(np.int16).reshape(-1))


def samples_ptr(a: np.ndarray):
    """`int16_t *` (as an `int16_t[]` cdata) into `a`, which must be C-contiguous int16."""
    if a.dtype != np.int16 or not a.flags.c_contiguous:
        raise ValueError("samples_ptr needs a C-contiguous int16 array; use as_int16() first")
    return ffi.from_buffer("int16_t[]", a, require_writable=False)
