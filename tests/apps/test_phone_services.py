"""Analog phone services on the simulated board, checked by ear: transfer (blind, attended), three-way,
call waiting with caller ID, forwards and DND, pickup, ring groups, intercom/paging, speed dial; and
the abuse cases (outside caller transferred/forwarded to an outside or premium number)."""
from __future__ import annotations

import numpy as np
import pytest

from dsp_ext.callerid import CallerIdReceiver, CasDetector
from firmware.apps import permissions_store as perms
from firmware.apps import ringgroups, speeddial
from firmware.apps.forward import prefs_service
from firmware.apps.forward import save as save_prefs
from firmware.harness import Pbx, dominant_freqs, tone_level


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=5, fxs=4, fxo=2) as p:
        p.run(0.2)
        yield p


def records(pbx: Pbx) -> list[dict]:
    pbx.records.flush()
    return sorted(pbx.records.search(), key=lambda r: r["start"])


def dial(pbx: Pbx, ext: str, digits: str):
    phone = pbx.phone(ext)
    port = pbx.engine.plan.extensions[ext].port
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(port) == "dialtone", 2)
    pbx.run(0.3)
    phone.dial(digits)
    pbx.run_until(lambda: not phone.busy_dialling, 30)
    return phone


def connect(pbx: Pbx, a: str, b: str):
    """`a` calls `b`, `b` answers: both phones."""
    pa = dial(pbx, a, b)
    pb = pbx.phone(b)
    pbx.run_until(lambda: pb.is_ringing, 3)
    pb.off_hook()
    pbx.run(0.3)
    return pa, pb


def hears(pbx: Pbx, talker, listener, freq: float = 1000.0) -> float:
    """Level (dBm0) of a tone from `talker` measured at `listener`."""
    listener.clear_heard()
    talker.play_tone([freq], 1000, -10)
    pbx.run(1.2)
    return tone_level(listener.heard(900), freq)


def flash_and_dial(pbx: Pbx, phone, digits: str) -> None:
    phone.flash(500)
    pbx.run(1.0)
    phone.dial(digits)
    pbx.run_until(lambda: not phone.busy_dialling, 10)


# ---------------------------------------------------------------- transfer

def test_blind_transfer_by_flash_then_hang_up_while_ringing(pbx):
    a, b = connect(pbx, "201", "202")
    c = pbx.phone("203")
    flash_and_dial(pbx, b, "203")
    assert hears(pbx, a, b) < -50                    # 201 is on hold while 202 dials
    pbx.run_until(lambda: c.is_ringing, 3)
    b.on_hook()                                      # blind: hang up while 203 rings
    pbx.run(1.0)
    assert pbx.state("fxs3") == "ringing" and pbx.state("fxs2") == "idle"
    pbx.run(0.8)                                     # music on hold until the hang-up, ringback after
    assert sorted(dominant_freqs(a.heard(800), 2)) == pytest.approx([440, 480], abs=8)   # 201 hears ringback
    c.off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)      # 1 kHz from 201 at 203
    assert hears(pbx, c, a, 1700) == pytest.approx(-10, abs=1.5)
    a.on_hook()
    pbx.run(1.0)
    assert pbx.state("fxs3") == "busy"
    recs = records(pbx)
    assert [(r["src"], r["dst"], r["disposition"]) for r in recs] == [
        ("201", "202", "answered"), ("202", "203", "no_answer"), ("201", "203", "answered")]


def test_attended_transfer_and_flash_back_while_the_second_party_rings(pbx):
    a, b = connect(pbx, "201", "202")
    c, d = pbx.phone("203"), pbx.phone("204")
    flash_and_dial(pbx, b, "204")
    pbx.run_until(lambda: d.is_ringing, 3)
    b.flash(500)                                     # changed my mind: back to 201
    pbx.run(0.8)
    assert not d.is_ringing
    assert hears(pbx, a, b) == pytest.approx(-10, abs=1.5)
    flash_and_dial(pbx, b, "203")
    pbx.run_until(lambda: c.is_ringing, 3)
    c.off_hook()
    pbx.run(0.3)
    assert hears(pbx, b, c) == pytest.approx(-10, abs=1.5)     # 202 announces the call to 203
    assert hears(pbx, b, a, 1400) < -50                         # 201 still on hold, hears nothing
    b.on_hook()                                                 # attended transfer
    pbx.run(0.5)
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)
    assert hears(pbx, c, a, 1700) == pytest.approx(-10, abs=1.5)
    assert pbx.state("fxs1") == "in-call" and pbx.state("fxs3") == "in-call" and pbx.state("fxs2") == "idle"


