"""FXO port on a Silicon Labs Si3050 DAA (+ Si3019 line-side device) over SPI.

Bring-up: identify the system side, power the line side and wait for the
isolation link (the line-side ID appears in R11), load the country's AC/DC
termination, ringer and on-hook-speed settings, set the PCM timeslot and
gains, then sit on hook with the on-hook line monitor on (caller ID reaches
rx between rings, as on the simulated board).

Per frame (`poll`): ring detector bits -> RING_ON/RING_OFF (debounced), line
voltage (R29, signed) -> polarity reversal, LINE_IN_USE/LINE_FREE while on
hook, LINE_DOWN/LINE_UP; loop current (R28) while off hook -> LOOP_DROP.
Debounce times equal the simulated board's so the engine sees the same events.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dsp_ext.countries import profile

from .port import EventType, FxoPort, PortEvent
from .si3215 import PCM_MODES, ChipInitError
from .spi import ChipNotAnswering, SpiBus, floating

__all__ = ["Si3050Port", "DaaCountry", "DAA_COUNTRIES"]

FRAME_MS = 10
RING_ON_MS = RING_OFF_MS = 50
LOOP_DROP_MS = 30
LINE_MONITOR_MS = 50
LINE_DOWN_V = 3.0              # below this there is no line at all
IN_USE_V = 20.0                # on hook, a parallel phone pulls the line below this
LOOP_MIN_MA = 3.0
LINK_TIMEOUT_MS = 200
LOST_RETRY_MS = 2000
OVERLOAD_RETRY_MS = 1000


@dataclass(frozen=True)
class DaaCountry:
    """Line-interface settings. acim: AC termination, dcv/mini/ilim: DC termination, rz/rt: ringer."""
    acim: int
    dcv: int = 3
    mini: int = 0
    ilim: bool = False
    ohs: bool = False
    rz: bool = False
    rt: bool = False


# Approximations of the datasheet's country table for the profiles we ship; check the
# certification requirements of the target country before selling a box there.
DAA_COUNTRIES: dict[str, DaaCountry] = {
    "US": DaaCountry(acim=0),                                  # 600 ohm
    "CN": DaaCountry(acim=0xF),                                # 200 + 680||100 ohm
    "JP": DaaCountry(acim=0, dcv=1, mini=3),
    "UK": DaaCountry(acim=0x5, ilim=True),                     # 370 + 620||310 ohm
    "DE": DaaCountry(acim=0x2, ilim=True),                     # TBR21: 270 + 750||150 ohm, 60 mA limit
    "FR": DaaCountry(acim=0x2, ilim=True),
    "AU": DaaCountry(acim=0x3, mini=1, ohs=True),              # 220 + 820||120 ohm
    "IN": DaaCountry(acim=0),
}


class _Debounced:
    """A boolean that changes only after the raw value held for `ms`."""

    def __init__(self, value: bool, ms: int) -> None:
        self.value, self._need, self._count = value, max(1, ms // FRAME_MS), 0

    def feed(self, raw: bool) -> bool:
        if raw == self.value:
            self._count = 0
            return False
        self._count += 1
        if self._count >= self._need:
            self.value, self._count = raw, 0
            return True
        return False


class Si3050Port(FxoPort):
    gain_range_db = (-12, 12)        # R38/R39: TXG2/RXG2, 0-15 dB, gain or attenuation; we use +-12

    def __init__(self, name: str, bus: SpiBus, cs: int, timeslot: int, country: str = "US",
                 irq: Callable[[], bool] | None = None, tx_gain_db: int = 0, rx_gain_db: int = 0,
                 pcm_format: str = "s16") -> None:
        super().__init__(name)
        if pcm_format not in PCM_MODES:
            raise ValueError(f"{name}: PCM format must be one of {', '.join(PCM_MODES)}, got {pcm_format!r}")
        self.bus, self.cs, self.timeslot, self.irq = bus, cs, timeslot, irq
        self.pcm_format = pcm_format
        self.country = profile(country).code
        self.tx_gain_db, self.rx_gain_db = tx_gain_db, rx_gain_db
        self.revision = self.line_side = "?"
        self._off_hook = False
        self._volts: float | None = None
        self._loop_ma = 0.0
        self._fault_kind: str | None = None
        self._retry_ms = 0
        self._reset_monitors()

    def _reset_monitors(self) -> None:
        self._ring = _Debounced(False, RING_ON_MS)
        self._loop = _Debounced(True, LOOP_DROP_MS)
        self._power = _Debounced(True, LINE_MONITOR_MS)
        self._in_use = _Debounced(False, LINE_MONITOR_MS)
        self._reversed = False

    # --- SPI framing: [0x20 write | 0x60 read, address, data] ----------------------------------
    def _rd(self, reg: int) -> int:
        return self.bus.transfer(self.cs, bytes([0x60, reg, 0x00]))[2]

    def _wr(self, reg: int, val: int) -> None:
        self.bus.transfer(self.cs, bytes([0x20, reg, val & 0xFF]))

    # --- bring-up -----------------------------------------------------------------------------
    def identify(self) -> str:
        r2, r11 = self._rd(2), self._rd(11)
        if floating([r2, r11]) or r11 & 0x0F in (0, 0xF):
            raise ChipNotAnswering(f"{self.name}: no Si3050 DAA answers on SPI chip-select {self.cs} "
                                   f"(R2={r2:#04x} R11={r11:#04x})")
        return chr(ord("A") + (r11 & 0x0F) - 1)

    def init(self) -> None:
        self.revision = self.identify()
        self._wr(5, 0x00)                                  # on hook while we set up
        self._wr(6, 0x00)                                  # power up the line side
        waited = 0
        while not self._rd(11) & 0xF0:
            if waited >= LINK_TIMEOUT_MS:
                raise ChipInitError(f"{self.name}: the line-side chip (Si3019) did not come up within "
                                    f"{LINK_TIMEOUT_MS} ms: check the isolation capacitors and the line-side "
                                    "device on the board")
            self.bus.sleep_ms(5)
            waited += 5
        lsid = self._rd(11) >> 4
        self.line_side = {0x1: "Si3018", 0x3: "Si3019"}.get(lsid, f"line side id {lsid}")
        self.line_side += f" rev {chr(ord('A') + ((self._rd(13) >> 2) & 0x0F) - 1)}"
        self.set_country(self.country)
        fmt_bits, width = PCM_MODES[self.pcm_format]
        bits = self.timeslot * width
        for reg, val in ((34, bits & 0xFF), (35, bits >> 8), (36, bits & 0xFF), (37, bits >> 8)):
            self._wr(reg, val)
        self._wr(33, 0x20 | (fmt_bits << 3))              # PCM on, the board's slot format
        self._write_gains()
        self._wr(3, 0x80 | 0x08 | 0x04 | 0x01)            # ring, drop-out, overload, polarity interrupts
        self._wr(4, 0x00)
        self._off_hook = False
        self._wr(5, 0x08)                                  # on hook, line monitor on (caller ID)
        self._reset_monitors()
        self.fault, self._fault_kind = None, None

    def set_country(self, code: str) -> None:
        c = DAA_COUNTRIES.get(profile(code).code, DAA_COUNTRIES["US"])
        self.country = profile(code).code
        self._wr(16, (0x40 if c.ohs else 0) | (0x02 if c.rz else 0) | (0x01 if c.rt else 0))
        self._wr(26, (c.dcv << 6) | (c.mini << 4) | (0x02 if c.ilim else 0))
        self._wr(30, c.acim & 0x0F)

    def set_gains(self, tx_db: int, rx_db: int) -> None:
        """Gains in whole dB, -12..+12 (tx toward the line, rx toward us). Before bring-up (or
        while the chip is out of service) they are kept and written by `init`."""
        for db in (tx_db, rx_db):
            if isinstance(db, bool) or not isinstance(db, int) or not -12 <= db <= 12:
                raise ValueError(f"{self.name}: gain must be -12..12 dB, got {db}")
        self.tx_gain_db, self.rx_gain_db = tx_db, rx_db
        if self.revision != "?" and self.fault is None:
            self._write_gains()

    def _write_gains(self) -> None:
        for reg, db in ((38, self.tx_gain_db), (39, self.rx_gain_db)):
            self._wr(reg, (0x10 if db < 0 else 0) | abs(int(db)))

    # --- port commands ------------------------------------------------------------------------
    @property
    def is_off_hook(self) -> bool:
        return self._off_hook

    def set_off_hook(self, off: bool) -> None:
        if self.fault is not None and off:
            return
        self._off_hook = bool(off)
        if off:
            self._loop = _Debounced(True, LOOP_DROP_MS)   # a fresh seizure starts with current
        self._wr(5, 0x01 if off else 0x08)

    @property
    def line_voltage(self) -> float | None:
        return self._volts

    @property
    def loop_current_ma(self) -> float:
        return self._loop_ma

    # --- per frame ----------------------------------------------------------------------------
    def poll(self) -> list[PortEvent]:
        events: list[PortEvent] = []
        try:
            if self.fault is not None:
                self._retry(events)
            else:
                self._service(events)
        except (ChipNotAnswering, ChipInitError) as exc:
            self._go_fault("lost", str(exc), events)
        return events

    def _service(self, events: list[PortEvent]) -> None:
        r5 = self._rd(5)
        expect = 0x01 if self._off_hook else 0x08
        if r5 & 0x92 or r5 & 0x09 != expect:              # reserved bits high, or our own bits gone
            if r5 & 0x92 or not self._rd(11) & 0xF0:
                raise ChipNotAnswering(f"{self.name}: DAA on SPI chip-select {self.cs} stopped answering or was "
                                       f"reset (R5={r5:#04x})")
            self._wr(5, expect)
        raw_v = self._rd(29)
        self._volts = float(raw_v - 256 if raw_v & 0x80 else raw_v)
        self._loop_ma = self._rd(28) * 1.1 if self._off_hook else 0.0
        if self.irq is None or self.irq():
            src = self._rd(4)
            if src:
                self._wr(4, ~src & 0xFF)
            if src & 0x04 and self._off_hook:
                self._go_fault("overload", "loop current overload on the line: released the line", events)
                self._wr(5, 0x08)
                self._off_hook = False
                return
        name = self.name
        v = abs(self._volts)
        powered = v >= LINE_DOWN_V
        if self._power.feed(powered):
            events.append(PortEvent(name, EventType.LINE_UP if powered else EventType.LINE_DOWN))
        if not self._power.value:
            return
        ringing = bool(r5 & 0x60) and not self._off_hook
        if self._ring.feed(ringing):
            events.append(PortEvent(name, EventType.RING_ON if ringing else EventType.RING_OFF))
        if powered:
            reversed_now = self._volts < 0
            if reversed_now != self._reversed:
                self._reversed = reversed_now
                events.append(PortEvent(name, EventType.POLARITY_REVERSAL, reversed_now))
        if self._off_hook:
            current = self._loop_ma >= LOOP_MIN_MA
            if self._loop.feed(current) and not current:
                events.append(PortEvent(name, EventType.LOOP_DROP))
        else:
            in_use = powered and v < IN_USE_V
            if self._in_use.feed(in_use):
                events.append(PortEvent(name, EventType.LINE_IN_USE if in_use else EventType.LINE_FREE))

    def mark_failed(self, reason: str) -> list[PortEvent]:
        """Bring-up failed (board start): out of service, re-probed like a chip that stopped answering."""
        events: list[PortEvent] = []
        self._go_fault("lost", reason, events)
        return events

    def _go_fault(self, kind: str, reason: str, events: list[PortEvent]) -> None:
        was = self.fault
        self.fault, self._fault_kind = reason, kind
        self._retry_ms = LOST_RETRY_MS if kind == "lost" else OVERLOAD_RETRY_MS
        self._off_hook = False
        if was is None:
            events.append(PortEvent(self.name, EventType.FAULT, reason))

    def _retry(self, events: list[PortEvent]) -> None:
        self._retry_ms -= FRAME_MS
        if self._retry_ms > 0:
            return
        if self._fault_kind == "lost":
            self.identify()
            self.init()
        else:
            self._wr(4, 0x00)
        self.fault, self._fault_kind = None, None
        events.append(PortEvent(self.name, EventType.RECOVERED))

    def describe(self) -> dict:
        return {**super().describe(), "chip": "Si3050", "revision": self.revision, "line_side": self.line_side,
                "cs": self.cs, "timeslot": self.timeslot, "country": self.country, "off_hook": self._off_hook,
                "line_voltage": self._volts, "loop_current_ma": round(self._loop_ma, 1)}
