"""FXS port on a Silicon Labs Si3215/Si3210 ProSLIC over SPI.

Bring-up follows the order the datasheet asks for: identify the chip, load the
indirect registers (they are not set by reset), power the DC-DC converter and
wait for the battery, calibrate the DC-DC and then the analog front end
(self-clearing bits), set up the PCM timeslot, then feed the line.

Per frame (`poll`) the driver reads the linefeed and loop-closure registers
and feeds the raw loop state to the shared `HookClassifier`, so flash and
pulse dialling are timed exactly as on the simulated board. Interrupt status
(ring trip, power alarms) is read when the chip's interrupt line says so.

A power alarm shuts that port down (linefeed open), reports FAULT and is
retried once a second; a chip that stops answering on SPI is re-probed every
two seconds. Neither stops the rest of the board.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from dsp_ext.countries import profile

from .hook import HookClassifier, HookTiming
from .port import EventType, FxsPort, PortEvent
from .spi import ChipNotAnswering, SpiBus, floating

__all__ = ["Si3215Port", "ChipInitError", "PCM_MODES"]

LF_OPEN, LF_FWD_ACTIVE, LF_FWD_OHT, LF_RINGING, LF_REV_ACTIVE, LF_REV_OHT = 0, 1, 2, 4, 5, 6
LF_NAMES = {0: "open", 1: "forward active", 2: "forward on-hook transmission", 3: "tip open", 4: "ringing",
            5: "reverse active", 6: "reverse on-hook transmission", 7: "ring open"}
FRAME_MS = 10
VBAT_TIMEOUT_MS = 500
CAL_TIMEOUT_MS = 800
ALARM_RETRY_MS = 1000
ALARM_CLEAR_MS = 300           # a retry counts as good after this long without a new alarm
LOST_RETRY_MS = 2000
RING_HZ = {"DE": 25, "FR": 50, "UK": 25, "AU": 25, "IN": 25, "CN": 25}   # others 20 Hz
PCM_MODES = {"s16": (0x3, 16), "ulaw": (0x1, 8), "alaw": (0x0, 8)}   # format -> (mode bits, slot width)
TRANSISTOR_HINT = {1: "tip feed", 2: "ring feed", 3: "tip (loop current overload?)", 4: "ring (loop current "
                   "overload?)", 5: "tip ringing/thermal", 6: "ring ringing/thermal"}


class ChipInitError(RuntimeError):
    """The chip answered but did not come up (battery, calibration, indirect registers)."""


class Si3215Port(FxsPort):
    def __init__(self, name: str, bus: SpiBus, cs: int, timeslot: int, country: str = "US",
                 irq: Callable[[], bool] | None = None, hook_timing: HookTiming | None = None,
                 pcm_format: str = "s16") -> None:
        super().__init__(name)
        if pcm_format not in PCM_MODES:
            raise ValueError(f"{name}: PCM format must be one of {', '.join(PCM_MODES)}, got {pcm_format!r}")
        self.bus, self.cs, self.timeslot, self.pcm_format = bus, cs, timeslot, pcm_format
        self.country = profile(country).code
        self.irq = irq                       # returns True while the chip's interrupt line is asserted
        self.hook = HookClassifier(hook_timing)
        self.part = "?"
        self.revision = "?"
        self._lf = LF_OPEN
        self._ringing = self._oht = self._reversed = False
        self._fault_kind: str | None = None   # "alarm" | "lost"
        self._retry_ms = 0
        self._probation_ms = 0               # after an alarm retry: time left before RECOVERED
        self.alarms = 0

    # --- SPI framing: [address | 0x80 for read, data] -----------------------------------------
    def _rd(self, reg: int) -> int:
        return self.bus.transfer(self.cs, bytes([0x80 | reg, 0x00]))[1]

    def _wr(self, reg: int, val: int) -> None:
        self.bus.transfer(self.cs, bytes([reg & 0x7F, val & 0xFF]))

    def _ind_wait(self) -> None:
        for _ in range(20):
            if not self._rd(31) & 0x01:
                return
        raise ChipInitError(f"{self.name}: indirect register access never completed (DR31 stays busy)")

    def write_indirect(self, addr: int, value: int) -> None:
        self._ind_wait()
        self._wr(28, value & 0xFF)
        self._wr(29, (value >> 8) & 0xFF)
        self._wr(30, addr)
        self._ind_wait()

    def read_indirect(self, addr: int) -> int:
        self._ind_wait()
        self._wr(30, addr)
        self._ind_wait()
        return self._rd(28) | (self._rd(29) << 8)

    # --- bring-up -----------------------------------------------------------------------------
    def identify(self) -> tuple[str, str]:
        """Read the ID registers; raise ChipNotAnswering if nobody (or something else) answers."""
        dr0, dr1, dr8, dr11 = (self._rd(r) for r in (0, 1, 8, 11))
        if floating([dr0, dr8, dr11]) or dr0 & 0x0F in (0x0, 0xF) or dr11 != 0x33 or dr8 != 0x02:
            raise ChipNotAnswering(f"{self.name}: no ProSLIC answers on SPI chip-select {self.cs} "
                                   f"(DR0={dr0:#04x} DR8={dr8:#04x} DR11={dr11:#04x}; "
                                   "expected a revision, 0x02 and 0x33)")
        part = "Si3215" if dr1 & 0x80 else "Si3210"
        return part, chr(ord("A") + (dr0 & 0x0F) - 1)

    def init(self) -> None:
        """Full bring-up. Raises ChipNotAnswering / ChipInitError with a reason an installer can act on."""
        self.part, self.revision = self.identify()
        self._wr(14, 0x10)                      # keep the DC-DC off while we set it up
        self._wr(64, LF_OPEN)
        self._load_indirect()
        self._power_up_dcdc()
        self._calibrate()
        self._setup_pcm()
        self._wr(67, 0x1F)                      # auto-open on power alarm, auto ring trip, auto battery
        self._wr(71, 0x01)                      # loop current limit 23 mA
        self._wr(72, 0x20)                      # 48 V open-circuit
        self._wr(34, 0x00)                      # ring timers off: the engine times the cadence
        for reg in (48, 49, 50, 51):
            self._wr(reg, 0)
        self._wr(21, 0x00)
        self._wr(22, 0xFF)                      # loop closure, ring trip, power alarms Q1..Q6
        self._wr(23, 0x00)
        for reg in (18, 19, 20):
            self._wr(reg, 0xFF)                 # write-1-to-clear anything pending from bring-up
        self._ringing = self._oht = self._reversed = False
        self.hook = HookClassifier(self.hook.t)
        self._set_lf(LF_FWD_ACTIVE)
        self.fault, self._fault_kind = None, None

    def _load_indirect(self) -> None:
        hz = RING_HZ.get(self.country, 20)
        # the ring oscillator runs at 1 kHz; coefficient = cos(2*pi*f/1000) in Q15, amplitude ~ 70 Vrms
        coef = round(math.cos(2 * math.pi * hz / 1000) * 32768)
        amp = round(0.25 * math.sqrt((1 - coef / 32768) / (1 + coef / 32768)) * (70 * math.sqrt(2) / 96) * 32768)
        values = {
            19: 0x0000, 20: coef, 21: amp, 22: 0x0000,              # ring offset, coefficient, X, Y
            26: 0x4000, 27: 0x4000,                                  # DAC / ADC gain 0 dB
            28: 0x1000, 29: 0x3600, 30: 0x1000, 31: 0x0200,          # loop closure / ring trip / CM thresholds
            32: 0x7C0, 33: 0x2600, 34: 0x1B80,                       # power alarm thresholds Q1Q2/Q3Q4/Q5Q6
            35: 0x8000, 36: 0x0320,                                  # loop closure / ring trip filters
            37: 0x08C, 38: 0x0100, 39: 0x0010,                       # thermal low-pass poles
            40: 0x0C00, 41: 0x0C00, 43: 0x1000,
        }
        for addr, val in values.items():
            self.write_indirect(addr, val)
        back = self.read_indirect(26)
        if back != 0x4000:
            raise ChipInitError(f"{self.name}: indirect register write did not stick "
                                f"(IR26 reads {back:#06x}, wrote 0x4000)")

    def _power_up_dcdc(self) -> None:
        self._wr(92, 0xFF)                      # PWM period
        self._wr(93, 0x19)                      # switching delay
        self._wr(74, 0x32)                      # VBATH 75 V
        self._wr(75, 0x10)                      # VBATL 24 V
        self._wr(14, 0x00)                      # DC-DC on
        target = 0x32 * 1.5 * 0.9
        waited = 0
        while True:
            vbat = self._rd(82) * 0.376
            if vbat >= target:
                break
            if waited >= VBAT_TIMEOUT_MS:
                self._wr(14, 0x10)
                raise ChipInitError(f"{self.name}: DC-DC converter did not bring the battery up "
                                    f"({vbat:.1f} V after {VBAT_TIMEOUT_MS} ms, need {target:.0f} V): "
                                    "check the board's 5 V supply and the converter inductor")
            self.bus.sleep_ms(10)
            waited += 10
        self._wr(93, 0x99)                      # DC-DC calibration (self-clearing bit 7)
        self._wait_clear(93, 0x80, 100, "DC-DC calibration")

    def _calibrate(self) -> None:
        self._wr(97, 0x1E)                      # ADC/DAC offsets, common-mode balance enable
        self._wr(96, 0x5F)                      # start: differential/common gains, loop current limit
        self._wait_clear(96, 0xFF, CAL_TIMEOUT_MS, "analog calibration")

    def _wait_clear(self, reg: int, mask: int, timeout_ms: int, what: str) -> None:
        waited = 0
        while self._rd(reg) & mask:
            if waited >= timeout_ms:
                raise ChipInitError(f"{self.name}: {what} did not finish in {timeout_ms} ms "
                                    f"(DR{reg}={self._rd(reg):#04x})")
            self.bus.sleep_ms(5)
            waited += 5

    def _setup_pcm(self) -> None:
        fmt_bits, width = PCM_MODES[self.pcm_format]
        bits = self.timeslot * width
        self._wr(2, bits & 0xFF)
        self._wr(3, bits >> 8)
        self._wr(4, bits & 0xFF)
        self._wr(5, bits >> 8)
        self._wr(1, 0x20 | (fmt_bits << 3))     # PCM on; 16-bit linear, or 8-bit G.711 (companded) slots

    # --- port commands ------------------------------------------------------------------------
    @property
    def off_hook(self) -> bool:
        return self.hook.off_hook

    def _idle_lf(self) -> int:
        if self._reversed:
            return LF_REV_OHT if self._oht else LF_REV_ACTIVE
        return LF_FWD_OHT if self._oht else LF_FWD_ACTIVE

    def _set_lf(self, lf: int) -> None:
        self._lf = lf
        self._wr(64, lf)

    def _apply(self) -> None:
        if self.fault is None:
            self._set_lf(LF_RINGING if self._ringing else self._idle_lf())

    def set_ringing(self, on: bool) -> None:
        self._ringing = bool(on) and not self.hook.off_hook
        self._apply()

    def set_onhook_transmission(self, on: bool) -> None:
        self._oht = bool(on)
        if not self._ringing:
            self._apply()

    def set_reverse_polarity(self, on: bool) -> None:
        self._reversed = bool(on)
        if not self._ringing:
            self._apply()

    @property
    def linefeed(self) -> str:
        return LF_NAMES[self._lf]

    # --- per frame ----------------------------------------------------------------------------
    def poll(self) -> list[PortEvent]:
        events: list[PortEvent] = []
        try:
            if self.fault is not None:
                self._retry(events)
            else:
                self._service(events)
        except ChipNotAnswering as exc:
            self._go_fault("lost", str(exc), events)
        except ChipInitError as exc:
            self._go_fault("lost", str(exc), events)
        return events

    def _service(self, events: list[PortEvent]) -> None:
        lf_reg, lcr = self._rd(64), self._rd(68)
        if lf_reg & 0x88 or lcr & 0xF8:                     # reserved bits read 1: MISO floats high
            raise ChipNotAnswering(f"{self.name}: chip on SPI chip-select {self.cs} stopped answering "
                                   f"(DR64={lf_reg:#04x}, DR68={lcr:#04x})")
        moved = lf_reg & 0x07 != self._lf
        if moved:
            self._linefeed_moved(lf_reg & 0x07)
        if self.irq is None or moved or self.irq():
            status = self._rd(19)
            if status:
                self._wr(19, status)
            if status & 0xFC:
                q = (status & 0xFC).bit_length() - 2
                self._alarm(q, events)
                return
        for ev, data in self.hook.feed(bool(lcr & 0x01)):
            events.append(PortEvent(self.name, ev, data))
        if self.hook.off_hook and self._ringing:
            self._ringing = False

    def _linefeed_moved(self, actual: int) -> None:
        if self._lf == LF_RINGING and actual == LF_FWD_ACTIVE:
            self._lf, self._ringing = actual, False          # the chip's automatic ring trip
            return
        if actual == LF_OPEN:
            if self._rd(11) != 0x33:                         # all zeros and no ID: MISO floats low
                raise ChipNotAnswering(f"{self.name}: chip on SPI chip-select {self.cs} stopped answering "
                                       "(registers read 0x00)")
            if not self._rd(1) & 0x20:                       # PCM off again: registers back at reset values
                raise ChipInitError(f"{self.name}: the chip on chip-select {self.cs} was reset (power glitch or "
                                    "reset line); bringing it up again")
            return                                           # auto-open after a power alarm: DR19 says why
        self._set_lf(self._lf)                               # something else moved it: put ours back

    def _alarm(self, q: int, events: list[PortEvent]) -> None:
        self.alarms += 1
        reason = f"power alarm on transistor Q{q} ({TRANSISTOR_HINT.get(q, '?')}); port shut down, line open"
        self._go_fault("alarm", reason, events)

    def mark_failed(self, reason: str) -> list[PortEvent]:
        """Bring-up failed (board start): out of service, re-probed like a chip that stopped answering."""
        events: list[PortEvent] = []
        self._go_fault("lost", reason, events)
        return events

    def _go_fault(self, kind: str, reason: str, events: list[PortEvent]) -> None:
        was = self.fault
        self._fault_kind = kind
        self.fault = reason
        self._retry_ms = ALARM_RETRY_MS if kind == "alarm" else LOST_RETRY_MS
        self._probation_ms = 0
        self._ringing = False
        if self.hook.off_hook:
            self.hook = HookClassifier(self.hook.t)
        if kind == "alarm":
            try:
                self._set_lf(LF_OPEN)
            except ChipNotAnswering:
                pass
        if was is None:
            events.append(PortEvent(self.name, EventType.FAULT, reason))

    def _retry(self, events: list[PortEvent]) -> None:
        if self._probation_ms:
            status = self._rd(19)
            if status & 0xFC:
                self._wr(19, status)
                self._set_lf(LF_OPEN)
                self._retry_ms = ALARM_RETRY_MS
                self._probation_ms = 0
                self.alarms += 1
                return
            self._probation_ms -= FRAME_MS
            if self._probation_ms <= 0:
                self._recovered(events)
            return
        self._retry_ms -= FRAME_MS
        if self._retry_ms > 0:
            return
        if self._fault_kind == "lost":
            self.identify()          # raises again while the chip is still gone (caught by poll)
            self.init()
            self._recovered(events)
            return
        self._wr(19, 0xFF)
        self._set_lf(self._idle_lf())
        self._probation_ms = ALARM_CLEAR_MS

    def _recovered(self, events: list[PortEvent]) -> None:
        self.fault, self._fault_kind, self._probation_ms = None, None, 0
        self._set_lf(self._idle_lf())
        events.append(PortEvent(self.name, EventType.RECOVERED))

    # --- installer measurements ---------------------------------------------------------------
    def loop_current_ma(self) -> float:
        return self._rd(79) * 1.1

    def battery_volts(self) -> float:
        return self._rd(82) * 0.376

    def describe(self) -> dict:
        d = {**super().describe(), "chip": self.part, "revision": self.revision, "cs": self.cs,
             "timeslot": self.timeslot, "linefeed": self.linefeed, "off_hook": self.off_hook}
        if self.fault is None:
            try:
                d["loop_current_ma"] = round(self.loop_current_ma(), 1)
                d["battery_v"] = round(self.battery_volts(), 1)
            except ChipNotAnswering:
                pass
        return d