def test_hanging_up_with_a_party_on_hold_rings_back(pbx):
    a, b = connect(pbx, "201", "202")
    b.flash(500)
    pbx.run(1.0)
    b.on_hook()
    pbx.run_until(lambda: b.is_ringing, 3)
    b.off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, b) == pytest.approx(-10, abs=1.5)


def test_three_way_conference_by_flash_all_hear_each_other(pbx):
    pytest.importorskip("firmware.apps.conference", reason="the conference app's mixer is not in yet")
    a, b = connect(pbx, "201", "202")
    c = pbx.phone("203")
    flash_and_dial(pbx, b, "203")
    pbx.run_until(lambda: c.is_ringing, 3)
    c.off_hook()
    pbx.run(0.3)
    b.flash(500)                                                # three-way
    pbx.run(1.0)
    for talker, freq in ((a, 700), (b, 1100), (c, 1500)):
        for p in (a, b, c):
            p.clear_heard()
        talker.play_tone([freq], 1000, -10)
        pbx.run(1.2)
        for listener in (a, b, c):
            level = tone_level(listener.heard(900), freq)
            if listener is talker:
                assert level < -50                                # nobody hears themselves
            else:
                assert level == pytest.approx(-10, abs=1.5), (talker, listener)
    b.flash(500)                                                # drop the last party added (203)
    pbx.run(1.0)
    assert pbx.state("fxs3") == "busy"
    assert hears(pbx, a, b) == pytest.approx(-10, abs=1.5)
    c.on_hook()
    pbx.run(1.6)
    flash_and_dial(pbx, b, "203")                               # three-way again, then 202 hangs up:
    pbx.run_until(lambda: c.is_ringing, 3)
    c.off_hook()
    pbx.run(0.3)
    b.flash(500)
    pbx.run(1.0)
    b.on_hook()
    pbx.run(1.0)
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)      # the other two stay connected
    assert hears(pbx, c, a, 1700) == pytest.approx(-10, abs=1.5)


def test_transfer_of_an_outside_caller_to_an_outside_number_is_refused_unless_permitted(pbx):
    for allowed in (False, True):
        if allowed:
            perms.update_general(pbx.config, trunk_to_trunk={"transfer": True})
            pbx.run(0.1)
        caller = pbx.co.remote("5550100")
        far = pbx.co.remote("5550199")
        caller.call(pbx.co.line_number(1))
        b = pbx.phone("201")
        pbx.run_until(lambda b=b: b.is_ringing, 10)
        b.off_hook()
        pbx.run(0.5)
        flash_and_dial(pbx, b, "95550199#")
        pbx.run(6)
        if not allowed:
            assert not far.is_ringing and pbx.state("fxo2") == "idle"
            assert pbx.state("fxs1") == "congestion"
            rec = records(pbx)[-1]
            assert rec["disposition"] == "denied"
            assert pbx.records.reasons([rec["call_id"]])[rec["call_id"]].startswith(
                "an outside caller may not be connected to an outside line by transfer")
            b.flash(500)                                        # back to the caller
            pbx.run(1.0)
            assert hears(pbx, caller, b) > -25
            b.on_hook()
            caller.hang_up()
            pbx.run(3)
        else:
            pbx.run_until(lambda far=far: far.is_ringing, 8)
            far.answer()
            pbx.run(0.5)
            b.on_hook()                                         # join the two outside parties
            pbx.run(1.0)
            level = hears(pbx, caller, far)
            assert level > -30 and tone_level(far.heard(900), 1300) < level - 10
            caller.hang_up()
            far.hang_up()
            pbx.run(3)


