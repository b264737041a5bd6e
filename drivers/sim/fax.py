"""A fax machine on the simulated public network: a remote subscriber whose audio is a spandsp
T.30 terminal (dsp_ext.fax), so Linebox's fax receive and send paths meet a real fax protocol.

    fax = co.fax_machine("5550190", ident="+1 555 0190")
    fax.send_document(path_to_tiff, to=co.line_number(1))     # calls our line and sends
    fax.receive_into(path, answer_at_ring=1)                   # or: answers our calls as a fax

The line between it and us is the CO's subscriber line model (G.711 coding, the hybrid's
echo, white noise: `CentralOffice(noise_dbm0=...)`, `co.set_echo(...)`). When the T.30
session ends (or the call drops) `report` holds the terminal's final report; it hangs up
by itself once the session is over.
"""
from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING

import numpy as np

from dsp_ext.fax import FaxReport, FaxTerminal
from dsp_ext.levels import FRAME

from .remote import RemoteParty

if TYPE_CHECKING:
    from .co import CentralOffice

__all__ = ["FaxMachine", "PhoneFax"]

_SILENCE = np.zeros(FRAME, dtype=np.int16)


class FaxMachine(RemoteParty):
    kind = "fax"

    def __init__(self, co: CentralOffice, number: str, ident: str = "", ecm: bool = True,
                 modem: str = "v17") -> None:
        super().__init__(co, number)
        self.ident, self.ecm, self.modem = ident, ecm, modem
        self.document: pathlib.Path | None = None       # what it sends when it calls
        self.receive_path: pathlib.Path | None = None   # where it keeps what it receives when called
        self.terminal: FaxTerminal | None = None
        self.report: FaxReport | None = None
        self.sessions = 0
        self._placed = False

    # --- user actions ---------------------------------------------------------------------------
    def send_document(self, document: str | os.PathLike, to: str) -> None:
        """Call `to` and send `document` (a TIFF-F) once answered."""
        self.document = pathlib.Path(document)
        self.report = None
        self._placed = True
        self.call(to)

    def receive_into(self, path: str | os.PathLike, answer_at_ring: int = 1) -> None:
        """Answer calls at ring `answer_at_ring` as a fax, keeping what arrives in `path`."""
        self.receive_path = pathlib.Path(path)
        self.auto_answer_after_rings = answer_at_ring
        self._placed = False

    @property
    def done(self) -> bool:
        return self.report is not None and self.report.done

    @property
    def at_rest(self) -> bool:
        return self.terminal is None and super().at_rest

    # --- per frame ------------------------------------------------------------------------------
    def advance(self) -> None:
        super().advance()
        if self.state != "connected":
            return
        if self.terminal is None:
            self._start_terminal()
        if self.terminal is not None:
            self.uplink = self.terminal.transmit(FRAME)

    def listen(self) -> None:
        super().listen()
        t = self.terminal
        if t is None:
            return
        audio = self.network_audio()
        t.receive(audio if audio is not None else _SILENCE)
        if t.done:
            self._end_session()
            self.hang_up()

    def _start_terminal(self) -> None:
        calling = self._placed
        if calling and self.document is not None:
            self.terminal = FaxTerminal(calling=True, ident=self.ident, ecm=self.ecm, modem=self.modem,
                                        send=self.document)
        elif self.receive_path is not None:
            self.terminal = FaxTerminal(calling=calling, ident=self.ident, ecm=self.ecm, modem=self.modem,
                                        receive=self.receive_path)
        self.sessions += 1 if self.terminal is not None else 0

    def _end_session(self) -> None:
        t = self.terminal
        if t is None:
            return
        if not t.done:
            t.hang_up()
        self.report = t.report()
        self.terminal = None

    # --- the CO's calls into this subscriber ----------------------------------------------------
    def far_end_left(self) -> None:
        self._end_session()
        super().far_end_left()

    def went_idle(self) -> None:
        self._end_session()
        self._placed = False
        super().went_idle()

    def __repr__(self) -> str:
        return f"FaxMachine({self.number!r}, {self.state})"


class PhoneFax:
    """A fax machine plugged into a phone port: a T.30 terminal behind a `VirtualPhone`'s handset.

    Dial with the phone as usual; once the call is up, `PhoneFax(phone, terminal)` replaces the
    handset's mouthpiece and earpiece (the phone hears first, then speaks, each frame)."""

    def __init__(self, phone, terminal: FaxTerminal) -> None:
        self.terminal = terminal
        phone.mouth = self
        phone.ear = self

    # the mouthpiece side
    def frame(self) -> np.ndarray:
        return self.terminal.transmit(FRAME)

    def busy(self) -> bool:
        return True

    def clear(self) -> None:
        pass

    # the earpiece side
    def record(self, frame: np.ndarray) -> None:
        self.terminal.receive(frame)

    def heard(self, ms: int | None = None) -> np.ndarray:
        return np.zeros(0, dtype=np.int16)
