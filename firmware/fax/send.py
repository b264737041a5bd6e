"""Sending faxes on the engine (media thread): the outbox's due jobs become outbound fax calls.

`FaxSender` keeps the jobs the store thread offered (`offer`), and once a second starts the due
ones on a free line, at most `max_lines` at a time. `FaxDialOut` is one attempt, the line's
handler:

    the gate (engine.authorise_outside, asked again now, at seizure) ─► seize, dial (DTMF) ─►
    T.30 transmitter on the fax thread (FaxLink: the tick only swaps frames), canceller, NLP and
    DTMF off (Channel.data_mode) ─► phase E ─► the line released, the result posted to the store
    thread (outbox.finish_attempt), which queues a retry or ends the job.

How the call went is read from the line while T.30 runs: busy or congestion tone (busy),
ringback that never stopped (no answer), speech (not a fax), the fax answer tone CED (answered
by a fax machine). The terminal's own result covers the rest (reasons.py). Each attempt keeps a
transcript: what was heard when, the T.30 phases reached, the rate, the pages and the result
code in words.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsp_ext.fax import FaxReport, FaxTerminal

from ..channels import Channel, ChannelHandler, FxoChannel
from ..clock import Timer
from .outbox import KIND_WORDS, AttemptResult
from .reasons import KINDS, failure_kind, plain_reason
from .settings import sending_limit
from .transcript import merge

if TYPE_CHECKING:
    from .service import FaxService

__all__ = ["FaxSender", "FaxDialOut", "PendingJob", "ANSWER_WAIT_S"]

log = logging.getLogger("linebox.fax")

POLL_MS = 1000
ANSWER_WAIT_S = 75          # dialled and no fax answer tone by then: no answer / not a fax
# Longest attempt: setup plus each page at the slowest modem with ECM resends. spandsp's timers wait
# while it hears a carrier, so on a very noisy line a session would otherwise never end.
SESSION_BASE_S, SESSION_PER_PAGE_S = 120, 90
MODEM_WORDS = {"v17": "V.17 (up to 14400 bit/s)", "v29": "V.29 (up to 9600 bit/s)",
               "v27ter": "V.27ter (up to 4800 bit/s)"}


@dataclass
class PendingJob:
    """What the media thread needs of a queued job (no I/O: paths are only handed to the fax thread)."""
    id: int
    number: str
    box: str
    document: Path
    pages: int
    ecm: bool
    modem: str
    next_at: float


class FaxSender:
    def __init__(self, engine: Any, svc: FaxService, on_store: Callable[[Callable[[], Any]], Any],
                 max_lines: int | None = None) -> None:
        self.engine, self.svc = engine, svc
        self.on_store = on_store               # run fn() on the store thread (the outbox's one writer)
        self.fixed_limit = max_lines           # None: the owner's settings (settings.sending_limit)
        self.jobs: dict[int, PendingJob] = {}
        self.active: dict[int, FaxDialOut] = {}
        self._timer: Timer | None = engine.timers.after_ms(10, self._poll)       # first: the next tick
        # set by the outbox (run on the store thread): an attempt started / ended
        self.on_running: Callable[[], None] | None = None       # once, from the first poll (media thread)
        self.on_started: Callable[[int, str, float, bool, str], None] | None = None
        self.on_result: Callable[[int, AttemptResult], None] | None = None

    @property
    def max_lines(self) -> int:
        """Faxes sent at once now: the owner's setting, never more than the enabled lines."""
        if self.fixed_limit is not None:
            return self.fixed_limit
        return sending_limit(self.svc.settings, sum(1 for ln in self.engine.fxo if ln.enabled))

    # ---- from the store thread, posted to the media thread
    def offer(self, job: PendingJob) -> None:
        if job.id not in self.active:
            self.jobs[job.id] = job

    def withdraw(self, job_id: int) -> bool:
        """Cancel: forget a waiting job, or hang up the attempt in progress. True if it was sending."""
        self.jobs.pop(job_id, None)
        attempt = self.active.get(job_id)
        if attempt is not None:
            attempt.cancel()
            return True
        return False

    # ---- media thread
    def _poll(self) -> None:
        self._timer = self.engine.timers.after_ms(POLL_MS, self._poll)
        if self.on_running is not None:        # the first tick: the engine (and its store thread) run
            begin, self.on_running = self.on_running, None
            begin()
        limit = self.max_lines
        if not self.jobs or len(self.active) >= limit:
            return
        now = self.engine.clock.now()
        keep_free = self.svc.settings.keep_line_free
        for job in sorted(self.jobs.values(), key=lambda j: (j.next_at, j.id)):
            if job.next_at > now or len(self.active) >= limit:
                continue
            if keep_free and sum(1 for ln in self.engine.fxo if ln.available) < 2:
                return                          # the last free line stays free for calls
            line = self.engine.pick_line()
            if line is None:
                return                          # every line busy: the jobs wait (no attempt counted)
            del self.jobs[job.id]
            attempt = FaxDialOut(self, job, line)
            self.active[job.id] = attempt
            attempt.start()

    def started(self, attempt: FaxDialOut, at: float) -> None:
        on_started, job, line = self.on_started, attempt.job, attempt.line.name
        if on_started is not None:
            self.on_store(lambda: on_started(job.id, line, at, job.ecm, job.modem))

    def finished(self, attempt: FaxDialOut, result: AttemptResult) -> None:
        self.active.pop(attempt.job.id, None)
        job_id = attempt.job.id
        on_result = self.on_result
        if on_result is not None:
            self.on_store(lambda: on_result(job_id, result))