# ---------------------------------------------------------------- forward / DND

def test_forward_always_set_by_code_then_cleared(pbx):
    p = dial(pbx, "202", "*72203#")
    pbx.run(2)
    p.on_hook()
    pbx.run(0.5)
    prefs_service(pbx.engine).flush()
    pbx.run(0.1)
    a, c = pbx.phone("201"), pbx.phone("203")
    dial(pbx, "201", "202")
    pbx.run_until(lambda: c.is_ringing, 3)
    assert not pbx.phone("202").is_ringing
    c.off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)
    a.on_hook()
    c.on_hook()
    pbx.run(1.6)
    p = dial(pbx, "202", "*73")
    pbx.run(2)
    p.on_hook()
    pbx.run(0.5)
    dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    prefs_service(pbx.engine).flush()
    assert save_prefs(pbx.config, "202").fwd_always == ""          # stored too


def test_dnd_gives_busy_and_forward_on_busy_and_no_answer(pbx):
    save_prefs(pbx.config, "202", dnd=True)
    pbx.run(0.1)
    a = dial(pbx, "201", "202")
    pbx.run(1.5)
    assert pbx.state("fxs1") == "busy" and not pbx.phone("202").is_ringing
    a.on_hook()
    pbx.run(1.6)
    save_prefs(pbx.config, "202", dnd=False, fwd_noanswer="204", call_waiting=False, fwd_busy="203")
    pbx.config.update_settings(ring_timeout_ms=8000)
    pbx.run(0.1)
    dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    pbx.run_until(lambda: pbx.phone("204").is_ringing, 12)      # no answer: on to 204
    pbx.phone("201").on_hook()
    pbx.run(1.6)
    connect(pbx, "204", "202")                                   # 202 busy now
    dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)        # busy: on to 203


def test_forward_to_a_premium_number_is_refused_at_the_gate(pbx):
    save_prefs(pbx.config, "202", fwd_always="919005551234")
    pbx.run(0.1)
    a = dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.state("fxs1") == "congestion", 4)
    assert pbx.state("fxo1") == "idle" and pbx.state("fxo2") == "idle" and not pbx.co.calls
    rec = records(pbx)[-1]
    assert (rec["dst"], rec["disposition"]) == ("19005551234", "denied")
    assert "premium" in pbx.records.reasons([rec["call_id"]])[rec["call_id"]]
    a.on_hook()
    # An outside caller forwarded outside: refused unless the owner allows trunk-to-trunk forwards.
    save_prefs(pbx.config, "201", fwd_always="95550199")
    pbx.run(1.6)
    far = pbx.co.remote("5550199")
    caller = pbx.co.remote("5550100")
    caller.call(pbx.co.line_number(1))
    pbx.run(12)
    assert not far.is_ringing and pbx.state("fxo2") == "idle"
    assert records(pbx)[-1]["disposition"] == "denied"


# ---------------------------------------------------------------- call waiting

def test_call_waiting_tone_cas_and_caller_id_then_flash_swaps(pbx):
    a, b = connect(pbx, "201", "202")
    b.clear_heard()
    c = dial(pbx, "203", "202")
    pbx.run(3)
    heard = b.heard()
    sas = [tone_level(heard[i:i + 1600], 440) for i in range(0, len(heard) - 1599, 800)]
    assert max(sas) == pytest.approx(-13, abs=2)                # call-waiting tone (440 Hz)
    cas = CasDetector()
    assert any(cas.process(heard[i:i + 80]) for i in range(0, len(heard) - 79, 80))
    msgs = CallerIdReceiver("bell202").process(heard)
    assert [m.number for m in msgs] == ["203"]
    assert sorted(dominant_freqs(c.heard(), 2)) == pytest.approx([440, 480], abs=8)   # 203 hears ringback
    b.flash(500)                                                 # answer the waiting call
    pbx.run(1.0)
    assert hears(pbx, c, b) == pytest.approx(-10, abs=1.5)
    assert hears(pbx, a, b, 1400) < -50
    b.flash(500)                                                 # swap back to 201
    pbx.run(1.0)
    assert hears(pbx, a, b, 1400) == pytest.approx(-10, abs=1.5)
    assert hears(pbx, c, b) < -50
    b.on_hook()                                                  # 203 is still held: rings back
    pbx.run_until(lambda: b.is_ringing, 3)
    b.off_hook()
    pbx.run(0.3)
    assert hears(pbx, c, b) == pytest.approx(-10, abs=1.5)


