"""The desk's Ready button (wrap-up ended early), headset mode kept across calls, and pickup of a
queue call ringing a colleague (from the desk and by `**ext` / `*8`), end to end on the simulated
board with audio; the queue's bookkeeping (queue_events, offers, the agents' call counts) checked."""
from __future__ import annotations

import pytest
from cc_scenarios import AGENTS, call_in, events, login, make_pbx, run_until_checked, svc
from desk_kit import answer, call, client
from test_desk_call_control import agent_to_caller, caller_to_agent, tone_level_between

from firmware.api import ApiError
from firmware.callcenter import model


def test_ready_ends_wrapup_now_and_the_waiting_caller_is_offered_at_once(tmp_path):
    p = make_pbx(tmp_path, wrapup_s=60, join_empty=[], leave_empty=[])
    try:
        api = client(p)
        login(p, "alice")
        with pytest.raises(ApiError) as exc:
            call(p, api, "desk.ready", username="alice")
        assert exc.value.code == "conflict"                              # not in wrap-up: nothing to end
        s, alice = svc(p), svc(p).agents["alice"]
        r1 = call_in(p, "5550142", line=1)
        answer(p, "201")
        r1.hang_up()
        p.run_until(lambda: s.state_of(alice) == "wrapup", 5)
        wrap_began = p.now
        p.run(1.0)
        p.phone("201").on_hook()
        p.run(0.5)
        r2 = call_in(p, "5550143", line=2)
        p.run(4.0)
        assert not p.phone("201").is_ringing                             # alice is in wrap-up: r2 waits
        me = call(p, api, "desk.state", username="alice")
        in_wrapup = p.now - wrap_began
        assert me["state"] == "wrapup" and me["wrapup_left_s"] > 60 - in_wrapup - 2
        assert abs(me["state_s"] - in_wrapup) <= 1.5 and me["state_s"] >= 5     # time in wrap-up ...
        assert me["in_state_s"] > me["state_s"]                          # ... not the status's time
        out = call(p, api, "desk.ready", username="alice")
        assert abs(out["wrapup_s"] - (p.now - wrap_began)) <= 1.5
        p.run(0.1)
        assert p.phone("201").is_ringing                                 # offered at once
        me = call(p, api, "desk.state", username="alice")
        assert me["state"] == "ringing" and me["wrapup_left_s"] == 0 and me["state_s"] <= 1
        ends = [e for e in events(p) if e["event"] == "WRAPUPEND" and e["agent"] == "alice"]
        assert len(ends) == 1 and int(ends[0]["data1"]) == out["wrapup_s"] < 60     # what wrap-up really took
        answer(p, "201")
        assert caller_to_agent(p, r2, "201") > -30
        me = call(p, api, "desk.state", username="alice")
        assert me["state"] == "queue_call" and me["state_s"] <= 3
        p.run(70.0)                                                      # the cancelled timer logs nothing more
        assert len([e for e in events(p) if e["event"] == "WRAPUPEND" and e["agent"] == "alice"]) == 1
        api.api.close()
    finally:
        p.close()


def headset_login(p, user: str = "alice") -> None:
    ext = AGENTS[user][2]
    p.phone(ext).off_hook()
    p.run(0.3)
    p.phone(ext).dial("*45" + AGENTS[user][0] + "#" + AGENTS[user][1] + "#")
    run_until_checked(p, lambda: svc(p).agents[user].headset, 20)
    p.run(2.0)


def test_headset_mode_is_kept_after_click_to_dial_and_the_next_queue_call_comes_by_zip(tmp_path):
    p = make_pbx(tmp_path, wrapup_s=30)
    try:
        api = client(p)
        headset_login(p)
        s, alice = svc(p), svc(p).agents["alice"]
        assert call(p, api, "desk.dial", username="alice", number="202")["how"] == "headset"
        answer(p, "202")
        assert tone_level_between(p, "201", "202") > -30
        p.phone("202").on_hook()                                         # the colleague hangs up first
        p.run(1.0)
        me = call(p, api, "desk.state", username="alice")
        assert me["headset"] is True and me["state"] == "idle"           # was: busy tone, "direct call"
        assert alice.headset and s.is_free(alice)
        r = call_in(p)                                                   # a queue call: zip, no ringing
        p.run(1.5)
        assert not p.phone("201").is_ringing
        assert call(p, api, "desk.state", username="alice")["call"]["phase"] == "talking"
        assert caller_to_agent(p, r, "201") > -30 and agent_to_caller(p, r, "201") > -35
        r.hang_up()
        p.run(2.0)
        assert call(p, api, "desk.state", username="alice")["state"] == "wrapup"
        call(p, api, "desk.ready", username="alice")
        p.run(0.2)
        # and again: a second click-to-dial still dials at once
        assert call(p, api, "desk.dial", username="alice", number="203")["how"] == "headset"
        answer(p, "203")
        assert tone_level_between(p, "203", "201") > -30
        p.phone("203").on_hook()
        p.run(1.0)
        assert call(p, api, "desk.state", username="alice")["headset"] is True
        p.phone("201").on_hook()                                         # hanging up ends headset mode
        p.run(2.0)                                                       # (longer than a hook flash)
        assert call(p, api, "desk.state", username="alice")["headset"] is False
        api.api.close()
    finally:
        p.close()


