"""Handlers that give channel events their meaning: dialling, two-party calls, parked lines.

* `DialSession`: an FXS phone off hook with dial tone, collecting digits for the dial plan.
* `Call`: one call attempt between an originating leg and the leg that answers
  (extension→extension, extension→line, line→extension/group), with its call record.
* `Parked`: a phone left off hook after its call ended or failed, hearing busy or congestion.

Later apps (IVR, voicemail, conference...) are more handlers of the same kind.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import FRAME

from .answer import AnswerSupervisor, DialToneMeter
from .channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from .clock import Timer
from .dialplan import Route
from .sources import PeerAudio

if TYPE_CHECKING:
    from .engine import Engine


BUSY_AFTER_DIAL_S = 5.0     # busy tone starting sooner than this after dialling: the number is busy
BACKLOG_FRAMES = 1200       # outbound, before the answer is known: the last 12 s of each leg's audio
SUPERVISION_POLL_MS = 100
SIT_ANNOUNCEMENT_MS = 15000  # after special information tones, the caller hears the announcement this long
CLASS_DETAIL = {"machine": "answering machine", "human": "answered by a person", "silent": "silent answer"}


class FrameBacklog:
    """One leg's last BACKLOG_FRAMES ticks of audio (rx and tx, with their frame numbers) in
    rings allocated once: a frame kept costs two row copies on the media tick, not two new
    arrays, and dropping the backlog at the answer frees four arrays instead of the ~5,000
    small ones a call used to let go of in one tick (1-3 ms of the media thread, per call)."""

    def __init__(self, clock: Any, frames: int = BACKLOG_FRAMES) -> None:
        self.clock = clock
        self.rx = np.zeros((frames, FRAME), dtype=np.int16)
        self.tx = np.zeros((frames, FRAME), dtype=np.int16)
        self.frame = np.zeros(frames, dtype=np.int64)
        self.present = np.zeros((frames, 2), dtype=bool)      # rx / tx was there (not None)
        self.count = 0

    def keep(self, rx: np.ndarray | None, tx: np.ndarray | None) -> None:
        """The tap: this tick's frames (None: nothing that way)."""
        i = self.count % self.frame.size
        self.frame[i] = self.clock.frame
        for row, x, k in ((self.rx, rx, 0), (self.tx, tx, 1)):
            self.present[i, k] = x is not None
            if x is not None:
                n = min(x.size, FRAME)
                row[i, :n] = x[:n]
                row[i, n:] = 0
        self.count += 1

    def since(self, first: int) -> tuple[np.ndarray, np.ndarray]:
        """The kept rx and tx frames after frame number `first`, oldest first, as two (n x FRAME)
        arrays (copies; a frame that was not there is zeros)."""
        size = self.frame.size
        j = np.arange(max(0, self.count - size), self.count) % size
        j = j[self.frame[j] > first]
        rx, tx = self.rx[j], self.tx[j]
        rx[~self.present[j, 0]] = 0
        tx[~self.present[j, 1]] = 0
        return rx, tx


class Parked(ChannelHandler):
    """Off hook with nothing to do: busy or congestion tone until the phone hangs up or flashes."""

    def __init__(self, engine: Engine, ch: FxsChannel, tone: str):
        self.engine = engine
        ch.handler = self
        ch.listen_dtmf = False
        ch.play_tone(tone)
        ch.set_state(tone)

    def on_flash(self, ch: Channel) -> None:
        if isinstance(ch, FxsChannel):
            DialSession(self.engine, ch)


