"""Hook-flash services of an analog phone in a call: transfer (blind and attended), three-way
conference, call waiting (answer and swap) and recall.

When a phone in a two-party call flashes (or a call waits for it), a `Switchboard` becomes its
handler and each far party a `Party` (a phone or a line, with its own call record). Then:

* flash in a call: the party is held, the phone gets dial tone and dials a second party;
* hang up while that party rings (blind) or after it answered (attended): the two are joined;
* flash once the second party answered: three-way conference (the conference app's mixer);
  flash in the conference drops the last party added;
* flash while the second party rings, is busy or was refused: back to the held party;
* flash with a call waiting: the current party is held and the waiting call answered; flash
  again swaps between them;
* hang up with a party still held (or waiting): the phone rings back (recall).

Every outside number dialled this way goes through the outside-line gate (`via="transfer"`);
joining an outside caller to an outside line also needs the owner's trunk-to-trunk permission.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from ..sources import PeerAudio

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.phone")

RECALL_S = 30                    # a recall rings this long before the held party is let go


TRUNK_PAD_DB = 6.0

# Engine apps a held party can be blind-transferred into by dialling their number (a call-center
# queue): a predicate on the app name, registered by the package that owns the app.
_TRANSFER_APPS: list[Callable[[str], bool]] = []


def register_transfer_app(accepts: Callable[[str], bool]) -> None:
    """Let a flash-transfer hand the held party to engine apps whose name `accepts` (e.g. queues)."""
    if accepts not in _TRANSFER_APPS:
        _TRANSFER_APPS.append(accepts)


def takes_transfers(app: str) -> bool:
    return any(accepts(app) for accepts in _TRANSFER_APPS)


class PaddedAudio:
    """Media source: a peer's audio with `TRUNK_PAD_DB` of loss."""

    def __init__(self, peer: Channel, pad_db: float = TRUNK_PAD_DB):
        self.peer = peer
        self.gain = 10 ** (-pad_db / 20)

    def frame(self) -> np.ndarray | None:
        rx = self.peer.rx
        return None if rx is None else (rx * self.gain).astype(np.int16)


class Party(ChannelHandler):
    """A far party of a switchboard phone: its channel and the call record it belongs to."""

    def __init__(self, board: Switchboard, ch: Channel, call: Call, answered: bool, number: str = ""):
        self.board, self.ch, self.call = board, ch, call
        self.answered = answered
        self.number = number          # outside number dialled to reach it ("" otherwise)
        self.gone = False
        self.started = board.engine.clock.now()
        ch.handler = self
        self._limit: Timer | None = None
        decision = getattr(call, "outside_decision", None)
        if isinstance(ch, FxoChannel) and decision is not None and decision.max_duration_s:
            # The permissions' DurationLimit follows the call's own handler; held, swapped or
            # conferenced, the line is ours now, so the same limit is kept here.
            left_ms = int((self.start_time() + decision.max_duration_s - board.engine.clock.now()) * 1000)
            self._limit = board.engine.timers.after_ms(max(0, left_ms), self._cut)

    def start_time(self) -> float:
        return self.call.dialled_at if self.call.dialled_at is not None else self.started

    def _cut(self) -> None:
        if self.gone:
            return
        self.board.engine.records.set_reason(self.call.id, "maximum call duration reached")
        log.info("outside call %s cut: maximum call duration reached", self.call.id)
        self.board.party_gone(self)

    @property
    def outside(self) -> bool:
        return isinstance(self.ch, FxoChannel)

    @property
    def dialled(self) -> bool:
        return not self.outside or self.call.dialled_at is not None or self.call.direction != "outbound"

    def on_hangup(self, ch: Channel) -> None:
        self.board.party_gone(self)

    def on_answer(self, ch: Channel) -> None:
        self.board.party_answered(self)

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if tone == "ringback" and not self.call.ended:
            self.call.on_tone(ch, tone, kind, at)        # answer supervision for the record
        elif kind == "start" and tone in ("busy", "congestion"):
            self.board.party_gone(self)

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "loop_drop":
            self.board.party_gone(self)

    def label(self) -> str:
        return self.number or getattr(self.ch, "label", self.ch.name)