def test_call_waiting_off_gives_busy(pbx):
    save_prefs(pbx.config, "202", call_waiting=False)
    pbx.run(0.1)
    connect(pbx, "201", "202")
    dial(pbx, "203", "202")
    pbx.run(1.5)
    assert pbx.state("fxs3") == "busy"


# ---------------------------------------------------------------- pickup

def test_group_and_directed_pickup(pbx):
    a = dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    c = dial(pbx, "203", "*8")
    pbx.run(0.5)
    assert not pbx.phone("202").is_ringing
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)
    a.on_hook()
    c.on_hook()
    pbx.run(1.6)
    save_prefs(pbx.config, "204", pickup_group="2")             # another group: *8 does not reach 202
    pbx.run(0.1)
    a = dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    d = dial(pbx, "204", "*8")
    pbx.run(0.5)
    assert pbx.state("fxs4") == "congestion" and pbx.state("fxs2") == "ringing"
    d.on_hook()
    pbx.run(1.6)
    d = dial(pbx, "204", "**202#")                             # directed pickup works across groups
    pbx.run(0.5)
    assert not pbx.phone("202").is_ringing
    assert hears(pbx, a, d) == pytest.approx(-10, abs=1.5)


# ---------------------------------------------------------------- ring groups, paging

def test_ring_group_ring_all_and_in_order(pbx):
    ringgroups.save_group(pbx.config, {"number": "600", "name": "Sales", "strategy": "ringall",
                                       "members": "202, 203, 204"})
    ringgroups.save_group(pbx.config, {"number": "601", "name": "Support", "strategy": "order",
                                       "members": ["203", "204"], "ring_s": 6})
    pbx.run(0.1)
    a = dial(pbx, "201", "600")
    pbx.run_until(lambda: all(pbx.phone(e).is_ringing for e in ("202", "203", "204")), 3)
    pbx.phone("203").off_hook()
    pbx.run(0.3)
    assert not pbx.phone("202").is_ringing and not pbx.phone("204").is_ringing
    assert hears(pbx, a, pbx.phone("203")) == pytest.approx(-10, abs=1.5)
    a.on_hook()
    pbx.phone("203").on_hook()
    pbx.run(1.6)
    a = dial(pbx, "201", "601")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)
    assert not pbx.phone("204").is_ringing
    pbx.run_until(lambda: pbx.phone("204").is_ringing, 8)      # 6 s later: the next member
    assert not pbx.phone("203").is_ringing
    pbx.phone("204").off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, pbx.phone("204")) == pytest.approx(-10, abs=1.5)


def test_ring_group_validation():
    with Pbx(fxs=2, fxo=0) as pbx:
        for bad, why in (({"number": "201", "members": "202"}, "already an extension"),
                         ({"number": "900", "members": "202"}, "access code"),
                         ({"number": "600", "members": "299"}, "not an extension"),
                         ({"number": "600; rm -rf", "members": "202"}, "2 to 6 digits"),
                         ({"number": "600", "members": "202", "strategy": "random"}, "Strategy")):
            with pytest.raises(Exception, match=why):
                ringgroups.save_group(pbx.config, bad)
        assert ringgroups.load_groups(pbx.config) == []


def test_intercom_short_ring_then_two_way(pbx):
    a = dial(pbx, "201", "*5203#")
    c = pbx.phone("203")
    pbx.run_until(lambda: c.is_ringing, 2)
    c.ring_edges.clear()
    pbx.run(3.05)
    on = [f for f, r in c.ring_edges if r]
    assert len(on) == 2 and (on[1] - on[0]) * 10 == pytest.approx(1500, abs=20)     # 0.5 s on, 1 s off
    c.off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, c) == pytest.approx(-10, abs=1.5)
    assert hears(pbx, c, a, 1700) == pytest.approx(-10, abs=1.5)


