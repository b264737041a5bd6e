"""Queue events turned into what reports count: one `QueueCall` per caller that entered a
queue, agent time as `AgentSpan`s, and `Totals`: the sums every KPI is computed from.

`Totals` is the one currency of the reports: built here from raw events (a queue_log file, or
the store for a short period) and in `aggregate` from the pre-aggregated interval tables, and
read by the KPI registry (`kpis`). Waits are kept as histograms of whole seconds, so the
service-level threshold and the short-abandon threshold are chosen when the report is read.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from .events import QueueEvent, number

FINAL_EXITS = {"ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "empty",
               "EXITWITHKEY": "key", "CALLBACKREQ": "callback", "EXITFAX": "fax"}
AGENT_STATE_EVENTS = frozenset({"AGENTLOGIN", "AGENTLOGOFF", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL"})
COMPLETES = ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER")
WAIT_FIELD = {"ABANDON": 3, "EXITWITHTIMEOUT": 3, "EXITEMPTY": 3, "EXITWITHKEY": 4, "CALLBACKREQ": 3, "EXITFAX": 3}
MAX_WAIT_S = 86_400          # a wait field beyond a day is nonsense: capped
_DIGITS = re.compile(r"\D")


def normalise_number(text: str) -> str:
    """A caller number for repeat-contact matching: its digits, the last 10 of them (so '+44 20
    7946 0000', '0044...' and '020 7946 0000' meet); '' when it has fewer than 3 digits (anonymous)."""
    digits = _DIGITS.sub("", text or "")
    return digits[-10:] if len(digits) >= 3 else ""


@dataclass
class QueueCall:
    call_id: str
    queue: str
    entered: float
    caller: str = ""                 # normalised number
    number: str = ""                 # the number as the caller ID gave it (untrusted text)
    seen_enter: bool = False         # its ENTERQUEUE was read (else it began before the events read)
    outcome: str = "open"            # answered | abandoned | timeout | empty | key | callback | fax | open
    wait: int = 0                    # whole seconds in the queue
    agent: str = ""
    talk: int = 0
    wrap: int = 0
    completed: bool = False          # COMPLETE*/TRANSFER seen (a handled call)
    ring_misses: int = 0
    disposition: str = ""
    resolved: bool | None = None
    surveys: list[int] = field(default_factory=list)
    callback: str = ""               # '' | requested | answered | failed
    repeated: bool = False           # a later contact from the same number within the FCR window


@dataclass
class AgentSpan:
    agent: str
    kind: str                        # login | paused | talk | wrap
    start: float
    end: float


@dataclass(frozen=True)
class Thresholded:
    """Wait figures already counted for one service-level threshold T and short-abandon threshold
    S (read from reports.db in SQL instead of moving the whole wait histogram into Python)."""
    T: int
    S: int
    answered_in_t: int = 0
    answer_wait_sum: int = 0
    short: int = 0
    abandoned: int = 0
    abandoned_in_t: int = 0
    longest: int | None = None

    def __add__(self, o: Thresholded | None) -> Thresholded:
        if o is None:
            return self
        if (o.T, o.S) != (self.T, self.S):
            raise ValueError("wait figures counted for different thresholds cannot be added")
        longest = max((v for v in (self.longest, o.longest) if v is not None), default=None)
        return Thresholded(self.T, self.S, self.answered_in_t + o.answered_in_t,
                           self.answer_wait_sum + o.answer_wait_sum, self.short + o.short,
                           self.abandoned + o.abandoned, self.abandoned_in_t + o.abandoned_in_t, longest)


@dataclass
class Totals:
    """Sums over a group of calls and agent time. Every field adds up (`+`)."""
    entered: int = 0
    answered: int = 0
    handled: int = 0                 # answered calls that completed (talk known)
    talk_s: float = 0.0
    wrap_s: float = 0.0
    wrapups: int = 0
    timeouts: int = 0
    exit_empty: int = 0
    exit_key: int = 0
    callback_requested: int = 0
    callback_answered: int = 0
    callback_failed: int = 0
    ring_misses: int = 0
    survey_n: int = 0
    survey_sum: int = 0
    survey_satisfied: int = 0        # answers 4 or 5 of 5
    dispositions: int = 0
    resolved: int = 0
    fcr_eligible: int = 0            # answered calls with a known caller number
    fcr_repeated: int = 0            # ... followed by another contact within the window
    login_s: float = 0.0
    paused_s: float = 0.0
    busy_s: float = 0.0              # agent talk + wrap-up (from agent spans)
    answer_waits: Counter = field(default_factory=Counter)     # whole seconds -> answered calls
    abandon_waits: Counter = field(default_factory=Counter)    # whole seconds -> ABANDON calls
    other_waits: Counter = field(default_factory=Counter)      # timeout, empty, key, callback exits
    line_calls: int = 0              # calls on outside lines (records.db `calls`)
    line_busy_s: float = 0.0         # line-seconds in use
    line_capacity_s: float = 0.0     # lines x seconds
    all_lines_busy_s: float = 0.0    # seconds with every line in use
    faxes: int = 0                   # fax machines that called a queue, taken to a fax box (EXITFAX): not callers
    pre: Thresholded | None = None   # wait figures counted elsewhere for one (T, S), added to the histograms'

    def __add__(self, other: Totals) -> Totals:
        out = Totals()
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "pre":
                setattr(out, f.name, a + b if a is not None else b)
            else:
                setattr(out, f.name, a + b if not isinstance(a, Counter) else Counter(a) + Counter(b))
        return out

    def add(self, other: Totals) -> Totals:
        """Add `other` into this one (in place; no copies of the histograms) and return self."""
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "pre":
                if b is not None:
                    self.pre = b + a if a is not None else b
            elif isinstance(a, Counter):
                a.update(b)
            else:
                setattr(self, f.name, a + b)
        return self

    def add_call(self, c: QueueCall) -> None:
        if c.outcome == "fax":
            # A fax machine that called a queue line is not a caller: no person waited, could be
            # answered or could give up. Counting it as entered would lower the answer rate and,
            # as an "other exit", raise nothing an agent can act on; counting it as abandoned would
            # punish the service level for a call no agent could take. So it is a figure of its own
            # (`faxes`) and stays out of entered, offered, abandoned, the service level, the waits
            # and the agents' ring misses. (app_queue's reports count ENTERQUEUE as entered; our
            # EXITFAX is a Linebox verb, so the choice is ours, and this is it.)
            self.faxes += 1
            return
        self.entered += 1
        if c.outcome == "answered":
            self.answered += 1
            self.answer_waits[c.wait] += 1
            if c.caller:
                self.fcr_eligible += 1
                self.fcr_repeated += int(c.repeated)
        elif c.outcome == "abandoned":
            self.abandon_waits[c.wait] += 1
        elif c.outcome != "open":
            self.other_waits[c.wait] += 1
        if c.outcome == "timeout":
            self.timeouts += 1
        elif c.outcome == "empty":
            self.exit_empty += 1
        elif c.outcome == "key":
            self.exit_key += 1
        if c.completed:
            self.handled += 1
            self.talk_s += c.talk
            self.wrap_s += c.wrap
        if c.callback:
            self.callback_requested += 1
            self.callback_answered += c.callback == "answered"
            self.callback_failed += c.callback == "failed"
        self.ring_misses += c.ring_misses
        for key in c.surveys:
            self.survey_n += 1
            self.survey_sum += key
            self.survey_satisfied += key >= 4
        if c.disposition:
            self.dispositions += 1
            self.resolved += bool(c.resolved)

    def add_span(self, kind: str, seconds: float) -> None:
        if kind == "login":
            self.login_s += seconds
        elif kind == "paused":
            self.paused_s += seconds
        else:
            self.busy_s += seconds

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pre"}
        for name in ("answer_waits", "abandon_waits", "other_waits"):
            d[name] = {str(k): v for k, v in sorted(getattr(self, name).items())}
        return d


def _seconds(text: str) -> int | None:
    v = number(text)
    return None if v is None else int(round(min(v, MAX_WAIT_S)))


class EventModel:
    """Fold events (in time order) into calls and agent spans. Incremental: `feed` more later."""

    def __init__(self, agent_state: dict | None = None) -> None:
        """`agent_state` ({"login": {agent: since}, "paused": {agent: since}}): who was logged in
        and paused when the events read begin (see `agent_state()`)."""
        self.calls: dict[str, QueueCall] = {}
        self.spans: list[AgentSpan] = []
        state = agent_state or {}
        self._login: dict[str, float] = dict(state.get("login", {}))
        self._paused: dict[str, float] = dict(state.get("paused", {}))
        self._last_completed: dict[str, QueueCall] = {}

    def _call(self, ev: QueueEvent) -> QueueCall:
        c = self.calls.get(ev.call_id)
        if c is None:           # its ENTERQUEUE is before the period read: start it here
            c = self.calls[ev.call_id] = QueueCall(ev.call_id, ev.queue, ev.ts)
        return c

    def feed(self, events: Iterable[QueueEvent]) -> None:
        for ev in events:
            self.feed_event(ev)

    def feed_event(self, ev: QueueEvent) -> None:  # noqa: C901 - one branch per verb
        e = ev.event
        if e == "ENTERQUEUE":
            c = self.calls.get(ev.call_id)
            if c is not None and c.outcome == "open" and c.entered >= ev.ts:
                c.caller = c.caller or normalise_number(ev.d(2))
                return
            if c is not None:            # the same call id enters again: a new contact
                self.calls[f"{ev.call_id}#{c.entered:.0f}#{len(self.calls)}"] = c
            self.calls[ev.call_id] = QueueCall(ev.call_id, ev.queue, ev.ts, normalise_number(ev.d(2)),
                                               ev.d(2)[:40], True)
        elif e == "CONNECT":
            c = self._call(ev)
            w = _seconds(ev.d(1))
            c.outcome, c.agent = "answered", ev.agent
            c.wait = w if w is not None else int(max(0, round(ev.ts - c.entered)))
        elif e in COMPLETES:
            c = self._call(ev)
            talk = _seconds(ev.d(4) if e == "TRANSFER" else ev.d(2))
            if c.outcome == "open":
                c.outcome = "answered"
                w = _seconds(ev.d(3) if e == "TRANSFER" else ev.d(1))
                c.wait = w or 0
            c.agent = c.agent or ev.agent
            c.completed = True
            c.talk = talk or 0
            self._last_completed[ev.agent] = c
            if c.talk:
                self.spans.append(AgentSpan(ev.agent, "talk", ev.ts - c.talk, ev.ts))
        elif e in FINAL_EXITS:
            c = self._call(ev)
            if c.outcome == "open":
                c.outcome = FINAL_EXITS[e]
                w = _seconds(ev.d(WAIT_FIELD[e]))
                c.wait = w if w is not None else int(max(0, round(ev.ts - c.entered)))
            if e == "CALLBACKREQ":
                c.callback = "requested"
        elif e == "RINGNOANSWER":
            self._call(ev).ring_misses += 1
        elif e == "WRAPUPEND":
            w = _seconds(ev.d(1)) or 0
            c = self.calls.get(ev.call_id) if ev.call_id != "NONE" else None
            c = c or self._last_completed.get(ev.agent)
            if c is not None:
                c.wrap += w
            if w:
                self.spans.append(AgentSpan(ev.agent, "wrap", ev.ts - w, ev.ts))
        elif e == "CALLBACKANSWER":
            c = self._call(ev)
            c.callback = "answered"
        elif e == "CALLBACKFAIL":
            c = self._call(ev)
            if c.callback != "answered" and ev.d(2) in ("gave_up", "denied", "failed"):
                c.callback = "failed"
            elif not c.callback:
                c.callback = "requested"
        elif e == "SURVEY":
            key = _seconds(ev.d(2))
            if key is not None and 1 <= key <= 5:
                self._call(ev).surveys.append(key)
        elif e == "CAMPAIGNRESULT":
            # an outbound campaign call the agent talked on (data4: talk s): busy, like a queue
            # call's talk, for occupancy (the campaign figures themselves: campaign_figures.py)
            talk = _seconds(ev.d(4))
            if talk and ev.agent != "NONE":
                self.spans.append(AgentSpan(ev.agent, "talk", ev.ts - talk, ev.ts))
        elif e == "DISPOSITION":
            c = self._call(ev)
            c.disposition = ev.d(1)[:40] or "(none)"
            c.resolved = ev.d(2).strip() == "1"
        elif e == "AGENTLOGIN":
            self._login.setdefault(ev.agent, ev.ts)
        elif e == "AGENTLOGOFF":
            start = self._login.pop(ev.agent, None)
            if start is None:
                dur = _seconds(ev.d(2))
                start = ev.ts - dur if dur is not None else None
            if start is not None:
                self.spans.append(AgentSpan(ev.agent, "login", start, ev.ts))
            self._end_pause(ev.agent, ev.ts)
        elif e in ("PAUSE", "PAUSEALL"):
            self._paused.setdefault(ev.agent, ev.ts)
        elif e in ("UNPAUSE", "UNPAUSEALL"):
            self._end_pause(ev.agent, ev.ts)

    def _end_pause(self, agent: str, ts: float) -> None:
        start = self._paused.pop(agent, None)
        if start is not None:
            self.spans.append(AgentSpan(agent, "paused", start, ts))

    def agent_state(self) -> dict:
        return {"login": dict(self._login), "paused": dict(self._paused)}

    def open_spans(self, until: float) -> list[AgentSpan]:
        """Sessions and pauses still open, counted up to `until`."""
        out = [AgentSpan(a, "login", s, until) for a, s in self._login.items() if s < until]
        out += [AgentSpan(a, "paused", s, until) for a, s in self._paused.items() if s < until]
        return out

    def all_spans(self, until: float) -> list[AgentSpan]:
        return self.spans + self.open_spans(until)


def mark_repeats(calls: Iterable[QueueCall], window_s: float, same_disposition: bool = False) -> None:
    """First-contact resolution: a contact is `repeated` when the same (normalised) number enters
    a queue again within `window_s` after it (and, if `same_disposition`, the later contact has
    the same disposition code)."""
    by_number: dict[str, list[QueueCall]] = {}
    for c in calls:
        c.repeated = False
        if c.caller:
            by_number.setdefault(c.caller, []).append(c)
    for group in by_number.values():
        group.sort(key=lambda c: c.entered)
        for i, c in enumerate(group):
            for later in group[i + 1:]:
                if later.entered - c.entered > window_s:
                    break
                if later.entered > c.entered and (not same_disposition or later.disposition == c.disposition):
                    c.repeated = True
                    break
