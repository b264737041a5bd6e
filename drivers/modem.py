"""A serial AT voice modem (Conexant/USR-class, ITU V.253 voice commands) as an FXO port.

    port = VoiceModemPort("fxo1", serial.Serial("/dev/ttyACM0", 115200, timeout=0), bus.sleep_ms)
    port.init()            # ATZ, ATE0, AT+FCLASS=8 (voice), AT+VCID=1 (formatted caller ID), AT+VSM

Incoming: "RING" lines become RING_ON (and RING_OFF one nominal burst later:
a modem reports ring bursts, not their length). The modem decodes caller ID
itself (DATE/TIME/NMBR/NAME lines between the first and second ring); so that
the engine treats this port like any other FXO, the driver re-encodes it as
the country's on-hook caller-ID signal and plays it into rx after the ring
burst, exactly where a DAA's line monitor would have put it. It is also kept
in `caller_id` and attached to the next RING_ON as `data`.
Off hook: AT+VLS=1 then AT+VTR (full-duplex voice): audio is 8-bit unsigned
linear at 8 kHz in both directions with DLE (0x10) shielding; DLE events
from the modem are decoded (DLE l: loop-current break -> LOOP_DROP).
On hook: DLE ETX ends the stream, ATH0 hangs up.

Gains (V.253 +VGR receive, +VGT transmit): an unsigned octet, 128 nominal,
more is louder. The dB per unit is the maker's choice (ZyXEL documents
0.25 dB; give `gain_step_db`, board file key `gain_step_db`, for another
modem); the values a modem takes are asked at `init` (`AT+VGR=?`,
`AT+VGT=?`) and the whole-dB gains inside them (within +-12 dB) are this
port's range. A direction the modem has no command for is fixed at 0 dB.
Both are set to 128 at init (some modems start with 0: automatic gain
control, which would move the level under the echo canceller). A new gain
during a call briefly ends the voice stream (DLE ETX), sends the commands and
restarts it (AT+VTR): the audio pauses for a few frames.

Commands are queued and sent one at a time from `poll`, so nothing on the
media thread waits for the modem; only `init` blocks.
"""
from __future__ import annotations

import logging
import math
import re
from collections import deque
from collections.abc import Callable

import numpy as np

from dsp_ext.countries import profile
from dsp_ext.levels import FRAME

from .port import EventType, FxoPort, PortEvent

__all__ = ["VoiceModemPort", "ModemError", "parse_gain_range", "DEFAULT_GAIN_STEP_DB"]

log = logging.getLogger("linebox.modem")

DLE, ETX = 0x10, 0x03
END_STREAM = "<DLE><ETX>"          # in the command queue: end the voice stream, wait for OK
NOMINAL_GAIN = 128
DEFAULT_GAIN_STEP_DB = 0.25
MAX_GAIN_DB = 12                   # what line gains may be (firmware.linecal.gains stores +-12)
GAIN_COMMANDS = {"rx": "AT+VGR", "tx": "AT+VGT"}
RING_BURST_MS = 2000
CMD_TIMEOUT_MS = 2000
FRAME_MS = 10


class ModemError(RuntimeError):
    pass


def parse_gain_range(lines: list[str]) -> tuple[int, int] | None:
    """The contiguous span of values around 128 in an `AT+VGR=?` answer ("56-200", "(0-255)",
    "+VGR: (0,120-136)"); None when 128 is not among them (the answer is of no use)."""
    text = " ".join(lines)
    text = re.sub(r"^\s*\+VG[RT]\s*:", "", text, flags=re.IGNORECASE)
    for item in re.findall(r"\d+\s*-\s*\d+|\d+", text):
        lo, _, hi = item.partition("-")
        a, b = int(lo), int(hi or lo)
        if a <= NOMINAL_GAIN <= b and b <= 255:
            return (a, b)
    return None


