"""Register-level emulator of a Silicon Labs Si3050 DAA with its Si3019 line-side device (one FXO).

SPI framing (one transaction = three bytes): control byte (0x20 = write,
0x60 = read), register address, data (written, or clocked out on a read).

Modelled registers (datasheet numbering):
  R1  control 1: bit 7 soft reset (self-clearing)     R2  control 2 (reset 0x03)
  R3  interrupt mask / R4 interrupt source, bits: 7 RDT ring, 6 ROV, 5 FDT, 4 BTD, 3 DOD drop-out,
      2 LCSO loop-current overload, 1 TGD, 0 POL polarity; write 0 to a bit to clear it
  R5  DAA control 1: bit 0 OH off-hook, bit 3 ONHM on-hook line monitor; read-only bit 2 RDT,
      bit 5 RDTP, bit 6 RDTN (ring detected, positive/negative half)
  R6  DAA control 2: bit 4 PDL line side powered down (reset 1)
  R11 bits 7:4 line-side ID (0 until the isolation link is up), bits 3:0 system-side revision
  R12 bit 6 FDT frame detect (link up), bits 4:0 LCS loop current, 3.3 mA/LSB
  R13 bits 5:2 line-side revision
  R16 international control 1: bit 6 OHS, bit 5 ACT, bit 1 RZ, bit 0 RT
  R26 DC termination: bits 7:6 DCV, bits 5:4 MINI, bit 1 ILIM
  R28 LCS2 loop current, 1.1 mA/LSB     R29 LVS line voltage, 1 V/LSB, two's complement (sign = polarity)
  R30 AC termination ACIM[3:0]           R31 bit 3 OHS2
  R33 PCM: bit 5 enable, bits 4:3 format (11 = 16-bit linear)
  R34/35 TXS, R36/37 RXS start counts    R38/39 TX/RX gain: bit 4 attenuate, bits 3:0 dB

Line side: one line of the simulator's `CentralOffice` (its per-frame
`LineSignal`: audio, ringing, reversed, loop current, powered, in use).
"""
from __future__ import annotations

import numpy as np

from dsp_ext.levels import FRAME

from .world import TdmBus, chip_pcm_format

__all__ = ["Si3050Emulator"]

RESET = {2: 0x03, 6: 0x10, 26: 0xC0}
READ_ONLY = {11, 12, 13, 28, 29}
LINK_US = 8_000                 # isolation link comes up this long after the line side powers up
ONHOOK_V, OFFHOOK_V, LOOP_MA = 48, 8, 28
RDT_HOLD_US = 5_000_000         # RDT stays set this long after the last ring


