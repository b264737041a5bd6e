"""The campaign dialler on the media thread: progressive (dial when an agent is free) or preview
(the agent asks for the next number and dials it), over free lines, inside calling hours, never a
number on the do-not-call list, every number through the outbound permission gate
(`engine.authorise_outside`, and `Call.dial_line` asks it again before seizing a line).

An attempt rings the agent's phone first (caller ID: the number to be called); when the agent picks
up (or at once if the agent is off hook in headset mode) the number is dialled on a free line and
the agent hears the call progress. Once the far end answers, answering-machine detection
(`amd.py`) listens to the first seconds:

* a person: the result is `answered` (a contact), the agent talks;
* a machine: by the campaign's `machine_action`, `hangup` (result `machine`, tried again later),
  `message` (the agent is released, the recorded message is played after the machine's beep:
  `message_left`) or `agent` (the agent takes it anyway: `machine_agent`);
* the far end hangs up before saying anything (a silent quick hang-up): `hung_up`, no contact,
  tried again like busy and no answer;
* the agent hangs up before the detector has decided (agents drop a machine at its first
  words): `unknown`, no contact, tried again.

One decision per call: answer supervision (firmware/answer.py) says *when* it was answered (the
instant T and how it knew) or why not (busy, no answer, congestion, SIT); the detector alone says
*who* (human | machine | unknown; the supervision's own guess is not used, `_supervised_class`).
The call record keeps one reason, written once at the call's end (`amd.answer_reason`): T and how,
who and by which rule, and what was done. An "answered_by" live event tells the verdict (a silent
answer that says a word later: "unknown", then "human", the decision's final word).

Busy, no answer, failures, machines hung up on and silent hang-ups are retried after the campaign's
`retry_after_s`, up to `max_attempts`; a refusal by the gate's call-rate limit is not an attempt:
the number waits (at most `retry_after_s`, at the latest until the limit allows a call) and is
tried again; a real refusal (the number is not allowed) and the do-not-call list are final.
Results are queued to the campaigns store's writer thread, and every attempt and its result to
the durable queue event log (CAMPAIGNDIAL, CAMPAIGNRESULT; no I/O here)."""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from .amd import AmdSettings, AnsweringMachineDetector, answer_reason
from .model import within_hours

if TYPE_CHECKING:
    import numpy as np

    from ..engine import Engine
    from .store import CampaignStore

log = logging.getLogger("linebox.campaigns")

TICK_MS = 1000
AGENT_RING_MS = 20000
AMD_POLL_MS = 100
RETRYABLE = ("busy", "no_answer", "failed", "machine", "hung_up", "unknown")
BEEP_TO_MESSAGE_S = 1.0        # the message starts this long after a beep began (after the beep)
NO_BEEP_SILENCE_S = 2.0        # the greeting ended this long ago and no beep: speak anyway
MESSAGE_WAIT_MAX_S = 30.0      # a greeting still going after this long: speak anyway
SILENT_LISTEN_MAX_S = 30.0     # a silent answer is listened to this long for a first word, at most
DESK_GRACE_S = 20.0            # an agent's desk closed this long: their previewed number goes back
DESK_LEASE_S = 60.0            # a desk's event stream not renewed for this long counts as closed


@dataclass
class RunningCampaign:
    doc: dict
    tz: Any
    pending: list[dict]                           # rows not final, in list order
    in_flight: int = 0
    reserved: dict[str, dict] = field(default_factory=dict)     # preview: agent -> number row
    message: np.ndarray | None = None             # the recorded message for answering machines
    amd: AmdSettings = field(default_factory=AmdSettings)


class CampaignCall(Call):
    """The outbound leg of a campaign attempt: remembers how it ended, and keeps the line's
    call-progress analysis on after the answer for the attempt's answering-machine detection."""

    final_disposition = ""
    campaign_attempt: Attempt | None = None
    listens_after_answer = True
    agent_hung_up = False          # the agent put the phone down while the far end was still there

    def end(self, disposition: str) -> None:
        if not self.ended:
            self.final_disposition = disposition
        super().end(disposition)

    def on_hangup(self, ch: Channel) -> None:
        if ch is self.a and not self.ended:
            self.agent_hung_up = True
        super().on_hangup(ch)

    def _supervised_class(self, kind: str) -> None:
        """Answer supervision's own guess at who answered is not used: the attempt's detector
        (`amd.py`, with the campaign's settings) makes the one decision on the call."""

    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        super().on_progress(ch, kind, at)
        if self.campaign_attempt is not None and ch is self.b and not self.ended:
            self.campaign_attempt.on_progress(ch, kind, at)


