"""The compiled C core and the one way to hand numpy sample buffers to it.

`samples_ptr` returns a cdata pointer into the array's own memory (no copy when
the input is already C-contiguous int16); the cdata keeps the array alive for as
long as it is referenced, so keep both in the same expression or local scope.
"""
import ctypes

import numpy as np

from dsp_ext._dsp import ffi, lib

__all__ = ["ffi", "lib", "tick_lib", "as_int16", "samples_ptr"]


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


class _LockHeldLib:
    """`lib`, except that the functions named in `held` are called without releasing the
    interpreter lock.

    cffi releases the lock around every C call and takes it back afterwards. On the media
    thread, while any other thread of the engine wants the lock (the API server under web
    load, the recording writer just woken), taking it back can cost up to the interpreter's
    switch interval, per call. The per-tick batches of `port_rows` are short and call no
    Python, so for them the media thread keeps the lock: the same compiled functions, called
    through ctypes.PyDLL (which holds it) with the cdata arguments passed as addresses (and
    bytes as they are, as cffi takes them for a pointer).
    Everything else is `lib` itself."""

    _CTYPES = {"int": ctypes.c_int, "void": None}

    def __init__(self, held: tuple[str, ...]) -> None:
        from dsp_ext import _dsp
        dll = ctypes.PyDLL(_dsp.__file__)
        for name in held:
            t = ffi.typeof(getattr(lib, name))
            fn = dll[name]
            fn.restype = self._CTYPES[t.result.cname]
            fn.argtypes = [ctypes.c_void_p if a.kind == "pointer" else self._CTYPES[a.cname] for a in t.args]
            pointers = tuple(i for i, a in enumerate(t.args) if a.kind == "pointer")
            setattr(self, name, self._call(fn, pointers))

    @staticmethod
    def _call(fn, pointers: tuple[int, ...]):
        cast, cdata = ffi.cast, ffi.CData

        def call(*args):
            a = list(args)
            for i in pointers:
                if isinstance(a[i], cdata):       # (bytes go as they are: ctypes passes their buffer)
                    a[i] = int(cast("uintptr_t", a[i]))
            return fn(*a)
        return call

    def __getattr__(self, name: str):
        return getattr(lib, name)


# what the media tick calls: the per-tick batches (src/port_rows.c, through dsp_ext.port_rows), the
# busy-tone judge (a line's 20-frame batch, dsp_ext.tones) and the answer-supervision block features
# (dsp_ext.progress); each is tens of microseconds and calls no Python
tick_lib = _LockHeldLib(("echo_process_rows", "dtmf_receiver_rows", "faxtone_rx_process_rows",
                         "tone_judge_process", "progress_block_features"))
