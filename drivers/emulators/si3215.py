"""Register-level emulator of a Silicon Labs Si3215/Si3210 ProSLIC (one FXS channel).

SPI framing (one transaction = two bytes): the first byte is the register
address with bit 7 set for a read; the second byte is the data written, or
clocked out by the chip on a read.

Modelled from the datasheet's register map (Si3210 numbering):
  DR0   part/revision (read-only)          DR1   PCM mode (bit 7 reads 1 on an Si3215)
  DR2-5 PCM TX/RX start counts (bits)      DR8   loopback (reset 0x02)  DR11 hybrid (reset 0x33)
  DR14  power-down: bit 4 = DC-DC off      DR18-20 interrupt status (write 1 to clear)
  DR21-23 interrupt masks                  DR28-31 indirect data/address/status
  DR34  ring oscillator control (bit 4 active timer, bit 3 inactive timer, bit 2 running)
  DR48-51 ring active/inactive timers, 125 us units
  DR64  linefeed: bits 2:0 commanded, bits 6:4 actual (read-only)
  DR67  automatic control: bit 0 auto-open on power alarm, bit 2 auto ring trip
  DR68  bit 0 loop closure, bit 1 ring trip (read-only)
  DR72  open-circuit voltage VOC (1.5 V/LSB)  DR74 VBATH (1.5 V/LSB)
  DR78  loop voltage (1.5 V/LSB)  DR79 loop current (1.1 mA/LSB)  DR82 battery (0.376 V/LSB)
  DR93  DC-DC: bit 7 calibration, self-clearing      DR96 calibration: bit 6 starts, self-clearing
Indirect registers are not initialised by reset (they read 0 until written):
the audio gains (IR26 DAC, IR27 ADC, 0x4000 = 0 dB) must be written or the
channel stays silent, and power-alarm thresholds (IR32..34) left at 0 trip as
soon as loop current flows.

Line side: a `VirtualPhone` (or anything with its `step` contract).
"""
from __future__ import annotations

import numpy as np

from dsp_ext.levels import FRAME

from .world import TdmBus, chip_pcm_format

__all__ = ["Si3215Emulator", "LF_NAMES"]

LF_OPEN, LF_FWD_ACTIVE, LF_FWD_OHT, LF_TIP_OPEN, LF_RINGING, LF_REV_ACTIVE, LF_REV_OHT, LF_RING_OPEN = range(8)
LF_NAMES = ["open", "forward active", "forward on-hook transmission", "tip open", "ringing",
            "reverse active", "reverse on-hook transmission", "ring open"]
FEEDING = {LF_FWD_ACTIVE, LF_FWD_OHT, LF_REV_ACTIVE, LF_REV_OHT}

RESET = {0: 0x03, 1: 0x08, 8: 0x02, 11: 0x33, 14: 0x10, 65: 0x61, 66: 0x0B, 67: 0x1F, 69: 0x0A, 70: 0x0A,
         72: 0x20, 73: 0x02, 74: 0x32, 75: 0x10, 92: 0xFF, 93: 0x14, 96: 0x1F, 97: 0x1F,
         98: 0x10, 99: 0x10, 100: 0x11, 101: 0x11, 102: 0x08, 103: 0x88, 106: 0x20, 107: 0x08}
READ_ONLY = {0, 24, 25, 26, 68, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 95}
W1C = {18, 19, 20}
DCDC_RAMP_US = 30_000            # battery rises from 0 to target in this time
DCDC_CAL_US = 5_000
CAL_US = 40_000
IND_BUSY_TRANSACTIONS = 2


