"""An emulated AT voice modem on the master side of a pty: answers the commands `drivers.modem` sends.

Call `step()` to let it read what the host wrote and answer (the tests call it
from the host's `sleep_ms` and once per frame). Command mode: AT commands end
with CR; replies are "\\r\\n<text>\\r\\n". `ring(number, name)` sends RING, the
formatted caller ID (when AT+VCID=1) and RING again. After AT+VTR it streams:
DLE-shielded 8-bit audio both ways until the host sends DLE ETX.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["EmulatedVoiceModem"]

DLE, ETX = 0x10, 0x03


class EmulatedVoiceModem:
    def __init__(self, master_fd: int, model: str = "Emulated CX93001 voice modem") -> None:
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
            elif b == ETX:
                self.streaming = False
                self._out(bytes([DLE, ETX]))
                self._reply("OK")
            return
        if b == DLE:
            self._dle = True
        else:
            self.received_audio.append(b)

    def _command(self, cmd: str) -> None:
        self.commands.append(cmd)
        up = cmd.upper()
        if up in self.refuse or not up.startswith("AT"):
            self._reply("ERROR")
            return
        if up == "ATZ":
            self.echo, self.fclass, self.vcid, self.off_hook = True, 0, 0, False
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
        u8 = ((np.asarray(samples, dtype=np.int16).astype(np.int32) >> 8) + 128).astype(np.uint8)
        self.line_audio.extend(bytes(u8))

    def loop_break(self) -> None:
        self._out(bytes([DLE, ord("l")]))
