"""Fax and modem tone detection (`src/faxtone.c`): CNG from a calling fax,
CED/ANS and ANSam from the answering side, and whether the 2100 Hz tone has
phase reversals (the echo-canceller disabling signal of G.164/G.168)."""
from dataclasses import dataclass

import numpy as np

from dsp_ext._ffi import as_int16, ffi, lib, samples_ptr
from dsp_ext.levels import DBM0_PEAK, RATE

# Fed to C in pieces this long so that no tone can both start and end inside
# one piece (every tone we report lasts >= 300 ms).
_PIECE = 800


@dataclass(frozen=True)
class FaxToneEvent:
    tone: str               # "CNG" | "CED" | "ANSam"
    kind: str               # "start" | "end"
    time: float             # seconds since the detector was created
    phase_reversals: bool   # 2100 Hz tones: reversals seen so far (at "end": in the whole tone)


class FaxToneDetector:
    def __init__(self) -> None:
        self._state = ffi.new("faxtone_rx_t *")
        lib.faxtone_rx_init(self._state, DBM0_PEAK)
        self._bits = 0
        self._ans_name = "CED"
        self._ans_reversals = False

    def process(self, samples: np.ndarray) -> list[FaxToneEvent]:
        x = as_int16(samples)
        events: list[FaxToneEvent] = []
        for i in range(0, x.size, _PIECE):
            piece = x[i:i + _PIECE]
            bits = lib.faxtone_rx_process(self._state, samples_ptr(piece), piece.size)
            events += self._changes(self._bits, bits)
            self._bits = bits
        return events

    def take_bits(self, bits: int) -> list[FaxToneEvent]:
        """The events of the C detector's state moving to `bits` (what `faxtone_rx_process` returned
        for the samples just fed): for running many detectors in one C call per tick
        (`dsp_ext.port_rows.FaxToneRows`). Feed at most _PIECE samples between two calls."""
        if bits == self._bits:
            return []
        events = self._changes(self._bits, bits)
        self._bits = bits
        return events

    def _changes(self, old: int, new: int) -> list[FaxToneEvent]:
        s = self._state
        ev = []
        if new & lib.FAXTONE_CNG and not old & lib.FAXTONE_CNG:
            ev.append(FaxToneEvent("CNG", "start", s.cng_start / RATE, False))
        if old & lib.FAXTONE_CNG and not new & lib.FAXTONE_CNG:
            ev.append(FaxToneEvent("CNG", "end", s.cng_end / RATE, False))
        if old & lib.FAXTONE_ANS and not new & lib.FAXTONE_ANS:
            ev.append(FaxToneEvent(self._ans_name, "end", s.ans_end / RATE, self._ans_reversals))
        if new & lib.FAXTONE_ANS:
            if not old & lib.FAXTONE_ANS:
                self._ans_name = "ANSam" if new & lib.FAXTONE_AM else "CED"
                ev.append(FaxToneEvent(self._ans_name, "start", s.ans_start / RATE,
                                       bool(new & lib.FAXTONE_REVERSALS)))
            self._ans_reversals = bool(new & lib.FAXTONE_REVERSALS)
            if new & lib.FAXTONE_AM:
                self._ans_name = "ANSam"
        return ev
