"""Callback that keeps the caller's place: the caller presses the callback key, confirms the number
(caller ID or keyed), hangs up; the entry keeps its time and position; at the head with an agent
free, the agent's phone rings, the agent hears "callback for ..." and the line is dialled; both sides
talk. Untrusted numbers (40 digits, '*#', international or premium the owner did not allow) are
refused with a prompt and nothing is dialled."""
from __future__ import annotations

import pytest
from cc_scenarios import call_in, contains, events, login, make_pbx, prompt, svc

from dsp_ext.levels import RATE
from firmware.callcenter import model
from firmware.config import ConfigError
from firmware.harness import tone_level


@pytest.fixture
def cbx(tmp_path):
    p = make_pbx(tmp_path, callback_key="5", callback_as="204", callback_backoff_s=30, callback_retries=2)
    yield p
    p.close()


def verbs(rows):
    return [r["event"] for r in rows]


def press(p, r, keys: str, then_s: float = 0.5) -> None:
    r.dial(keys)
    p.run(len(keys) * 0.16 + then_s)


def outside_calls(p) -> list[str]:
    return [c.callee.number for c in [*p.co.history, *p.co.calls] if getattr(c.caller, "kind", "") == "line"]


def test_callback_keeps_the_place_then_agent_first_then_the_caller(cbx):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    r.clear_heard()
    press(p, r, "5", 4.5)
    assert contains(r.heard(), prompt("queue/callback_cid")) > 0.8       # "we will call you back at"
    press(p, r, "1", 3.0)
    rows = events(p)
    req = rows[-1]
    assert req["event"] == "CALLBACKREQ" and req["data1"] == "5550142" and req["data2"] == "1"
    p.run_until(lambda: p.state("fxo1") == "idle", 5)                     # told, and the line let go
    r.hang_up()
    p.run(1.0)
    r2 = call_in(p, "5550143", line=2)
    later = next(cid for cid, c in s.callers.items() if c.caller_number == "5550143")
    assert s.dispatcher.position(later) == 2                              # the callback keeps place 1
    s.unpause(s.agents["alice"])
    p.run_until(lambda: p.phone("201").is_ringing, 3)                    # the callback goes first
    assert s.agents["alice"].offer.entry.kind == "callback"
    ph = p.phone("201")
    ph.clear_heard()
    ph.off_hook()
    p.run_until(lambda: r.is_ringing, 15)                                # agent first, then the line
    assert contains(ph.heard(), prompt("queue/callback_for")) > 0.8
    assert outside_calls(p) == ["5550142"]
    r.answer()
    p.run(1.0)
    r.play_tone([1000], 600, -12)
    ph.clear_heard()
    p.run(0.8)
    assert tone_level(ph.heard()[-2400:], 1000) > -35, "the called-back customer is not heard by the agent"
    ph.play_tone([700], 600, -12)
    r.clear_heard()
    p.run(0.8)
    assert tone_level(r.heard()[-2400:], 700) > -35, "the agent is not heard by the customer"
    ph.on_hook()
    p.run(2.0)
    cb_rows = [x for x in events(p) if x["call_id"] == req["call_id"]]
    assert verbs(cb_rows) == ["ENTERQUEUE", "CALLBACKREQ", "CALLBACKDIAL", "CALLBACKANSWER", "COMPLETEAGENT"]
    assert not s.callbacks
    p.run(6.0)                                                           # wrap-up, then the next caller
    p.run_until(lambda: p.phone("201").is_ringing, 5)
    r2.hang_up()
    p.run(2.0)


def test_callback_busy_is_retried_then_listed_for_a_person(cbx):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    press(p, r, "5", 4.5)
    press(p, r, "1", 3.0)
    r.hang_up()
    p.run(1.0)
    r.busy = True                                                        # the customer is on the phone
    s.unpause(s.agents["alice"])
    ph = p.phone("201")
    for attempt in (1, 2):
        p.run_until(lambda: ph.is_ringing, 70)
        ph.off_hook()
        p.run_until(lambda n=attempt: verbs(events(p)).count("CALLBACKFAIL") >= n, 20)
        ph.on_hook()
        p.run(1.5)
    rows = events(p)
    fails = [(x["data1"], x["data2"]) for x in rows if x["event"] == "CALLBACKFAIL"]
    assert fails == [("5550142", "busy"), ("5550142", "busy"), ("5550142", "gave_up")]
    assert [x["data2"] for x in rows if x["event"] == "CALLBACKDIAL"] == ["1", "2"]
    dial_times = [x["ts"] for x in rows if x["event"] == "CALLBACKDIAL"]
    assert dial_times[1] - dial_times[0] >= 30                           # back-off between attempts
    p.records.flush()
    listed = p.records.query("SELECT number, attempts, reason FROM callback_list")
    assert listed == [{"number": "5550142", "attempts": 2, "reason": "busy"}]
    from firmware.api import EngineApi, LocalClient
    api = LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))
    todo = api.call_sync("callback.list")["callbacks"]
    assert [(c["number"], c["queue"], c["done"]) for c in todo] == [("5550142", "600", None)]
    api.api.close()
    assert not s.callbacks and not s.dispatcher.entries