class Attempt(ChannelHandler):
    """One number dialled for one agent. Also the agent's `connection` while it lasts (so queues
    do not offer them a call, and a supervisor may listen: `caller_ch`, `agent_ch`, `ended`).
    While a message is left on an answering machine it is the line's handler."""

    def __init__(self, dialer: CampaignDialer, run: RunningCampaign, row: dict, agent: Any, agent_ch: FxsChannel):
        self.dialer, self.run, self.row, self.agent, self.agent_ch = dialer, run, row, agent, agent_ch
        self.caller_ch: Channel | None = None
        self.call: CampaignCall | None = None
        self.ended = False
        self._timer: Timer | None = None
        self.amd: AnsweringMachineDetector | None = None
        self._amd_timer: Timer | None = None
        self.outcome = ""                      # the result told to the queue event log (once)
        self._status = ""
        self._leaving_message = False
        self._beep_at: float | None = None
        self._machine_at = 0.0
        self._message_started = False
        self._final_status = ""
        self._logged = False
        self._released = False
        self.verdict: tuple[str, str] | None = None   # the detector's (human | machine | unknown, cause)
        self.done_text = ""                    # what was done about it: the end of the call's one reason
        run.in_flight += 1
        agent.connection = self
        dialer.svc.publish(agent)
        dialer.waiting.add(self)                # a line is kept for this attempt until it dials
        if agent_ch.off_hook:                   # headset mode: dial at once
            self._dial()
        else:
            agent_ch.handler = self
            agent_ch.set_state("ringing", peer=f"campaign {run.doc['name']}", caller_id=row["number"])
            agent_ch.start_ringing(row["number"], (row.get("name") or None))
            self._timer = dialer.engine.timers.after_ms(AGENT_RING_MS, self._agent_missed)

    def on_answer(self, ch: Channel) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ch.handler = None
        self._dial()

    def on_hangup(self, ch: Channel) -> None:
        if self._leaving_message and ch is self.caller_ch:
            self._machine_gone("the answering machine hung up")
            return
        if self.call is None and not self.ended:            # before dialling: the number goes back
            self._finish_without_attempt()

    def _agent_missed(self) -> None:
        self._timer = None
        if self.call is None and not self.ended:
            self.agent_ch.stop_ringing()
            if self.agent_ch.handler is self:
                self.agent_ch.handler = None
                self.agent_ch.set_state("idle")
            self._finish_without_attempt()

    def _finish_without_attempt(self) -> None:
        self.dialer.waiting.discard(self)
        self.ended = True
        self.run.in_flight -= 1
        self.run.pending.insert(0, self.row)
        self.dialer.store.record_result(self.row["id"], status="pending", agent="")
        self._release_agent()

    def _release_agent(self) -> None:
        if self._released:
            return
        self._released = True
        if self.agent.connection is self:
            self.agent.connection = None
        self.dialer.svc.publish(self.agent)
        self.dialer.svc.kick()

    def _dial(self) -> None:
        eng, row, doc = self.dialer.engine, self.row, self.run.doc
        self.dialer.waiting.discard(self)
        ch = self.agent_ch
        line = eng.pick_line()
        if line is None:                        # the line went meanwhile (an inbound call): try later
            self._finish_without_attempt()
            if isinstance(ch, FxsChannel) and ch.off_hook:
                Parked(eng, ch, "congestion")
            return
        decision = self.dialer.gate(doc, ch.name, row["number"])
        if decision.retry_at is not None:       # the call-rate limit: not an attempt, the number waits
            self.ended = True
            self.run.in_flight -= 1
            self.dialer.defer(self.run, row, decision.retry_at, self.agent.username)
            self._release_agent()
            if isinstance(ch, FxsChannel) and ch.off_hook:
                Parked(eng, ch, "congestion")
            return
        row["attempts"] = int(row.get("attempts") or 0) + 1
        self.dialer.log_event("CAMPAIGNDIAL", doc["id"], self.agent.username, "NONE",
                              [row["number"], row["attempts"]])
        if not decision.allowed:
            self._result("denied", final=True)
            eng.outside_policy.record_denied(ch, decision.number, decision.reason)
            Parked(eng, ch, "congestion")
            return
        src = ch.extension or ch.name
        call = CampaignCall(eng, ch, "outbound", src, row["number"], line=line.name, cid_number=src)
        call.outside_decision = decision
        call.campaign_attempt = self
        self.call = call
        self.dialer.store.record_result(row["id"], status="dialling", attempts=row["attempts"],
                                        agent=self.agent.username, call_id=call.id, last_at=eng.clock.now())
        call.dial_line(line, row["number"])
        if not call.ended:
            self._timer = eng.timers.after_ms(int(doc["ring_s"]) * 1000, self._no_answer)

    def _no_answer(self) -> None:
        self._timer = None
        call = self.call
        if call is None or call.answered or call.ended:
            return
        if isinstance(call.b, FxoChannel):
            # (busy, congestion and SIT are answer supervision's reasons; this one is the ring time's)
            self.dialer.engine.records.set_reason(call.id, f"not answered within {int(self.run.doc['ring_s'])} s")
            call.far_end_gone(call.b, "campaign number not answered", "no_answer")

    # ---- after the answer: who is it?
    def call_event(self, call: Call, event: str) -> None:
        if event == "answered":
            self.caller_ch = call.b
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            at = call.answered_at if call.answered_at is not None else self.dialer.engine.clock.now()
            self.amd = AnsweringMachineDetector(self.run.amd, at, self._verdict)
            self._amd_timer = self.dialer.engine.timers.after_ms(AMD_POLL_MS, self._poll_amd)
            return
        if event != "ended" or self.ended:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._amd_timer is not None:
            self._amd_timer.cancel()
            self._amd_timer = None
        if call.answered:
            amd = self.amd
            if not self._status and self.verdict is None:       # gone before the detector's verdict
                heard = amd is not None and amd.heard_voice
                if isinstance(call, CampaignCall) and call.agent_hung_up:
                    # the agent put the phone down on whatever it was (agents drop machines at the
                    # first words): no contact; tried again like a machine
                    self.done_text = "the agent hung up before the verdict"
                    self._result("unknown")
                else:
                    self.done_text = "the far end hung up before the verdict"
                    self._result("answered" if heard else "hung_up", final=heard)
            elif not self._status:                              # a silent answer, then gone
                self.done_text = ("the agent hung up on the silence" if getattr(call, "agent_hung_up", False)
                                  else "the far end hung up without a word")
                self._result("hung_up")
            elif self._status in ("answered", "machine_agent"):
                self.ended = True
                self._release_agent()
            kind, cause = self.verdict if self.verdict is not None else (None, "")
            self.dialer.engine.records.set_reason(call.id, answer_reason(call, kind, cause, self.done_text))
            self._log_outcome()
            return
        disposition = getattr(call, "final_disposition", "") or "failed"
        self._result(disposition if disposition in RETRYABLE else "failed")

    def on_progress(self, ch: Channel, kind: str, at: float) -> None:
        amd = self.amd
        if amd is None:
            return
        if kind in ("voice_on", "voice_off"):
            amd.voice(kind == "voice_on", at)
            if kind == "voice_on" and amd.verdict == "silent" and not self._status:
                # the silent answer's "unknown" becomes a person: the decision's final word
                self.verdict = ("human", "word_after_silence")
                if self.call is not None:
                    self.call.answered_by = "human"
                    self.dialer.engine.publish_call(self.call.id, "answered_by", answered_by="human",
                                                    cause="word_after_silence")
                self.done_text = "talked to the agent"
                self._result("answered", final=True, keep_agent=True)       # a word after all: a contact
                self._done_listening()
        elif kind == "tone_on":
            if self._leaving_message:
                self._beep_at = at
            else:
                amd.beep(at)

    def _poll_amd(self) -> None:
        self._amd_timer = None
        amd, call = self.amd, self.call
        if amd is None or call is None or (call.ended and not self._leaving_message):
            return
        now = self.dialer.engine.clock.now()
        amd.poll(now)
        if self._leaving_message:
            self._maybe_speak(now)
        if self._leaving_message or amd.verdict is None:
            self._amd_timer = self.dialer.engine.timers.after_ms(AMD_POLL_MS, self._poll_amd)

    def _done_listening(self) -> None:
        if self.call is not None and not self._leaving_message:
            self.call.stop_listening()

    def _verdict(self, kind: str, cause: str) -> None:
        call, eng = self.call, self.dialer.engine
        if call is None or call.ended:
            return
        who = "unknown" if kind == "silent" else kind
        self.verdict = (who, f"silent, {cause}" if kind == "silent" else cause)
        call.answered_by = who
        eng.publish_call(call.id, "answered_by", answered_by=who, cause=cause)
        if kind == "human":
            self.done_text = "talked to the agent"
            self._result("answered", final=True, keep_agent=True)
            self._done_listening()
            return
        if kind == "silent":                    # the agent stays; a word later makes it a contact
            self._timer = eng.timers.after_ms(int(SILENT_LISTEN_MAX_S * 1000), self._silent_too_long)
            return
        action = self.run.doc.get("machine_action", "hangup")
        if action == "agent":
            self.done_text = "passed to the agent anyway"
            self._result("machine_agent", final=True, keep_agent=True)
            self._done_listening()
        elif action == "message" and self.run.message is not None and isinstance(call.b, FxoChannel):
            self._leave_message(call, call.b)
        else:
            self._status = "machine"            # (the call's end, next, is not a result of its own)
            self.done_text = "hung up on"
            if isinstance(call.b, FxoChannel):
                call.far_end_gone(call.b, "answering machine: hung up")
            self._result("machine")

    def _silent_too_long(self) -> None:
        """A silent answer the agent has stayed on this long: a contact (whatever the analyser
        missed), and the line's analysis stops (it is work on the media thread)."""
        self._timer = None
        call = self.call
        if call is None or call.ended or self._status:
            return
        self.done_text = "the agent stayed on the silent call: taken as a contact"
        self._result("answered", final=True, keep_agent=True)
        self._done_listening()

    # ---- leaving the recorded message on an answering machine
    def _leave_message(self, call: CampaignCall, line: FxoChannel) -> None:
        eng = self.dialer.engine
        self._leaving_message = True
        self._machine_at = eng.clock.now()
        line.handler = self                     # the line's events come here until the message is left
        line.silence()
        line.set_state(line.state, peer="campaign message", detail=f"{call.dst}: waiting for the beep")
        agent_ch = self.agent_ch
        if agent_ch.handler is call:            # the agent goes on to the next call
            if agent_ch.off_hook:
                Parked(eng, agent_ch, "busy")
            else:
                agent_ch.handler = None
                agent_ch.set_state("idle")
        self._status = "leaving_message"
        self._release_agent()

    def _maybe_speak(self, now: float) -> None:
        amd = self.amd
        if self._message_started or amd is None:
            return
        quiet_since = amd.spurts[-1][1] if amd.spurts else self._machine_at
        if self._beep_at is not None:
            due = now - self._beep_at >= BEEP_TO_MESSAGE_S
        else:
            due = now - quiet_since >= NO_BEEP_SILENCE_S or now - self._machine_at >= MESSAGE_WAIT_MAX_S
        if not due:
            return
        line = self.caller_ch
        if not isinstance(line, FxoChannel) or self.run.message is None:
            return
        self._message_started = True
        if self.call is not None:
            self.call.stop_listening()
        line.set_state(line.state, peer="campaign message", detail="leaving the message")
        line.play(self.run.message, on_done=self._message_done)

    def _message_done(self) -> None:
        if not self._leaving_message:
            return
        self._leaving_message = False
        self._finish_machine_call("answering machine: message left")
        self._status = ""
        self._result("message_left", final=True)

    def _machine_gone(self, why: str) -> None:
        if not self._leaving_message:
            return
        self._leaving_message = False
        self._finish_machine_call(why)
        self._status = ""
        self._result("machine")

    def on_line_event(self, ch: Channel, event: str) -> None:
        if event in ("loop_drop", "polarity_reversal"):
            self._machine_gone("the answering machine hung up")

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if kind == "start" and tone in ("busy", "congestion", "line_busy", "disconnect"):
            self._machine_gone(f"{tone} tone")

    def _finish_machine_call(self, why: str) -> None:
        line, call = self.caller_ch, self.call
        if self._amd_timer is not None:
            self._amd_timer.cancel()
            self._amd_timer = None
        if isinstance(line, FxoChannel):
            line.silence()
            line.release()
            if line.handler is self:
                line.handler = None
            line.set_state("idle")
        if call is not None and not call.ended:
            self.done_text = why
            call.end("answered")

    # ---- results
    def _result(self, result: str, final: bool = False, keep_agent: bool = False) -> None:
        """The number's result (store, live event); the attempt leaves the in-flight count (with
        `keep_agent` the agent stays on the call: released, and the result logged, at its end)."""
        eng, row, doc, run = self.dialer.engine, self.row, self.run.doc, self.run
        now = eng.clock.now()
        if final or row["attempts"] >= int(doc["max_attempts"]):
            status, not_before = result, 0.0
        else:
            status, not_before = "pending", now + int(doc["retry_after_s"])
            row["not_before"] = not_before
            run.pending.append(row)
        row["status"] = status
        self._status = result
        self.outcome, self._final_status = result, status
        self.dialer.store.record_result(row["id"], status=status, attempts=row["attempts"], last_result=result,
                                        last_at=now, not_before=not_before, agent=self.agent.username)
        eng.control.publish(_event({"campaign": doc["id"], "number_id": row["id"], "result": result,
                                    "status": status}))
        run.in_flight -= 1
        if not keep_agent:
            self.ended = True
            self._release_agent()
            self._log_outcome()
        self.dialer.check_done(run)

    def _log_outcome(self) -> None:
        if not self.outcome or self._logged:
            return
        self._logged = True
        call = self.call
        talk = 0
        if call is not None and call.answered_at is not None and self.outcome in ("answered", "machine_agent"):
            talk = max(0, round(self.dialer.engine.clock.now() - call.answered_at))
        self.dialer.log_event("CAMPAIGNRESULT", self.run.doc["id"], self.agent.username,
                              call.id if call is not None else "NONE",
                              [self.row["number"], self.outcome, talk, self._final_status])


