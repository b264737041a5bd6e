"""Call control from the agent desktop, end to end on the simulated board with audio: the same
engine API commands the browser's buttons call (`desk.*`). A caller on an outside line reaches
queue 600; phones 201-204 are agents alice, bob, carol, dave."""
from __future__ import annotations

import numpy as np
import pytest
from cc_scenarios import call_in, events, login, run_until_checked, svc
from desk_kit import answer, call, client

from dsp_ext.levels import rms_dbm0
from firmware.api import ApiError
from firmware.harness import tone_level


def caller_to_agent(p, r, ext: str) -> float:
    r.play_tone([1000], 600, -12)
    p.phone(ext).clear_heard()
    p.run(0.8)
    return tone_level(p.phone(ext).heard()[-2400:], 1000)


def agent_to_caller(p, r, ext: str) -> float:
    p.phone(ext).play_tone([700], 600, -12)
    r.clear_heard()
    p.run(0.8)
    return tone_level(r.heard()[-2400:], 700)


def is_music(heard: np.ndarray) -> bool:
    n = min(8000, len(heard))
    spectrum = np.abs(np.fft.rfft(heard[:n] * np.hanning(n)))
    return rms_dbm0(heard) > -35 and (spectrum > spectrum.max() * 0.1).sum() > 5


def test_state_pops_the_ringing_call_then_hold_resume_hangup_with_audio(pbx):
    api = client(pbx)
    login(pbx, "alice")
    r = call_in(pbx, "5550142")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)
    ringing = call(pbx, api, "desk.state", username="alice")
    assert ringing["state"] == "ringing"
    c = ringing["call"]
    assert (c["phase"], c["number"], c["queue"], c["queue_name"]) == ("ringing", "5550142", "600", "Sales")
    call_id = c["call_id"]
    with pytest.raises(ApiError) as exc:                   # not answered yet: nothing to hold
        call(pbx, api, "desk.hold", username="alice", call_id=call_id)
    assert exc.value.code == "conflict"
    answer(pbx, "201")
    talking = call(pbx, api, "desk.state", username="alice")
    assert talking["call"]["phase"] == "talking" and talking["call"]["call_id"] == call_id
    assert caller_to_agent(pbx, r, "201") > -30

    assert call(pbx, api, "desk.hold", username="alice", call_id=call_id) == {"phase": "held"}
    assert call(pbx, api, "desk.state", username="alice")["call"]["phase"] == "held"
    r.clear_heard()
    pbx.run(1.5)
    assert is_music(r.heard()), "the held caller does not hear music on hold"
    assert caller_to_agent(pbx, r, "201") < -45, "the agent still hears the held caller"

    assert call(pbx, api, "desk.resume", username="alice", call_id=call_id) == {"phase": "talking"}
    assert caller_to_agent(pbx, r, "201") > -30
    assert agent_to_caller(pbx, r, "201") > -35

    assert call(pbx, api, "desk.hangup", username="alice", call_id=call_id) == {"phase": "ended"}
    pbx.run(1.0)
    s = svc(pbx)
    assert s.state_of(s.agents["alice"]) == "wrapup"
    assert pbx.state("fxo1") == "idle"                      # the caller's line was let go
    pbx.phone("201").clear_heard()
    pbx.run(1.0)
    assert tone_level(pbx.phone("201").heard(), 480) > -35  # phone still off hook: busy tone
    verbs = [x["event"] for x in events(pbx, call_id)]
    assert verbs == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
    api.api.close()


def test_blind_transfer_from_the_browser_to_an_extension_and_a_queue(tmp_path):
    from cc_scenarios import make_pbx

    from firmware.callcenter import model
    p = make_pbx(tmp_path)
    try:
        model.save_queue(p.config, {"number": "601", "name": "Billing", "members": [{"agent": "carol", "penalty": 0}],
                                    "join_empty": [], "leave_empty": [], "announce_every_s": 0})
        p.run(0.2)
        api = client(p)
        login(p, "alice")
        r = call_in(p)
        answer(p, "201")
        call_id = call(p, api, "desk.state", username="alice")["call"]["call_id"]
        for bad, code in (("201", "bad_request"), ("12; rm -rf /", "bad_request"),
                          ("999", "forbidden")):              # 9 + "99": an outside number the gate refuses
            with pytest.raises(ApiError) as exc:
                call(p, api, "desk.transfer", username="alice", call_id=call_id, target=bad)
            assert exc.value.code == code
        assert caller_to_agent(p, r, "201") > -30               # a refused transfer changes nothing
        call(p, api, "desk.transfer", username="alice", call_id=call_id, target="204")
        answer(p, "204")
        assert caller_to_agent(p, r, "204") > -30
        assert agent_to_caller(p, r, "204") > -35
        tr = next(x for x in events(p, call_id) if x["event"] == "TRANSFER")
        assert (tr["data1"], tr["agent"]) == ("204", "alice")
        r.hang_up()
        p.run(2.0)
        p.phone("204").on_hook()
        p.phone("201").on_hook()
        p.run(6.0)

        login(p, "carol")
        svc(p).pause(svc(p).agents["carol"], "lunch")
        r2 = call_in(p, "5550143")
        answer(p, "201")
        call_id2 = call(p, api, "desk.state", username="alice")["call"]["call_id"]
        call(p, api, "desk.transfer", username="alice", call_id=call_id2, target="601")
        svc(p).unpause(svc(p).agents["carol"])
        answer(p, "203")
        assert caller_to_agent(p, r2, "203") > -30
        assert [x["event"] for x in events(p, call_id2)][-1] == "CONNECT"
        assert any(x["event"] == "TRANSFER" and x["data1"] == "601" for x in events(p, call_id2))
        api.api.close()
    finally:
        p.close()


