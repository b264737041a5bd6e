"""Wrap-up with the customer database, end to end on the simulated board: the pop names the caller
while the agent's phone rings, the wrap-up stores the interaction (with the recording), creates a
work order, logs DISPOSITION; the caller's next call pops that interaction and the open work order.
An unknown disposition or another agent's call stores nothing."""
from __future__ import annotations

import pytest
from cc_scenarios import call_in, events, login
from desk_kit import answer, call, client

from firmware.api import ApiError


def _wrapped(pbx, api, user, call_id, **args):
    return call(pbx, api, "desk.wrapup", username=user, call_id=call_id, **args)


def test_wrapup_stores_the_interaction_and_a_work_order_and_the_next_call_pops_them(pbx):
    api = client(pbx)
    saved = call(pbx, api, "customers.save", contact={"name": "Dora Diaz", "company": "Diaz & Co",
                                                     "tags": ["VIP"], "numbers": ["5550142"]})
    login(pbx, "alice")
    r = call_in(pbx, "5550142")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)
    c = call(pbx, api, "desk.state", username="alice")["call"]
    pop = call(pbx, api, "customers.pop", number=c["raw"], call_id=c["call_id"])   # what the page asks
    assert pop["contact"]["id"] == saved["id"] and pop["contact"]["name"] == "Dora Diaz"
    assert pop["interactions"] == [] and pop["work_orders"] == []
    answer(pbx, "201")
    call_id = c["call_id"]
    call(pbx, api, "desk.record", username="alice", call_id=call_id, on=True)
    pbx.run(1.0)
    call(pbx, api, "desk.hangup", username="alice", call_id=call_id)
    pbx.run(0.5)
    pbx.phone("201").on_hook()                  # the phone heard busy tone since the browser hung up
    with pytest.raises(ApiError) as exc:
        _wrapped(pbx, api, "alice", call_id, disposition="chitchat", notes="x")
    assert exc.value.code == "bad_request" and "Unknown disposition" in exc.value.message
    with pytest.raises(ApiError) as exc:
        _wrapped(pbx, api, "bob", call_id, disposition="complaint")
    assert exc.value.code == "forbidden"
    assert not [x for x in events(pbx, call_id) if x["event"] == "DISPOSITION"]    # nothing stored
    done = _wrapped(pbx, api, "alice", call_id, disposition="complaint", notes="Parcel arrived broken",
                    resolved=False, work_order={"title": "Replace broken parcel", "description": "Box 2 of 2"})
    assert done["work_order"]["state"] == "submitted" and done["work_order"]["title"] == "Replace broken parcel"
    assert done["interaction"]["contact_id"] == saved["id"]
    assert [x["data1"] for x in events(pbx, call_id) if x["event"] == "DISPOSITION"] == ["complaint"]
    r.hang_up()
    pbx.run(6.0)

    r2 = call_in(pbx, "5550142")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 8)
    c2 = call(pbx, api, "desk.state", username="alice")["call"]
    pop2 = call(pbx, api, "customers.pop", number=c2["raw"], call_id=c2["call_id"])
    [last] = pop2["interactions"]
    assert (last["agent"], last["disposition"], last["notes"], last["call_id"]) == (
        "alice", "complaint", "Parcel arrived broken", call_id)
    assert last["recording"] and call_id in last["recording"]
    assert [w["title"] for w in pop2["work_orders"]] == ["Replace broken parcel"]
    answer(pbx, "201")
    pbx.phone("201").on_hook()
    pbx.run(1.0)
    upd = _wrapped(pbx, api, "alice", c2["call_id"], disposition="consultation", resolved=True,
                   work_order_id=done["work_order"]["id"], work_order_note="Customer called back, replacement sent")
    assert "replacement sent" in upd["work_order"]["description"]
    assert upd["interaction"]["id"] != done["interaction"]["id"]
    r2.hang_up()
    pbx.run(1.0)
    api.api.close()