def _event(payload: dict) -> Any:
    from ..control import StatusUpdate
    return StatusUpdate("campaign", payload=payload)


class CampaignDialer:
    def __init__(self, engine: Engine, svc: Any, data_dir: Any) -> None:
        self.engine, self.svc, self.data_dir = engine, svc, data_dir
        self._store: CampaignStore | None = None
        self.runs: dict[str, RunningCampaign] = {}
        self.dnc: set[str] = set()
        self.waiting: set[Attempt] = set()      # attempts ringing their agent: each will need a line
        # agent -> [desk event streams open, when that last changed] (`desk_watch`): a previewed
        # number stays with an agent while their desk is open, and goes back DESK_GRACE_S after
        self.desks: dict[str, list] = {}
        self.desk_grace_s = DESK_GRACE_S
        engine.call_listeners.append(self._call_event)
        self._timer = engine.timers.after_ms(TICK_MS, self._tick)

    @property
    def store(self) -> CampaignStore:
        """DATA/campaigns.db, opened on first use (a box that runs no campaign has no such file).
        Only ever first used from a command (store thread) or at start-up, never on the tick."""
        if self._store is None or self._store.closed:
            from .store import store_at
            self._store = store_at(self.data_dir)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # ---- control (media thread, from commands)
    def load(self, doc: dict, tz: Any, rows: list[dict], dnc: set[str], store: CampaignStore | None = None,
             message: np.ndarray | None = None) -> None:
        """Run campaign `doc` over `rows`; `message`: the recorded message for answering machines
        (loaded off the tick by the caller)."""
        if store is not None:
            self._store = store                 # opened by the command (store thread): nothing to open here
        self.dnc = set(dnc)
        self.runs[doc["id"]] = RunningCampaign(doc, tz, list(rows), message=message,
                                               amd=AmdSettings.from_doc(doc.get("amd")))

    # ---- the gate, deferrals and the event log
    def gate(self, doc: dict, channel: str | None, number: str) -> Any:
        """The outbound permission gate's decision for campaign `doc` calling `number`."""
        from ..apps.permissions import Origin
        origin = Origin(extension=doc["caller_extension"], channel=channel, via="campaign")
        return self.engine.authorise_outside(origin, number)

    def defer(self, run: RunningCampaign, row: dict, retry_at: float, agent: str = "") -> None:
        """The gate's call-rate limit refused `row` for now: not an attempt; it is tried again
        after the campaign's retry time, or as soon as the limit allows a call if that is sooner."""
        now = self.engine.clock.now()
        not_before = min(retry_at, now + int(run.doc["retry_after_s"]))
        row["not_before"] = not_before
        row["status"] = "pending"
        run.pending.append(row)
        self.store.record_result(row["id"], status="pending", last_result="rate_limited", last_at=now,
                                 not_before=not_before)
        self.engine.control.publish(_event({"campaign": run.doc["id"], "number_id": row["id"],
                                            "result": "rate_limited", "status": "pending"}))
        self.log_event("CAMPAIGNRESULT", run.doc["id"], agent or "NONE", "NONE",
                       [row["number"], "rate_limited", 0, "pending"])

    def log_event(self, verb: str, campaign: str, agent: str, call_id: str, data: list) -> None:
        """An attempt or its result in the durable queue event log (queued to the records writer)."""
        self.svc.events.log(verb, call_id=call_id, agent=agent or "NONE", data=[campaign, *data])

    def stop(self, cid: str) -> None:
        self.runs.pop(cid, None)

    def check_done(self, run: RunningCampaign) -> None:
        if not run.pending and run.in_flight <= 0 and not run.reserved and self.runs.get(run.doc["id"]) is run:
            self.runs.pop(run.doc["id"], None)
            cid = run.doc["id"]
            self.store.put(lambda db: db.execute("UPDATE campaigns SET state = 'done' WHERE id = ?", (cid,)))
            self.engine.control.publish(_event({"campaign": cid, "state": "done"}))

    # ---- the dialling decision, once a second
    def _tick(self) -> None:
        self._timer = self.engine.timers.after_ms(TICK_MS, self._tick)
        for run in list(self.runs.values()):
            if run.reserved:
                self._release_absent(run)
            if run.doc["mode"] == "progressive":
                try:
                    self._progress(run)
                except Exception:      # a broken campaign must not stop the others or the tick
                    log.exception("campaign %s: dialling failed", run.doc["id"])

    def _due(self, run: RunningCampaign) -> dict | None:
        now = self.engine.clock.now()
        for i, row in enumerate(run.pending):
            if float(row.get("not_before") or 0) <= now:
                return run.pending.pop(i)
        return None

    def _take(self, run: RunningCampaign) -> dict | None:
        """The next number due, skipping (and recording) numbers on the do-not-call list."""
        while True:
            row = self._due(run)
            if row is None or row["number"] not in self.dnc:
                return row
            row["status"] = "dnc"
            self.store.record_result(row["id"], status="dnc", last_result="dnc", last_at=self.engine.clock.now())

    def _progress(self, run: RunningCampaign) -> None:
        if not within_hours(run.doc, self.engine.clock.now(), run.tz):
            return
        for username in run.doc["agents"]:
            agent = self.svc.agents.get(username)
            if agent is None or not self.svc.is_free(agent) or self.free_lines() <= 0:
                continue
            row = self._take(run)
            if row is None:
                self.check_done(run)
                return
            decision = self.gate(run.doc, None, row["number"])
            if decision.retry_at is not None:   # over the call-rate limit: wait, do not ring the agent
                self.defer(run, row, decision.retry_at, username)
                continue
            Attempt(self, run, row, agent, self.svc.channel_of(agent))

    def free_lines(self) -> int:
        """Lines free for a new attempt: free lines less those kept for attempts ringing their agent."""
        return sum(1 for line in self.engine.fxo if line.available) - len(self.waiting)

    # ---- preview reservations and the agent's presence
    def desk_watch(self, username: str, open_: bool) -> None:
        """Agent `username`'s desk opened (`open_`) or closed an event stream (the web's desk page
        follows one, renewed every 25 s)."""
        now = self.engine.clock.now()
        d = self.desks.setdefault(username, [0, now])
        d[0] = d[0] + 1 if open_ else max(0, d[0] - 1)
        d[1] = now

    def desk_gone(self, username: str) -> bool:
        """Has agent `username`'s desk been closed for longer than the grace time? An agent
        never seen on a desk (an API client) is not gone: their reservation waits for them."""
        d = self.desks.get(username)
        if d is None:
            return False
        quiet = self.engine.clock.now() - d[1]
        return quiet > self.desk_grace_s + (DESK_LEASE_S if d[0] > 0 else 0.0)

    def _release_absent(self, run: RunningCampaign) -> None:
        for username in list(run.reserved):
            agent = self.svc.agents.get(username)
            status = getattr(agent, "status", "logged_out")
            why = ("logged out" if status == "logged_out" else "paused" if status == "paused"
                   else "desk closed" if self.desk_gone(username) else "")
            if why:
                self.release_preview(run, username, why)

    def release_preview(self, run: RunningCampaign, username: str, why: str) -> None:
        """The number agent `username` was previewing goes back to the front of the list."""
        row = run.reserved.pop(username, None)
        if row is None:
            return
        run.pending.insert(0, row)
        log.info("campaign %s: %s's previewed number back in the list (%s)", run.doc["id"], username, why)
        self.engine.control.publish(_event({"campaign": run.doc["id"], "number_id": row["id"], "result": "released",
                                            "status": "pending", "agent": username, "why": why,
                                            "number": row["number"]}))

    # ---- preview
    def preview_next(self, cid: str, username: str) -> dict | None:
        run = self.runs.get(cid)
        if run is None:
            return None
        if username in run.reserved:
            return run.reserved[username]
        row = self._take(run)
        if row is not None:
            run.reserved[username] = row
        else:
            self.check_done(run)
        return row

    def preview_dial(self, cid: str, agent: Any) -> dict:
        run = self.runs[cid]
        row = run.reserved.pop(agent.username)
        Attempt(self, run, row, agent, self.svc.channel_of(agent))
        return row

    def preview_skip(self, cid: str, username: str, final: bool, status: str = "skipped") -> dict | None:
        """The previewed number back in the list, or (`final`) done with as `status` (skipped, dnc)."""
        run = self.runs.get(cid)
        row = run.reserved.pop(username, None) if run else None
        if row is None or run is None:
            return None
        if final:
            row["status"] = status
            self.store.record_result(row["id"], status=status, last_result=status, agent=username,
                                     last_at=self.engine.clock.now())
            self.check_done(run)
        else:
            run.pending.append(row)
        return row

    def _call_event(self, call: Call, event: str) -> None:
        attempt = getattr(call, "campaign_attempt", None)
        if attempt is not None:
            attempt.call_event(call, event)