def test_an_agent_cannot_act_on_another_agents_call(pbx):
    api = client(pbx)
    login(pbx, "alice", "bob")
    s = svc(pbx)
    s.pause(s.agents["bob"], "lunch")
    r = call_in(pbx)
    answer(pbx, "201")
    call_id = call(pbx, api, "desk.state", username="alice")["call"]["call_id"]
    assert call(pbx, api, "desk.state", username="bob")["call"] is None      # bob's desk shows no call
    for name, extra in (("desk.hold", {}), ("desk.hangup", {}), ("desk.resume", {}),
                        ("desk.transfer", {"target": "202"})):
        with pytest.raises(ApiError) as exc:
            call(pbx, api, name, username="bob", call_id=call_id, **extra)
        assert exc.value.code == "forbidden", name
        assert "another agent" in exc.value.message
    with pytest.raises(ApiError) as exc:                                   # not an agent at all
        call(pbx, api, "desk.hangup", username="mallory", call_id=call_id)
    assert exc.value.code == "forbidden"
    assert caller_to_agent(pbx, r, "201") > -30                              # alice's call untouched
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.wrapup", username="bob", call_id=call_id, disposition="order")
    assert exc.value.code == "forbidden"
    pbx.phone("201").on_hook()
    pbx.run(1.5)
    assert call(pbx, api, "desk.recent", username="alice")["calls"][0]["wrapped"] is False
    notes = "wants =cmd|' /C calc'!A0 delivered"
    done = call(pbx, api, "desk.wrapup", username="alice", call_id=call_id, disposition="order",
                notes=notes, resolved=True)
    assert done["number"] == "5550142" and done["queue"] == "600"
    disp = [x for x in events(pbx, call_id) if x["event"] == "DISPOSITION"]
    assert [(d["agent"], d["data1"], d["data2"], d["data3"]) for d in disp] == [("alice", "order", "1", str(len(notes)))]
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.wrapup", username="alice", call_id=call_id, disposition="order")
    assert exc.value.code == "conflict"
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.wrapup", username="alice", call_id=call_id, disposition="'; DROP TABLE x")
    assert exc.value.code == "bad_request"
    assert call(pbx, api, "desk.recent", username="alice")["calls"][0]["wrapped"] is True
    api.api.close()


def test_click_to_dial_rings_the_agents_phone_then_calls_and_headset_dials_at_once(pbx):
    api = client(pbx)
    login(pbx, "alice")
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.dial", username="bob", number="202")            # bob is not logged in
    assert exc.value.code == "conflict"
    assert call(pbx, api, "desk.dial", username="alice", number="202")["how"] == "ringing"
    answer(pbx, "201")                                                       # alice's phone rang first
    answer(pbx, "202")                                                       # then the extension
    assert tone_level_between(pbx, "201", "202") > -30
    pbx.phone("202").on_hook()
    pbx.phone("201").on_hook()
    pbx.run(1.0)
    # the outbound gate: premium numbers are refused for the default class, before anything rings
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.dial", username="alice", number="19005551234")
    assert exc.value.code == "forbidden"
    pbx.run(0.5)
    assert not pbx.phone("201").is_ringing
    # headset mode: the phone stays off hook after login; dialling needs no ringing
    pbx.phone("201").off_hook()
    pbx.run(0.5)
    s = svc(pbx)
    s.logout(s.agents["alice"])
    pbx.phone("201").on_hook()
    pbx.run(0.5)
    pbx.phone("201").off_hook()
    pbx.run(0.3)
    pbx.phone("201").dial("*45" + "1001#4826#")
    run_until_checked(pbx, lambda: s.agents["alice"].headset, 20)     # the PIN check is a real thread
    far = pbx.co.remote("12125550100")
    assert call(pbx, api, "desk.dial", username="alice", number="12125550100")["how"] == "headset"
    pbx.run_until(lambda: far.is_ringing, 10)
    far.answer()
    pbx.run(1.0)
    far.play_tone([1000], 600, -12)
    pbx.phone("201").clear_heard()
    pbx.run(0.8)
    assert tone_level(pbx.phone("201").heard()[-2400:], 1000) > -35
    api.api.close()


def tone_level_between(p, a: str, b: str) -> float:
    p.phone(a).play_tone([1000], 600, -12)
    p.phone(b).clear_heard()
    p.run(0.8)
    return tone_level(p.phone(b).heard()[-2400:], 1000)


