"""The campaign dialler on the media thread: progressive (dial when an agent is free) or preview
(the agent asks for the next number and dials it), over free lines, inside calling hours, never a
number on the do-not-call list, every number through the outbound permission gate
(`engine.authorise_outside`, and `Call.dial_line` asks it again before seizing a line).

An attempt rings the agent's phone first (caller ID: the number to be called); when the agent picks
up (or at once if the agent is off hook in headset mode) the number is dialled on a free line and
the agent hears the call progress. Busy, no answer and failures are retried after the campaign's
`retry_after_s`, up to `max_attempts`; an answer, a refusal by the gate or the do-not-call list is
final. Results are queued to the campaigns store's writer thread (no I/O here)."""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..calls import Call, Parked
from ..channels import Channel, ChannelHandler, FxoChannel, FxsChannel
from ..clock import Timer
from .model import within_hours

if TYPE_CHECKING:
    from ..engine import Engine
    from .store import CampaignStore

log = logging.getLogger("linebox.campaigns")

TICK_MS = 1000
AGENT_RING_MS = 20000
RETRYABLE = ("busy", "no_answer", "failed")


@dataclass
class RunningCampaign:
    doc: dict
    tz: Any
    pending: list[dict]                           # rows not final, in list order
    in_flight: int = 0
    reserved: dict[str, dict] = field(default_factory=dict)     # preview: agent -> number row


class CampaignCall(Call):
    """The outbound leg of a campaign attempt: remembers how it ended."""

    final_disposition = ""
    campaign_attempt: Attempt | None = None

    def end(self, disposition: str) -> None:
        if not self.ended:
            self.final_disposition = disposition
        super().end(disposition)


class Attempt(ChannelHandler):
    """One number dialled for one agent. Also the agent's `connection` while it lasts (so queues
    do not offer them a call, and a supervisor may listen: `caller_ch`, `agent_ch`, `ended`)."""

    def __init__(self, dialer: CampaignDialer, run: RunningCampaign, row: dict, agent: Any, agent_ch: FxsChannel):
        self.dialer, self.run, self.row, self.agent, self.agent_ch = dialer, run, row, agent, agent_ch
        self.caller_ch: Channel | None = None
        self.call: CampaignCall | None = None
        self.ended = False
        self._timer: Timer | None = None
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
        if self.agent.connection is self:
            self.agent.connection = None
        self.dialer.svc.publish(self.agent)
        self.dialer.svc.kick()

    def _dial(self) -> None:
        eng, row, doc = self.dialer.engine, self.row, self.run.doc
        from ..apps.permissions import Origin
        self.dialer.waiting.discard(self)
        ch = self.agent_ch
        line = eng.pick_line()
        if line is None:                        # the line went meanwhile (an inbound call): try later
            self._finish_without_attempt()
            if isinstance(ch, FxsChannel) and ch.off_hook:
                Parked(eng, ch, "congestion")
            return
        origin = Origin(extension=doc["caller_extension"], channel=ch.name, via="campaign")
        decision = eng.authorise_outside(origin, row["number"])
        row["attempts"] = int(row.get("attempts") or 0) + 1
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
            call.far_end_gone(call.b, "campaign number not answered", "no_answer")

    def call_event(self, call: Call, event: str) -> None:
        if event == "answered":
            self.caller_ch = call.b
            self._result("answered", final=True, keep_agent=True)
            return
        if event != "ended" or self.ended:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if call.answered:
            self.ended = True
            self._release_agent()
            return
        disposition = getattr(call, "final_disposition", "") or "failed"
        self._result(disposition if disposition in RETRYABLE else "failed")

    def _result(self, result: str, final: bool = False, keep_agent: bool = False) -> None:
        eng, row, doc, run = self.dialer.engine, self.row, self.run.doc, self.run
        now = eng.clock.now()
        if final or row["attempts"] >= int(doc["max_attempts"]):
            status, not_before = result, 0.0
        else:
            status, not_before = "pending", now + int(doc["retry_after_s"])
            row["not_before"] = not_before
            run.pending.append(row)
        row["status"] = status
        self.dialer.store.record_result(row["id"], status=status, attempts=row["attempts"], last_result=result,
                                        last_at=now, not_before=not_before, agent=self.agent.username)
        eng.control.publish(_event({"campaign": doc["id"], "number_id": row["id"], "result": result,
                                    "status": status}))
        if not keep_agent:
            self.ended = True
            run.in_flight -= 1
            self._release_agent()
        else:
            run.in_flight -= 1
        self.dialer.check_done(run)


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
    def load(self, doc: dict, tz: Any, rows: list[dict], dnc: set[str], store: CampaignStore | None = None) -> None:
        if store is not None:
            self._store = store                 # opened by the command (store thread): nothing to open here
        self.dnc = set(dnc)
        self.runs[doc["id"]] = RunningCampaign(doc, tz, list(rows))

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
            Attempt(self, run, row, agent, self.svc.channel_of(agent))

    def free_lines(self) -> int:
        """Lines free for a new attempt: free lines less those kept for attempts ringing their agent."""
        return sum(1 for line in self.engine.fxo if line.available) - len(self.waiting)

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

    def preview_skip(self, cid: str, username: str, final: bool) -> dict | None:
        run = self.runs.get(cid)
        row = run.reserved.pop(username, None) if run else None
        if row is None or run is None:
            return None
        if final:
            row["status"] = "skipped"
            self.store.record_result(row["id"], status="skipped", last_result="skipped", agent=username,
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
