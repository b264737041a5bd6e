"""Many ports' DSP in one C call per tick (`src/port_rows.c`): echo cancellers, DTMF
receivers, fax-tone detectors.

cffi releases the interpreter lock around every C call, and takes it back afterwards; with
any other thread of the engine busy, each retake can keep the media thread waiting up to the
switch interval. One port at a time, a tick with 8 outside calls made ~40 such calls; with
these, one per stage. Each object owns a (rows x FRAME) int16 array per input: the media
loop copies a port's frame into its row, marks the row, and runs the whole tick:

    echo = EchoRows([dsp.echo for dsp in ports])           # None for ports without one
    echo.near[i] = rx; echo.far[i] = tx; echo.on[i] = 1     # per port in a call
    out = echo.run()                                        # fresh (rows x FRAME) array; out[i]

Since session 7 the batches do not give the lock away at all: they are called through
`dsp_ext._ffi.tick_lib`, which keeps it (they are short and call no Python), so the media
thread cannot lose it to another thread at these calls (up to a switch interval each).

The per-port objects (`EchoCanceller`, `DtmfReceiver`, `FaxToneDetector`) stay the owners
of their C state and keep their one-port API; a row holds a pointer to that state only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# the batches keep the interpreter lock through their C call (see dsp_ext._ffi.tick_lib)
from dsp_ext._ffi import ffi
from dsp_ext._ffi import tick_lib as lib
from dsp_ext.dtmf import DtmfEvent, DtmfReceiver
from dsp_ext.echo import EchoCanceller
from dsp_ext.faxtone import FaxToneDetector, FaxToneEvent
from dsp_ext.levels import FRAME

__all__ = ["EchoRows", "DtmfRows", "FaxToneRows"]

# dtmf_event_t (src/dtmf.h), field by field at the offsets the compiler gave them
_EVENT_DTYPE = np.dtype({
    "names": ["kind", "digit", "sample", "level_dbm0"],
    "formats": [np.intc, "S1", np.uint64, np.float32],
    "offsets": [ffi.offsetof("dtmf_event_t", f) for f in ("kind", "digit", "sample", "level_dbm0")],
    "itemsize": ffi.sizeof("dtmf_event_t"),
})


class _Rows:
    """A (rows x n) int16 input array and a run mask, with their C pointers made once."""

    def __init__(self, rows: int, n: int) -> None:
        if rows < 0 or n <= 0:
            raise ValueError(f"rows must be >= 0 and the frame length > 0, got {rows} x {n}")
        self.rows = rows
        self.n = n
        self.on = np.zeros(max(rows, 1), dtype=np.uint8)
        self._on_ptr = ffi.from_buffer("uint8_t[]", self.on)

    def _array(self) -> tuple[np.ndarray, object]:
        a = np.zeros((max(self.rows, 1), self.n), dtype=np.int16)
        return a, ffi.from_buffer("int16_t[]", a)


class EchoRows(_Rows):
    """The echo cancellers of a set of ports (None where a port has none)."""

    def __init__(self, cancellers: Sequence[EchoCanceller | None], n: int = FRAME) -> None:
        super().__init__(len(cancellers), n)
        self._cancellers = list(cancellers)          # keeps each canceller's C memory alive
        self._states = ffi.new("echo_t *[]", max(self.rows, 1))
        for i, ec in enumerate(cancellers):
            self._states[i] = ec._state if ec is not None else ffi.NULL
        self.far, self._far_ptr = self._array()
        self.near, self._near_ptr = self._array()

    def run(self) -> np.ndarray:
        """Cancel every marked row; returns this tick's output (a new array: row i is port i's
        frame, rows not marked are zero), and clears the marks."""
        # np.empty, filled by the C call (rows not run are zeroed there): numpy's zeros, fill and
        # copy let the interpreter lock go on arrays over ~500 elements, this one does not
        out = np.empty((max(self.rows, 1), self.n), dtype=np.int16)
        if self.on.any():
            lib.echo_process_rows(self._states, self._on_ptr, self._far_ptr, self._near_ptr,
                                  ffi.from_buffer("int16_t[]", out), self.rows, self.n)
            self.on[:] = 0
        else:
            out[:] = 0
        return out


class DtmfRows(_Rows):
    """The DTMF receivers of a set of ports. Row i is port i's received frame (`x`); if `sent_on[i]`
    is marked too, `sent[i]` is what we sent that port (the receiver's echo guard, as
    `DtmfReceiver.process(rx, sent)`)."""

    def __init__(self, receivers: Sequence[DtmfReceiver], n: int = FRAME) -> None:
        rows = len(receivers)
        super().__init__(2 * rows, n)                 # received rows, then sent rows
        self._receivers = list(receivers)
        self._states = ffi.new("dtmf_rx_t *[]", max(2 * rows, 1))
        for i, r in enumerate(receivers):
            self._states[i] = r._rx._state
            self._states[rows + i] = r._tx._state
        self._all, self._ptr = self._array()
        self.x = self._all[:rows]
        self.sent = self._all[rows:2 * rows]
        self.rx_on = self.on[:rows]
        self.sent_on = self.on[rows:2 * rows]
        self.per_row = n // lib.DTMF_HALF + 2
        self._events = ffi.new("dtmf_event_t[]", max(2 * rows, 1) * self.per_row)
        self._counts = np.zeros(max(2 * rows, 1), dtype=np.intc)
        self._counts_ptr = ffi.from_buffer("int[]", self._counts)
        # the events as a numpy view of the C array: a row's events come out in one tolist()
        self._event_rows = np.frombuffer(ffi.buffer(self._events), dtype=_EVENT_DTYPE)
        # ports whose receiver is holding back an echo of our own digit (DtmfReceiver.waiting):
        # kept from each `take` here, so a receiver in rows must be run by its rows only
        self._waiting: set[int] = set()

    def run(self) -> list[tuple[int, list[DtmfEvent]]]:
        """Run every marked row; (port index, its receiver's events) for each port that had any.
        Clears the marks.

        Python only visits the ports whose detectors found something this tick, or whose receiver
        is `waiting` (holding back an echo of our own digit): on most ticks none, so the stage
        costs one C call for all ports."""
        total = lib.dtmf_rx_process_rows(self._states, self._on_ptr, self._ptr, self.rows, self.n,
                                         self._events, self.per_row, self._counts_ptr)
        waiting = self._waiting
        if total == 0 and not waiting:
            self.on.fill(0)
            return []
        ports = len(self._receivers)
        visit = set(waiting)
        if total:
            visit.update(r if r < ports else r - ports for r in self._counts.nonzero()[0].tolist())
        counts, rx_on, sent_on = self._counts, self.rx_on, self.sent_on
        out = []
        n = self.n
        for i in sorted(visit):
            if not rx_on[i]:
                continue
            r = self._receivers[i]
            rx_ev = self._decode(i, int(counts[i]))
            sent_ev = self._decode(ports + i, int(counts[ports + i])) if sent_on[i] else None
            events = r.take(rx_ev, sent_ev, n)
            if r.waiting:
                waiting.add(i)
            else:
                waiting.discard(i)
            if events:
                out.append((i, events))
        self.on.fill(0)
        return out

    def _decode(self, row: int, count: int) -> list[tuple[int, str, int, float]]:
        if not count:
            return []
        base = row * self.per_row
        return [(kind, digit.decode(), sample, level)
                for kind, digit, sample, level in self._event_rows[base:base + count].tolist()]


class FaxToneRows(_Rows):
    """Fax-tone detectors of a set of ports, made and dropped per call: `attach(i, det)`,
    `detach(i)`. Frames must be at most one `FaxToneDetector` piece (they are one tick)."""

    def __init__(self, rows: int, n: int = FRAME) -> None:
        super().__init__(rows, n)
        self._detectors: list[FaxToneDetector | None] = [None] * rows
        self._states = ffi.new("faxtone_rx_t *[]", max(rows, 1))
        self.x, self._x_ptr = self._array()
        self._bits = np.zeros(max(rows, 1), dtype=np.intc)
        self._bits_ptr = ffi.from_buffer("int[]", self._bits)

    def attach(self, i: int, det: FaxToneDetector) -> None:
        self._detectors[i] = det
        self._states[i] = det._state

    def detector(self, i: int) -> FaxToneDetector | None:
        return self._detectors[i]

    def detach(self, i: int) -> None:
        self._detectors[i] = None
        self._states[i] = ffi.NULL

    def run(self) -> list[tuple[int, list[FaxToneEvent]]]:
        """Run every marked row; (port index, events) for each port whose tone state changed."""
        ran = np.flatnonzero(self.on)
        if ran.size == 0:
            return []
        lib.faxtone_rx_process_rows(self._states, self._on_ptr, self._x_ptr, self.rows, self.n,
                                    self._bits_ptr)
        self.on[:] = 0
        out = []
        bits = self._bits
        for i in ran.tolist():
            det = self._detectors[i]
            if det is not None:
                events = det.take_bits(int(bits[i]))
                if events:
                    out.append((i, events))
        return out