class VoiceModemPort(FxoPort):
    def __init__(self, name: str, serial, sleep_ms: Callable[[float], None], country: str = "US",
                 gain_step_db: float = DEFAULT_GAIN_STEP_DB) -> None:
        super().__init__(name)
        if not 0.01 <= gain_step_db <= 6:
            raise ValueError(f"{name}: gain_step_db must be 0.01 to 6 dB per unit, got {gain_step_db}")
        self.gain_step_db = float(gain_step_db)
        self.gain_values: dict[str, tuple[int, int] | None] = {"rx": None, "tx": None}   # as the modem said
        self.gain_error: str | None = None     # the modem refused a gain it had offered
        self._gains_due = False                # gains to send when the modem is free
        self.country = profile(country).code
        self._cid_audio: np.ndarray | None = None          # re-encoded caller ID waiting for the ring gap
        self._cid_new = False
        self.serial = serial
        self.sleep_ms = sleep_ms
        self.model = "?"
        self.caller_id: dict[str, str] | None = None
        self.caller_id_supported = False
        self._cid_partial: dict[str, str] = {}
        self._off_hook = False
        self._streaming = False
        self._line = bytearray()
        self._audio = bytearray()
        self._dle = False
        self._pending: deque[str] = deque()
        self._waiting: str | None = None
        self._wait_ms = 0
        self._ring_left_ms = 0
        self._events: list[PortEvent] = []

    # --- byte level -----------------------------------------------------------------------------
    def _send(self, cmd: str) -> None:
        self.serial.write(cmd.encode("ascii") + b"\r")

    def _pump(self) -> list[str]:
        """Read what the modem sent; returns complete text lines (command mode)."""
        data = self.serial.read(4096) or b""
        lines = []
        for b in data:
            if self._streaming:
                self._stream_byte(b)
                continue
            if b in (0x0D, 0x0A):
                if self._line:
                    lines.append(self._line.decode("ascii", "replace").strip())
                    self._line.clear()
            else:
                self._line.append(b)
        return lines

    def _stream_byte(self, b: int) -> None:
        if self._dle:
            self._dle = False
            if b == DLE:
                self._audio.append(DLE)
            elif b == ETX:
                self._streaming = False                  # the modem ended the voice stream
            elif b == ord("l"):
                self._events.append(PortEvent(self.name, EventType.LOOP_DROP))
            return
        if b == DLE:
            self._dle = True
        else:
            self._audio.append(b)

    # --- bring-up -------------------------------------------------------------------------------
    def command(self, cmd: str, timeout_ms: int = CMD_TIMEOUT_MS) -> list[str]:
        """Blocking AT command (init only). Returns the response lines before OK."""
        self._send(cmd)
        got: list[str] = []
        waited = 0
        while True:
            for line in self._pump():
                if line == "OK":
                    return got
                if line in ("ERROR", "NO CARRIER"):
                    raise ModemError(f"{self.name}: modem answered {line} to {cmd}")
                if line != cmd:                          # echo, if still on
                    got.append(line)
            if waited >= timeout_ms:
                raise ModemError(f"{self.name}: no answer from the modem to {cmd} within {timeout_ms} ms "
                                 "(check the serial device and that the modem is powered)")
            self.sleep_ms(10)
            waited += 10

    def init(self) -> None:
        self.command("ATZ")
        self.command("ATE0")
        ident = self.command("ATI3")
        self.model = ident[0] if ident else "AT modem"
        self.command("AT+FCLASS=8")
        try:
            self.command("AT+VCID=1")
            self.caller_id_supported = True
        except ModemError:
            self.caller_id_supported = False             # the port works, just without caller ID
        self.command("AT+VSM=1,8000")                   # 8-bit unsigned linear, 8 kHz
        self._ask_gain_ranges()
        self.fault = None

    # --- gains ---------------------------------------------------------------------------------
    def _ask_gain_ranges(self) -> None:
        for way, cmd in GAIN_COMMANDS.items():
            try:
                values = parse_gain_range(self.command(cmd + "=?"))
            except ModemError:
                values = None                            # no such command: fixed level that way
            self.gain_values[way] = values
            if values is not None:
                self.command(f"{cmd}={self._gain_value(way, self.rx_gain_db if way == 'rx' else self.tx_gain_db)}")
        ranges = [r for r in (self._range_db("rx"), self._range_db("tx")) if r is not None]
        self.gain_range_db = (max(r[0] for r in ranges), min(r[1] for r in ranges)) if ranges else None

    def _range_db(self, way: str) -> tuple[int, int] | None:
        values = self.gain_values[way]
        if values is None:
            return None
        step = self.gain_step_db
        lo = max(-MAX_GAIN_DB, math.ceil((values[0] - NOMINAL_GAIN) * step - 1e-9))
        hi = min(MAX_GAIN_DB, math.floor((values[1] - NOMINAL_GAIN) * step + 1e-9))
        return (lo, hi)

    def _gain_value(self, way: str, db: int) -> int:
        return NOMINAL_GAIN + round(db / self.gain_step_db)

    def gain_limits(self) -> dict:
        ways = {way: self._range_db(way) for way in GAIN_COMMANDS}
        said = ", ".join(f"{GAIN_COMMANDS[w]}=? {v[0]}-{v[1]}" if v else f"no {GAIN_COMMANDS[w]}"
                         for w, v in self.gain_values.items())
        how = (f"voice modem ({self.model}): gains set by V.253 AT+VGR (receive) and AT+VGT (transmit) in "
               f"steps of {self.gain_step_db:g} dB; the modem takes {said}. During a call the modem's audio "
               "pauses for a few tens of milliseconds while it takes new gains.")
        return {"rx_range_db": ways["rx"], "tx_range_db": ways["tx"], "step_db": self.gain_step_db, "how": how}

    def set_gains(self, tx_db: int, rx_db: int) -> None:
        for way, db in (("rx", rx_db), ("tx", tx_db)):
            rng = self._range_db(way)
            word = "receive" if way == "rx" else "transmit"
            if rng is None:
                if db:
                    raise ValueError(f"{self.name}: this modem has no {word} gain control "
                                     f"({GAIN_COMMANDS[way]}=? was refused); leave it at 0 dB")
                continue
            if not rng[0] <= db <= rng[1]:
                raise ValueError(f"{self.name}: {word} gain {db:+d} dB is outside what this modem can do "
                                 f"({rng[0]:+d} to {rng[1]:+d} dB)")
            units = db / self.gain_step_db
            if abs(units - round(units)) > 1e-6:
                raise ValueError(f"{self.name}: this modem sets gains in steps of {self.gain_step_db:g} dB; "
                                 f"{db:+d} dB is not a whole number of steps")
        self.tx_gain_db, self.rx_gain_db = int(tx_db), int(rx_db)
        self.gain_error = None
        self._gains_due = True

    def _queue_gains(self) -> None:
        """Send the gains (poll, when the modem is free); during a call the stream restarts after."""
        self._gains_due = False
        cmds = [f"{GAIN_COMMANDS[way]}={self._gain_value(way, db)}"
                for way, db in (("rx", self.rx_gain_db), ("tx", self.tx_gain_db))
                if self.gain_values[way] is not None]
        if self._streaming:
            cmds.append("AT+VTR")                        # END_STREAM goes in first (poll)
        self._pending.extend(cmds)

    # --- port commands --------------------------------------------------------------------------
    @property
    def is_off_hook(self) -> bool:
        return self._off_hook

    def set_off_hook(self, off: bool) -> None:
        off = bool(off)
        if off == self._off_hook:
            return
        self._off_hook = off
        if off:
            self._pending.extend(["AT+VLS=1", "AT+VTR"])
        else:
            self._pending.extend(["ATH0"])              # END_STREAM goes in first (poll)

    # --- per frame ------------------------------------------------------------------------------
    def exchange_audio(self, tx: np.ndarray | None) -> np.ndarray:
        """Send one frame to the line and return one frame from it (silence when not streaming)."""
        if self._streaming and tx is not None:
            out = (np.asarray(tx, dtype=np.int16).astype(np.int32) >> 8) + 128
            raw = bytes(out.astype(np.uint8))
            self.serial.write(raw.replace(bytes([DLE]), bytes([DLE, DLE])))
        if not self._streaming:
            return self._caller_id_frame()
        if len(self._audio) < FRAME:
            return np.zeros(FRAME, dtype=np.int16)
        chunk = np.frombuffer(bytes(self._audio[:FRAME]), dtype=np.uint8)
        del self._audio[:FRAME]
        return ((chunk.astype(np.int16) - 128) << 8).astype(np.int16)

    def _caller_id_frame(self) -> np.ndarray:
        out = np.zeros(FRAME, dtype=np.int16)
        if self._cid_audio is not None and self._ring_left_ms <= 0 and not self._off_hook:
            n = min(FRAME, self._cid_audio.size)
            out[:n] = self._cid_audio[:n]
            self._cid_audio = self._cid_audio[n:] if self._cid_audio.size > n else None
        return out

    def _encode_caller_id(self) -> None:
        from dsp_ext.callerid import encode_caller_id
        cid = self.caller_id or {}
        std = profile(self.country).cid_standard
        when = (cid.get("date") or "") + (cid.get("time") or "")
        try:
            self._cid_audio = encode_caller_id(
                std, number=cid.get("number") or None,
                name=None if std == "dtmf" else cid.get("name") or None,
                datetime=when if len(when) == 8 and when.isdigit() else None,
                number_absent=None if cid.get("number") else "unavailable")
        except ValueError:                 # the modem passed something no standard can carry
            self._cid_audio = None

    def poll(self) -> list[PortEvent]:
        events, self._events = self._events, []
        lines = self._pump()
        for line in lines:
            self._line_in(line, events)
        if self._cid_new and not any(ln.partition("=")[0].strip() in ("DATE", "TIME", "NMBR", "NAME")
                                     for ln in lines):
            self._cid_new = False              # the block of caller-ID lines is complete
            self._encode_caller_id()
        if self._ring_left_ms:
            self._ring_left_ms -= FRAME_MS
            if self._ring_left_ms <= 0:
                events.append(PortEvent(self.name, EventType.RING_OFF))
        if self._waiting is not None:
            self._wait_ms += FRAME_MS
            if self._wait_ms >= CMD_TIMEOUT_MS:
                reason = f"voice modem did not answer {self._waiting} within {CMD_TIMEOUT_MS} ms"
                self._waiting = None
                if self.fault is None:
                    self.fault = reason
                    events.append(PortEvent(self.name, EventType.FAULT, reason))
        if self._waiting is None and not self._pending and self._gains_due and self.fault is None:
            self._queue_gains()
        if self._waiting is None and self._pending:
            if self._streaming and self._pending[0] != END_STREAM:
                self._pending.appendleft(END_STREAM)     # no command reaches a modem in the stream
            self._waiting = self._pending.popleft()
            self._wait_ms = 0
            if self._waiting == END_STREAM:
                self.serial.write(bytes([DLE, ETX]))
                self._streaming = False
                self._audio.clear()
            else:
                self._send(self._waiting)
        return events

    def _line_in(self, line: str, events: list[PortEvent]) -> None:
        if line == "RING":
            if self._off_hook:
                return
            if self._ring_left_ms > 0:
                events.append(PortEvent(self.name, EventType.RING_OFF))
            events.append(PortEvent(self.name, EventType.RING_ON, self.caller_id))
            self._ring_left_ms = RING_BURST_MS
            return
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("DATE", "TIME", "NMBR", "NAME"):
            self._cid_partial[key.strip().lower()] = value.strip()
            if key.strip() in ("NMBR", "NAME") and "nmbr" in self._cid_partial:
                self.caller_id = {"number": self._cid_partial.get("nmbr"), "name": self._cid_partial.get("name"),
                                  "date": self._cid_partial.get("date"), "time": self._cid_partial.get("time")}
                self._cid_new = True
            return
        if self._waiting is None:
            return
        if line in ("OK", "CONNECT"):
            if self._waiting == "AT+VTR" and line == "CONNECT":
                self._streaming = True
            if self._waiting == "ATH0":
                self.caller_id, self._cid_partial, self._cid_audio = None, {}, None
            self._waiting = None
            if self.fault is not None:
                self.fault = None
                events.append(PortEvent(self.name, EventType.RECOVERED))
        elif line in ("ERROR", "NO CARRIER") and self._waiting.startswith(tuple(GAIN_COMMANDS.values())):
            # a gain the modem offered and then refused: the port works on at the level it had
            self.gain_error = f"voice modem answered {line} to {self._waiting}"
            log.error("%s: %s; its gains may not be what the line profile says", self.name, self.gain_error)
            self._waiting = None
        elif line in ("ERROR", "NO CARRIER"):
            reason = f"voice modem answered {line} to {self._waiting}"
            self._waiting = None
            if self.fault is None:
                self.fault = reason
                events.append(PortEvent(self.name, EventType.FAULT, reason))

    def describe(self) -> dict:
        return {**super().describe(), "chip": f"voice modem ({self.model})", "off_hook": self._off_hook,
                "caller_id": "yes" if self.caller_id_supported else "no", "streaming": self._streaming,
                "gains": {"rx_db": self.rx_gain_db, "tx_db": self.tx_gain_db,
                          "modem_values": {w: list(v) if v else None for w, v in self.gain_values.items()}}}
