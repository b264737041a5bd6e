"""Transfer of a queue call to an outside number (the agent desktop's blind and attended transfer).

The outbound gate decides first (`engine.authorise_outside`, asked by the caller of these
functions with `outside_origin`), and again when the line is seized (`Call.dial_line`). An
outside caller sent to an outside line needs the owner's trunk-to-trunk permission for
transfers; the two lines are then joined with the usual trunk-to-trunk loss (the two line hybrids
face each other).

* blind (`send_caller_out`): the caller's own leg dials the number on a free line and hears the
  exchange (ringback, then the far party);
* attended (`OutsideConsultation`): the caller hears music while the agent's phone talks to the
  number on a line (its own call record); completing (or the agent hanging up) joins the caller
  to that line (`OutsideConsultation.join_caller`); the far end hanging up or busy brings the
  agent back to the caller (`owner.consultation_over()`), as a consultation with a colleague.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..apps.permissions import DurationLimit, Origin
from ..apps.transfer import PaddedAudio
from ..calls import Call
from ..channels import Channel, FxoChannel, FxsChannel

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.callcenter")


def outside_origin(agent_extension: str | None, agent_ch: Channel, caller_ch: Channel) -> Origin:
    """Who asks the gate: the agent's extension (its class of service), by transfer; an outside
    caller ending up on the outside line needs trunk-to-trunk permission."""
    return Origin(extension=agent_extension or None, channel=agent_ch.name, via="transfer",
                  outside_party=isinstance(caller_ch, FxoChannel))


class OutsideLegCall(Call):
    """A call record that may join two lines: then both directions get the trunk-to-trunk loss."""

    def _bridge(self, x: Channel, y: Channel) -> None:
        super()._bridge(x, y)
        if isinstance(x, FxoChannel) and isinstance(y, FxoChannel):
            x.source, y.source = PaddedAudio(y), PaddedAudio(x)


def _direction(caller_ch: Channel) -> str:
    return "inbound" if isinstance(caller_ch, FxoChannel) else "outbound"


def send_caller_out(engine: Engine, caller_ch: Channel, call: Call, number: str, decision: Any,
                    line: FxoChannel) -> bool:
    """Blind: end the caller's queue-call record and dial `number` on `line` for the caller (a new
    record). False: the gate refused it when the line was seized (the caller hears the intercept)."""
    call.end("answered")
    src = call.cid_number or call.src or ""
    leg = OutsideLegCall(engine, caller_ch, _direction(caller_ch), src, number, line=line.name,
                         cid_number=call.cid_number, cid_name=call.cid_name)
    leg.outside_decision = decision
    caller_ch.silence()
    leg.dial_line(line, number)
    log.info("queue call %s sent to an outside number (blind)", call.id)
    return not leg.ended


class ConsultLegCall(OutsideLegCall):
    """The agent's consultation call to the outside number: tells its consultation when it ends
    (far end gone, busy, refused at seizure) unless the caller was joined to the line."""

    consultation: OutsideConsultation | None = None

    def end(self, disposition: str) -> None:
        was = self.ended
        super().end(disposition)
        c = self.consultation
        if not was and c is not None and not c.over:
            c.gone()


class OutsideConsultation:
    """The agent's consultation leg to an outside number. `owner` (the queue connection) keeps the
    agent's phone and the caller; the leg's own call record keeps the line."""

    def __init__(self, engine: Engine, owner: Any, agent_ch: FxsChannel, line: FxoChannel, number: str,
                 decision: Any) -> None:
        self.engine, self.owner, self.agent_ch, self.target, self.number = engine, owner, agent_ch, line, number
        self.over = False
        self.started = False
        src = agent_ch.extension or agent_ch.name
        self.call = ConsultLegCall(engine, agent_ch, "outbound", src, number, line=line.name, cid_number=src,
                                   cid_name=agent_ch.ext_name or None)
        self.call.outside_decision = decision
        self.call.consultation = self
        self.call.dial_line(line, number)
        self.started = True
        agent_ch.handler = owner                       # the queue connection keeps the agent's phone
        if self.call.ended:                            # refused when the line was seized
            self.over = True

    @property
    def answered(self) -> bool:
        """The agent talks to the line (dialled: an analog line may never say "answered")."""
        return not self.over and not self.call.ended and self.call.dialled_at is not None

    @property
    def target_present(self) -> bool:
        return self.answered

    def gone(self) -> None:
        """The line's far end left (or was busy, or the gate refused it at seizure)."""
        self.over = True
        if self.started and self.agent_ch.off_hook:
            self.owner.consultation_over()

    def drop(self) -> None:
        """Let the outside party go (the agent went back to the caller, or the caller left)."""
        if self.over:
            return
        self.over = True
        line = self.target
        if not self.call.ended:
            self.call.end("answered" if self.call.answered else "no_answer")
        line.release()
        if line.handler is None or line.handler is self.call:
            line.handler = None
            line.silence()
            line.set_state("idle")

    def join_caller(self, caller_ch: Channel, call: Call) -> bool:
        """Hand the caller over to the line (the agent completed, or hung up): the caller's record
        and the consultation's end; a new record joins the two. False: the far end is gone."""
        if self.over or self.call.ended:
            return False
        self.over = True
        engine, line, leg = self.engine, self.target, self.call
        decision = leg.outside_decision
        started = leg.dialled_at if leg.dialled_at is not None else engine.clock.now()
        leg.end("answered" if leg.answered or leg.dialled_at is not None else "no_answer")
        call.end("answered")
        src = call.cid_number or call.src or ""
        joined = OutsideLegCall(engine, caller_ch, _direction(caller_ch), src, self.number, line=line.name,
                                cid_number=call.cid_number, cid_name=call.cid_name)
        joined.b = line
        line.handler = joined
        joined._bridge(caller_ch, line)
        caller_ch.set_state("in-call", peer=f"{line.label}: {self.number}", caller_id=call.cid_number)
        line.set_state("in-call", peer=caller_ch.label, detail=self.number)
        joined.mark_answered()
        if decision is not None and decision.max_duration_s:
            left_s = started + decision.max_duration_s - engine.clock.now()
            DurationLimit(engine.outside_policy, joined, line, max(1, int(left_s)))   # the limit goes on
        log.info("queue call %s handed to an outside number (attended)", call.id)
        return True


__all__ = ["outside_origin", "send_caller_out", "OutsideConsultation", "OutsideLegCall"]
