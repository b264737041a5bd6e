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

__all__ = ["EmulatedWorld", "TdmBus", "FRAME_US", "PCM_FORMATS", "chip_pcm_format"]

FRAME_US = 10_000


PCM_FORMATS = {"s16": 16, "ulaw": 8, "alaw": 8}      # bus format -> slot width in bits


class TdmBus:
    """One PCM frame of the TDM bus: `down` is what the Pi sends, `up` what the chips send.

    A "s16" bus has 16-bit slots of linear samples; a "ulaw"/"alaw" bus has 8-bit
    slots of G.711 codes. Channel k starts at bit width*k after frame sync. A
    chip reads and drives its slot in its *own* format (its PCM mode register),
    so a chip set up for the wrong format hears and sends garbage, as on hardware.
    """

    def __init__(self, channels: int, fmt: str = "s16") -> None:
        if fmt not in PCM_FORMATS:
            raise ValueError(f"unknown PCM format {fmt!r}; use {', '.join(PCM_FORMATS)}")
        self.channels, self.fmt, self.width = channels, fmt, PCM_FORMATS[fmt]
        dtype = np.int16 if fmt == "s16" else np.uint8
        self.down = np.zeros((FRAME, channels), dtype=dtype)
        self.up = np.zeros((FRAME, channels), dtype=dtype)

    def slot_of(self, bit_count: int) -> int | None:
        """Channel a chip's start count points at, or None when it straddles slots / is off the bus."""
        if bit_count % self.width or bit_count // self.width >= self.channels:
            return None
        return bit_count // self.width

    def read(self, bit_count: int, chip_fmt: str | None) -> np.ndarray | None:
        """The int16 samples a chip in `chip_fmt` hears in its slot (None: not on the bus / PCM off)."""
        ch = self.slot_of(bit_count)
        if ch is None or chip_fmt is None:
            return None
        raw = self.down[:, ch]
        if self.fmt == "s16":
            if chip_fmt == "s16":
                return raw.copy()
            return _expand(((raw.astype(np.int32) >> 8) & 0xFF).astype(np.uint8), chip_fmt)
        if chip_fmt == "s16":                          # 16 bits read from an 8-bit slot (+ silence)
            return (raw.astype(np.int32) << 8).astype(np.uint16).view(np.int16)
        return _expand(raw, chip_fmt)

    def write(self, bit_count: int, chip_fmt: str | None, samples: np.ndarray) -> None:
        ch = self.slot_of(bit_count)
        if ch is None or chip_fmt is None:
            return
        x = np.asarray(samples, dtype=np.int16)
        if chip_fmt == "s16":
            self.up[:, ch] = x if self.fmt == "s16" else (x.view(np.uint16) >> 8).astype(np.uint8)
            return
        code = _compress(x, chip_fmt)
        self.up[:, ch] = (code.astype(np.uint16) << 8).view(np.int16) if self.fmt == "s16" else code


def _expand(codes: np.ndarray, law: str) -> np.ndarray:
    from dsp_ext.g711 import alaw_decode, ulaw_decode
    return ulaw_decode(codes) if law == "ulaw" else alaw_decode(codes)


def _compress(x: np.ndarray, law: str) -> np.ndarray:
    from dsp_ext.g711 import alaw_encode, ulaw_encode
    return ulaw_encode(x) if law == "ulaw" else alaw_encode(x)


class Chip(Protocol):
    def elapse(self, us: int) -> None: ...


def chip_pcm_format(mode_bits: int) -> str | None:
    """The PCM format field both chips use (bits 4:3 of their PCM mode register)."""
    return {0: "alaw", 1: "ulaw", 3: "s16"}.get(mode_bits & 0x03)


class EmulatedWorld:
    def __init__(self, channels: int, co=None, fmt: str = "s16") -> None:
        self.tdm = TdmBus(channels, fmt)
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
