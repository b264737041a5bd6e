"""Call waiting with caller ID on call waiting (Bellcore SR-3004 / ETSI EN 300 659-2 style).

A call for an extension that is talking (and has call waiting on) does not get busy: the
caller hears ringback, and the phone hears, instead of its party for under two seconds:

    call-waiting tone (440 Hz, 300 ms) . 100 ms . CAS (2130 + 2750 Hz, 80 ms) . 200 ms .
    caller-ID FSK without channel seizure (80 mark bits, then the MDMF message)

The CAS asks the phone to mute its handset and listen; a phone with call-waiting caller ID
would acknowledge with DTMF D or A. Many analog phones never acknowledge, so the FSK is sent
after a fixed pause either way (what most small PBXs do). In DTMF caller-ID countries only
the tone is sent. The tone is repeated every 10 s while the call waits. Flash answers it
(`transfer.Switchboard`); not answered within the ring timeout, the call goes where an
unanswered call goes (forward on no answer, voicemail) or gets busy.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from dsp_ext.callerid import cas_tone, encode_caller_id
from dsp_ext.tones import tone

from ..calls import Call, Parked
from ..channels import Channel, FxoChannel, FxsChannel
from ..clock import Timer
from .transfer import Party, Switchboard

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.phone")

SAS_HZ, SAS_MS = 440.0, 300
REPEAT_S = 10
CID_GAP_MS = 200


def _silence(ms: int) -> np.ndarray:
    return np.zeros(ms * 8, dtype=np.int16)


def alert_signal(engine: Engine, number: str | None, name: str | None, with_cid: bool = True) -> np.ndarray:
    """What the talking phone hears: tone, CAS and caller ID (FSK countries)."""
    from ..engine import _clean_name, _clean_number
    parts = [tone([SAS_HZ], SAS_MS, -13)]
    std = engine.profile.cid_standard
    if with_cid and std in ("bell202", "v23"):
        when = time.strftime("%m%d%H%M", time.gmtime(engine.clock.now()))
        number, name = _clean_number(number), _clean_name(name)
        try:
            fsk = encode_caller_id(std, "mdmf", number or None, name or None, when,
                                   None if number else "unavailable", call_waiting=True)
        except ValueError as exc:
            log.warning("caller ID on call waiting not sent: %s", exc)
        else:
            parts += [_silence(100), cas_tone(), _silence(CID_GAP_MS), fsk]
    return np.concatenate(parts)


class WaitingAlert:
    """Plays the alert to the phone now and the tone again every `REPEAT_S` while it waits."""

    def __init__(self, board: Switchboard, number: str | None, name: str | None):
        self.board = board
        self._timer: Timer | None = None
        self.stopped = False
        self._play(alert_signal(board.engine, number, name))

    def _play(self, samples: np.ndarray) -> None:
        board = self.board
        if self.stopped or board.phone.handler is not board or board.mode != "talk":
            return
        board.phone.play(samples, self._played)

    def _played(self) -> None:
        if self.stopped:
            return
        self.board.resume_audio()
        self._timer = self.board.engine.timers.after_ms(
            REPEAT_S * 1000, lambda: self._play(alert_signal(self.board.engine, None, None, with_cid=False)))

    def stop(self) -> None:
        self.stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self.board.alert is self:
            self.board.alert = None


def can_wait(engine: Engine, extension: str) -> bool:
    """Is `extension` talking in a call that can take a waiting call?"""
    ch = engine.channel_for_extension(extension)
    if ch is None or not ch.off_hook:
        return False
    h = ch.handler
    if isinstance(h, Call):
        up = h.answered or (h.direction == "outbound" and h.dialled_at is not None)
        return up and not h.ended and not h.ringing and h.b is not None and h.peer_of(ch) is not None
    if isinstance(h, Switchboard):
        return h.waiting is None and h.held is None and h.mode == "talk" and h.conference is None
    return False


def callwaiting_app(engine: Engine, caller: Channel, extension: str, call: Call | None = None) -> None:
    from .forward import give_busy
    phone = engine.channel_for_extension(extension)
    if phone is None or not can_wait(engine, extension):
        give_busy(engine, caller, call, extension)
        return
    h = phone.handler
    board = h if isinstance(h, Switchboard) else Switchboard.adopt(engine, h, phone)
    if isinstance(caller, FxsChannel):
        src = caller.extension or caller.name
        call = Call(engine, caller, "internal", src, extension, cid_number=src, cid_name=caller.ext_name or None)
    else:
        assert call is not None
        call.answered = False            # answered by the PBX only to wait: counts once the phone takes it
        call.dst = extension
    caller.play_tone("ringback")
    caller.set_state("ringback" if isinstance(caller, FxsChannel) else "ringing", peer=phone.label)
    party = Party(board, caller, call, answered=False)
    board.waiting = party
    board.alert = WaitingAlert(board, call.cid_number, call.cid_name)
    phone.set_state(phone.state, peer=phone.peer, caller_id=call.cid_number, detail="call waiting")
    engine.timers.after_ms(engine.settings.ring_timeout_ms, lambda: _not_taken(engine, board, party, extension))


def _not_taken(engine: Engine, board: Switchboard, party: Party, extension: str) -> None:
    if board.waiting is not party or party.gone:
        return
    board.waiting = None
    if board.alert is not None:
        board.alert.stop()
    party.gone = True
    ch, call = party.ch, party.call
    divert = engine.unanswered_destination(extension, "unavailable")
    if isinstance(ch, FxsChannel):
        call.end("no_answer")
    if divert is not None:
        if isinstance(ch, FxsChannel):
            divert[0](engine, ch, divert[1])
        else:
            divert[0](engine, ch, divert[1], call)
    elif isinstance(ch, FxsChannel):
        Parked(engine, ch, "busy")
    elif isinstance(ch, FxoChannel):
        from .forward import BusyLine
        BusyLine(engine, ch, call, "no_answer")


def register(engine: Engine) -> None:
    engine.register_app("callwaiting", callwaiting_app)