def _ringing_bob(tmp_path):
    p = make_pbx(tmp_path, ring_s=30)
    login(p, "alice", "bob")
    svc(p).pause(svc(p).agents["alice"], "lunch")                      # the call rings bob only
    p.run(0.1)
    r = call_in(p)
    p.run_until(lambda: p.phone("202").is_ringing, 5)
    assert not p.phone("201").is_ringing
    return p, r


def _picked_up_by_alice(p, r) -> str:
    s = svc(p)
    alice, bob = s.agents["alice"], s.agents["bob"]
    p.run(0.5)
    assert not p.phone("202").is_ringing and bob.offer is None          # bob's offer withdrawn
    assert s.state_of(bob) == "idle" and bob.missed == 0                # nothing counted against bob
    assert s.state_of(alice) == "queue_call"
    assert caller_to_agent(p, r, "201") > -30 and agent_to_caller(p, r, "201") > -35
    call_id = alice.connection.call.id
    ev = events(p, call_id)
    assert [e["event"] for e in ev] == ["ENTERQUEUE", "CONNECT"]       # no RINGNOANSWER, one CONNECT
    assert ev[1]["agent"] == "alice"
    assert s.dispatcher.agent("alice").calls.get("600") == 1           # the answering agent's count
    assert not s.dispatcher.agent("bob").calls.get("600")
    assert call_id not in s.dispatcher.entries                          # left the queue
    r.hang_up()
    p.run(2.0)
    done = events(p, call_id)[-1]
    assert (done["event"], done["agent"]) == ("COMPLETECALLER", "alice")
    assert s.state_of(alice) == "wrapup"
    return call_id


def test_pickup_from_the_desk_of_a_queue_call_ringing_a_colleague(tmp_path):
    p, r = _ringing_bob(tmp_path)
    try:
        api = client(p)
        assert call(p, api, "desk.pickup", username="alice", extension="202")["how"] == "ringing"
        answer(p, "201")
        _picked_up_by_alice(p, r)
        api.api.close()
    finally:
        p.close()


@pytest.mark.parametrize("code", ["**202#", "*8"])
def test_pickup_by_feature_code_of_a_queue_call_ringing_a_colleague(tmp_path, code):
    p, r = _ringing_bob(tmp_path)
    try:
        p.phone("201").off_hook()
        p.run(0.3)
        p.phone("201").dial(code)
        p.run(2.5)
        _picked_up_by_alice(p, r)
    finally:
        p.close()


def test_pickup_of_another_teams_queue_call_is_refused(tmp_path):
    p = make_pbx(tmp_path, ring_s=30)
    try:
        for team in ("north", "south"):
            model.save_team(p.config, {"id": team, "name": team.title()})
        for user, team in (("alice", "north"), ("bob", "south")):
            number, pin, _ext = AGENTS[user]
            model.save_agent(p.config, {"username": user, "name": user.title(), "number": number, "pin": pin,
                                        "team": team}, original=user)
        p.run(0.2)
        api = client(p)
        login(p, "alice", "bob")
        svc(p).pause(svc(p).agents["alice"], "lunch")
        r = call_in(p)
        p.run_until(lambda: p.phone("202").is_ringing, 5)
        with pytest.raises(ApiError) as exc:
            call(p, api, "desk.pickup", username="alice", extension="202")
        assert exc.value.code == "forbidden" and "another team" in exc.value.message
        p.phone("201").off_hook()                                        # by the code: congestion, nothing taken
        p.run(0.3)
        p.phone("201").dial("**202#")
        p.run(1.5)
        assert p.phone("202").is_ringing and svc(p).agents["bob"].offer is not None
        assert svc(p).agents["alice"].connection is None
        p.phone("202").off_hook()
        p.run(0.6)
        assert caller_to_agent(p, r, "202") > -30
        api.api.close()
    finally:
        p.close()