class Si3215Emulator:
    def __init__(self, phone=None, si3215: bool = True, revision: int = 3) -> None:
        self.phone = phone
        self.si3215 = si3215
        self.revision = revision
        self.in_reset = False
        self.alarm: int | None = None       # transistor (1..6) in power alarm while the fault persists
        self.reset()

    # --- pins ---------------------------------------------------------------------------------
    def reset(self) -> None:
        self.dr = [0] * 128
        for reg, val in RESET.items():
            self.dr[reg] = val
        self.dr[0] = (0 << 4) | (self.revision & 0x0F)
        if self.si3215:
            self.dr[1] |= 0x80
        self.ir = [0] * 128
        self._ida_written = False
        self._ind_busy = 0
        self._ind_pending: tuple[str, int] | None = None
        self._vbat_us = 0                    # how long the DC-DC has been running
        self._dcdc_cal_us = 0
        self._cal_us = 0
        self._ring_us = 0                    # position in the ring timer cycle
        self._ring_active = False
        self._loop = False
        self._prev_lcr = False
        self.calibrations = 0

    def set_reset_pin(self, level: int) -> None:
        """RESET is active low: the chip holds every register at its reset value while low."""
        self.in_reset = level == 0
        if self.in_reset:
            self.reset()

    @property
    def irq_pin(self) -> int:
        """INT is active low (open drain)."""
        pending = ((self.dr[18] & self.dr[21]) | (self.dr[19] & self.dr[22]) | (self.dr[20] & self.dr[23]))
        return 0 if pending else 1

    # --- SPI ----------------------------------------------------------------------------------
    def spi_transfer(self, data: bytes) -> bytes:
        if self.in_reset or len(data) != 2:
            return bytes([0xFF] * len(data))
        self._indirect_progress()
        reg = data[0] & 0x7F
        if data[0] & 0x80:
            return bytes([0xFF, self.read(reg)])
        self.write(reg, data[1])
        return bytes([0xFF, 0xFF])

    def read(self, reg: int) -> int:
        if reg == 31:
            return 1 if self._ind_busy else 0
        return self.dr[reg]

    def write(self, reg: int, val: int) -> None:
        val &= 0xFF
        if reg in READ_ONLY:
            return
        if reg in W1C:
            self.dr[reg] &= ~val & 0xFF
            return
        if reg == 1:
            self.dr[1] = (self.dr[1] & 0x80) | (val & 0x7F)
        elif reg == 64:
            self._set_linefeed(val & 0x07)
        elif reg in (28, 29):
            self.dr[reg] = val
            self._ida_written = True
        elif reg == 30:
            self.dr[30] = val
            # a write of IDA before IAA makes it an indirect write, else it is a read
            self._ind_pending = ("w" if self._ida_written else "r", val)
            self._ida_written = False
            self._ind_busy = IND_BUSY_TRANSACTIONS
        elif reg == 93:
            self.dr[93] = val
            if val & 0x80:
                self._dcdc_cal_us = DCDC_CAL_US
        elif reg == 96:
            self.dr[96] = val
            if val & 0x40:
                self._cal_us = CAL_US
        else:
            self.dr[reg] = val

    def _indirect_progress(self) -> None:
        if not self._ind_busy:
            return
        self._ind_busy -= 1
        if self._ind_busy == 0 and self._ind_pending:
            op, addr = self._ind_pending
            self._ind_pending = None
            if op == "w":
                self.ir[addr] = self.dr[28] | (self.dr[29] << 8)
            else:
                self.dr[28], self.dr[29] = self.ir[addr] & 0xFF, self.ir[addr] >> 8
            self.dr[20] |= 0x02                                    # indirect access done

    # --- state --------------------------------------------------------------------------------
    @property
    def linefeed(self) -> int:
        return (self.dr[64] >> 4) & 0x07

    @property
    def dcdc_on(self) -> bool:
        return not self.dr[14] & 0x10

    @property
    def vbat_volts(self) -> float:
        return self.dr[82] * 0.376

    @property
    def pcm_enabled(self) -> bool:
        return bool(self.dr[1] & 0x20)

    @property
    def pcm_format(self) -> str | None:
        """"s16", "ulaw", "alaw" from DR1 bits 4:3 (None: PCM off or an unsupported mode)."""
        return chip_pcm_format(self.dr[1] >> 3) if self.pcm_enabled else None

    @property
    def pcm_linear(self) -> bool:
        return self.pcm_format == "s16"

    @property
    def tx_slot_bits(self) -> int:
        return self.dr[2] | ((self.dr[3] & 0x03) << 8)

    @property
    def rx_slot_bits(self) -> int:
        return self.dr[4] | ((self.dr[5] & 0x03) << 8)

    @property
    def ringing_voltage(self) -> bool:
        return self.linefeed == LF_RINGING and self._ring_active

    def _set_linefeed(self, lf: int) -> None:
        if lf == LF_RINGING and self.linefeed != LF_RINGING:
            self._ring_us, self._ring_active = 0, True
        self.dr[64] = (lf << 4) | lf

    def inject_power_alarm(self, transistor: int = 3) -> None:
        """A fault on the line (short, overheating transistor) that persists until `clear_power_alarm`."""
        if not 1 <= transistor <= 6:
            raise ValueError("transistor must be 1..6")
        self.alarm = transistor

    def clear_power_alarm(self) -> None:
        self.alarm = None

    # --- time ---------------------------------------------------------------------------------
    def elapse(self, us: int) -> None:
        if self.in_reset:
            return
        if self.dcdc_on:
            self._vbat_us = min(self._vbat_us + us, DCDC_RAMP_US)
        else:
            self._vbat_us = 0
        target = round(self.dr[74] * 1.5 / 0.376)
        self.dr[82] = min(255, target * self._vbat_us // DCDC_RAMP_US)
        if self._dcdc_cal_us:
            self._dcdc_cal_us = max(0, self._dcdc_cal_us - us)
            if not self._dcdc_cal_us:
                self.dr[93] &= 0x7F
        if self._cal_us and self.dr[82] >= target * 0.9:     # calibration needs the battery up
            self._cal_us = max(0, self._cal_us - us)
            if not self._cal_us:
                self.dr[96] = 0x00
                self.calibrations += 1
                for reg, val in zip(range(98, 108), (0x11, 0x0F, 0x12, 0x10, 0x09, 0x87, 0, 0x02, 0x1F, 0x07),
                                    strict=True):
                    self.dr[reg] = val
        self._ring_timers(us)

    def _ring_timers(self, us: int) -> None:
        if self.linefeed != LF_RINGING:
            self._ring_active = False
            self.dr[34] &= ~0x04 & 0xFF
            return
        t1 = (self.dr[48] | self.dr[49] << 8) * 125
        t2 = (self.dr[50] | self.dr[51] << 8) * 125
        timed = self.dr[34] & 0x18 == 0x18 and t1 > 0 and t2 > 0
        if not timed:
            self._ring_active = True
        else:
            self._ring_us += us
            limit = t1 if self._ring_active else t2
            while self._ring_us >= limit:
                self._ring_us -= limit
                self.dr[18] |= 0x10 if self._ring_active else 0x20     # ring_t1 / ring_t2 expired
                self._ring_active = not self._ring_active
                limit = t1 if self._ring_active else t2
        self.dr[34] = (self.dr[34] & ~0x04 & 0xFF) | (0x04 if self._ring_active else 0)

    def step_frame(self, tdm: TdmBus) -> None:
        if self.in_reset:
            return
        lf = self.linefeed
        powered = self.dcdc_on and self.dr[82] > 0
        alarm = self.alarm
        if alarm is None and self._prev_lcr and lf in FEEDING:
            # transistor power thresholds (IR32..34) still at 0: any loop current trips them
            for pair, thr in enumerate(self.ir[32:35]):
                if thr == 0:
                    alarm = 2 * pair + 1
                    break
        if alarm is not None and lf != LF_OPEN:
            self.dr[19] |= 1 << (alarm + 1)                          # pq1..pq6 = bits 2..7
            if self.dr[67] & 0x01:                                     # auto-open on power alarm
                self._set_linefeed(LF_OPEN)
                lf = LF_OPEN
        ear = np.zeros(FRAME, dtype=np.int16)
        heard = tdm.read(self.rx_slot_bits, self.pcm_format) if powered else None
        if heard is not None and lf in FEEDING:
            ear = _gain(heard, self.ir[26])
        ringing = self.ringing_voltage and powered
        loop, mic = (False, None)
        if self.phone is not None:
            loop, mic = self.phone.step(ear, ringing, lf in (LF_FWD_OHT, LF_REV_OHT) and powered,
                                        lf in (LF_REV_ACTIVE, LF_REV_OHT))
        current = loop and powered and (lf in FEEDING or lf == LF_RINGING)
        rtp = current and lf == LF_RINGING
        lcr = current and not rtp
        if rtp:
            self.dr[19] |= 0x01
            if self.dr[67] & 0x04:                                      # auto ring trip
                self._set_linefeed(LF_FWD_ACTIVE)
                lcr = True
        if lcr != self._prev_lcr:
            self.dr[19] |= 0x02
            self._prev_lcr = lcr
        self.dr[68] = (0x01 if lcr else 0) | (0x02 if rtp else 0) | (0x04 if loop else 0)
        ilim_ma = 20 + 3 * (self.dr[71] & 0x07)
        self.dr[79] = round(min(ilim_ma, 25.0) / 1.1) if lcr else 0
        self.dr[78] = 0 if not powered or lf == LF_OPEN else (round(8 / 1.5) if lcr else self.dr[72] & 0x3F)
        if powered and lcr and mic is not None:
            tdm.write(self.tx_slot_bits, self.pcm_format, _gain(mic, self.ir[27]))


def _gain(samples: np.ndarray, reg: int) -> np.ndarray:
    if reg == 0x4000:
        return np.asarray(samples, dtype=np.int16).copy()
    g = (reg & 0x7FFF) / 0x4000
    return np.clip(np.rint(np.asarray(samples, dtype=np.float64) * g), -32768, 32767).astype(np.int16)