_DIALERS: weakref.WeakKeyDictionary[Any, CampaignDialer] = weakref.WeakKeyDictionary()


def dialer_of(engine: Engine) -> CampaignDialer | None:
    return _DIALERS.get(engine)


def register(engine: Engine) -> CampaignDialer | None:
    """Start the dialler (after the call center); resume campaigns that were running."""
    from pathlib import Path

    from ..callcenter import service_of
    from .store import FINAL
    svc = service_of(engine)
    path = getattr(engine.records, "path", None)
    if svc is None or path is None:
        return None
    data_dir = Path(path).parent
    dialer = _DIALERS[engine] = CampaignDialer(engine, svc, data_dir)
    engine.shutdown_listeners.append(dialer.close)
    if not (data_dir / "campaigns.db").exists():
        return dialer
    try:
        store = dialer.store
        for doc in store.campaigns():
            if doc["state"] == "running":
                dialer.load(doc, site_tz(engine.config), resumable(store, doc, FINAL), store.dnc())
    except Exception:  # noqa: BLE001 - a damaged campaigns.db must not stop the PBX
        log.exception("campaigns: could not resume the running campaigns")
    return dialer


def site_tz(config: Any) -> Any:
    from zoneinfo import ZoneInfo
    try:
        return ZoneInfo(str(config.settings().get("timezone") or "UTC"))
    except Exception:  # noqa: BLE001 - an unknown zone: UTC
        return ZoneInfo("UTC")


def resumable(store: Any, doc: dict, final: tuple[str, ...]) -> list[dict]:
    rows = store.numbers(doc["id"])
    return [r for r in rows if r["status"] not in final and not (r["status"] in RETRYABLE
                                                                 and r["attempts"] >= doc["max_attempts"])]


def agent_channel_ok(ch: Channel | None) -> bool:
    return isinstance(ch, FxsChannel) and ch.usable