class Switchboard(ChannelHandler):
    """The handler of a phone juggling more than one far party."""

    def __init__(self, engine: Engine, phone: FxsChannel):
        self.engine, self.phone = engine, phone
        self.active: Party | None = None      # talking to the phone (or ringing / being dialled)
        self.held: Party | None = None
        self.waiting: Party | None = None     # call waiting, not answered yet
        self.conference = None                # the conference app's room, in a three-way
        self.swapping = False                 # flash swaps (after answering a waiting call)
        self.mode = "talk"                    # talk | dial | dial-failed | recall
        self.digits = ""
        self._timer: Timer | None = None
        self.alert = None                     # call-waiting alert in progress (callwaiting.py)
        phone.handler = self

    # ---- taking over a plain two-party call
    @classmethod
    def adopt(cls, engine: Engine, call: Call, phone: FxsChannel) -> Switchboard:
        board = cls(engine, phone)
        other = call.peer_of(phone)
        assert other is not None
        board.active = Party(board, other, call, answered=True,
                             number=call.dst if isinstance(other, FxoChannel) and call.direction == "outbound" else "")
        board.connect(board.active)
        return board

    # ---- audio
    def connect(self, party: Party) -> None:
        self.active = party
        party.ch.source = PeerAudio(self.phone)
        self.phone.source = PeerAudio(party.ch)
        self.phone.listen_dtmf = party.ch.listen_dtmf = True
        self.phone.set_state("in-call", peer=party.label())
        party.ch.set_state("in-call", peer=self.phone.label, detail=party.ch.detail)

    def hold(self, party: Party) -> None:
        from ..callcenter import music_on_hold
        party.ch.source = music_on_hold(self.engine)      # held: music (was silence)
        party.ch.set_state("held", peer=self.phone.label)
        self.held = party

    def resume_audio(self) -> None:
        """After a tone or alert to the phone: back to whoever it talks to."""
        if self.conference is not None:
            self.phone.source = self.conference.source_for(self.phone)
        elif self.active is not None and self.active.answered and self.mode == "talk":
            self.phone.source = PeerAudio(self.active.ch)

    # ---- the phone
    def on_flash(self, ch: Channel) -> None:
        if self.mode == "recall":
            return
        if self.waiting is not None and self.held is None:
            self._answer_waiting()
        elif self.conference is not None:
            self._end_conference(drop=self.active)
        elif self.mode in ("dial", "dial-failed"):
            if self.active is not None:
                self._drop(self.active)
            self._back_to_held()
        elif self.held is not None and self.active is not None:
            if self.swapping and self.active.answered:
                self._swap()
            elif not self.active.answered or not self.active.dialled:
                self._drop(self.active)         # second party still ringing: back to the first
                self._back_to_held()
            else:
                self._three_way()
        elif self.held is not None:
            self._back_to_held()
        elif self.active is not None and self.active.answered:
            self.swapping = False                # one party again: flash is hold-and-dial
            self.hold(self.active)
            self.active = None
            self._dial_tone()

    def _swap(self) -> None:
        assert self.active is not None and self.held is not None
        a, h = self.active, self.held
        self.hold(a)
        self.connect(h)

    def _answer_waiting(self) -> None:
        w = self.waiting
        assert w is not None
        self.waiting = None
        if self.alert is not None:
            self.alert.stop()
        if self.active is not None:
            self.hold(self.active)
        w.ch.silence()
        w.answered = True
        if isinstance(w.ch, FxoChannel):
            w.ch.seize()
        w.call.mark_answered()
        self.swapping = True
        self.mode = "talk"
        self.connect(w)

    def _back_to_held(self) -> None:
        self._cancel_timer()
        self.mode = "talk"
        h = self.held
        self.held = None
        if h is not None:
            self.connect(h)
        else:
            self.phone.silence()

    def _dial_tone(self) -> None:
        self.mode = "dial"
        self.digits = ""
        self.phone.listen_dtmf = True
        self.phone.play_tone(self.engine.dial_tone_for(self.phone))
        self.phone.set_state("dialtone", detail="transfer")
        self._arm(self.engine.settings.first_digit_ms)

    def _arm(self, ms: int) -> None:
        self._cancel_timer()
        self._timer = self.engine.timers.after_ms(ms, self._digit_timeout)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.mode != "dial" or self.active is not None:
            return
        if not self.digits:
            self.phone.silence()
        self.digits += digit
        route = self.engine.plan.resolve(self.digits)
        if route.kind == "incomplete":
            ac = self.engine.plan.access_code
            outside = bool(ac) and self.digits.startswith(ac) and len(self.digits) > len(ac)
            s = self.engine.settings
            self._arm(s.outside_digit_ms if outside else s.interdigit_ms)
        elif route.kind == "invalid":
            self._arm(self.engine.settings.invalid_ms)
        else:
            self._dial(route)

    def _digit_timeout(self) -> None:
        self._timer = None
        if self.mode != "dial" or self.active is not None:
            return
        if not self.digits:
            self._back_to_held()
            return
        self._dial(self.engine.plan.resolve(self.digits, final=True))

    def _dial(self, route) -> None:
        self._cancel_timer()
        eng, phone = self.engine, self.phone
        src = phone.extension or phone.name
        if route.kind == "extension":
            target = eng.channel_for_extension(route.target)
            if (target is None or target is phone or not target.usable or target.handler is not None
                    or target.off_hook):
                phone.play_tone("busy")
                phone.set_state("busy", detail="transfer")
                self.mode = "dial-failed"         # flash: back to the held party
                return
            call = Call(eng, phone, "internal", src, route.target, cid_number=src, cid_name=phone.ext_name or None)
            phone.handler = self
            party = Party(self, target, call, answered=False)
            self.active = party
            target.set_state("ringing", peer=phone.label, caller_id=src)
            target.start_ringing(src, phone.ext_name or None)
            phone.play_tone("ringback")
            phone.set_state("ringback", peer=target.label)
            self.mode = "talk"
        elif route.kind == "outside":
            self._dial_outside(route.target)
        elif (route.kind == "app" and route.target in eng.apps and takes_transfers(str(route.target))
              and self.held is not None):
            self._transfer_to_app(self.held, str(route.target), route.arg)
        else:
            phone.play_tone("congestion")
            phone.set_state("congestion", detail="transfer")
            self.mode = "dial-failed"

    def _dial_outside(self, number: str) -> None:
        from .permissions import Origin, _sit
        eng, phone = self.engine, self.phone
        held_outside = self.held is not None and self.held.outside
        origin = Origin(extension=phone.extension, channel=phone.name, via="transfer", outside_party=held_outside)
        decision = eng.authorise_outside(origin, number)
        line = eng.pick_line() if decision.allowed else None
        if not decision.allowed or line is None:
            if decision.allowed:
                eng._record_failed(phone, number, "failed", direction="outbound")
                phone.play_tone("congestion")
            else:
                eng.outside_policy.record_denied(phone, number, decision.reason)
                phone.play(_sit(), lambda: phone.handler is self and self.mode == "dial-failed"
                           and phone.play_tone("congestion"))
            phone.set_state("congestion", detail="not permitted" if not decision.allowed else "no line")
            self.mode = "dial-failed"
            return
        src = phone.extension or phone.name
        call = Call(eng, phone, "outbound", src, number, line=line.name, cid_number=src,
                    cid_name=phone.ext_name or None)
        phone.handler = self
        call.outside_decision = decision
        call.dial_line(line, number)
        if call.ended:                     # refused at the gate after all
            phone.handler = self
            self.mode = "dial-failed"
            return
        self.active = Party(self, line, call, answered=True, number=number)
        self.mode = "talk"

    def on_answer(self, ch: Channel) -> None:
        if self.mode != "recall" or self.active is None:
            return
        self._cancel_timer()
        self.mode = "talk"
        self.connect(self.active)

    def on_hangup(self, ch: Channel) -> None:
        """The phone hung up: join the two far parties (transfer) or ring back for the one left."""
        self._cancel_timer()
        if self.alert is not None:
            self.alert.stop()
        if self.conference is not None:
            self._dissolve_conference()
        a, h = self.active, self.held
        if self.mode == "recall":
            self._drop_all()
            return
        if a is not None and h is not None and a.dialled and not self.swapping:
            self._transfer(h, a)
        elif a is not None and h is not None:          # swapping between two calls: drop the one talking
            self._drop(a)
            self._recall(h)
        elif h is not None:
            self._recall(h)
        elif a is not None:
            self._drop(a)
            if self.waiting is not None:
                self._recall(None)
        elif self.waiting is not None:
            self._recall(None)

    def _recall(self, party: Party | None) -> None:
        """Ring the phone back for a held party (or for the call waiting)."""
        phone = self.phone
        if party is None:
            party, self.waiting = self.waiting, None
            if party is None:
                return
            party.answered = True
            if isinstance(party.ch, FxoChannel):
                party.ch.seize()
            party.call.mark_answered()
        self.held = None
        self.active = party
        self.mode = "recall"
        phone.handler = self
        cid = party.call.cid_number if party.call.a is party.ch else (party.number or party.call.dst)
        phone.set_state("ringing", peer=party.label(), caller_id=cid)
        phone.start_ringing(cid, None)
        self._timer = self.engine.timers.after_ms(RECALL_S * 1000, self._drop_all)

    def _drop_all(self) -> None:
        self._cancel_timer()
        self.phone.stop_ringing()
        for p in (self.active, self.held, self.waiting):
            if p is not None:
                self._drop(p)
        if self.phone.handler is self:
            self.phone.handler = None
            self.phone.silence()
            self.phone.set_state("idle")

    # ---- far parties
    def party_answered(self, party: Party) -> None:
        if party is not self.active or party.answered:
            return
        assert isinstance(party.ch, FxsChannel)
        party.ch.stop_ringing()
        party.answered = True
        party.call.b = party.ch
        party.call.mark_answered()
        self.connect(party)

    def party_gone(self, party: Party) -> None:
        """A far party hung up (or its line's far end went away)."""
        if party.gone:
            return
        self._release(party, hung_up=True)
        if party is self.waiting:
            self.waiting = None
            if self.alert is not None:
                self.alert.stop()
            if self.mode == "recall" and self.active is None:
                self._drop_all()
            return
        if party is self.held:
            self.held = None
            if self.conference is not None:
                self._end_conference(drop=None)
            elif self.mode == "recall":
                self._drop_all()
            return
        if party is self.active:
            self.active = None
            if self.conference is not None:
                self._end_conference(drop=None)
            elif self.mode == "recall":
                self._drop_all()
            elif self.held is not None:
                self._back_to_held()
            elif self.waiting is not None:
                self.phone.play_tone("busy")      # flash (or hang up and be rung) takes the waiting call
            elif self.phone.off_hook:
                self._dissolve()
                Parked(self.engine, self.phone, "busy")

    def _drop(self, party: Party) -> None:
        """We let `party` go: a phone that answered hears busy, a ringing one stops, a line is freed."""
        if party.gone:
            return
        self._release(party, hung_up=False)
        if party is self.active:
            self.active = None
        if party is self.held:
            self.held = None
        if party is self.waiting:
            self.waiting = None

    def _release(self, party: Party, hung_up: bool) -> None:
        party.gone = True
        if party._limit is not None:
            party._limit.cancel()
        ch = party.ch
        if isinstance(ch, FxoChannel):
            ch.release()
            if ch.handler is party:
                ch.handler = None
            ch.silence()
            ch.set_state("idle")
        elif isinstance(ch, FxsChannel):
            ch.stop_ringing()
            if ch.handler is party:
                if not hung_up and ch.off_hook:
                    Parked(self.engine, ch, "busy")
                else:
                    ch.handler = None
                    ch.silence()
                    ch.set_state("idle")
        if not party.call.ended:
            party.call.end(_disposition(party))

    def _dissolve(self) -> None:
        if self.phone.handler is self:
            self.phone.handler = None

    # ---- transfer
    def _transfer(self, x: Party, y: Party) -> None:
        """Join held `x` with `y` (ringing: blind transfer; answered: attended)."""
        from .permissions import Origin
        eng = self.engine
        if x.outside and y.outside:
            origin = Origin(extension=self.phone.extension, channel=self.phone.name, via="transfer",
                            outside_party=True)
            decision = eng.authorise_outside(origin, y.number)
            if not decision.allowed:
                log.info("transfer of %r to %r refused: %s", x.label()[:40], y.number, decision.reason)
                eng.records.set_reason(y.call.id, decision.reason)
                self._drop(y)
                self._recall(x)
                return
        direction = "inbound" if x.outside else "outbound" if y.outside else "internal"
        src = x.call.src if x.ch is x.call.a else (x.number or getattr(x.ch, "extension", None) or x.ch.name)
        dst = y.number or getattr(y.ch, "extension", None) or y.ch.name
        line = y.ch.name if y.outside else x.ch.name if x.outside else None
        for p in (x, y):
            p.gone = True
            if p._limit is not None:
                p._limit.cancel()
            if not p.call.ended:
                p.call.end(_disposition(p))
        self.active = self.held = None
        self._dissolve()
        joined = Call(eng, x.ch, direction, src, dst, line=line, cid_number=x.call.cid_number,
                      cid_name=x.call.cid_name)
        joined.b = y.ch
        y.ch.handler = joined
        if y.answered:
            joined._bridge(x.ch, y.ch)
            if x.outside and y.outside:
                # Two line hybrids face each other: their echoes would circle and sing.
                # Pad both directions (the usual trunk-to-trunk loss).
                x.ch.source, y.ch.source = PaddedAudio(y.ch), PaddedAudio(x.ch)
            x.ch.set_state("in-call", peer=y.label())
            y.ch.set_state("in-call", peer=x.label())
            joined.mark_answered()
            decision = getattr(y.call, "outside_decision", None)
            if y.outside and decision is not None and decision.max_duration_s:
                from .permissions import DurationLimit
                assert isinstance(y.ch, FxoChannel)
                left_s = y.start_time() + decision.max_duration_s - eng.clock.now()
                DurationLimit(eng.outside_policy, joined, y.ch, max(1, int(left_s)))   # the limit goes on
        else:
            assert isinstance(y.ch, FxsChannel)
            joined.b = None
            joined.ringing = [y.ch]
            x.ch.play_tone("ringback")
            joined.after(eng.settings.ring_timeout_ms, joined._no_answer)
        log.info("transfer by %s: %s -> %s (%s)", self.phone.extension, src[:40], dst,
                 "attended" if y.answered else "blind")

    def _transfer_to_app(self, x: Party, app: str, arg: str) -> None:
        """Blind transfer of held `x` into an engine app that takes callers (a queue): nobody there
        answers, so it happens as soon as the number is dialled; the phone hears busy (hang up)."""
        eng = self.engine
        src = x.call.src if x.ch is x.call.a else (x.number or getattr(x.ch, "extension", None) or x.ch.name)
        cid_number = x.call.cid_number if x.ch is x.call.a else (x.number or getattr(x.ch, "extension", None))
        cid_name = x.call.cid_name if x.ch is x.call.a else getattr(x.ch, "ext_name", None) or None
        x.gone = True
        if x._limit is not None:
            x._limit.cancel()
        if not x.call.ended:
            x.call.end(_disposition(x))
        self.held = None
        self._cancel_timer()
        self._dissolve()
        caller = Call(eng, x.ch, "inbound" if x.outside else "internal", src, app, line=x.ch.name if x.outside else None,
                      cid_number=cid_number, cid_name=cid_name)
        caller.mark_answered()
        caller.menu_path = list(getattr(x.call, "menu_path", []))
        x.ch.silence()
        log.info("transfer by %s: %s -> %s (blind, into the app)", self.phone.extension, src[:40], app)
        eng.apps[app](eng, x.ch, arg, caller)
        Parked(eng, self.phone, "busy")

    # ---- three-way
    def _three_way(self) -> None:
        try:
            from .conference import Conference  # the conference app's mixer (one mixer only)
        except ImportError:
            log.warning("three-way: no conference mixer installed; flash swaps instead")
            self._swap()
            return
        assert self.active is not None and self.held is not None
        room = Conference(self.engine, capacity=3, cues=False)   # a three-way call has no join beeps
        for ch in (self.phone, self.held.ch, self.active.ch):
            room.add(ch)
        self.conference = room
        for p in (self.held, self.active):
            p.ch.set_state("in-call", peer="three-way")
        self.phone.set_state("in-call", peer="three-way")

    def _end_conference(self, drop: Party | None) -> None:
        room, self.conference = self.conference, None
        if room is not None:
            room.close()
        if drop is not None:
            self._drop(drop)
        rest = self.held or self.active
        self.held = None
        if rest is not None:
            self.connect(rest)

    def _dissolve_conference(self) -> None:
        room, self.conference = self.conference, None
        if room is not None:
            room.close()