class DialSession(ChannelHandler):
    def __init__(self, engine: Engine, ch: FxsChannel):
        self.engine, self.ch = engine, ch
        self.digits = ""
        self._timer: Timer | None = None
        ch.handler = self
        ch.listen_dtmf = True
        ch.play_tone(engine.dial_tone_for(ch))
        ch.set_state("dialtone", detail="")
        self._arm(engine.settings.first_digit_ms)

    def _arm(self, ms: int) -> None:
        if self._timer:
            self._timer.cancel()
        self._timer = self.engine.timers.after_ms(ms, self._timeout)

    def _done(self) -> bool:
        return self.ch.handler is not self

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self._done():
            return
        if not self.digits:
            ch.silence()
        self.digits += digit
        ch.set_state("dialing", detail=self.engine.shown_digits(self.digits))
        route = self.engine.plan.resolve(self.digits)
        if route.kind == "incomplete":
            ac = self.engine.plan.access_code
            outside = bool(ac) and self.digits.startswith(ac) and len(self.digits) > len(ac)
            self._arm(self.engine.settings.outside_digit_ms if outside else self.engine.settings.interdigit_ms)
        elif route.kind == "invalid":
            # Give a mis-dialling caller a moment before the intercept, as exchanges do.
            self._arm(self.engine.settings.invalid_ms)
        else:
            self._route(route)

    def _timeout(self) -> None:
        self._timer = None
        if self._done():
            return
        if not self.digits:
            Parked(self.engine, self.ch, "congestion")     # lifted the handset and never dialled
            return
        route = self.engine.plan.resolve(self.digits, final=True)
        self._route(route)

    def _route(self, route: Route) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
        self.ch.listen_dtmf = False
        self.engine.place_call(self.ch, route, self.digits)

    def on_hangup(self, ch: Channel) -> None:
        if self._timer:
            self._timer.cancel()

    def on_flash(self, ch: Channel) -> None:
        if self._timer:
            self._timer.cancel()
        DialSession(self.engine, self.ch)


