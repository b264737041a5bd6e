"""An emulated AT voice modem on the master side of a pty: answers the commands `drivers.modem` sends.

Call `step()` to let it read what the host wrote and answer (the tests call it
from the host's `sleep_ms` and once per frame). Command mode: AT commands end
with CR; replies are "\\r\\n<text>\\r\\n". `ring(number, name)` sends RING, the
formatted caller ID (when AT+VCID=1) and RING again. After AT+VTR it streams:
DLE-shielded 8-bit audio both ways until the host sends DLE ETX.

Gains (ITU-T V.253 +VGR receive, +VGT transmit): an unsigned octet, 128 the
nominal level, more is louder; this modem takes values in `gain_range` (as
`AT+VGR=?` reports it) at `gain_step_db` per unit and answers ERROR to any
other value, or to any gain command outside voice mode (+FCLASS=8). The
receive gain scales what it sends to the host, the transmit gain what it puts
on the line. `gain_range=None`: a modem without gain control (ERROR to all).

Hosted on a line of the simulated exchange (`line_index` set, in an
`EmulatedWorld`'s `daas` list like a DAA emulator): it closes the loop after
AT+VLS=1, reports ring bursts as RING, decodes the line's caller-ID signal
itself (DATE/TIME/NMBR/NAME after the first ring, with AT+VCID=1), streams
the line's audio to the host after AT+VTR and reports loop-current breaks
as DLE l.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["EmulatedVoiceModem"]

DLE, ETX = 0x10, 0x03
NOMINAL_GAIN = 128
FRAME = 80


class EmulatedVoiceModem:
    def __init__(self, master_fd: int, model: str = "Emulated CX93001 voice modem",
                 gain_range: tuple[int, int] | None = (56, 200), gain_step_db: float = 0.25,
                 range_reply: str = "{lo}-{hi}", line_index: int | None = None) -> None:
        self.fd = master_fd
        os.set_blocking(master_fd, False)
        self.model = model
        self.echo = True
        self.fclass = 0
        self.vcid = 0
        self.vsm = None
        self.off_hook = False
        self.streaming = False
        self.commands: list[str] = []
        self.received_audio = bytearray()      # what the host sent toward the line (unshielded)
        self.line_audio = bytearray()          # what we send to the host while streaming
        self.refuse: set[str] = set()           # commands answered with ERROR
        self.mute = False                      # stop answering at all
        self._buf = bytearray()
        self._dle = False
        self.gain_range = gain_range            # the values +VGR/+VGT take (None: no gain control)
        self.gain_step_db = gain_step_db        # dB per unit away from 128
        self.range_reply = range_reply          # how AT+VGR=? words the range ("56-200", "(0-255)", ...)
        self.vgr = self.vgt = NOMINAL_GAIN
        # hosted on a simulated exchange line
        self.line_index = line_index
        self._to_line = bytearray()             # received from the host, not yet on the line
        self._ringing = False
        self._rings = 0
        self._loop = True
        self._cid = None

    def gain(self, value: int) -> float:
        """The linear gain a +VGR/+VGT value sets."""
        return 10 ** ((value - NOMINAL_GAIN) * self.gain_step_db / 20)

    def _out(self, data: bytes) -> None:
        os.write(self.fd, data)

    def _reply(self, text: str) -> None:
        self._out(b"\r\n" + text.encode("ascii") + b"\r\n")

    def step(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            data = b""
        if self.mute:
            return
        for b in data:
            if self.streaming:
                self._stream_in(b)
            elif b == 0x0D:
                cmd = self._buf.decode("ascii", "replace").strip()
                self._buf.clear()
                if cmd:
                    if self.echo:
                        self._out(cmd.encode("ascii") + b"\r")
                    self._command(cmd)
            elif b != 0x0A:
                self._buf.append(b)
        if self.streaming and self.line_audio:
            chunk = bytes(self.line_audio[:80])
            del self.line_audio[:80]
            self._out(chunk.replace(bytes([DLE]), bytes([DLE, DLE])))

    def _stream_in(self, b: int) -> None:
        if self._dle:
            self._dle = False
            if b == DLE:
                self.received_audio.append(DLE)
                self._to_line.append(DLE)
            elif b == ETX:
                self.streaming = False
                self._out(bytes([DLE, ETX]))
                self._reply("OK")
            return
        if b == DLE:
            self._dle = True
        else:
            self.received_audio.append(b)
            self._to_line.append(b)

    def _command(self, cmd: str) -> None:
        self.commands.append(cmd)
        up = cmd.upper()
        if up in self.refuse or not up.startswith("AT"):
            self._reply("ERROR")
            return
        if up.startswith(("AT+VGR", "AT+VGT")):
            if not self._gain_command(up):
                self._reply("ERROR")
                return
        elif up == "ATZ":
            self.echo, self.fclass, self.vcid, self.off_hook = True, 0, 0, False
            self.vgr = self.vgt = NOMINAL_GAIN
        elif up == "ATE0":
            self.echo = False
        elif up == "ATI3":
            self._reply(self.model)
        elif up.startswith("AT+FCLASS="):
            self.fclass = int(up.split("=")[1])
        elif up.startswith("AT+VCID="):
            self.vcid = int(up.split("=")[1])
        elif up.startswith("AT+VSM="):
            self.vsm = up.split("=")[1]
        elif up == "AT+VLS=1":
            if self.fclass != 8:
                self._reply("ERROR")
                return
            self.off_hook = True
        elif up == "AT+VTR":
            if not self.off_hook:
                self._reply("ERROR")
                return
            self.streaming = True
            self._reply("CONNECT")
            return
        elif up in ("ATH0", "ATH"):
            self.off_hook = False
        else:
            self._reply("ERROR")
            return
        self._reply("OK")

    def _gain_command(self, up: str) -> bool:
        """AT+VGR / AT+VGT: =? (range), ? (value), =n (set). False: answer ERROR."""
        if self.fclass != 8 or self.gain_range is None:
            return False
        attr = "vgr" if up.startswith("AT+VGR") else "vgt"
        rest = up[6:]
        lo, hi = self.gain_range
        if rest == "=?":
            self._reply(self.range_reply.format(lo=lo, hi=hi))
        elif rest == "?":
            self._reply(str(getattr(self, attr)))
        elif rest.startswith("=") and rest[1:].isdigit() and lo <= int(rest[1:]) <= hi:
            setattr(self, attr, int(rest[1:]))
        else:
            return False
        return True

    # --- what the line does -------------------------------------------------------------------
    def ring(self, number: str | None = None, name: str | None = None, first: bool = True) -> None:
        self._reply("RING")
        if first and self.vcid and number:
            self._reply("DATE = 1123")
            self._reply("TIME = 0930")
            self._reply(f"NMBR = {number}")
            if name:
                self._reply(f"NAME = {name}")

    def send_audio(self, samples: np.ndarray) -> None:
        """Audio from the line toward the host: through the receive gain, then 8-bit linear."""
        x = np.asarray(samples, dtype=np.int16)
        if self.vgr != NOMINAL_GAIN:
            x = np.clip(np.rint(x * self.gain(self.vgr)), -32768, 32767).astype(np.int16)
        u8 = ((x.astype(np.int32) >> 8) + 128).astype(np.uint8)
        self.line_audio.extend(bytes(u8))

    def line_output(self, n: int = FRAME) -> np.ndarray:
        """The next `n` samples the host sent, as the modem puts them on the line (transmit gain)."""
        raw = np.frombuffer(bytes(self._to_line[:n]).ljust(n, bytes([128])), dtype=np.uint8)
        del self._to_line[:n]
        x = (raw.astype(np.int32) - 128) << 8
        if self.vgt != NOMINAL_GAIN:
            x = np.rint(x * self.gain(self.vgt))
        return np.clip(x, -32768, 32767).astype(np.int16)

    # --- hosted on a simulated exchange line (the EmulatedWorld calls these like a DAA's) ---------
    def elapse(self, us: int) -> None:
        pass

    def cpe_output(self, tdm) -> tuple[bool, np.ndarray | None]:
        self.step()                             # take what the host wrote since the last frame
        if not self.off_hook:
            self._to_line.clear()
            return (False, None)
        return (True, self.line_output() if self.streaming else np.zeros(FRAME, dtype=np.int16))

    def take_line(self, sig, tdm) -> None:
        loop = sig.powered and sig.loop_current
        if self.off_hook:
            self._ringing, self._rings = False, 0
            if self._loop and not loop and self.streaming:
                self.loop_break()
            self._loop = loop
            if self.streaming:
                self.send_audio(sig.audio)
                self._flush()
            return
        self._loop = True
        if sig.ringing and not self._ringing:
            self._rings += 1
            self._reply("RING")
        self._ringing = sig.ringing
        if self.vcid:
            from dsp_ext.callerid import CallerIdReceiver
            if self._cid is None:
                self._cid = CallerIdReceiver("auto")
            for msg in self._cid.process(sig.audio):
                if getattr(msg, "kind", "call") == "call":
                    self._caller_id(msg)

    def _caller_id(self, msg) -> None:
        when = msg.datetime or ""
        if len(when) == 8:
            self._reply(f"DATE = {when[:4]}")
            self._reply(f"TIME = {when[4:]}")
        self._reply(f"NMBR = {msg.number or ('P' if msg.number_absent == 'private' else 'O')}")
        if msg.name:
            self._reply(f"NAME = {msg.name}")

    def _flush(self) -> None:
        if self.line_audio:
            chunk = bytes(self.line_audio)
            self.line_audio.clear()
            self._out(chunk.replace(bytes([DLE]), bytes([DLE, DLE])))

    def loop_break(self) -> None:
        self._out(bytes([DLE, ord("l")]))