def _disposition(party: Party) -> str:
    call = party.call
    return "answered" if call.answered else call._unanswered_disposition(party.ch)


def on_call_flash(call: Call, ch: Channel) -> None:
    """Engine hook: a flash in a plain two-party call. Phones take it over with a switchboard."""
    # An outside call with no answer signal counts as answered once dialled (as in Call).
    up = call.answered or (call.direction == "outbound" and call.dialled_at is not None)
    if not isinstance(ch, FxsChannel) or not up or call.ringing or call.peer_of(ch) is None:
        return
    if call.b is None or (isinstance(call.peer_of(ch), FxoChannel) and call.dialled_at is None
                          and call.direction == "outbound"):
        return                             # still dialling out: nothing to hold yet
    board = Switchboard.adopt(call.engine, call, ch)
    board.on_flash(ch)


def board_of(ch: Channel) -> Switchboard | None:
    h = ch.handler
    return h if isinstance(h, Switchboard) else None


def register_phone_services(engine: Engine) -> None:
    """Transfer, three-way, call waiting, forwards/DND, pickup, ring/page groups, intercom, speed dial."""
    from . import callwaiting, forward, paging, pickup, ringgroups, speeddial
    engine.call_flash = on_call_flash
    for module in (forward, callwaiting, pickup, ringgroups, paging, speeddial):
        module.register(engine)

