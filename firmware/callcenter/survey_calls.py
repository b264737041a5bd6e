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
  says when someone answers; then the survey is played on the line and keys 1-5 answer it.
* Busy, no answer (45 s), or a failed line: retried once, N minutes later; then SURVEYCALLEND
  gave_up. Events: SURVEYCALL number | attempt, SURVEYCALLEND number | result | attempts.

Everything runs on the media thread (timers, the call's events); nothing here touches a disk.
Pending follow-ups live in memory: a restart forgets the ones not yet made (said in README).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..apps.permissions import Origin
from ..calls import Call
from ..channels import Channel, FxoChannel
from ..clock import Timer

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.callcenter")

ATTEMPTS = 2                  # the first call and one retry
RING_S = 45                   # not answered within this: no_answer
RECHECK_S = 60                # closed hours or no free line: look again this much later
MAX_PENDING = 500             # follow-ups waiting at once (the oldest beyond this are dropped)


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


class SurveyLineCall(Call):
    """The box's own outside call on a line (no phone): `a` and `b` are the line; nothing is
    bridged to it. It remembers how it ended (busy, no answer, ...)."""

    final_disposition = ""
    follow_up: FollowUp | None = None

    def _bridge(self, x: Channel, y: Channel) -> None:
        x.listen_dtmf = True                      # the survey's keys; no peer to hear

    def _keep_backlog(self) -> None:
        pass                                      # nothing records a survey call: no audio kept

    def end(self, disposition: str) -> None:
        if not self.ended:
            self.final_disposition = disposition
        super().end(disposition)


class FollowUpSurveys:
    """The follow-up survey calls of one call center (`QueueService.follow_ups`)."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.engine: Engine = svc.engine
        self.pending: dict[str, FollowUp] = {}
        svc.engine.call_listeners.append(self._call_event)

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
        f = FollowUp(call_id, queue, agent, number)
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

    # ---- the call's outcome (engine call events, media thread)
    def _call_event(self, call: Call, event: str) -> None:
        f = getattr(call, "follow_up", None)
        if not isinstance(call, SurveyLineCall) or f is None or f.done or f.call is not call:
            return
        if event == "answered":
            line = call.b
            if not isinstance(line, FxoChannel):
                return
            self.engine.stop_progress(line)
            q = self.svc.queues.get(f.queue, {})
            survey = self.svc.surveys.get(q.get("survey", ""))
            if survey is None:
                return
            from .service import SurveySession
            SurveySession(self.svc, line, call, f.queue, f.agent, survey, record_as=f.call_id, intro=True)
            f.history.append("answered")
        elif event == "ended":
            if call.answered:
                self._end(f, "answered")
                return
            result = {"busy": "busy", "no_answer": "no_answer", "denied": "denied"}.get(call.final_disposition,
                                                                                         "failed")
            f.history.append(result)
            if result == "denied":
                self._end(f, "denied")
            elif f.attempts >= ATTEMPTS:
                self._end(f, "gave_up")
            else:
                minutes = int(self.svc.queues.get(f.queue, {}).get("survey_call_min") or 1)
                self._later(f, minutes * 60)

    def _end(self, f: FollowUp, result: str) -> None:
        if f.done:
            return
        f.done = True
        if f.timer is not None:
            f.timer.cancel()
        self.pending.pop(f.call_id, None)
        detail = result if result != "gave_up" else "gave_up:" + ",".join(f.history)
        self.svc.events.log("SURVEYCALLEND", call_id=f.call_id, queue=f.queue, agent=f.agent,
                            data=[f.number, detail[:60], f.attempts])
        log.info("follow-up survey call for %s: %s after %d attempt(s)", f.call_id, result, f.attempts)


__all__ = ["FollowUpSurveys", "FollowUp", "SurveyLineCall", "ATTEMPTS", "RING_S"]
