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

Commands are queued and sent one at a time from `poll`, so nothing on the
media thread waits for the modem; only `init` blocks.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from dsp_ext.countries import profile
from dsp_ext.levels import FRAME

from .port import EventType, FxoPort, PortEvent

__all__ = ["VoiceModemPort", "ModemError"]

DLE, ETX = 0x10, 0x03
RING_BURST_MS = 2000
CMD_TIMEOUT_MS = 2000
FRAME_MS = 10


class ModemError(RuntimeError):
    pass


class VoiceModemPort(FxoPort):
    def __init__(self, name: str, serial, sleep_ms: Callable[[float], None], country: str = "US") -> None:
        super().__init__(name)
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
        self.fault = None

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
            if self._streaming:
                self.serial.write(bytes([DLE, ETX]))
                self._streaming = False
                self._audio.clear()
            self._pending.extend(["ATH0"])

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
        if self._waiting is None and self._pending:
            self._waiting = self._pending.popleft()
            self._wait_ms = 0
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
        elif line in ("ERROR", "NO CARRIER"):
            reason = f"voice modem answered {line} to {self._waiting}"
            self._waiting = None
            if self.fault is None:
                self.fault = reason
                events.append(PortEvent(self.name, EventType.FAULT, reason))

    def describe(self) -> dict:
        return {**super().describe(), "chip": f"voice modem ({self.model})", "off_hook": self._off_hook,
                "caller_id": "yes" if self.caller_id_supported else "no", "streaming": self._streaming}
