"""Transfer of a queue call to an outside number from the agent desktop, blind and attended,
end to end on the simulated board with audio both ways. The caller comes in on line 1 (an
outside caller), so the owner's trunk-to-trunk permission for transfers is needed on top of the
agent's class of service; a number the owner did not allow is refused and nothing is dialled."""
from __future__ import annotations

import pytest
from cc_scenarios import call_in, events, login, make_pbx, svc
from desk_kit import answer, call, client
from test_desk_call_control import agent_to_caller, caller_to_agent, is_music

from firmware.api import ApiError
from firmware.apps import permissions_store
from firmware.harness import tone_level

FAR = "12125550100"
PREMIUM = "19005551234"


def allow_trunk_transfers(p) -> None:
    permissions_store.update_general(p.config, trunk_to_trunk={"transfer": True})
    p.run(0.2)


def between(p, src, dst, hz: int) -> float:
    src.play_tone([hz], 600, -12)
    dst.clear_heard()
    p.run(0.8)
    return tone_level(dst.heard()[-2400:], hz)


def start(p, api):
    login(p, "alice")
    r = call_in(p)
    answer(p, "201")
    return r, call(p, api, "desk.state", username="alice")["call"]["call_id"]


@pytest.fixture
def talking(tmp_path):
    """The owner allows trunk-to-trunk transfers; a queue caller on line 1 talks to agent alice
    (phone 201). Yields (pbx, api client, caller, call id, the outside party FAR)."""
    p = make_pbx(tmp_path)
    api = None
    try:
        allow_trunk_transfers(p)
        api = client(p)
        r, call_id = start(p, api)
        yield p, api, r, call_id, p.co.remote(FAR)
    finally:
        if api is not None:
            api.api.close()
        p.close()


def far_answers(p, far, settle_s: float) -> None:
    p.run_until(lambda: far.is_ringing, 15)
    far.answer()
    p.run(settle_s)


def nothing_dialled(p, far) -> None:
    p.run(2.0)
    assert not far.is_ringing
    assert p.engine.fxo[1].state == "idle"


def test_blind_transfer_to_a_permitted_outside_number_joins_caller_and_far_party(talking):
    p, api, r, call_id, far = talking
    # a premium number stays refused whatever the trunk permission: nothing dialled
    with pytest.raises(ApiError) as exc:
        call(p, api, "desk.transfer", username="alice", call_id=call_id, target=PREMIUM)
    assert exc.value.code == "forbidden" and "not permitted" in exc.value.message
    assert "Nothing was dialled" in exc.value.message
    assert caller_to_agent(p, r, "201") > -30
    out = call(p, api, "desk.transfer", username="alice", call_id=call_id, target=FAR)
    assert out["outside"] is True
    assert svc(p).state_of(svc(p).agents["alice"]) == "wrapup"     # the agent is free of the call
    far_answers(p, far, 1.5)
    assert between(p, r, far, 1000) > -40          # caller -> far party, through two lines
    assert between(p, far, r, 700) > -40           # and back
    tr = [x for x in events(p, call_id) if x["event"] == "TRANSFER"]
    assert len(tr) == 1 and (tr[0]["data1"], tr[0]["agent"]) == (FAR, "alice")
    p.records.flush()
    leg = p.records.query("SELECT dst, direction FROM calls WHERE dst = ?", (FAR,))
    assert leg and leg[-1]["direction"] == "inbound"
    far.hang_up()
    p.run(3.0)
    assert all(line.state == "idle" for line in p.engine.fxo)


def test_outside_transfer_the_owner_did_not_allow_is_refused_and_nothing_dialled(pbx):
    api = client(pbx)
    r, call_id = start(pbx, api)                         # trunk-to-trunk transfers: off (the default)
    far = pbx.co.remote(FAR)
    for action in ("desk.transfer", "desk.consult"):
        with pytest.raises(ApiError) as exc:
            call(pbx, api, action, username="alice", call_id=call_id, target=FAR)
        assert exc.value.code == "forbidden"
        assert "not permitted" in exc.value.message and "ask the owner" in exc.value.message
        nothing_dialled(pbx, far)
        assert caller_to_agent(pbx, r, "201") > -30          # still talking to the agent
        assert agent_to_caller(pbx, r, "201") > -35
    assert not [x for x in events(pbx, call_id) if x["event"] == "TRANSFER"]
    api.api.close()


def test_attended_transfer_to_an_outside_number_consult_then_complete(talking):
    p, api, r, call_id, far = talking
    with pytest.raises(ApiError) as exc:
        call(p, api, "desk.consult", username="alice", call_id=call_id, target=PREMIUM)
    assert exc.value.code == "forbidden"
    nothing_dialled(p, far)
    assert call(p, api, "desk.consult", username="alice", call_id=call_id, target=FAR)["outside"] is True
    far_answers(p, far, 1.5)
    phone = p.phone("201")
    assert between(p, phone, far, 1000) > -40            # the agent talks to the far party
    assert between(p, far, phone, 700) > -40
    r.clear_heard()
    p.run(1.0)
    assert is_music(r.heard())                           # the caller hears music meanwhile
    assert call(p, api, "desk.state", username="alice")["call"]["phase"] == "consult"
    call(p, api, "desk.consult_complete", username="alice", call_id=call_id)
    assert svc(p).state_of(svc(p).agents["alice"]) == "wrapup"
    p.run(0.5)
    assert between(p, r, far, 1000) > -40                # caller and far party joined
    assert between(p, far, r, 700) > -40
    tr = [x for x in events(p, call_id) if x["event"] == "TRANSFER"]
    assert len(tr) == 1 and tr[0]["data1"] == FAR


def test_attended_outside_consult_cancelled_or_far_end_gone_brings_the_agent_back(talking):
    p, api, r, call_id, far = talking
    call(p, api, "desk.consult", username="alice", call_id=call_id, target=FAR)
    far_answers(p, far, 1.0)
    call(p, api, "desk.consult_cancel", username="alice", call_id=call_id)
    p.run(2.0)
    assert p.engine.fxo[1].state == "idle"                 # the far party let go, its line freed
    assert caller_to_agent(p, r, "201") > -30
    assert agent_to_caller(p, r, "201") > -35
    far.hang_up()                                          # the let-go party puts the phone down
    p.run(1.0)
    # again, and this time the far party hangs up: back with the caller
    call(p, api, "desk.consult", username="alice", call_id=call_id, target=FAR)
    far_answers(p, far, 1.0)
    far.hang_up()
    p.run(3.0)
    assert call(p, api, "desk.state", username="alice")["call"]["phase"] == "talking"
    assert caller_to_agent(p, r, "201") > -30
    assert agent_to_caller(p, r, "201") > -35
    assert not [x for x in events(p, call_id) if x["event"] == "TRANSFER"]
