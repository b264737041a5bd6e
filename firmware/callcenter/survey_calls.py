"""The automated follow-up survey call: after a queue call, the box calls the customer back and
asks the queue's survey (the same `SurveySession` as the survey on the line), answers logged as
SURVEY events against the original queue call, so the reports' satisfaction figures count them.

Per queue (`survey` + `survey_call_min` N > 0, `survey_as`): when a queue call from an outside
line completes (COMPLETEAGENT / COMPLETECALLER), a follow-up is due N minutes later.
* Calling hours: the queue's business hours (`hours`, as callbacks); outside them the call
  waits until they open (checked each minute).
* The outbound gate decides with the class of service of extension `survey_as`, `via="callback"`
  (and again when the line is seized); refused: SURVEYCALLEND denied, no retry.
* No free line: tried again each minute (not counted as an attempt).
* The box dials on a free line with no phone: the line's answer supervision (firmware/answer.py)
  says when someone answers; then the campaigns' answering-machine detector
  (firmware/campaigns/amd.py) listens to the first seconds, and that is the one decision on who
  answered (the supervision's own guess is not used):
  - a person ("Hello?" then waiting), or silence (someone who picked up and waits): the survey
    is played on the line and keys 1-5 answer it;
  - an answering machine: the box hangs up at once, leaving no message, and the attempt counts
    as `machine` (tried again per the policy below). Why no message: a survey is answered with
    the person's keys, which a recording cannot collect; a message would ask a customer to call
    back a box that has nothing for them (there is no inbound survey), and it says nothing a later
    attempt cannot. Hung up before its beep, the machine records nothing (or a silent second).
* Busy, no answer (45 s), a failed line, a machine, or an answer hung up before the detector
  decided: retried once, N minutes later; then SURVEYCALLEND gave_up:<results>.
  Events: SURVEYCALL number | attempt, SURVEYCALLEND number | result | attempts.

Durable: each follow-up is a row of `survey_calls` in the call records database (the records
writer thread is that store's one writer; the media thread only queues the row changes): due
time (`next_try`), attempts, results so far, and the final result with `done`. At start-up the
rows not done are read back and made when due (a row caught mid-call by a crash is due at once;
its attempt is counted). Everything else runs on the media thread (timers, the call's events);
nothing here touches a disk there.
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..apps.permissions import Origin
from ..calls import Call
from ..campaigns.amd import AmdSettings, AnsweringMachineDetector, answer_reason
from ..channels import Channel, FxoChannel
from ..clock import Timer

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.callcenter")

ATTEMPTS = 2                  # the first call and one retry
RING_S = 45                   # not answered within this: no_answer
RECHECK_S = 60                # closed hours or no free line: look again this much later
MAX_PENDING = 500             # follow-ups waiting at once (the oldest beyond this are dropped)
AMD_POLL_MS = 100
TABLE = "survey_calls"
RETRIED = ("busy", "no_answer", "failed", "machine", "hung_up")


@dataclass
class FollowUp:
    call_id: str              # the original queue call: answers are logged against it
    queue: str
    agent: str
    number: str
    attempts: int = 0
    timer: Timer | None = None
    call: SurveyLineCall | None = None
    done: bool = False
    history: list[str] = field(default_factory=list)
    row_id: int = 0           # its row in survey_calls (0: not kept, no records database)
    next_try: float = 0.0


class SurveyLineCall(Call):
    """The box's own outside call on a line (no phone): `a` and `b` are the line; nothing is
    bridged to it. It remembers how it ended (busy, no answer, ...) and, once answered, listens
    with the answering-machine detector until it knows who answered."""

    final_disposition = ""
    follow_up: FollowUp | None = None
    listens_after_answer = True
    detector: AnsweringMachineDetector | None = None
    verdict: tuple[str, str] | None = None
    outcome = ""

    def _bridge(self, x: Channel, y: Channel) -> None:
        x.listen_dtmf = True                      # the survey's keys; no peer to hear

    def _keep_backlog(self) -> None:
        pass                                      # nothing records a survey call: no audio kept

    def _supervised_class(self, kind: str) -> None:
        pass                                      # who answered is the detector's one decision

    def end(self, disposition: str) -> None:
        if not self.ended:
            self.final_disposition = disposition
        super().end(disposition)

    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        super().on_progress(ch, kind, at)
        amd = self.detector
        if amd is None or self.ended or ch is not self.b or amd.verdict is not None:
            return
        if kind in ("voice_on", "voice_off"):
            amd.voice(kind == "voice_on", at)
        elif kind == "tone_on":
            amd.beep(at)


class FollowUpSurveys:
    """The follow-up survey calls of one call center (`QueueService.follow_ups`)."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.engine: Engine = svc.engine
        self.pending: dict[str, FollowUp] = {}
        self.amd = AmdSettings()
        self._insert: Any = None
        self._update: Any = None
        self._next_id = 1
        self._open_table()
        svc.engine.call_listeners.append(self._call_event)

    # ---- the durable rows (read at start-up; changes queued to the records writer)
    def _open_table(self) -> None:
        records = self.engine.records
        prepare, query = getattr(records, "prepare", None), getattr(records, "query", None)
        if prepare is None or query is None:
            return                                # records without tables (a bare engine): memory only
        try:
            prepare(TABLE)
            rows = query(f"SELECT * FROM {TABLE} WHERE done IS NULL ORDER BY id")
            self._next_id = int(query(f"SELECT COALESCE(MAX(id), 0) AS n FROM {TABLE}")[0]["n"]) + 1
        except (ValueError, OSError, sqlite3.Error) as exc:
            log.error("follow-up survey calls: their table cannot be read (%s); kept in memory only", exc)
            return
        self._insert, self._update = records.insert, records.update_row
        now = self.engine.clock.now()
        for r in rows[-MAX_PENDING:]:
            f = FollowUp(r["call_id"], r["queue"], r["agent"], r["number"], attempts=int(r["attempts"]),
                         history=[h for h in str(r["history"]).split(",") if h], row_id=int(r["id"]),
                         next_try=float(r["next_try"]))
            self.pending[f.call_id] = f
            self._later(f, max(0.0, f.next_try - now))
        if rows:
            log.info("follow-up survey calls: %d not yet made, resumed", len(rows))

    def _keep(self, f: FollowUp, **values: Any) -> None:
        if f.row_id and self._update is not None:
            self._update(TABLE, f.row_id, **values)

    # ---- scheduling
    def after_queue_call(self, call_id: str, queue: str, agent: str, number: str, from_line: bool) -> None:
        """A queue call completed: due a follow-up survey call if its queue asks for one."""
        q = self.svc.queues.get(queue, {})
        minutes = int(q.get("survey_call_min") or 0)
        survey = self.svc.surveys.get(q.get("survey", ""))
        if not minutes or survey is None or not from_line or not number or call_id in self.pending:
            return
        if len(self.pending) >= MAX_PENDING:
            oldest = next(iter(self.pending))
            self._end(self.pending[oldest], "dropped")
        now = self.engine.clock.now()
        f = FollowUp(call_id, queue, agent, number, next_try=now + minutes * 60)
        if self._insert is not None:
            f.row_id, self._next_id = self._next_id, self._next_id + 1
            self._insert(TABLE, id=f.row_id, call_id=call_id, queue=queue, agent=agent, number=number,
                         created=now, next_try=f.next_try)
        self.pending[call_id] = f
        self._later(f, minutes * 60)

    def _later(self, f: FollowUp, seconds: float) -> None:
        if f.timer is not None:
            f.timer.cancel()
        f.timer = self.engine.timers.after_ms(int(seconds * 1000), lambda: self._attempt(f))

    # ---- one attempt
    def _attempt(self, f: FollowUp) -> None:
        f.timer = None
        if f.done:
            return
        svc, eng = self.svc, self.engine
        q = svc.queues.get(f.queue)
        survey = svc.surveys.get((q or {}).get("survey", ""))
        if q is None or survey is None or not q.get("survey_call_min"):
            self._end(f, "cancelled")                 # the owner turned it off meanwhile
            return
        if not svc.open_for_callbacks(f.queue):
            self._later(f, RECHECK_S)                 # outside calling hours
            return
        origin = Origin(extension=q.get("survey_as") or None, channel=None, via="callback")
        decision = eng.authorise_outside(origin, f.number)
        if not decision.allowed:
            self._end(f, "denied")
            return
        line = eng.pick_line()
        if line is None:
            self._later(f, RECHECK_S)
            return
        f.attempts += 1
        f.next_try = eng.clock.now()                  # a restart during the call: due again at once
        self._keep(f, attempts=f.attempts, next_try=f.next_try)
        svc.events.log("SURVEYCALL", call_id=f.call_id, queue=f.queue, agent=f.agent, data=[f.number, f.attempts])
        src = q.get("survey_as") or "survey"
        call = SurveyLineCall(eng, line, "outbound", src, f.number, line=line.name, cid_number=src)
        call.follow_up = f
        call.outside_decision = decision
        f.call = call
        call.dial_line(line, f.number)
        if call.ended:
            return                                    # refused at seizure: its "ended" event said so
        call.after(RING_S * 1000, lambda: self._ring_timeout(call))

    def _ring_timeout(self, call: SurveyLineCall) -> None:
        line = call.b
        if not call.answered and not call.ended and isinstance(line, FxoChannel):
            call.far_end_gone(line, "survey call not answered", "no_answer")

    # ---- who answered (media thread)
    def _listen(self, call: SurveyLineCall) -> None:
        at = call.answered_at if call.answered_at is not None else self.engine.clock.now()
        call.detector = AnsweringMachineDetector(self.amd, at, lambda kind, cause: self._verdict(call, kind, cause))
        self.engine.timers.after_ms(AMD_POLL_MS, lambda: self._poll(call))

    def _poll(self, call: SurveyLineCall) -> None:
        amd = call.detector
        if amd is None or call.ended or amd.verdict is not None:
            return
        amd.poll(self.engine.clock.now())
        if amd.verdict is None:
            self.engine.timers.after_ms(AMD_POLL_MS, lambda: self._poll(call))

    def _verdict(self, call: SurveyLineCall, kind: str, cause: str) -> None:
        f = call.follow_up
        line = call.b
        if call.ended or f is None or f.done or not isinstance(line, FxoChannel):
            return
        who = "unknown" if kind == "silent" else kind
        call.verdict = (who, cause)
        call.answered_by = who
        self.engine.publish_call(call.id, "answered_by", answered_by=who, cause=cause)
        call.stop_listening()
        if kind == "machine":
            call.outcome = "hung up on the answering machine, no message"
            call.far_end_gone(line, "answering machine: hung up")
            return
        q = self.svc.queues.get(f.queue, {})
        survey = self.svc.surveys.get(q.get("survey", ""))
        if survey is None:
            call.outcome = "survey removed meanwhile"
            call.far_end_gone(line, "survey removed")
            return
        from .service import SurveySession
        call.outcome = "survey asked"
        SurveySession(self.svc, line, call, f.queue, f.agent, survey, record_as=f.call_id, intro=True)

    # ---- the call's outcome (engine call events, media thread)
    def _call_event(self, call: Call, event: str) -> None:
        f = getattr(call, "follow_up", None)
        if not isinstance(call, SurveyLineCall) or f is None or f.done or f.call is not call:
            return
        if event == "answered":
            line = call.b
            if not isinstance(line, FxoChannel):
                return
            self._listen(call)                        # the line's analysis goes on (listens_after_answer)
        elif event == "ended":
            if call.answered:
                kind, cause = call.verdict if call.verdict is not None else (None, "")
                if kind is None:
                    call.outcome = "hung up before the detector decided"
                self.engine.records.set_reason(call.id, answer_reason(call, kind, cause, call.outcome))
                if call.verdict is not None and call.verdict[0] != "machine":
                    self._end(f, "answered")
                    return
                result = "machine" if kind == "machine" else "hung_up"
            else:
                result = {"busy": "busy", "no_answer": "no_answer", "denied": "denied"}.get(
                    call.final_disposition, "failed")
            f.history.append(result)
            if result == "denied":
                self._end(f, "denied")
            elif f.attempts >= ATTEMPTS:
                self._end(f, "gave_up")
            else:
                minutes = int(self.svc.queues.get(f.queue, {}).get("survey_call_min") or 1)
                f.next_try = self.engine.clock.now() + minutes * 60
                self._keep(f, next_try=f.next_try, history=",".join(f.history)[:200])
                self._later(f, minutes * 60)

    def _end(self, f: FollowUp, result: str) -> None:
        if f.done:
            return
        f.done = True
        if f.timer is not None:
            f.timer.cancel()
        self.pending.pop(f.call_id, None)
        detail = result if result != "gave_up" else "gave_up:" + ",".join(f.history)
        self._keep(f, done=self.engine.clock.now(), result=detail[:60], history=",".join(f.history)[:200],
                   attempts=f.attempts)
        self.svc.events.log("SURVEYCALLEND", call_id=f.call_id, queue=f.queue, agent=f.agent,
                            data=[f.number, detail[:60], f.attempts])
        log.info("follow-up survey call for %s: %s after %d attempt(s)", f.call_id, result, f.attempts)


__all__ = ["FollowUpSurveys", "FollowUp", "SurveyLineCall", "ATTEMPTS", "RING_S"]