@pytest.mark.parametrize("keyed", ["1" * 40, "*", "01144207946000", "19005551234"])
def test_bad_callback_numbers_are_refused_and_nothing_is_dialled(cbx, keyed):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    press(p, r, "5", 4.5)
    press(p, r, "2", 3.5)                                                # enter another number
    r.clear_heard()
    press(p, r, keyed + "#", 3.0)
    assert contains(r.heard(), prompt("queue/callback_refused")) > 0.8, "no clear refusal"
    caller = next(iter(s.callers.values()))
    assert caller.mode in ("waiting", "refused") and caller.refusals == 1
    assert "CALLBACKREQ" not in verbs(events(p))
    s.unpause(s.agents["alice"])                                         # the caller still waits, in place
    p.run_until(lambda: p.phone("201").is_ringing, 3)
    assert s.agents["alice"].offer.entry.kind == "caller"
    assert outside_calls(p) == []


def test_one_active_callback_per_number(cbx):
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    press(p, r, "5", 4.5)
    press(p, r, "1", 3.0)
    r.hang_up()
    p.run(1.5)
    r = call_in(p, "5550142")                                            # calls again, asks again
    p.run(1.0)
    r.clear_heard()
    press(p, r, "5", 3.0)
    assert contains(r.heard(), prompt("queue/callback_exists")) > 0.8
    assert verbs(events(p)).count("CALLBACKREQ") == 1


def test_queue_that_points_at_itself_is_refused(cbx):
    cfg = cbx.config
    q = model.queue(cfg, "600")
    with pytest.raises(ConfigError, match="itself"):
        model.save_queue(cfg, {**q, "timeout_dest": "queue:600"}, original="600")
    model.save_queue(cfg, {"number": "601", "name": "Overflow", "timeout_dest": "queue:600"})
    with pytest.raises(ConfigError, match="circle"):
        model.save_queue(cfg, {**q, "empty_dest": "queue:601"}, original="600")
    assert model.queue(cfg, "600")["empty_dest"] == ""                   # nothing stored


def test_callback_needs_the_extension_whose_permissions_apply(cbx):
    cfg = cbx.config
    with pytest.raises(ConfigError, match="permissions"):
        model.save_queue(cfg, {**model.queue(cfg, "600"), "callback_as": ""}, original="600")


def test_prompt_lengths_are_sane():
    assert 0.3 < len(prompt("queue/callback_for")) / RATE < 3


def test_call_me_back_at_a_chosen_time(cbx):
    """Press 3 and key 1015: no callback before 10:15 (site time, UTC here), then the agent rings."""
    from firmware.harness import START_EPOCH  # 10:00 UTC
    p = cbx
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    press(p, r, "5", 6.0)
    press(p, r, "3", 3.5)
    press(p, r, "2461#", 1.0)                                            # not a time: refused
    assert s.callers and "CALLBACKREQ" not in verbs(events(p))
    p.run(3.0)
    press(p, r, "5", 6.0)
    press(p, r, "3", 3.5)
    press(p, r, "1015#", 3.0)
    req = events(p)[-1]
    assert req["event"] == "CALLBACKREQ" and int(req["data4"]) == int(START_EPOCH + 15 * 60)
    p.run_until(lambda: p.state("fxo1") == "idle", 5)
    r.hang_up()
    s.unpause(s.agents["alice"])
    p.run(60.0)
    assert not p.phone("201").is_ringing and s.agents["alice"].offer is None    # not before 10:15
    p.run_until(lambda: s.agents["alice"].offer is not None, 15 * 60)
    assert p.now >= START_EPOCH + 15 * 60


def test_callbacks_wait_for_business_hours(cbx):
    """The queue's hours open at 10:05 (it is 10:00, Thursday): a callback asked for at 10:00 is
    not dialled before then, even with an agent free."""
    from firmware.apps.timeconditions import save_condition
    from firmware.harness import START_EPOCH
    p = cbx
    save_condition(p.config, {"id": "office", "name": "Office", "open": "voicemail:201", "closed": "voicemail:201",
                              "rules": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "10:05", "end": "18:00"}]})
    model.save_queue(p.config, {**model.queue(p.config, "600"), "hours": "office"}, original="600")
    p.run(0.2)
    s = svc(p)
    login(p, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(p, "5550142")
    p.run(1.0)
    press(p, r, "5", 6.0)
    press(p, r, "1", 3.0)
    p.run_until(lambda: p.state("fxo1") == "idle", 5)
    r.hang_up()
    s.unpause(s.agents["alice"])
    p.run(120.0)
    assert s.agents["alice"].offer is None and not outside_calls(p)        # closed: nothing dialled
    p.run_until(lambda: s.agents["alice"].offer is not None, 5 * 60)
    assert p.now >= START_EPOCH + 5 * 60


def test_a_menu_key_sends_the_caller_to_the_queue(cbx):
    from firmware.apps.ivr_store import save_menu
    p = cbx
    save_menu(p.config, {"id": "main", "name": "Main", "greeting": "queue/thank_you", "timeout_s": 5,
                         "retries": 1, "fallback": "hangup:", "options": {"1": "queue:600"}})
    p.config.set_inbound_route("fxo1", "ivr:main")
    p.run(0.2)
    login(p, "alice")
    r = p.co.remote("5550142")
    r.call(p.co.line_number(1))
    p.run_until(lambda: type(p.engine.channels["fxo1"].handler).__name__ == "IvrSession", 15)
    p.run(1.0)
    press(p, r, "1", 1.0)
    p.run_until(lambda: p.phone("201").is_ringing, 5)
    rows = events(p)
    assert rows[-1]["event"] == "ENTERQUEUE" and rows[-1]["data2"] == "5550142"
    r.hang_up()
    p.run(2.0)
    assert verbs(events(p))[-1] == "ABANDON"
