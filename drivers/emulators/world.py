"""The emulated world's clock: chips, their analog line sides and the TDM bus, stepped together.

Time advances only when a driver waits (`EmulatedSpiBus.sleep_ms`) or the PCM
stream moves a period (`EmulatedTdmLink.exchange`), exactly like hardware where
the ALSA period paces everything. Chips get `elapse(us)` for their timers at
any granularity; the analog line sides and the TDM bus move in whole 10 ms
frames, which is the contract of `VirtualPhone.step` and `CentralOffice.step`.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from dsp_ext.levels import FRAME

__all__ = ["EmulatedWorld", "TdmBus", "FRAME_US"]

FRAME_US = 10_000


class TdmBus:
    """One PCM frame of the TDM bus: `down` is what the Pi sends, `up` what the chips send.

    Channels are 16-bit slots: channel k starts at bit 16*k after frame sync.
    """

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.down = np.zeros((FRAME, channels), dtype=np.int16)
        self.up = np.zeros((FRAME, channels), dtype=np.int16)

    def slot_of(self, bit_count: int) -> int | None:
        """Channel a chip's start count points at, or None when it straddles slots / is off the bus."""
        if bit_count % 16 or bit_count // 16 >= self.channels:
            return None
        return bit_count // 16


class Chip(Protocol):
    def elapse(self, us: int) -> None: ...


class EmulatedWorld:
    def __init__(self, channels: int, co=None) -> None:
        self.tdm = TdmBus(channels)
        self.co = co
        self.slics: list = []          # Si3215Emulator
        self.daas: list = []           # Si3050Emulator
        self.others: list = []         # anything else with elapse(us) / step_frame()
        self.us = 0                    # emulated time since power-up
        self.frames = 0
        self._in_frame_us = 0

    def advance_ms(self, ms: float) -> None:
        us = int(round(ms * 1000))
        while us > 0:
            step = min(us, FRAME_US - self._in_frame_us)
            for chip in (*self.slics, *self.daas):
                chip.elapse(step)
            self.us += step
            self._in_frame_us += step
            us -= step
            if self._in_frame_us >= FRAME_US:
                self._in_frame_us = 0
                self.step_frame()

    def step_frame(self) -> None:
        self.tdm.up[:] = 0                               # undriven slots read as silence
        for slic in self.slics:
            slic.step_frame(self.tdm)
        if self.daas:
            cpe = {d.line_index: d.cpe_output(self.tdm) for d in self.daas}
            signals = self.co.step(cpe)
            for d in self.daas:
                d.take_line(signals[d.line_index], self.tdm)
        elif self.co is not None:
            self.co.step({})
        for other in self.others:
            other.step_frame()
        self.frames += 1
