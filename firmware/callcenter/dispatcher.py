"""Who gets the next call: the queue dispatcher, pure policy (no channels, no clock of its own).

The engine side (`service.QueueService`) tells it who waits (`add`/`remove`) and asks
`assign(now, free_agents)` whenever something changed; it answers which waiting entry goes to
which free agent(s). Being plain data, it is property-tested on its own (tests/callcenter).

Order of callers: higher priority first (VIP numbers), then the earlier entry time, then arrival
order. A callback entry keeps the time its caller entered, so it counts in positions and is
served in its place. Across queues the same order decides which caller takes a contested agent.

Agents for a caller: members of the queue (with a penalty) or, when the queue needs skills, any
agent with every skill at the required level (penalty 10 - lowest level over the skills). Only the
lowest penalty tier among the free eligible agents is offered (as Asterisk); the strategy then
picks within it:
    ringall      every agent of the tier rings at once
    linear       member order
    roundrobin   member order, starting after the agent offered last (remembered per queue)
    leastrecent  the agent whose last call from this queue ended longest ago
    fewestcalls  the agent who took fewest calls from this queue
    longestidle  the agent idle longest (any call counts)
    random       uniformly
    wrandom      weighted random over every tier, weight 1 / (1 + penalty)
An agent is offered one call at a time: `assign` never hands an agent to two entries.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class QueueRules:
    number: str
    strategy: str = "ringall"
    members: list[tuple[str, int]] = field(default_factory=list)     # (agent, penalty) in member order
    skills: dict[str, int] = field(default_factory=dict)             # skill -> minimum level


@dataclass
class AgentStats:
    username: str
    skills: dict[str, int] = field(default_factory=dict)
    idle_since: float = 0.0
    last_end: dict[str, float] = field(default_factory=dict)      # queue -> when its last call ended
    calls: dict[str, int] = field(default_factory=dict)           # queue -> calls taken


@dataclass
class Entry:
    id: str
    queue: str
    entered: float
    priority: int = 0
    kind: str = "caller"            # caller | callback
    not_before: float = 0.0         # a callback waiting out its back-off or its chosen time
    seq: int = 0
    tried: set[str] = field(default_factory=set)
    offered: set[str] = field(default_factory=set)    # agents being offered this entry now

    def key(self) -> tuple:
        return (-self.priority, self.entered, self.seq)


class Dispatcher:
    def __init__(self, seed: int | None = None) -> None:
        self.queues: dict[str, QueueRules] = {}
        self.agents: dict[str, AgentStats] = {}
        self.entries: dict[str, Entry] = {}
        self._rr: dict[str, str] = {}       # queue -> agent offered last (round robin memory)
        self._seq = 0
        self.rng = random.Random(seed)

    # ---- configuration
    def set_queue(self, rules: QueueRules) -> None:
        self.queues[rules.number] = rules

    def drop_queue(self, number: str) -> None:
        self.queues.pop(number, None)

    def agent(self, username: str) -> AgentStats:
        a = self.agents.get(username)
        if a is None:
            a = self.agents[username] = AgentStats(username)
        return a

    # ---- callers
    def add(self, entry: Entry) -> Entry:
        if entry.id in self.entries:
            raise ValueError(f"entry {entry.id} is already waiting")
        self._seq += 1
        entry.seq = entry.seq or self._seq
        self.entries[entry.id] = entry
        return entry

    def remove(self, entry_id: str) -> Entry | None:
        return self.entries.pop(entry_id, None)

    def waiting(self, queue: str) -> list[Entry]:
        return sorted((e for e in self.entries.values() if e.queue == queue), key=Entry.key)

    def position(self, entry_id: str) -> int:
        e = self.entries.get(entry_id)
        if e is None:
            return 0
        return 1 + sum(1 for o in self.entries.values() if o.queue == e.queue and o.key() < e.key())

    # ---- agents for a queue
    def penalty(self, queue: str, username: str) -> int | None:
        """The agent's penalty in `queue`, or None when the agent does not serve it."""
        rules = self.queues.get(queue)
        if rules is None:
            return None
        for name, pen in rules.members:
            if name == username:
                return pen
        if rules.skills:
            have = self.agent(username).skills
            levels = [have.get(s, 0) - need for s, need in rules.skills.items()]
            if min(levels) >= 0:
                return max(0, 10 - min(have[s] for s in rules.skills))
        return None

    def serves(self, queue: str) -> list[str]:
        rules = self.queues.get(queue)
        if rules is None:
            return []
        names = [n for n, _ in rules.members]
        if rules.skills:
            names += sorted(a for a in self.agents if a not in names and self.penalty(queue, a) is not None)
        return names

    # ---- the decision
    def assign(self, now: float, free: set[str], callback_slots: int = 0) -> list[tuple[Entry, list[str]]]:
        """Offers to make now: (entry, agents). `free` are agents able to take a call this instant;
        `callback_slots` caps callback entries dialled now (free outside lines)."""
        free = set(free)
        out: list[tuple[Entry, list[str]]] = []
        for entry in sorted(self.entries.values(), key=Entry.key):
            if not free:
                break
            if entry.offered or entry.queue not in self.queues:
                continue
            if entry.kind == "callback" and (entry.not_before > now or callback_slots <= 0):
                continue
            picked = self._pick(entry, free)
            if not picked:
                continue
            if entry.kind == "callback":
                picked = picked[:1]
                callback_slots -= 1
            free.difference_update(picked)
            entry.offered = set(picked)
            entry.tried.update(picked)
            self._rr[entry.queue] = picked[-1]
            out.append((entry, picked))
        return out

    def _pick(self, entry: Entry, free: set[str]) -> list[str]:
        rules = self.queues[entry.queue]
        eligible = {a: p for a in free if (p := self.penalty(entry.queue, a)) is not None}
        if not eligible:
            return []
        fresh = {a: p for a, p in eligible.items() if a not in entry.tried}
        if not fresh:                    # everyone free has been tried: start another round
            entry.tried.clear()
            fresh = eligible
        if rules.strategy == "wrandom":
            names = sorted(fresh)
            weights = [1.0 / (1 + fresh[a]) for a in names]
            return [self.rng.choices(names, weights)[0]]
        low = min(fresh.values())
        tier = [a for a, p in fresh.items() if p == low]
        order = self.serves(entry.queue)
        rank = {a: i for i, a in enumerate(order)}
        tier.sort(key=lambda a: (rank.get(a, len(rank)), a))
        s = rules.strategy
        if s == "ringall":
            return tier
        if s == "linear":
            return tier[:1]
        if s == "roundrobin":
            last = self._rr.get(entry.queue)
            if last in rank:
                after = [a for a in tier if rank.get(a, -1) > rank[last]]
                return (after or tier)[:1]
            return tier[:1]
        if s == "leastrecent":
            return [min(tier, key=lambda a: (self.agent(a).last_end.get(entry.queue, float("-inf")),
                                              rank.get(a, 0)))]
        if s == "fewestcalls":
            return [min(tier, key=lambda a: (self.agent(a).calls.get(entry.queue, 0), rank.get(a, 0)))]
        if s == "longestidle":
            return [min(tier, key=lambda a: (self.agent(a).idle_since, rank.get(a, 0)))]
        return [self.rng.choice(tier)]          # random

    # ---- what happened to an offer
    def offer_ended(self, entry_id: str, agent: str) -> None:
        e = self.entries.get(entry_id)
        if e is not None:
            e.offered.discard(agent)

    def connected(self, entry_id: str, agent: str, now: float) -> Entry | None:
        e = self.entries.pop(entry_id, None)
        a = self.agent(agent)
        if e is not None:
            a.calls[e.queue] = a.calls.get(e.queue, 0) + 1
        return e

    def call_ended(self, agent: str, queue: str | None, now: float) -> None:
        a = self.agent(agent)
        if queue:
            a.last_end[queue] = now
        a.idle_since = now
