"""Property tests of the dispatcher (hypothesis): whatever the queues, agents, strategies, callers
and callbacks, an agent is never offered two calls, never a call it cannot take, and no caller is
passed over by a later one (callbacks keep their place)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.callcenter.dispatcher import Dispatcher, Entry, QueueRules
from firmware.callcenter.model import STRATEGIES

AGENTS = [f"a{i}" for i in range(6)]
QUEUES = ["600", "601"]


@st.composite
def setups(draw):
    d = Dispatcher(seed=draw(st.integers(0, 1000)))
    for q in QUEUES:
        members = draw(st.lists(st.sampled_from(AGENTS), unique=True, max_size=5))
        pens = [(m, draw(st.integers(0, 3))) for m in members]
        skills = draw(st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 5), max_size=1))
        d.set_queue(QueueRules(q, draw(st.sampled_from(STRATEGIES)), pens, skills))
    for a in AGENTS:
        d.agent(a).skills = draw(st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 5), max_size=2))
        d.agent(a).idle_since = draw(st.floats(0, 100))
    ops = draw(st.lists(st.tuples(st.sampled_from(["arrive", "callback", "leave", "round", "finish"]),
                                  st.integers(0, 50), st.integers(0, 10)), min_size=5, max_size=60))
    return d, ops


def check_round(d: Dispatcher, now: float, free: set[str], slots: int,
                offers: list[tuple[Entry, list[str]]]) -> None:
    given_to = [a for _, agents in offers for a in agents]
    assert len(given_to) == len(set(given_to)), "an agent was offered two calls"
    assert set(given_to) <= free, "an agent that was not free got an offer"
    assert sum(1 for e, _ in offers if e.kind == "callback") <= slots, "more callbacks than free lines"
    for e, agents in offers:
        assert agents, "an offer to nobody"
        for a in agents:
            assert d.penalty(e.queue, a) is not None, "an offer to an agent who does not serve the queue"
        if e.kind == "callback":
            assert len(agents) == 1
            assert e.not_before <= now


def check_order(d: Dispatcher, now: float, free: set[str], slots: int, offers, before) -> None:
    """No entry waiting before a served one (same order key) was left out while it could have used
    one of that entry's agents."""
    served = {e.id for e, _ in offers}
    callbacks_served = sum(1 for e, _ in offers if e.kind == "callback")
    for e, agents in offers:
        for f in before:
            if f.id in served or f.key() >= e.key() or f.offered:
                continue
            if f.kind == "callback" and (f.not_before > now or callbacks_served >= slots):
                continue
            usable = [a for a in agents if d.penalty(f.queue, a) is not None]
            assert not usable, f"{f.id} waited longer but {e.id} got {usable}"


@settings(max_examples=300, deadline=None)
@given(setups(), st.data())
def test_dispatcher_never_double_offers_and_keeps_order(setup, data):
    d, ops = setup
    busy: dict[str, str] = {}          # agent -> entry offered/connected
    now = 0.0
    n = 0
    for op, x, y in ops:
        now += 1 + x % 7
        if op in ("arrive", "callback"):
            n += 1
            e = Entry(f"c{n}", QUEUES[x % 2], entered=now - (y if op == "callback" else 0), priority=(y % 3 == 0) * 5,
                      kind="caller" if op == "arrive" else "callback",
                      not_before=now + (y % 3) * 5 if op == "callback" else 0.0)
            d.add(e)
        elif op == "leave" and d.entries:
            victim = sorted(d.entries)[x % len(d.entries)]
            e = d.remove(victim)
            for a in [a for a, eid in busy.items() if eid == victim]:
                del busy[a]
        elif op == "finish" and busy:
            a = sorted(busy)[x % len(busy)]
            eid = busy.pop(a)
            if eid in d.entries:
                e = d.entries[eid]
                if y % 2:         # answered: connected, the other ringing agents are released
                    d.connected(eid, a, now)
                    for other in [o for o, i in busy.items() if i == eid]:
                        del busy[other]
                else:             # not answered
                    d.offer_ended(eid, a)
            d.call_ended(a, None, now)
        else:
            free = {a for a in AGENTS if a not in busy and data.draw(st.booleans())}
            slots = y % 3
            before = sorted(d.entries.values(), key=Entry.key)
            offers = d.assign(now, free, slots)
            check_round(d, now, free, slots, offers)
            check_order(d, now, free, slots, offers, before)
            for e, agents in offers:
                for a in agents:
                    assert a not in busy
                    busy[a] = e.id
        # positions: 1..n per queue in key order
        for q in QUEUES:
            waiting = d.waiting(q)
            assert [d.position(e.id) for e in waiting] == list(range(1, len(waiting) + 1))


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 8), st.integers(0, 6))
def test_a_callback_keeps_its_position(n, k):
    d = Dispatcher()
    d.set_queue(QueueRules("600", "ringall", [("a0", 0)]))
    for i in range(n):
        d.add(Entry(f"c{i}", "600", entered=float(i)))
    k = k % n
    before = d.position(f"c{k}")
    d.entries[f"c{k}"].kind = "callback"           # the caller leaves; the entry stays
    d.entries[f"c{k}"].not_before = 0.0
    d.add(Entry("late", "600", entered=100.0))
    assert d.position(f"c{k}") == before == k + 1
    assert d.position("late") == n + 1
    offers = d.assign(0.0, {"a0"}, callback_slots=1)
    assert offers[0][0].id == "c0"                 # the head is served first, callback or not
