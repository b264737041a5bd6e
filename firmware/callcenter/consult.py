"""Consult-first (attended) transfer of a queue call: the agent's second leg to a colleague.

In a queue call the agent flashes (the caller hears music on hold) and dials an extension: a
`Consultation` rings that phone from the agent's phone, with its own call record (internal,
agent → colleague). Then:

* the colleague answers: agent and colleague talk; the caller still hears music;
* the agent hangs up: the caller is joined to the colleague (answered: at once; still ringing:
  the caller hears ringback, a blind transfer) — `QueueConnection` logs one TRANSFER;
* the agent flashes: the colleague is let go, the agent is back with the caller;
* the colleague hangs up or does not answer: the agent is back with the caller.

Only the agent's and the colleague's channels are touched here; the queue connection keeps the
caller and decides (see `QueueConnection.on_flash` / `on_hangup`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxsChannel
from ..clock import Timer
from ..sources import PeerAudio

if TYPE_CHECKING:
    from ..engine import Engine


class Consultation(ChannelHandler):
    """The agent's consultation leg to extension `number` (handler of the colleague's phone)."""

    def __init__(self, engine: Engine, owner: Any, agent_ch: FxsChannel, target: FxsChannel, number: str) -> None:
        self.engine, self.owner, self.agent_ch, self.target, self.number = engine, owner, agent_ch, target, number
        self.answered = False
        self.over = False
        src = agent_ch.extension or agent_ch.name
        self.call = Call(engine, agent_ch, "internal", src, number, cid_number=src, cid_name=agent_ch.ext_name or None)
        agent_ch.handler = owner                  # the queue connection keeps the agent's phone
        target.handler = self
        target.set_state("ringing", peer=agent_ch.label, caller_id=src)
        target.start_ringing(src, agent_ch.ext_name or None)
        agent_ch.play_tone("ringback")
        agent_ch.set_state("ringback", peer=target.label, detail="consultation")
        self._timer: Timer | None = engine.timers.after_ms(engine.settings.ring_timeout_ms, self._no_answer)

    @staticmethod
    def target_free(engine: Engine, number: str, agent_ch: Channel) -> FxsChannel | None:
        """The phone of extension `number` if it can be rung for a consultation now."""
        ch = engine.channel_for_extension(number)
        if (not isinstance(ch, FxsChannel) or ch is agent_ch or not ch.usable or ch.handler is not None
                or ch.off_hook):
            return None
        return ch

    @property
    def target_present(self) -> bool:
        """The colleague answered and is still on the line."""
        return self.answered and self.target.off_hook

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- the colleague's phone
    def on_answer(self, ch: Channel) -> None:
        if self.over or self.answered:
            return
        self._cancel_timer()
        self.target.stop_ringing()
        self.answered = True
        self.call.b = self.target
        self.call.mark_answered()
        self.agent_ch.source = PeerAudio(self.target)
        self.target.source = PeerAudio(self.agent_ch)
        self.target.listen_dtmf = False
        self.agent_ch.set_state("in-call", peer=self.target.label, detail="consultation")
        self.target.set_state("in-call", peer=self.agent_ch.label, detail="consultation")

    def on_hangup(self, ch: Channel) -> None:
        if self.over:
            return
        self.drop()
        self.owner.consultation_over()

    def _no_answer(self) -> None:
        self._timer = None
        if self.over or self.answered:
            return
        self.drop()
        self.owner.consultation_over()

    # ---- ends
    def drop(self) -> None:
        """Let the colleague go (the agent went back to the caller, or the colleague left)."""
        if self.over:
            return
        self.over = True
        self._cancel_timer()
        t = self.target
        t.stop_ringing()
        if t.handler is self:
            if self.answered and t.off_hook:
                Parked(self.engine, t, "busy")
            else:
                t.handler = None
                t.silence()
                t.set_state("idle")
        if not self.call.ended:
            self.call.end("answered" if self.answered else "no_answer")

    def hand_over(self) -> bool:
        """The agent hung up to transfer: end this leg's record and give the colleague's phone up
        (still ringing or answered). Returns whether the colleague had answered."""
        self.over = True
        self._cancel_timer()
        if self.target.handler is self:
            self.target.handler = None
        if not self.call.ended:
            self.call.end("answered" if self.answered else "no_answer")
        return self.answered