class Call(ChannelHandler):
    """One call attempt: `a` originates; `b` is the leg that answers (FXS) or the line dialled (FXO).

    Inbound calls ring several phones (`ringing`); the first to pick up becomes `b`.
    """

    def __init__(self, engine: Engine, a: Channel, direction: str, src: str, dst: str,
                 line: str | None = None, cid_number: str | None = None, cid_name: str | None = None):
        self.engine = engine
        self.a = a
        self.b: Channel | None = None
        self.ringing: list[FxsChannel] = []
        self.direction = direction
        self.src, self.dst = src, dst
        self.cid_number, self.cid_name = cid_number, cid_name
        self.answered = False
        self.ended = False
        self.waiting_for_cid = False      # inbound: phones not rung until caller ID is in
        self.dialled_at: float | None = None   # outbound: when the number went out on the line
        self.ringback_heard = False
        self.answered_at: float | None = None
        self.answered_how = ""                 # outbound: polarity | ringback_end | voice | silent
        self.answered_by: str | None = None    # outbound: human | machine | silent (once told)
        self.supervisor: AnswerSupervisor | None = None
        self._failed_as: str | None = None     # outbound: SIT heard, the caller is hearing the announcement
        self._poll: Timer | None = None
        self._backlog: dict[Channel, FrameBacklog] = {}
        self._ring_gone: Timer | None = None
        self._rings_seen = 0
        self._timers: list[Timer] = []
        # auto-attendant steps, appended by the IVR: {"menu": id, "key": key | "timeout" | "invalid", "at": epoch s}
        self.menu_path: list[dict] = []
        self.listening = False           # the line answered early to listen for a calling fax
        self.id = engine.records_start(self, line)
        a.handler = self
        engine.calls.add(self)

    # ---- helpers
    def after(self, ms: int, fn) -> Timer:
        self._timers = [t for t in self._timers if not t.cancelled]
        t = self.engine.timers.after_ms(ms, fn)
        self._timers.append(t)
        return t

    def _cancel_timers(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()

    def peer_of(self, ch: Channel) -> Channel | None:
        return self.b if ch is self.a else self.a if ch is self.b else None

    # ---- extension -> extension
    def ring_extension(self, target: FxsChannel) -> None:
        eng = self.engine
        self.ringing = [target]
        target.handler = self
        caller = self.a
        target.set_state("ringing", peer=caller.label, caller_id=self.src)
        target.start_ringing(self.cid_number, self.cid_name)
        caller.play_tone("ringback")
        caller.set_state("ringback", peer=target.label)
        self.after(eng.settings.ring_timeout_ms, self._no_answer)

    def _no_answer(self) -> None:
        if self.answered or self.ended:
            return
        self._stop_ringing()
        divert = self.engine.unanswered_destination(self.dst, "unavailable")
        if divert is not None and isinstance(self.a, FxsChannel) and self.a.off_hook:
            self.end("no_answer")
            divert[0](self.engine, self.a, divert[1])
            return
        if isinstance(self.a, FxsChannel) and self.a.off_hook:
            Parked(self.engine, self.a, "busy")
        elif isinstance(self.a, FxoChannel):
            self._free_line(self.a)
        self.end("no_answer")

    def _stop_ringing(self, keep: Channel | None = None) -> None:
        for ch in self.ringing:
            if ch is keep:
                continue
            ch.stop_ringing()
            if ch.handler is self:
                ch.handler = None
                ch.silence()
                ch.set_state("idle")
        self.ringing = [c for c in self.ringing if c is keep]

    # ---- extension -> outside line
    def dial_line(self, line: FxoChannel, number: str) -> None:
        eng = self.engine
        if not eng.outside_policy.admit(self, line, number):   # toll-fraud gate: no line without it
            return
        self.b = line
        line.handler = self
        line.set_state("dialing", peer=self.a.label, detail=number)
        self.a.silence()
        self.a.set_state("dialing", peer=line.label, detail=number)
        self._dial_meter = DialToneMeter()          # the line's loss, from its dial tone (answer.py)
        line.taps.append(self._dial_meter.keep)
        line.dial(number, eng.settings.line_seize_ms, self._dialled)

    def _dialled(self) -> None:
        if self.ended:
            return
        a, line = self.a, self.b
        assert isinstance(line, FxoChannel)
        self._bridge(a, line)
        self.dialled_at = self.engine.clock.now()
        # An analog line gives no answer signal unless it has polarity reversal on answer.
        # Without it the answer is read from the audio (firmware/answer.py): ringback ending,
        # the first words, the ringback not coming back; busy, congestion and SIT end the call.
        eng = self.engine
        meter = self._drop_dial_meter()
        if meter is not None:
            loss = meter.loss_db(eng.tone_plan(line.name).dial)
            if loss is not None:
                line.line_loss_db = loss
        eng.start_supervision(line, ("busy", "congestion"))
        self.supervisor = AnswerSupervisor(eng.tone_plan(line.name), self.dialled_at, self._supervised_answer,
                                           self._supervised_failure, self._supervised_class)
        eng.start_progress(line)
        self._keep_backlog()
        self._poll = eng.timers.after_ms(SUPERVISION_POLL_MS, self._poll_supervisor)
        a.set_state("ringback", peer=f"{line.label}: {self.dst}")
        line.set_state("ringback", peer=a.label, detail=self.dst)
        if eng.settings.line_answer_ms:
            self.after(eng.settings.line_answer_ms, self._assume_answered)

    def _drop_dial_meter(self) -> DialToneMeter | None:
        meter = getattr(self, "_dial_meter", None)
        self._dial_meter = None
        if meter is not None and isinstance(self.b, FxoChannel) and meter.keep in self.b.taps:
            self.b.taps.remove(meter.keep)
        return meter

    # ---- outbound answer supervision (policy in firmware/answer.py)
    def _poll_supervisor(self) -> None:
        self._poll = None
        sup = self.supervisor
        if sup is None or self.ended:
            return
        sup.poll(self.engine.clock.now())
        if sup.finished:
            self._supervision_done()
        elif not self.ended:
            self._poll = self.engine.timers.after_ms(SUPERVISION_POLL_MS, self._poll_supervisor)

    # a subclass that keeps analysing the line after answer supervision is done (a campaign's
    # answering-machine detection) sets this and calls `stop_listening()` when it has heard enough
    listens_after_answer = False

    def stop_listening(self) -> None:
        """Stop the line's call-progress analysis (kept on by `listens_after_answer`)."""
        if isinstance(self.b, FxoChannel):
            self.engine.stop_progress(self.b)

    def _supervision_done(self) -> None:
        if isinstance(self.b, FxoChannel) and (self.ended or not self.listens_after_answer):
            self.engine.stop_progress(self.b)
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        sup = self.supervisor
        if sup is None or self.ended or ch is not self.b:
            return
        if kind in ("ringback_on", "ringback_off"):
            sup.ringback(kind == "ringback_on", at)
            if sup.ringback_heard and not self.ringback_heard:
                self.ringback_heard = True
                ch.set_state(ch.state, peer=ch.peer, detail=f"{self.dst} ringing")
        elif kind in ("voice_on", "voice_off"):
            sup.voice(kind == "voice_on", at)
        elif kind == "sit":
            sup.sit(at)
        elif kind == "tone_on":
            sup.unknown_tone(at)
        if sup.finished:
            self._supervision_done()

    def _supervised_answer(self, at: float, how: str) -> None:
        if self.ended or self.answered:
            return
        self.answered_how = how
        self.mark_answered(at)

    def _supervised_failure(self, disposition: str, reason: str) -> None:
        line = self.b
        if self.ended or not isinstance(line, FxoChannel):
            return
        self.engine.records.set_reason(self.id, reason)
        if reason == "sit":
            # The announcement after the tones says what is wrong with the number: let the caller
            # hear it (the call already counts as failed), then clear the line.
            self._failed_as = disposition
            line.set_state(line.state, peer=line.peer, detail=f"{self.dst}: number not in service")
            self.after(SIT_ANNOUNCEMENT_MS, lambda: self.far_end_gone(line, "number unobtainable (SIT)", disposition))
            return
        self.far_end_gone(line, {"congestion": "congestion tone", "busy": "busy tone"}.get(reason, reason),
                          disposition)

    def _supervised_class(self, kind: str) -> None:
        self.answered_by = kind
        if self.ended:
            return
        self.engine.records.set_reason(self.id, kind)
        self.engine.publish_call(self.id, "answered_by", answered_by=kind)
        line = self.b
        if isinstance(line, FxoChannel):
            line.set_state(line.state, peer=line.peer, detail=f"{self.dst}: {CLASS_DETAIL[kind]}")

    def _keep_backlog(self) -> None:
        """Keep each leg's recent audio until the answer is known: a recording decided later
        still starts at the answer instant (`audio_since_answer`)."""
        clock = self.engine.clock
        for ch in (self.a, self.b):
            if ch is None:
                continue
            backlog = FrameBacklog(clock)
            ch.taps.append(backlog.keep)
            self._backlog[ch] = backlog

    def _drop_backlog(self) -> None:
        for ch, backlog in self._backlog.items():
            if backlog.keep in ch.taps:
                ch.taps.remove(backlog.keep)
        self._backlog.clear()

    def audio_since_answer(self, ch: Channel) -> Callable[[], tuple[np.ndarray, np.ndarray]] | None:
        """When the answer was decided after the fact (None otherwise): a function giving the rx
        and tx frames `ch` carried from the answer instant up to now, as two (n x FRAME) arrays.
        Call it off the media tick (a recording's writer thread does): copying up to 12 s of
        both legs there would hold the tick. It stays good: the call stops keeping audio right
        after the 'answered' event (`_drop_backlog`), so nothing writes those frames any more."""
        kept = self._backlog.get(ch)
        if kept is None or self.answered_at is None:
            return None
        first = round((self.answered_at - self.engine.clock.start_epoch) * 100)
        return lambda: kept.since(first)

    def _assume_answered(self) -> None:
        if not self.answered and not self.ended:
            self.mark_answered()

    # ---- line -> extension(s)
    def ring_targets(self, targets: list[FxsChannel]) -> None:
        self.ringing = []
        for t in targets:
            t.handler = self
            t.set_state("ringing", peer=self.a.label, caller_id=self.cid_number or self.src)
            t.start_ringing(self.cid_number, self.cid_name)
            self.ringing.append(t)
        if self.dst in self.engine.plan.extensions and self.engine.unanswered_policies:
            # One extension rung for an outside caller: after the ring timeout an app
            # (voicemail, forward) may take the call; without one it rings on as before.
            self.after(self.engine.settings.ring_timeout_ms, self._inbound_no_answer)

    def listen_while_ringing(self, max_ms: int) -> None:
        """Inbound on a line, phones ringing: answer the line now and give the caller ringback, so
        that a calling fax (CNG) can be heard before a phone answers (firmware/fax/detect.py; it
        takes the call through `hand_over`). The exchange stops ringing once the line is answered,
        so the caller leaving is read from the line (busy tone, loop drop), not from the rings
        stopping; after `max_ms` unanswered the line is released."""
        line = self.a
        if not isinstance(line, FxoChannel) or self.answered or self.ended or not self.ringing:
            return
        line.seize()
        if self._ring_gone is not None:
            self._ring_gone.cancel()
            self._ring_gone = None
        self.listening = True
        line.play_tone("ringback")
        self.engine.start_supervision(line)
        self.after(max_ms, self._listened_long_enough)

    def hand_over(self) -> Call | None:
        """Inbound on an answered line, phones ringing (answered early to listen, or passed on by a
        menu or queue): stop them for another app (a calling fax). Once a phone answered, a person
        has the call: kept."""
        line = self.a
        if self.answered or self.ended or self.direction != "inbound" or not self.ringing \
                or not isinstance(line, FxoChannel) or not line.port.is_off_hook:
            return None
        self._stop_ringing()
        return self

    def _listened_long_enough(self) -> None:
        if self.answered or self.ended or not isinstance(self.a, FxoChannel):
            return
        self._stop_ringing()
        self._free_line(self.a)
        self.end("no_answer")

    def divert_to_app(self, factory, arg: str) -> None:
        """Inbound, phones still ringing: stop them and hand the line to an app ("voicemail", "fax")."""
        self._stop_ringing()
        self.hand_to_app(factory, arg)

    def _inbound_no_answer(self) -> None:
        if self.answered or self.ended or not isinstance(self.a, FxoChannel):
            return
        divert = self.engine.unanswered_destination(self.dst, "unavailable")
        if divert is not None:
            self.divert_to_app(*divert)

    # ---- events
    def on_answer(self, ch: Channel) -> None:
        if self.ended or ch not in self.ringing:
            return
        assert isinstance(ch, FxsChannel)
        ch.stop_ringing()
        self._stop_ringing(keep=ch)
        self.ringing = []
        self.b = ch
        a = self.a
        if isinstance(a, FxoChannel):
            a.seize()                      # answer the line
            self.engine.start_supervision(a)
        self._bridge(a, ch)
        a.set_state("in-call", peer=ch.label, caller_id=a.caller_id)
        ch.set_state("in-call", peer=a.label if not isinstance(a, FxoChannel) else f"{a.label}: {self.src}",
                     caller_id=ch.caller_id)
        self.mark_answered()

    def hand_to_app(self, factory, arg: str) -> None:
        """Inbound line routed to an app ("ivr:main"): answer the line and let the app drive it."""
        line = self.a
        assert isinstance(line, FxoChannel)
        line.seize()
        self.mark_answered()
        self.engine.start_supervision(line)
        factory(self.engine, line, arg, self)

    def _bridge(self, x: Channel, y: Channel) -> None:
        x.source = PeerAudio(y)
        y.source = PeerAudio(x)
        x.listen_dtmf = y.listen_dtmf = True
        for ch in (x, y):
            if isinstance(ch, FxoChannel):
                ch.detect_fax = True          # fax tones on a bridged line: pass-through (on_tone)

    def mark_answered(self, at: float | None = None) -> None:
        self.answered = True
        self._cancel_timers()
        at = self.engine.clock.now() if at is None else at
        self.answered_at = at
        line = self.b
        if self.direction == "outbound" and isinstance(line, FxoChannel) and line.state == "ringback":
            line.set_state("in-call", peer=self.a.label, detail=self.dst)     # no longer "ringing out"
            self.a.set_state("in-call", peer=f"{line.label}: {self.dst}")
        self.engine.records.call_answered(self.id, at=at)
        self.engine.publish_call(self.id, "answered", answered_how=self.answered_how or None)
        self.engine.call_event(self, "answered")
        self._drop_backlog()

    def on_hangup(self, ch: Channel) -> None:
        """`ch` is gone: an FXS phone hung up, or the far end of a line disconnected."""
        if self.ended:
            return
        if ch in self.ringing:          # a ringing phone faulted; the others keep ringing
            assert isinstance(ch, FxsChannel)
            ch.stop_ringing()
            self.ringing.remove(ch)
            if self.ringing:
                return
            other: Channel | None = self.a
        else:
            other = self.peer_of(ch)
        if isinstance(ch, FxoChannel):
            self._free_line(ch)
        if not self.answered:
            self._stop_ringing()
        if other is not None:
            self._leave(other)
        disposition = "answered" if self.answered else self._unanswered_disposition(ch)
        self.end(disposition)

    def _unanswered_disposition(self, gone: Channel) -> str:
        if self.supervisor is not None:
            return self._failed_as or "no_answer"    # the line's audio never said "answered"
        if self.direction == "outbound" and self.dialled_at is not None and not self.ringback_heard:
            self.mark_answered(self.dialled_at)
            return "answered"
        return "no_answer"

    def _leave(self, ch: Channel) -> None:
        """The other side of `ch` went away: FXS phones hear busy, lines are cleared."""
        if isinstance(ch, FxsChannel):
            if ch.off_hook:
                Parked(self.engine, ch, "busy")
            else:
                ch.handler = None
                ch.silence()
                ch.set_state("idle")
        elif isinstance(ch, FxoChannel):
            self._free_line(ch)

    def _free_line(self, line: FxoChannel) -> None:
        line.release()
        if line.handler is self:
            line.handler = None
        line.set_state("idle")

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if not isinstance(ch, FxoChannel) or self.ended:
            return
        if tone in ("CNG", "CED", "ANSam"):
            if self.listening and not self.answered:
                return                           # phones ringing: a calling fax is fax/detect.py's
            if kind == "start" and not ch.data_mode:
                # A fax machine on a phone port talks to one on the line: pass-through with the
                # canceller (and its NLP / comfort noise) off for the rest of the call.
                ch.data_mode = True
                ch.set_state(ch.state, peer=ch.peer, caller_id=ch.caller_id, detail="fax pass-through")
            return
        if tone == "ringback":
            if kind == "start":
                self.ringback_heard = True
                ch.set_state(ch.state, peer=ch.peer, detail=f"{self.dst} ringing")
            elif not self.answered:
                self.mark_answered(at)           # ringback stopped: the far end picked up
        elif kind == "start" and tone in ("busy", "congestion", "disconnect") \
                and self.supervisor is not None and not self.answered:
            self.supervisor.tone(tone, at)
            if self.answered and not self.ended:         # answered, and the far end has already gone
                self.far_end_gone(ch, f"{tone} tone")
        elif kind == "start" and tone in ("busy", "congestion", "disconnect"):
            # Busy/congestion straight after dialling: the number was busy or unreachable.
            # Later, with no ringback in between: someone answered and has hung up.
            straight_away = (self.direction == "outbound" and not self.ringback_heard
                             and self.dialled_at is not None and at - self.dialled_at < BUSY_AFTER_DIAL_S)
            unanswered = ("busy" if tone == "busy" else "failed") if straight_away else None
            self.far_end_gone(ch, f"{tone} tone", unanswered)

    def on_line_event(self, ch: Channel, event: str) -> None:
        if not isinstance(ch, FxoChannel):
            return
        if event == "ring" and self.b is None and not self.answered:
            if self._ring_gone is not None:
                self._ring_gone.cancel()
            self._ring_gone = self.after(self.engine.ring_gone_ms(), self._caller_gave_up)
            if self.waiting_for_cid and self._rings_seen >= 1:
                self.engine.ring_inbound(self)     # second ring and still no caller ID
            self._rings_seen += 1
        elif event == "loop_drop":
            self.far_end_gone(ch, "loop drop", None if self.answered else "failed")
        elif event == "polarity_reversal":
            if self.direction == "outbound" and not self.answered and self.supervisor is not None:
                self.supervisor.polarity_reversal(self.engine.clock.now())   # wins over the audio
            elif self.direction == "outbound" and not self.answered:
                self.mark_answered()      # answer supervision
            elif self.answered:
                self.far_end_gone(ch, "polarity reversal")

    def far_end_gone(self, line: FxoChannel, why: str, unanswered: str | None = None) -> None:
        """The line's far end left (or never came): `unanswered` is the disposition when the
        call was not answered (busy tone straight after dialling = busy), else the usual rule."""
        if self.ended:
            return
        line.detail = why
        if self.answered:
            disposition = "answered"
        elif unanswered is not None:
            disposition = unanswered
        else:
            disposition = self._unanswered_disposition(line)
        other = self.peer_of(line)
        self._free_line(line)
        if other is not None:
            self._leave(other)
        self._stop_ringing()
        self.end(disposition)

    def _caller_gave_up(self) -> None:
        """Inbound: the exchange stopped ringing before anyone answered."""
        if self.answered or self.ended:
            return
        self._stop_ringing()
        assert isinstance(self.a, FxoChannel)
        self._free_line(self.a)
        self.end("no_answer" if self.dst_reachable else "busy")

    dst_reachable = True

    def on_caller_id(self, ch: Channel, number: str | None, name: str | None) -> None:
        self.engine.inbound_caller_id(self, number, name)

    def on_digit(self, ch: Channel, digit: str) -> None:
        # Keys in a call mean nothing to the call itself; features (recording *1) may take them.
        if not self.ended:
            self.engine.in_call_digit(self, ch, digit)

    def on_flash(self, ch: Channel) -> None:
        # Transfer, three-way and call waiting live in an app (phone services), if registered.
        if not self.ended and self.engine.call_flash is not None:
            self.engine.call_flash(self, ch)

    def end(self, disposition: str) -> None:
        if self.ended:
            return
        self.ended = True
        self._cancel_timers()
        self._drop_backlog()
        self._drop_dial_meter()
        if self.supervisor is not None:
            self._supervision_done()
        for ch in (self.a, self.b, *self.ringing):
            if ch is not None and ch.handler is self:
                ch.handler = None
                ch.detect_fax = ch.data_mode = False
        self.engine.calls.discard(self)
        self.engine.records.call_ended(self.id, at=self.engine.clock.now(), disposition=disposition)
        self.engine.publish_call(self.id, "ended", disposition=disposition)
        self.engine.call_event(self, "ended")
