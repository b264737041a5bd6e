"""Engine API `calls.list` / `calls.hangup` on the simulated board (issue 9, item 12): who calls
whom with the caller's name, one entry per call (not per port), an outbound call reads "ringing
out" until the engine says it was answered, and an administrator's hang-up frees everything."""
from __future__ import annotations

import pytest
from engine_scenarios import off_hook_and_dial, records

from firmware.api import ApiError, EngineApi


@pytest.fixture
def api(pbx):
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield engine_api
    engine_api.close()


def call(pbx, api, name: str, **args):
    fut = api.submit(name, args)
    pbx.run(0.02)                         # the media thread runs the command at its next tick
    return fut.result(timeout=1)


def test_inbound_call_is_one_call_with_the_callers_name_then_hung_up_by_the_admin(pbx, api):
    assert call(pbx, api, "calls.list") == []
    remote = pbx.co.remote("5550100")
    remote.call(pbx.co.line_number(1), name="ALICE")
    phone = pbx.phone("201")
    pbx.run_until(lambda: phone.is_ringing and phone.caller_id is not None, 10)
    (ringing,) = call(pbx, api, "calls.list")
    assert ringing["state"] == "ringing" and ringing["direction"] == "inbound"
    assert (ringing["caller"]["name"], ringing["caller"]["number"]) == ("ALICE", "5550100")
    assert ringing["ringing"] == ["fxs1"]
    phone.off_hook()
    pbx.run(1)
    (up,) = call(pbx, api, "calls.list")          # two ports in call, one call
    assert up["state"] == "in call" and set(up["ports"]) == {"fxo1", "fxs1"}
    assert up["callee"]["number"] == "201"

    assert call(pbx, api, "calls.hangup", call_id=up["id"]) == {"ended": up["id"]}
    pbx.run(1.5)
    assert call(pbx, api, "calls.list") == []
    assert pbx.state("fxo1") == "idle" and not pbx.board.fxo(1).is_off_hook
    assert pbx.state("fxs1") == "busy"                # the phone still off hook hears busy tone
    assert remote.state != "connected"
    phone.on_hook()
    pbx.run(1.5)
    assert pbx.state("fxs1") == "idle"
    (rec,) = records(pbx)
    assert rec["disposition"] == "answered" and rec["ended"] is not None
    with pytest.raises(ApiError) as err:
        call(pbx, api, "calls.hangup", call_id=up["id"])
    assert err.value.code == "not_found"


def test_outbound_call_reads_ringing_out_until_answered(pbx, api):
    off_hook_and_dial(pbx, "201", "95550100")
    remote = pbx.co.remote("5550100")
    pbx.run_until(lambda: remote.is_ringing and pbx.state("fxs1") == "ringback", 10)
    (out,) = call(pbx, api, "calls.list")
    assert out["direction"] == "outbound"
    assert out["state"] == "ringing out", "nobody has answered yet"
    assert out["callee"]["number"] == "5550100" and out["line"]
    pbx.run(13)                       # long enough for the exchange's ringback to be recognised
    assert call(pbx, api, "calls.list")[0]["state"] == "ringing out"
    remote.answer()
    pbx.run_until(lambda: call(pbx, api, "calls.list")[0]["state"] == "in call", 15)


def test_internal_call_hang_up_frees_both_phones(pbx, api):
    a = off_hook_and_dial(pbx, "201", "202")
    b = pbx.phone("202")
    pbx.run_until(lambda: b.is_ringing, 5)
    b.off_hook()
    pbx.run(0.5)
    (c,) = call(pbx, api, "calls.list")
    assert c["caller"]["number"] == "201" and c["callee"]["number"] == "202" and c["state"] == "in call"
    call(pbx, api, "calls.hangup", call_id=c["id"])
    pbx.run(0.5)
    assert call(pbx, api, "calls.list") == []
    assert pbx.state("fxs1") == "busy" and pbx.state("fxs2") == "busy"
    a.on_hook()
    b.on_hook()
    pbx.run(1.5)
    assert pbx.state("fxs1") == "idle" and pbx.state("fxs2") == "idle"
