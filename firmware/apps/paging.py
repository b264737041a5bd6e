"""Intercom and paging on analog phones.

An analog phone has no speaker the PBX can switch on, so nothing can be heard until someone
lifts a handset. What we do instead (decided for Linebox):

* Intercom `*5<ext>`: the extension rings with a short, repeating ring (0.5 s on, 1 s off),
  ignoring its forwards, DND and call waiting; whoever lifts it is connected both ways.
  Not answered in 20 s: busy for the caller.
* Page group (dialled like an extension, e.g. 700): every idle member phone rings the same
  short ring; each phone lifted joins the page and hears the pager, one way (listeners'
  microphones are not sent, so a noisy warehouse does not drown the page). The pager hears a
  beep each time a listener joins. The page ends when the pager hangs up (listeners hear busy);
  phones not lifted in 20 s stop ringing.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dsp_ext.tones import tone

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from ..sources import PeerAudio

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.phone")

INTERCOM_CODE = "*5"
SHORT_RING_MS = (500, 1000)
ANSWER_S = 20
JOIN_BEEP_HZ = 1400.0


class ShortRing:
    """Rings a phone with the short intercom cadence (no caller ID) until stopped."""

    def __init__(self, engine: Engine, ch: FxsChannel):
        self.engine, self.ch = engine, ch
        self._timer: Timer | None = None
        ch.ringing = True                 # the engine treats off-hook now as answering
        self._step(True)

    def _step(self, on: bool) -> None:
        if not self.ch.ringing:
            return
        self.ch.port.set_ringing(on)
        ms = SHORT_RING_MS[0] if on else SHORT_RING_MS[1]
        self._timer = self.engine.timers.after_ms(ms, lambda: self._step(not on))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.ch.stop_ringing()


class Intercom(ChannelHandler):
    def __init__(self, engine: Engine, caller: FxsChannel, target: FxsChannel):
        self.engine, self.caller, self.target = engine, caller, target
        src = caller.extension or caller.name
        self.call = Call(engine, caller, "internal", src, f"intercom:{target.extension}",
                         cid_number=src, cid_name=caller.ext_name or None)
        caller.handler = target.handler = self
        caller.play_tone("ringback")
        caller.set_state("ringback", peer=f"intercom {target.label}")
        target.set_state("ringing", peer=caller.label, caller_id=src)
        self.ring = ShortRing(engine, target)
        self._timer = engine.timers.after_ms(ANSWER_S * 1000, self._no_answer)

    def on_answer(self, ch: Channel) -> None:
        if ch is not self.target:
            return
        self.ring.stop()
        self._timer.cancel()
        self.call.b = ch
        self.call._bridge(self.caller, self.target)
        for a, b in ((self.caller, self.target), (self.target, self.caller)):
            a.set_state("in-call", peer=f"intercom {b.label}")
        self.call.mark_answered()

    def _no_answer(self) -> None:
        self.ring.stop()
        if self.target.handler is self:
            self.target.handler = None
            self.target.set_state("idle")
        if self.caller.handler is self:
            Parked(self.engine, self.caller, "busy")
        self.call.end("no_answer")

    def on_hangup(self, ch: Channel) -> None:
        self._timer.cancel()
        self.ring.stop()
        other = self.target if ch is self.caller else self.caller
        if other.handler is self:
            if isinstance(other, FxsChannel) and other.off_hook:
                Parked(self.engine, other, "busy")
            else:
                other.handler = None
                other.silence()
                other.set_state("idle")
        self.call.end("answered" if self.call.answered else "no_answer")


def intercom_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
    if not isinstance(ch, FxsChannel):
        if isinstance(ch, FxoChannel):
            from .forward import give_busy
            give_busy(engine, ch, call, "intercom")
        return
    target = engine.channel_for_extension(arg.rstrip("#"))
    if target is None or target is ch or not target.usable or target.handler is not None or target.off_hook:
        engine._record_failed(ch, f"intercom:{arg[:10]}", "busy")
        Parked(engine, ch, "busy")
        return
    Intercom(engine, ch, target)


class Page(ChannelHandler):
    """The pager's handler; listeners are `PageListener`s."""

    def __init__(self, engine: Engine, pager: FxsChannel, group: dict, members: list[FxsChannel]):
        self.engine, self.pager, self.group = engine, pager, group
        src = pager.extension or pager.name
        self.call = Call(engine, pager, "internal", src, group["number"], cid_number=src,
                         cid_name=pager.ext_name or None)
        pager.handler = self
        pager.set_state("in-call", peer=f"page {group['name'] or group['number']}")
        self.call.mark_answered()
        self.listeners: list[PageListener] = [PageListener(self, m) for m in members]
        self._timer = engine.timers.after_ms(ANSWER_S * 1000, self._stop_ringing)
        pager.play(tone([JOIN_BEEP_HZ], 150, -13))     # the page is open: talk after the beep

    def joined(self, listener: PageListener) -> None:
        listener.ring.stop()
        listener.ch.source = PeerAudio(self.pager)     # one way: the listener's microphone is not sent
        listener.ch.set_state("in-call", peer=f"page from {self.pager.label}")
        self.pager.play(tone([JOIN_BEEP_HZ], 100, -13))

    def _stop_ringing(self) -> None:
        for li in self.listeners:
            if not li.ch.off_hook and li.ch.handler is li:
                li.ring.stop()
                li.ch.handler = None
                li.ch.set_state("idle")

    def on_hangup(self, ch: Channel) -> None:
        self._timer.cancel()
        for li in self.listeners:
            li.ring.stop()
            if li.ch.handler is li:
                if li.ch.off_hook:
                    Parked(self.engine, li.ch, "busy")
                else:
                    li.ch.handler = None
                    li.ch.silence()
                    li.ch.set_state("idle")
        self.call.end("answered")


class PageListener(ChannelHandler):
    def __init__(self, page: Page, ch: FxsChannel):
        self.page, self.ch = page, ch
        ch.handler = self
        ch.set_state("ringing", peer=f"page from {page.pager.label}", caller_id=page.pager.extension)
        self.ring = ShortRing(page.engine, ch)

    def on_answer(self, ch: Channel) -> None:
        self.page.joined(self)

    def on_hangup(self, ch: Channel) -> None:
        self.ring.stop()


def page_group(engine: Engine, ch: Channel, group: dict, call: Call | None) -> None:
    from .forward import give_busy
    from .ringgroups import idle_members
    if not isinstance(ch, FxsChannel):
        give_busy(engine, ch, call, group["number"])      # outside callers do not page the office
        return
    members = idle_members(engine, group, exclude=ch)
    if not members:
        engine._record_failed(ch, group["number"], "busy")
        Parked(engine, ch, "busy")
        return
    Page(engine, ch, group, members)


def register(engine: Engine) -> None:
    engine.register_app("intercom", intercom_app, code=INTERCOM_CODE, takes_arg=True)