class FaxDialOut(ChannelHandler):
    """One attempt to send one job on one line. Also what the outside gate's `commit` sees as the
    call (its maximum-duration limit clears it like any outside call: `ended`, `id`, `a`,
    `peer_of`, `far_end_gone`)."""

    def __init__(self, sender: FaxSender, job: PendingJob, line: FxoChannel) -> None:
        self.sender, self.job, self.line = sender, job, line
        self.engine = sender.engine
        self.a = line
        self.id = ""
        self.ended = False
        self.cancelled = False
        self.busy_heard = ""
        self.ringback_heard = False
        self.voice_heard = False
        self.fax_answered = False
        self.answered_at: float | None = None
        self.dialled_at: float | None = None
        self.link: Any = None
        self.too_long = False
        self.dropped = False                  # the line went away (not our hang-up)
        self._timer: Timer | None = None
        self._limit: Timer | None = None
        self.notes: list[tuple[float, str]] = []       # (seconds since the seizure, what happened)
        self.events: list[Any] = []                    # the terminal's T.30 frames and phases
        self.t0 = self.engine.clock.now()

    def note(self, text: str) -> None:
        self.notes.append((self.engine.clock.now() - self.t0, text))

    @property
    def transcript(self) -> list[str]:
        """Every step with its time: the call's notes and the T.30 dialogue, in time order."""
        offset = (self.dialled_at or self.t0) - self.t0
        return merge(self.notes, self.events, offset, self.job.pages)

    # ---- start: the gate at seizure, then dial
    def start(self) -> None:
        from ..apps.permissions import Origin
        eng, job, line = self.engine, self.job, self.line
        now = eng.clock.now()
        self.id = eng.new_call_id()
        src = job.box or "fax"
        eng.records.call_started(self.id, start=now, src=src, dst=job.number, direction="outbound",
                                 line=line.name, caller_id_number=None, caller_id_name=None)
        eng.publish_call(self.id, "started", src=src, dst=job.number, direction="outbound", line=line.name)
        self.sender.started(self, now)
        decision = eng.authorise_outside(Origin(extension=job.box or None, channel=line.name, via="fax"), job.number)
        if not decision.allowed:
            self.note(f"outbound permissions refused {job.number}: {decision.reason}")
            eng.records.set_reason(self.id, f"fax: {decision.reason}")
            self._end("denied", f"{KIND_WORDS['denied']} ({decision.reason})", record="denied")
            return
        eng.outside_policy.commit(self, line, decision)         # rate limit, maximum duration
        eng.records.set_reason(self.id, f"fax job {job.id}")
        line.handler = self
        line.listen_dtmf = False
        line.set_state("dialing", peer="fax", detail=f"fax to {job.number}")
        self.note(f"line {line.name} seized, dialling {job.number} "
                  f"(error correction {'on' if job.ecm else 'off'}, {MODEM_WORDS.get(job.modem, job.modem)})")
        line.dial(job.number, eng.settings.line_seize_ms, self._dialled)

    def _dialled(self) -> None:
        if self.ended:
            return
        eng, line, job = self.engine, self.line, self.job
        self.dialled_at = eng.clock.now()
        self.note("number dialled; calling tone (CNG) on, waiting for a fax machine to answer")
        line.data_mode = True                 # no canceller, NLP, comfort noise or DTMF: modem signals
        line.detect_fax = True                # the far end's answer tone (CED) says a fax machine answered
        line.set_state("ringback", peer="fax", detail=f"fax to {job.number}")
        svc = self.sender.svc
        document, ident, header = job.document, svc.ident, svc.settings.header
        cutoff = svc.v21_cutoffs.get(line.name)     # an installer's setting for this line, else the default
        made: list[FaxTerminal] = []

        def make_terminal() -> FaxTerminal:                  # fax thread
            made.append(FaxTerminal(calling=True, ident=ident, ecm=job.ecm, modem=job.modem, send=document,
                                    header=header, v21_cutoff_dbm0=cutoff))
            return made[0]

        def done(report: FaxReport) -> tuple[FaxReport, list]:        # fax thread: the log, off the tick
            return report, (made[0].events() if made else [])

        self.link = svc.open_link(line, make_terminal, done, self._finished)
        line.source = self.link
        eng.start_supervision(line, ("busy", "congestion"))
        eng.start_progress(line)
        self._timer = eng.timers.after_ms(ANSWER_WAIT_S * 1000, self._no_answer)
        limit_s = SESSION_BASE_S + SESSION_PER_PAGE_S * job.pages
        self._limit = eng.timers.after_ms(limit_s * 1000, lambda: self._too_long(limit_s))

    # ---- what the line says
    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        if self.fax_answered or self.ended:
            return
        if kind == "ringback_on" and not self.ringback_heard:
            self.ringback_heard = True
            self.note("ringback: the number is ringing")
        elif kind == "voice_on" and not self.voice_heard and self.ringback_heard:
            self.voice_heard = True
            self.note("sound after the ringing: answered (by a person or a machine)")

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if self.ended or kind != "start":
            return
        if tone in ("CED", "ANSam") and not self.fax_answered:
            self.fax_answered = True
            self.answered_at = at
            self.note(f"fax answer tone ({tone}) heard: a fax machine answered")
            self.engine.records.call_answered(self.id, at=at)
            self.engine.publish_call(self.id, "answered")
            self.line.set_state("in-call", peer="fax", detail=f"sending fax to {self.job.number}")
            self.engine.stop_progress(self.line)
            self._cancel_timer()
        elif tone in ("busy", "congestion") and self.fax_answered:
            # the exchange's tone after the far machine hung up (the busy detector is kept on
            # during the fax, as when receiving: fax signals do not look like it)
            self.note(f"{tone} tone: the far end hung up")
            self._hang_up_terminal(dropped=True)
        elif tone in ("busy", "congestion") and not self.busy_heard:
            self.busy_heard = tone
            self.note(f"{tone} tone heard")
            self._hang_up_terminal()

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event == "loop_drop" and not self.ended:
            self.note("the line dropped (loop current gone)")
            self._hang_up_terminal(dropped=True)

    def on_hangup(self, ch: Channel) -> None:
        if not self.ended:
            self.note("the line went away")
            self._hang_up_terminal(dropped=True)

    def _no_answer(self) -> None:
        self._timer = None
        if not self.fax_answered and not self.ended:
            self.note(f"no fax answer within {ANSWER_WAIT_S} s")
            self._hang_up_terminal()

    def _too_long(self, limit_s: int) -> None:
        self._limit = None
        if not self.ended:
            self.too_long = True
            self.note(f"no end of the fax session after {limit_s} s: hung up")
            self._hang_up_terminal()

    def cancel(self) -> None:
        if self.ended:
            return
        self.cancelled = True
        self.note("cancelled by the sender")
        self._hang_up_terminal()

    # the outside gate's maximum call duration ends a fax like any outside call
    def peer_of(self, ch: Channel) -> Channel | None:
        return None

    def far_end_gone(self, line: FxoChannel, why: str, unanswered: str | None = None) -> None:
        if not self.ended:
            self.note(f"call cleared: {why}")
            self._hang_up_terminal(dropped=True)

    def _hang_up_terminal(self, dropped: bool = False) -> None:
        self.dropped = self.dropped or dropped
        if self.link is not None:
            self.link.close()                 # the fax thread ends T.30; _finished follows
        else:
            self._finished(None)

    # ---- the end (media thread; the fax thread has finished with the terminal and its file)
    def _finished(self, outcome: tuple[FaxReport, list] | None) -> None:
        if self.ended:
            return
        report: FaxReport | None = None
        if outcome is not None:
            report, events = outcome
            self.events = list(events)
        kind, reason = self._classify(report)
        r = report
        if r is not None:
            if r.negotiated:
                self.note(f"in all: capabilities exchanged with {r.remote_ident or 'a fax machine (no id)'}")
            if r.pages_tx or r.bit_rate:
                self.note(f"in all: {r.pages_tx} of {self.job.pages} page(s) sent at {r.bit_rate} bit/s, "
                          f"error correction {'on' if r.ecm else 'off'}")
            self.note(f"phase E: T.30 result {r.result} ({r.result_text})")
        self.note(f"result: {reason}")
        disposition = "answered" if (self.fax_answered or (r is not None and r.negotiated)) else \
            "busy" if kind == "busy" else "no_answer" if kind == "no_answer" else "failed"
        if disposition == "answered" and not self.fax_answered:
            self.engine.records.call_answered(self.id, at=self.dialled_at or self.t0)
        self._end(kind, reason, record=disposition, report=report)

    def _classify(self, r: FaxReport | None) -> tuple[str, str]:
        if self.cancelled:
            return "cancelled", KIND_WORDS["cancelled"]
        if r is not None and r.result == 0 and r.done:
            return "ok", plain_reason(0)
        negotiated = r is not None and r.negotiated
        if self.busy_heard and not negotiated:
            if self.busy_heard == "congestion":
                return "busy", "The number could not be reached (congestion tone). It will be tried again."
            return "busy", KIND_WORDS["busy"]
        if not negotiated and not self.fax_answered:
            if self.dropped:
                return "call_dropped", plain_reason_of("call_dropped")
            if self.voice_heard:
                return "not_a_fax", plain_reason_of("not_a_fax")
            if self.ringback_heard:
                return "no_answer", KIND_WORDS["no_answer"]
        if r is None:
            return "call_dropped", plain_reason_of("call_dropped")
        kind = failure_kind(r.result)
        if negotiated and r.pages_tx == 0 and kind in ("protocol", "call_dropped"):
            # Capabilities exchanged, then not one page got through (whoever hung up): the modems
            # could not train at that speed. Retried later, slower, without ECM.
            return "training_failed", plain_reason_of("training_failed")
        if self.dropped and kind not in ("refused", "document"):
            return "call_dropped", plain_reason_of("call_dropped")
        return kind, plain_reason(r.result)

    def _end(self, kind: str, reason: str, record: str, report: FaxReport | None = None) -> None:
        self.ended = True
        self._cancel_timer()
        self._cancel_limit()
        eng, line = self.engine, self.line
        if line.handler is self:
            eng.stop_progress(line)
            line.handler = None
            line.release()
            line.silence()
            line.set_state("idle")
        now = eng.clock.now()
        eng.records.call_ended(self.id, at=now, disposition=record)
        eng.publish_call(self.id, "ended", disposition=record)
        r = report
        result = AttemptResult(
            kind=kind, reason=reason, at=now, result_code=None if r is None else r.result,
            result_text="" if r is None else r.result_text, pages_sent=0 if r is None else r.pages_tx,
            rate=0 if r is None else r.bit_rate, ecm=bool(r is not None and r.ecm), modem=self.job.modem,
            remote_ident="" if r is None else r.remote_ident, transcript=tuple(self.transcript))
        self.sender.finished(self, result)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cancel_limit(self) -> None:
        if self._limit is not None:
            self._limit.cancel()
            self._limit = None


def plain_reason_of(kind: str) -> str:
    return KINDS[kind]
