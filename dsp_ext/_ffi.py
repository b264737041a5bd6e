"""The compiled C core and the one way to hand numpy sample buffers to it.

`samples_ptr` returns a cdata pointer into the array's own memory (no copy when
the input is already C-contiguous int16); the cdata keeps the array alive for as
long as it is referenced, so keep both in the same expression or local scope.
"""
import numpy as np

from dsp_ext import _tick
from dsp_ext._dsp import ffi, lib

__all__ = ["ffi", "lib", "tick_lib", "address", "as_int16", "samples_ptr"]


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


def address(p) -> int:
    """The address a cffi pointer or array holds: how `tick_lib` takes C state that cffi allocated
    (the caller keeps that cdata alive as long as it passes the address)."""
    return int(ffi.cast("uintptr_t", p))


# What the media tick calls, keeping the interpreter lock (dsp_ext/tick_src/tickmod.c): the per-tick
# batches (src/port_rows.c and the DTMF receivers' rows, through dsp_ext.port_rows), the busy-tone
# judge (a line's 20-frame batch, dsp_ext.tones) and the answer supervision's block features
# (dsp_ext.progress); each is tens of microseconds and calls no Python. cffi releases the lock around
# every call, and on the media thread, while another thread of the engine wants it (the API server
# under web load, a writer thread just woken), taking it back can cost up to the switch interval,
# per call. Pointer arguments are addresses (`address`), None, or buffers (bytes, numpy arrays).
TICK_FUNCTIONS = ("echo_process_rows", "dtmf_receiver_rows", "faxtone_rx_process_rows", "tone_judge_process",
                  "progress_block_features")
for _name in TICK_FUNCTIONS:
    _tick.bind(_name, address(ffi.addressof(lib, _name)))
tick_lib = _tick