def test_the_pop_shows_the_menu_keys_the_caller_chose(tmp_path):
    from cc_scenarios import make_pbx

    from firmware.apps.ivr_store import save_menu
    p = make_pbx(tmp_path)
    try:
        save_menu(p.config, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 3, "retries": 1,
                             "fallback": "extension:201", "options": {"1": "queue:600"}})
        p.config.set_inbound_route("fxo1", "ivr:main")
        p.run(0.2)
        api = client(p)
        login(p, "alice")
        r = p.co.remote("5550142")
        r.call(p.co.line_number(1))
        p.run_until(lambda: getattr(p.engine.channels["fxo1"].handler, "mode", None) == "menu", 15)
        r.dial("1")
        p.run_until(lambda: p.phone("201").is_ringing, 6)
        ringing = call(p, api, "desk.state", username="alice")["call"]
        assert [(s["menu"], s["key"]) for s in ringing["menu_path"]] == [("main", "1")]
        answer(p, "201")
        talking = call(p, api, "desk.state", username="alice")["call"]
        assert [(s["menu"], s["key"]) for s in talking["menu_path"]] == [("main", "1")]
        api.api.close()
    finally:
        p.close()


def test_attended_transfer_from_the_desk_consult_then_complete_or_cancel(pbx):
    api = client(pbx)
    login(pbx, "alice")
    r = call_in(pbx)
    answer(pbx, "201")
    call_id = call(pbx, api, "desk.state", username="alice")["call"]["call_id"]
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.consult", username="alice", call_id=call_id, target="600")
    assert exc.value.code == "bad_request"
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.consult", username="bob", call_id=call_id, target="203")
    assert exc.value.code == "forbidden"
    # consult carol, then go back to the caller
    call(pbx, api, "desk.consult", username="alice", call_id=call_id, target="203")
    assert call(pbx, api, "desk.state", username="alice")["call"]["phase"] == "consult"
    answer(pbx, "203")
    r.clear_heard()
    assert tone_level_between(pbx, "201", "203") > -30                # alice talks to carol
    pbx.run(0.6)
    assert is_music(r.heard()), "the caller does not hear music during the consultation"
    assert tone_level(r.heard(), 1000) < -40                          # and not the consultation
    call(pbx, api, "desk.consult_cancel", username="alice", call_id=call_id)
    pbx.run(0.5)
    assert caller_to_agent(pbx, r, "201") > -30
    pbx.phone("203").on_hook()
    pbx.run(1.0)
    # consult carol again and complete: the caller talks to carol, alice goes to wrap-up
    call(pbx, api, "desk.consult", username="alice", call_id=call_id, target="203")
    answer(pbx, "203")
    call(pbx, api, "desk.consult_complete", username="alice", call_id=call_id)
    pbx.run(0.5)
    assert caller_to_agent(pbx, r, "203") > -30
    assert agent_to_caller(pbx, r, "203") > -35
    s = svc(pbx)
    assert s.state_of(s.agents["alice"]) == "wrapup"
    tr = [x for x in events(pbx, call_id) if x["event"] == "TRANSFER"]
    assert [(x["data1"], x["agent"]) for x in tr] == [("203", "alice")]
    api.api.close()


def test_conference_of_caller_agent_and_consulted_colleague(pbx):
    api = client(pbx)
    login(pbx, "alice")
    r = call_in(pbx)
    answer(pbx, "201")
    call_id = call(pbx, api, "desk.state", username="alice")["call"]["call_id"]
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.conference", username="alice", call_id=call_id)   # nobody consulted yet
    assert exc.value.code == "conflict"
    call(pbx, api, "desk.consult", username="alice", call_id=call_id, target="203")
    answer(pbx, "203")
    with pytest.raises(ApiError) as exc:
        call(pbx, api, "desk.conference", username="bob", call_id=call_id)
    assert exc.value.code == "forbidden"
    assert call(pbx, api, "desk.conference", username="alice", call_id=call_id) == {"phase": "conference"}
    # each hears the other two: the caller's 1000 Hz at alice and carol, alice's 700 Hz at the caller and carol
    r.play_tone([1000], 700, -12)
    pbx.phone("201").play_tone([700], 700, -12)
    pbx.phone("203").play_tone([1300], 700, -12)
    for ph in ("201", "203"):
        pbx.phone(ph).clear_heard()
    r.clear_heard()
    pbx.run(0.6)
    at_alice, at_carol, at_caller = pbx.phone("201").heard(), pbx.phone("203").heard(), r.heard()
    assert tone_level(at_alice[-2400:], 1000) > -35 and tone_level(at_alice[-2400:], 1300) > -35
    assert tone_level(at_carol[-2400:], 1000) > -35 and tone_level(at_carol[-2400:], 700) > -35
    assert tone_level(at_caller[-2400:], 700) > -38 and tone_level(at_caller[-2400:], 1300) > -38
    pbx.run(0.5)
    # alice leaves: the caller stays with carol
    call(pbx, api, "desk.consult_complete", username="alice", call_id=call_id)
    pbx.run(0.5)
    assert caller_to_agent(pbx, r, "203") > -30
    api.api.close()
