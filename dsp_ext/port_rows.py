"""Many ports' DSP in one C call per tick (`src/port_rows.c`): echo cancellers, DTMF
receivers, fax-tone detectors.

cffi releases the interpreter lock around every C call, and takes it back afterwards; with
any other thread of the engine busy, each retake can keep the media thread waiting up to the
switch interval. One port at a time, a tick with 8 outside calls made ~40 such calls; with
these, one per stage. `EchoRows` and `FaxToneRows` own a (rows x FRAME) int16 array per input:
the media loop copies a port's frame into its row, marks the row, and runs the whole tick:

    echo = EchoRows([dsp.echo for dsp in ports])           # None for ports without one
    echo.near[i] = rx; echo.far[i] = tx; echo.on[i] = 1     # per port in a call
    out = echo.run()                                        # fresh (rows x FRAME) array; out[i]

`DtmfRows` takes the tick's frames packed instead (`rows.digits(ports, frames, sent_ports,
sent_frames)`) and returns only the digits its receivers report: the echo guard runs in C.

The per-port objects (`EchoCanceller`, `DtmfReceiver`, `FaxToneDetector`) stay the owners
of their C state and keep their one-port API; a row holds a pointer to that state only.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dsp_ext._ffi import ffi, lib
from dsp_ext.dtmf import DtmfEvent, DtmfReceiver
from dsp_ext.echo import EchoCanceller
from dsp_ext.faxtone import FaxToneDetector, FaxToneEvent
from dsp_ext.levels import FRAME, RATE

__all__ = ["EchoRows", "DtmfRows", "FaxToneRows"]

# dtmf_report_t (src/dtmf_receiver.h), field by field at the offsets the compiler gave them
_REPORT_DTYPE = np.dtype({
    "names": ["port", "kind", "digit", "sample", "level_dbm0"],
    "formats": [np.intc, np.intc, "S1", np.uint64, np.float32],
    "offsets": [ffi.offsetof("dtmf_report_t", f) for f in ("port", "kind", "digit", "sample", "level_dbm0")],
    "itemsize": ffi.sizeof("dtmf_report_t"),
})
_KIND = {lib.DTMF_EV_START: "start", lib.DTMF_EV_END: "end"}
_STARTS = lib.DTMF_REPORT_STARTS


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
        out = np.zeros((max(self.rows, 1), self.n), dtype=np.int16)
        if self.on.any():
            lib.echo_process_rows(self._states, self._on_ptr, self._far_ptr, self._near_ptr,
                                  ffi.from_buffer("int16_t[]", out), self.rows, self.n)
            self.on[:] = 0
        return out


class DtmfRows:
    """The DTMF receivers (`DtmfReceiver`: detectors and echo guard) of a set of ports, all run in
    one C call per tick that returns only the digits they report (`src/dtmf_receiver.c`).

    The frames are handed over as the media loop has them, packed, not copied into rows one by
    one: `ports` lists the ports that carry audio this tick (receiver indices, any order, each
    at most once) and `frames` their received frames (int16[n] each, C-contiguous), in the same
    order; `sent_ports` / `sent_frames` what we sent to those of them that sent anything (in the
    same order as they appear in `ports`), for the echo guard. Building two lists and joining
    them costs less than a numpy row copy per port.

        rows = DtmfRows([dsp.dtmf for dsp in ports])
        for port, digit in rows.digits([0, 3], [rx0, rx3], [3], [tx3]):    # digit starts only
            ...
        rows.run(...)                       # every event, as DtmfReceiver.process gives them
    """

    def __init__(self, receivers: Sequence[DtmfReceiver], n: int = FRAME) -> None:
        if n <= 0:
            raise ValueError(f"the frame length must be > 0, got {n}")
        if len(receivers) > 255:
            raise ValueError(f"{len(receivers)} receivers: DtmfRows serves at most 255 ports (one byte each)")
        self.rows = len(receivers)
        self.n = n
        self._bytes = 2 * n
        self._receivers = list(receivers)            # keeps each receiver's C memory alive
        self._states = ffi.new("dtmf_receiver_t *[]", max(self.rows, 1))
        for i, r in enumerate(receivers):
            self._states[i] = r._state
        # at most 16 reports per receiver per 408 samples (PIECE_OUT in dtmf_receiver.c)
        self._max = max(self.rows, 1) * 16 * -(-n // (8 * lib.DTMF_HALF))
        self._out = ffi.new("dtmf_report_t[]", self._max)
        self._reports = np.frombuffer(ffi.buffer(self._out), dtype=_REPORT_DTYPE)
        # the same reports as (port, digit) byte pairs: digits() reads a tick's in one slice
        self._found = bytearray(2 * self._max)
        found = ffi.from_buffer("uint8_t[]", self._found)
        self._rows = ffi.new("dtmf_rows_t *", {"rs": self._states, "rows": self.rows, "n": n, "out": self._out,
                                               "max_out": self._max, "found": found})
        self._keep = found

    def _call(self, ports: Sequence[int], frames: Sequence[np.ndarray], sent_ports: Sequence[int],
              sent_frames: Sequence[np.ndarray], kinds: int) -> int:
        """Runs the receivers; the number of reports in self._reports. The frames go to C as the
        bytes they are joined into (no per-port copy or pointer)."""
        count = len(ports)
        x = b"".join(frames)
        if len(x) != count * self._bytes or len(frames) != count:
            raise ValueError(f"{len(frames)} frames of {len(x)} bytes in all for {count} ports: each port needs "
                             f"one int16[{self.n}] frame")
        if sent_ports or sent_frames:
            s = b"".join(sent_frames)
            if len(s) != len(sent_ports) * self._bytes or len(sent_frames) != len(sent_ports):
                raise ValueError(f"{len(sent_frames)} sent frames of {len(s)} bytes in all for {len(sent_ports)} "
                                 f"ports: each needs one int16[{self.n}] frame")
            got = lib.dtmf_receiver_rows(self._rows, bytes(ports), count, x, bytes(sent_ports), len(sent_ports), s,
                                         kinds)
        else:                       # nothing sent this tick (the common case): no empty joins
            got = lib.dtmf_receiver_rows(self._rows, bytes(ports), count, x, ffi.NULL, 0, ffi.NULL, kinds)
        if got < 0:
            k = -1 - got
            if k < count:
                raise ValueError(f"port {ports[k]} (frame {k}) has no receiver: {self.rows} ports")
            raise ValueError(f"sent frame {k - count} is for port {sent_ports[k - count]}, which is not among the "
                             "ports with a received frame (in the same order)")
        return got

    def run(self, ports: Sequence[int], frames: Sequence[np.ndarray], sent_ports: Sequence[int] = (),
            sent_frames: Sequence[np.ndarray] = ()) -> list[tuple[int, DtmfEvent]]:
        """One tick: (port, event) for every digit start and end the receivers report, frame by
        frame; the same events `DtmfReceiver.process(frame, sent)` gives per port."""
        if not ports:
            return []
        got = self._call(ports, frames, sent_ports, sent_frames, lib.DTMF_REPORT_STARTS | lib.DTMF_REPORT_ENDS)
        if not got:
            return []
        return [(port, DtmfEvent(_KIND[kind], digit.decode(), sample / RATE, level))
                for port, kind, digit, sample, level in self._reports[:got].tolist()]

    def digits(self, ports: Sequence[int], frames: Sequence[np.ndarray], sent_ports: Sequence[int] = (),
               sent_frames: Sequence[np.ndarray] = ()) -> list[tuple[int, str]]:
        """One tick as `run`, but only (port, digit) for each digit that starts: what the engine acts
        on (`Engine.on_digit`). Ticks without a digit cost one C call and no Python per port."""
        if not ports:
            return []
        got = self._call(ports, frames, sent_ports, sent_frames, _STARTS)
        if not got:
            return []
        f = self._found                                 # port, digit, port, digit, ...
        return [(f[i], chr(f[i + 1])) for i in range(0, 2 * got, 2)]


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
