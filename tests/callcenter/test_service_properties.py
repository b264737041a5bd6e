"""Property test of the queue service on the simulated board (hypothesis, few examples: each is a
real minute of calls): whatever callers and agents do — arrive, give up, press the exit key, ask
for a callback, answer late or not at all, hang up first — every caller that entered ends in
exactly one final event, no agent is offered two calls, connects and completions reconcile, and
nothing is left stuck."""
from __future__ import annotations

import shutil

from cc_scenarios import events, login, make_pbx, svc
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from firmware.callcenter import FINAL_EVENTS, model
from firmware.callcenter.service import QueueConnection

caller_plan = st.fixed_dictionaries({
    "at": st.floats(0, 30), "line": st.integers(1, 3), "patience": st.floats(3, 40),
    "talk": st.floats(1, 15), "caller_ends": st.booleans(), "key": st.sampled_from(["", "0", "5"]),
    "key_at": st.floats(1, 10)})
agent_plan = st.fixed_dictionaries({"delay": st.floats(0.5, 14), "pause_at": st.one_of(st.none(), st.floats(0, 40))})


# Found by this test: a callback answered by one agent was still offered to the others while the first
# heard "callback for ..." (three agents on one callback, one left holding it at the end).
@example(callers=[{"at": 0.0, "key_at": 1.8, "patience": 10.8, "line": 2, "talk": 10.6, "caller_ends": True, "key": ""},
                  {"at": 1.7, "caller_ends": False, "key": "", "key_at": 4.0, "talk": 2.0, "patience": 14.0, "line": 2},
                  {"at": 28.6, "talk": 12.0, "caller_ends": False, "key": "", "patience": 36.4, "line": 3, "key_at": 2.2},
                  {"key_at": 3.93, "key": "5", "talk": 1.5, "at": 9.55, "caller_ends": True, "line": 3, "patience": 14.0},
                  {"at": 30.0, "key": "5", "patience": 6.76, "caller_ends": False, "talk": 14.0, "key_at": 3.29, "line": 1}],
         agents=[{"delay": 2.68, "pause_at": None}, {"delay": 0.8, "pause_at": None}, {"pause_at": None, "delay": 7.2}],
         strategy="random")
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(callers=st.lists(caller_plan, min_size=1, max_size=5), agents=st.lists(agent_plan, min_size=3, max_size=3),
       strategy=st.sampled_from(model.STRATEGIES))
def test_every_caller_ends_once_and_counts_reconcile(tmp_path_factory, callers, agents, strategy):
    tmp = tmp_path_factory.mktemp("prop")
    p = make_pbx(tmp, fxo=3, fxs=3, strategy=strategy, ring_s=6, wrapup_s=2, autopause_after=2, exit_key="0",
                 exit_dest="voicemail:201", callback_key="5", callback_as="201", callback_backoff_s=10,
                 callback_retries=1, join_empty=[], leave_empty=[])
    try:
        s = svc(p)
        names = ["alice", "bob", "carol"]
        login(p, *names)
        t0 = p.now
        remotes = {}
        waiting = sorted(enumerate(callers), key=lambda x: x[1]["at"])
        answer_at: dict[str, float] = {}
        for _ in range(int(70 / 0.1)):
            now = p.now - t0
            while waiting and waiting[0][1]["at"] <= now:
                i, c = waiting.pop(0)
                r = p.co.remote(f"55501{i:02d}")
                r.call(p.co.line_number(c["line"]))
                remotes[i] = {"r": r, "plan": c, "start": now, "talk_from": None, "keyed": False}
            in_talk = {a.connection.call.cid_number: u for u, a in s.agents.items()
                       if isinstance(a.connection, QueueConnection)}
            for i, st_ in list(remotes.items()):
                r, c = st_["r"], st_["plan"]
                number = f"55501{i:02d}"
                if number in in_talk:
                    st_["talk_from"] = st_["talk_from"] or now
                    if now - st_["talk_from"] > c["talk"]:
                        if c["caller_ends"]:
                            r.hang_up()
                        else:
                            p.phone({"alice": "201", "bob": "202", "carol": "203"}[in_talk[number]]).on_hook()
                        remotes.pop(i)
                elif st_["talk_from"] is None:
                    if c["key"] and not st_["keyed"] and now - st_["start"] > c["key_at"]:
                        r.dial(c["key"] + ("1" if c["key"] == "5" else ""))
                        st_["keyed"] = True
                    if now - st_["start"] > c["patience"] or r.state == "busy":
                        r.hang_up()
                        remotes.pop(i)
                elif now - st_["talk_from"] > 0:
                    r.hang_up()
                    remotes.pop(i)
            for name, plan in zip(names, agents, strict=True):
                a = s.agents[name]
                ph = p.phone({"alice": "201", "bob": "202", "carol": "203"}[name])
                if plan["pause_at"] is not None and now > plan["pause_at"] and a.status == "available":
                    s.pause(a, "lunch")
                    plan["pause_at"] = None
                if a.offer is not None and not ph.is_off_hook:
                    answer_at.setdefault(name, now + plan["delay"])
                    if now > answer_at[name]:
                        ph.off_hook()
                        answer_at.pop(name)
                elif a.offer is None:
                    answer_at.pop(name, None)
                    if ph.is_off_hook and a.connection is None and now > 1:
                        ph.on_hook()
            for a in s.agents.values():
                assert not (a.offer is not None and a.connection is not None)
            p.run(0.1)
        for st_ in remotes.values():
            st_["r"].hang_up()
        for ext in ("201", "202", "203"):
            p.phone(ext).on_hook()
        for cb in list(s.callbacks.values()):          # unfinished callbacks: still waiting their turn
            s.dispatcher.remove(cb.entry.id)
        p.run(12.0)
        rows = events(p)
        by_call: dict[str, list[str]] = {}
        for r in rows:
            if r["call_id"] != "NONE":
                by_call.setdefault(r["call_id"], []).append(r["event"])
        for cid, evs in by_call.items():
            if "ENTERQUEUE" not in evs:
                continue
            # a callback's own outcome (CALLBACKDIAL..COMPLETEAGENT) follows its CALLBACKREQ
            caller_part = evs[: evs.index("CALLBACKREQ") + 1] if "CALLBACKREQ" in evs else evs
            finals = [e for e in caller_part if e in FINAL_EVENTS]
            assert len(finals) == 1, (cid, evs)
            assert evs.count("CONNECT") <= 1
        verbs = [r["event"] for r in rows]
        completes = verbs.count("COMPLETEAGENT") + verbs.count("COMPLETECALLER")
        callback_answers = verbs.count("CALLBACKANSWER")
        assert verbs.count("CONNECT") + callback_answers == completes
        assert verbs.count("ENTERQUEUE") == sum(verbs.count(e) for e in FINAL_EVENTS) - callback_answers
        assert not s.callers and all(a.offer is None and a.connection is None for a in s.agents.values())
        assert all(ps.state in ("idle", "agent-ready") for ps in p.engine.port_status()), p.engine.port_status()
    finally:
        p.close()
        shutil.rmtree(tmp, ignore_errors=True)