def test_page_group_one_way_to_every_phone_lifted(pbx):
    ringgroups.save_group(pbx.config, {"number": "700", "name": "All", "kind": "page",
                                       "members": ["202", "203", "204"]})
    pbx.run(0.1)
    a = dial(pbx, "201", "700")
    pbx.run_until(lambda: all(pbx.phone(e).is_ringing for e in ("202", "203", "204")), 2)
    b, c = pbx.phone("202"), pbx.phone("203")
    b.off_hook()
    c.off_hook()
    pbx.run(0.5)
    for p in (b, c):
        p.clear_heard()
    a.play_tone([1000], 1000, -10)
    pbx.run(1.2)
    assert tone_level(b.heard(900), 1000) == pytest.approx(-10, abs=1.5)
    assert tone_level(c.heard(900), 1000) == pytest.approx(-10, abs=1.5)
    assert hears(pbx, b, a, 1700) < -50                          # one way
    a.on_hook()
    pbx.run(1.0)
    assert pbx.state("fxs2") == "busy" and pbx.state("fxs3") == "busy"
    pbx.run(20)
    assert not pbx.phone("204").is_ringing


# ---------------------------------------------------------------- speed dial

def test_speed_dial_internal_and_outside_through_the_gate(pbx):
    speeddial.add_entry(pbx.config, "201", {"name": "Reception", "number": "203", "speed": "3"})
    speeddial.add_entry(pbx.config, "201", {"name": "Hotline", "number": "919005551234", "speed": "7"})
    with pytest.raises(Exception, match="already used"):
        speeddial.add_entry(pbx.config, "201", {"name": "Dup", "number": "204", "speed": "3"})
    pbx.run(0.1)
    a = dial(pbx, "201", "*743#")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)
    a.on_hook()
    pbx.run(1.6)
    dial(pbx, "201", "*747#")
    pbx.run_until(lambda: pbx.state("fxs1") == "congestion", 4)
    assert not pbx.co.calls
    assert records(pbx)[-1]["disposition"] == "denied"


def test_flash_on_an_idle_extension_call_does_not_break_plain_calls(pbx):
    a, b = connect(pbx, "201", "202")
    assert np.isfinite(hears(pbx, a, b))
    b.on_hook()
    pbx.run(1.0)
    assert pbx.state("fxs1") == "busy"


def test_transfer_to_a_premium_number_is_refused_and_flash_returns(pbx):
    a, b = connect(pbx, "201", "202")
    flash_and_dial(pbx, b, "919005551234#")
    pbx.run_until(lambda: pbx.state("fxs2") == "congestion", 5)
    assert pbx.state("fxo1") == "idle" and pbx.state("fxo2") == "idle" and not pbx.co.calls
    rec = records(pbx)[-1]
    assert (rec["dst"], rec["disposition"]) == ("19005551234", "denied")
    b.on_hook()                                                  # no transfer: 201 rings back 202
    pbx.run_until(lambda: b.is_ringing, 3)
    b.off_hook()
    pbx.run(0.3)
    assert hears(pbx, a, b) == pytest.approx(-10, abs=1.5)


def test_forward_to_premium_by_phone_code_is_refused_and_not_stored(pbx):
    p = dial(pbx, "202", "*72919005551234#")
    pbx.run_until(lambda: pbx.state("fxs2") == "congestion", 6)
    p.on_hook()
    prefs_service(pbx.engine).flush()
    assert prefs_service(pbx.engine).of("202").fwd_always == ""
    assert save_prefs(pbx.config, "202").fwd_always == ""


