"""Callbacks asked for through the engine API: `callback.schedule` (the one-click "Call back" of the
abandoned-call list) goes through the caller's callback machinery — the agent first, then the line,
only numbers the queue's callback extension may dial — and `callback.done` takes a failed callback
off the list for a person. On the simulated board, with the audio of both sides checked."""
from __future__ import annotations

import datetime as dt

import pytest
from cc_scenarios import call_in, contains, events, login, make_pbx, prompt, svc

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.harness import START_EPOCH, tone_level
from firmware.reports.kpis import KpiParams
from firmware.reports.source import Site, make_request, report_from_store


@pytest.fixture
def cbx(tmp_path):
    p = make_pbx(tmp_path, callback_key="5", callback_as="204", callback_backoff_s=30, callback_retries=2)
    api = LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))
    p.api = api
    yield p
    api.api.close()
    p.close()


def command(p, name: str, **args):
    """Run an engine command; media-thread commands need the simulated clock to tick."""
    fut = p.api.api.submit(name, args)
    for _ in range(200):
        if fut.done():
            break
        p.run(0.01)
    return fut.result(1)


def outside_calls(p) -> list[str]:
    return [c.callee.number for c in [*p.co.history, *p.co.calls] if getattr(c.caller, "kind", "") == "line"]


def abandon(p, number: str) -> str:
    """A caller waits, nobody is free, the caller hangs up after 10 s: the abandoned call's id."""
    r = call_in(p, number)
    p.run(10.0)
    r.hang_up()
    p.run(3.0)
    return next(x["call_id"] for x in events(p) if x["event"] == "ABANDON" and x["call_id"] != "NONE"
                and x["call_id"] in {e["call_id"] for e in events(p) if e["data2"] == number})


def test_one_click_callback_from_the_abandoned_list_connects_agent_then_customer(cbx):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    call_id = abandon(p, "5550142")
    day = dt.datetime.fromtimestamp(START_EPOCH, dt.UTC).date().isoformat()
    req = make_request(day, day, "day", Site(), KpiParams())
    (listed,) = report_from_store(p.data_dir, req)["abandoned_calls"]
    assert listed["call_id"] == call_id and not listed["reached_since"]
    done = command(p, "callback.schedule", queue=listed["queue"], number=listed["number"], call_id=call_id)
    assert done["callback"]["number"] == "5550142"
    assert outside_calls(p) == []                                    # nothing dialled before an agent is there
    s.unpause(s.agents["alice"])
    ph = p.phone("201")
    p.run_until(lambda: ph.is_ringing, 5)
    ph.clear_heard()
    ph.off_hook()
    r = p.co.remote("5550142")
    p.run_until(lambda: r.is_ringing, 15)                           # the agent first, then the line
    assert contains(ph.heard(), prompt("queue/callback_for")) > 0.8
    assert outside_calls(p) == ["5550142"]
    r.answer()
    p.run(1.0)
    r.play_tone([1000], 600, -12)
    ph.clear_heard()
    p.run(0.8)
    assert tone_level(ph.heard()[-2400:], 1000) > -35
    ph.play_tone([700], 600, -12)
    r.clear_heard()
    p.run(0.8)
    assert tone_level(r.heard()[-2400:], 700) > -35
    ph.on_hook()
    p.run(2.0)
    mine = [x["event"] for x in events(p) if x["call_id"] == call_id]
    assert mine == ["ENTERQUEUE", "ABANDON", "CALLBACKREQ", "CALLBACKDIAL", "CALLBACKANSWER", "COMPLETEAGENT"]
    (listed,) = report_from_store(p.data_dir, req)["abandoned_calls"]
    assert listed["reached_since"]                                  # the list now says: reached


@pytest.mark.parametrize("number", ["1" * 40, "*#", "01144207946000", "19005551234", "", "555-0142; DROP"])
def test_bad_numbers_are_refused_with_a_reason_and_nothing_is_dialled(cbx, number):
    p = cbx
    s = svc(p)
    login(p, "alice")
    with pytest.raises(ApiError) as err:
        command(p, "callback.schedule", queue="600", number=number)
    assert err.value.code == "bad_request" and "may not be called back" in err.value.message
    assert not s.callbacks and not s.dispatcher.entries
    p.run(3.0)
    assert outside_calls(p) == [] and "CALLBACKREQ" not in [x["event"] for x in events(p)]


def test_unknown_queue_and_a_second_callback_to_the_same_number_are_refused(cbx):
    p = cbx
    with pytest.raises(ApiError, match="no queue"):
        command(p, "callback.schedule", queue="999", number="5550142")
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    command(p, "callback.schedule", queue="600", number="5550142")
    with pytest.raises(ApiError, match="already waiting"):
        command(p, "callback.schedule", queue="600", number="5550142")
    assert len(s.callbacks) == 1


def test_a_failed_callback_is_marked_done_and_leaves_the_list(cbx):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = p.co.remote("5550142")
    r.busy = True
    command(p, "callback.schedule", queue="600", number="5550142")
    s.unpause(s.agents["alice"])
    ph = p.phone("201")
    for attempt in (1, 2):
        p.run_until(lambda: ph.is_ringing, 70)
        ph.off_hook()
        p.run_until(lambda n=attempt: [x["event"] for x in events(p)].count("CALLBACKFAIL") >= n, 20)
        ph.on_hook()
        p.run(1.5)
    (todo,) = command(p, "callback.list")["callbacks"]
    assert (todo["number"], todo["done"]) == ("5550142", None)
    marked = command(p, "callback.done", id=todo["id"])
    assert marked["done"] is not None
    assert command(p, "callback.list")["callbacks"] == []
    (kept,) = command(p, "callback.list", include_done=True)["callbacks"]
    assert kept["done"] == marked["done"]                           # nothing lost: kept, marked done
    assert command(p, "callback.done", id=todo["id"])["done"] == marked["done"]     # twice: no change
    with pytest.raises(ApiError, match="no failed callback"):
        command(p, "callback.done", id=999)