class Si3050Emulator:
    def __init__(self, line_index: int = 1, revision: int = 5, line_side_id: int = 0x3,
                 line_side_rev: int = 0x4) -> None:
        self.line_index = line_index
        self.revision, self.lsid, self.lsrev = revision, line_side_id, line_side_rev
        self.in_reset = False
        self.overload = False
        self.reset()

    def reset(self) -> None:
        self.r = [0] * 64
        for reg, val in RESET.items():
            self.r[reg] = val
        self.r[11] = self.revision & 0x0F
        self._link_us = 0
        self._rdt_us = 0
        self._sign = 1
        self._ringing = False
        self._loop = False

    def set_reset_pin(self, level: int) -> None:
        self.in_reset = level == 0
        if self.in_reset:
            self.reset()

    @property
    def irq_pin(self) -> int:
        return 0 if self.r[3] & self.r[4] else 1

    # --- SPI ----------------------------------------------------------------------------------
    def spi_transfer(self, data: bytes) -> bytes:
        if self.in_reset or len(data) != 3 or data[0] & 0x20 == 0:
            return bytes([0xFF] * len(data))
        reg = data[1] & 0x3F
        if data[0] & 0x40:
            return bytes([0xFF, 0xFF, self.r[reg]])
        self.write(reg, data[2])
        return bytes([0xFF, 0xFF, 0xFF])

    def write(self, reg: int, val: int) -> None:
        val &= 0xFF
        if reg in READ_ONLY:
            return
        if reg == 1 and val & 0x80:
            self.reset()
            return
        if reg == 4:
            self.r[4] &= val                                  # write 0 to clear
        elif reg == 5:
            self.r[5] = (self.r[5] & 0x64) | (val & ~0x64 & 0xFF)
        else:
            self.r[reg] = val

    # --- state --------------------------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        return bool(self.r[12] & 0x40)

    @property
    def off_hook(self) -> bool:
        return bool(self.r[5] & 0x01) and self.link_up

    @property
    def monitor(self) -> bool:
        return bool(self.r[5] & 0x08)

    def _bits(self, lo: int) -> int:
        return self.r[lo] | ((self.r[lo + 1] & 0x03) << 8)

    @property
    def pcm_format(self) -> str | None:
        return chip_pcm_format(self.r[33] >> 3) if self.r[33] & 0x20 else None

    @property
    def pcm_on(self) -> bool:
        return self.pcm_format is not None

    def elapse(self, us: int) -> None:
        if self.in_reset:
            return
        if self.r[6] & 0x10:
            self._link_us = 0
            self.r[12] &= ~0x40 & 0xFF
            self.r[11] &= 0x0F
        else:
            self._link_us += us
            if self._link_us >= LINK_US and not self.link_up:
                self.r[12] |= 0x40
                self.r[11] = (self.lsid << 4) | (self.revision & 0x0F)
                self.r[13] = (self.lsrev & 0x0F) << 2
                self.r[4] |= 0x20                              # frame detect
        if self._rdt_us:
            self._rdt_us = max(0, self._rdt_us - us)
            if not self._rdt_us:
                self.r[5] &= ~0x04 & 0xFF

    # --- the line, once per frame -------------------------------------------------------------
    def cpe_output(self, tdm: TdmBus) -> tuple[bool, np.ndarray | None]:
        if self.in_reset or not self.off_hook:
            return (False, None)
        heard = tdm.read(self._bits(36), self.pcm_format)
        audio = _gain(heard, self.r[38]) if heard is not None else np.zeros(FRAME, dtype=np.int16)
        return (True, audio)

    def take_line(self, sig, tdm: TdmBus) -> None:
        if self.in_reset or not self.link_up:
            return
        off = self.off_hook
        loop = off and sig.powered and sig.loop_current
        if not sig.powered:
            volts = 0
        elif loop or (not off and sig.in_use):
            volts = OFFHOOK_V
        else:
            volts = ONHOOK_V
        sign = -1 if sig.reversed else 1
        if volts and sign != self._sign:
            self.r[4] |= 0x01                                  # polarity reversal
        if volts:
            self._sign = sign
        self.r[29] = (volts * sign) & 0xFF
        self.r[28] = round(LOOP_MA / 1.1) if loop else 0
        self.r[12] = (self.r[12] & 0x40) | ((round(LOOP_MA / 3.3) if loop else 0) & 0x1F)
        if off and self._loop and not loop:
            self.r[4] |= 0x08                                  # drop-out: loop current lost off hook
        self._loop = loop
        if off and self.overload:
            self.r[4] |= 0x04
        ringing = sig.ringing and sig.powered and not off
        self.r[5] &= ~0x60 & 0xFF
        if ringing:
            self.r[5] |= 0x64                                  # both half-cycles within a 10 ms frame at 20 Hz
            if not self._ringing:
                self.r[4] |= 0x80
            self._rdt_us = RDT_HOLD_US
        self._ringing = ringing
        if sig.powered and (off or self.monitor):
            tdm.write(self._bits(34), self.pcm_format, _gain(sig.audio, self.r[39]))


def _gain(samples: np.ndarray, reg: int) -> np.ndarray:
    db = reg & 0x0F
    if not db:
        return np.asarray(samples, dtype=np.int16).copy()
    g = 10 ** ((-db if reg & 0x10 else db) / 20)
    return np.clip(np.rint(np.asarray(samples, dtype=np.float64) * g), -32768, 32767).astype(np.int16)