def test_outside_caller_forwarded_to_an_extension_and_a_ring_group_on_a_line(pbx):
    save_prefs(pbx.config, "201", fwd_always="203")
    ringgroups.save_group(pbx.config, {"number": "600", "name": "Sales", "members": ["202", "204"]})
    pbx.config.set_inbound_route("fxo2", "ringgroup:600")
    pbx.run(0.1)
    caller = pbx.co.remote("5550100", name="ACME")
    caller.call(pbx.co.line_number(1))                  # line 1 goes to 201, forwarded to 203
    c = pbx.phone("203")
    pbx.run_until(lambda: c.is_ringing, 12)
    assert not pbx.phone("201").is_ringing
    pbx.run_until(lambda: c.caller_id is not None, 8)
    assert c.caller_id.number == "5550100"
    c.off_hook()
    pbx.run(0.5)
    assert hears(pbx, caller, c) > -25
    other = pbx.co.remote("5550111")
    other.call(pbx.co.line_number(2))                   # line 2 rings the group
    pbx.run_until(lambda: pbx.phone("202").is_ringing and pbx.phone("204").is_ringing, 12)
    pbx.phone("204").off_hook()
    pbx.run(0.5)
    assert pbx.state("fxs2") == "idle"
    assert hears(pbx, other, pbx.phone("204")) > -25


def test_call_waiting_for_an_outside_caller(pbx):
    a, b = connect(pbx, "201", "202")
    pbx.config.set_inbound_route("fxo1", "202")
    pbx.run(0.1)
    b.clear_heard()
    caller = pbx.co.remote("5550100", name="ACME")
    caller.call(pbx.co.line_number(1))
    pbx.run(10)
    msgs = CallerIdReceiver("bell202").process(b.heard())
    assert [m.number for m in msgs] == ["5550100"]
    b.flash(500)
    pbx.run(1.0)
    assert hears(pbx, caller, b) > -25
    assert hears(pbx, a, b, 1400) < -50


def test_every_feature_code_is_reachable(pbx):
    """No code may start with another one (the shorter would always win, or swallow the longer)."""
    codes = [fc.code for fc in pbx.engine.plan.feature_codes]
    assert {"*8", "**", "*5", "*72", "*74", "*70", "*71", "*78", "*79"} <= set(codes)
    clashes = [(x, y) for x in codes for y in codes if x != y and y.startswith(x)]
    assert clashes == []
    p = dial(pbx, "202", "*70")
    pbx.run(2)
    p.on_hook()
    assert prefs_service(pbx.engine).of("202").call_waiting is False


def test_maximum_call_duration_still_cuts_an_outside_call_that_was_put_on_hold(pbx):
    perms.update_general(pbx.config, max_minutes=1)
    pbx.run(0.1)
    far = pbx.co.remote("5550199")
    b = dial(pbx, "201", "95550199#")
    pbx.run_until(lambda: far.is_ringing, 8)
    far.answer()
    pbx.run(1)
    b.flash(500)                                   # hold the outside party, then back
    pbx.run(2)
    assert pbx.state("fxs1") == "dialtone" and pbx.state("fxo1") == "held"
    b.flash(500)
    pbx.run(1)
    assert far.state == "connected" and hears(pbx, far, b) > -25
    pbx.run(62)
    assert pbx.state("fxo1") == "idle" and far.state != "connected"
    assert pbx.state("fxs1") == "busy"


def test_a_forward_set_by_code_is_written_by_the_engine_apis_store_thread(pbx, monkeypatch):
    """One writer per store: with the engine API up (as in the service), a phone's feature code
    is saved by the store thread, not by a writer thread of its own; the change survives a reload."""
    import threading

    from firmware.api import EngineApi
    from firmware.apps import forward
    api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    writers: list[str] = []
    original = forward.save

    def watched(*args, **kwargs):
        writers.append(threading.current_thread().name)
        return original(*args, **kwargs)
    monkeypatch.setattr(forward, "save", watched)
    try:
        p = dial(pbx, "202", "*72203#")
        pbx.run(2)
        p.on_hook()
        pbx.run(0.5)
        prefs_service(pbx.engine).flush()
    finally:
        api.close()
    assert len(writers) == 1 and writers[0].startswith("store"), writers
    assert forward.prefs_of(pbx.config, "202").fwd_always == "203"
