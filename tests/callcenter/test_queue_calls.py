"""Queues end to end on the simulated board: outside callers on the lines wait in queue 600,
hear their position and estimated wait (spoken prompts found in what the caller hears) and music,
agents' phones ring (or zip in headset mode), caller and agent talk (a tone crosses), wrap-up is a
state of its own, and every caller's story is in the queue event log."""
from __future__ import annotations

import numpy as np
from cc_scenarios import call_in, contains, events, login, make_pbx, prompt, run_until_checked, svc

from dsp_ext.levels import RATE, rms_dbm0
from firmware.harness import tone_level


def verbs(rows: list[dict]) -> list[str]:
    return [r["event"] for r in rows]


def test_position_and_wait_announced_then_music_then_agent_talks(pbx):
    s = svc(pbx)
    login(pbx, "alice", "bob")
    s.pause(s.agents["alice"], "lunch")
    s.pause(s.agents["bob"], "lunch")
    r = call_in(pbx)
    r.clear_heard()
    pbx.run(6.0)
    heard = r.heard()
    pos = prompt("queue/position")
    assert contains(heard, pos) > 0.8, "position announcement not heard at the caller"
    assert contains(heard, prompt("digits/1")) > 0.8, "position number not heard"
    assert contains(heard, prompt("queue/wait")) > 0.8, "estimated wait not announced"
    r.clear_heard()
    pbx.run(3.0)
    music = r.heard()
    assert rms_dbm0(music) > -35, f"caller hears silence on hold ({rms_dbm0(music):.1f} dBm0)"
    assert not pbx.phone("201").is_ringing and not pbx.phone("202").is_ringing   # paused agents: no offers
    s.unpause(s.agents["alice"])
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)
    assert s.state_of(s.agents["alice"]) == "ringing"
    pbx.phone("201").off_hook()
    pbx.run(0.5)
    assert s.state_of(s.agents["alice"]) == "queue_call"
    r.play_tone([1000], 600, -12)
    pbx.phone("201").clear_heard()
    pbx.run(0.8)
    assert tone_level(pbx.phone("201").heard()[-2400:], 1000) > -30, "caller's voice does not reach the agent"
    pbx.phone("201").play_tone([700], 600, -12)
    r.clear_heard()
    pbx.run(0.8)
    assert tone_level(r.heard()[-2400:], 700) > -35, "agent's voice does not reach the caller"
    pbx.phone("201").on_hook()
    pbx.run(1.5)                                    # longer than a hook flash
    assert s.state_of(s.agents["alice"]) == "wrapup"
    assert not s.is_free(s.agents["alice"])                      # wrap-up is never "available"
    assert pbx.state("fxo1") == "idle"                           # the caller's line was let go
    pbx.run_until(lambda: s.state_of(s.agents["alice"]) == "idle", 6) and s.is_free(s.agents["alice"])
    rows = events(pbx)
    call_rows = [r for r in rows if r["call_id"] != "NONE"]
    assert verbs(call_rows) == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
    enter, connect, complete = call_rows
    assert enter["data2"] == "5550142" and enter["data3"] == "1"
    assert int(connect["data1"]) >= 9                            # waited while everyone was paused
    assert complete["data3"] == "1"
    assert verbs(rows).count("WRAPUPEND") == 1 and verbs(rows).count("PAUSE") == 2
    rec = pbx.records.get(enter["call_id"])
    assert rec["disposition"] == "answered" and rec["line"] == "fxo1"


def test_second_caller_is_position_two_and_vip_goes_first(tmp_path):
    p = make_pbx(tmp_path, vip_numbers=["5550999"])
    try:
        s = svc(p)
        login(p, "alice")
        s.pause(s.agents["alice"], "lunch")
        a = call_in(p, "5550142", line=1)
        b = call_in(p, "5550999", line=2)
        pos = {c.caller_number: s.dispatcher.position(cid) for cid, c in s.callers.items()}
        assert pos == {"5550999": 1, "5550142": 2}                  # VIP ahead of an earlier caller
        s.unpause(s.agents["alice"])
        p.run_until(lambda: p.phone("201").is_ringing, 3)
        p.phone("201").off_hook()
        p.run(0.3)
        conn = s.agents["alice"].connection
        assert conn is not None and conn.call.cid_number == "5550999"
        a.hang_up()
        b.hang_up()
        p.run(8.0)                                  # the lines see the far ends gone (busy tone)
        rows = events(p)
        assert "ABANDON" in verbs(rows) and "COMPLETECALLER" in verbs(rows)
    finally:
        p.close()


def test_headset_agent_gets_zip_tone_not_ringing(pbx):
    s = svc(pbx)
    ph = pbx.phone("201")
    ph.off_hook()
    pbx.run(0.5)
    ph.dial("*45")
    pbx.run(1.5)
    ph.dial("1001#")
    pbx.run(4.0)
    ph.dial("4826#")
    run_until_checked(pbx, lambda: s.agents["alice"].headset)   # logged in and left off hook
    assert s.agents["alice"].status == "available" and s.agents["alice"].extension == "201"
    ph.clear_heard()
    r = call_in(pbx)
    pbx.run_until(lambda: s.agents["alice"].connection is not None, 5)
    heard = ph.heard()[-int(0.4 * RATE):]           # the moment before the call was put through
    assert not ph.is_ringing
    level = tone_level(heard, 440)
    assert level > -25, f"no zip tone at the headset ({level:.1f} dBm0)"
    r.play_tone([1000], 600, -12)
    ph.clear_heard()
    pbx.run(0.8)
    assert tone_level(ph.heard()[-2400:], 1000) > -30
    r.hang_up()
    pbx.run(1.0)
    assert s.agents["alice"].headset and ph.is_off_hook           # back to ready, still off hook
    assert s.state_of(s.agents["alice"]) == "wrapup"
    pbx.run(6.0)
    r2 = call_in(pbx, "5550143")
    pbx.run_until(lambda: s.agents["alice"].connection is not None, 5)   # the next call zips in too
    r2.hang_up()
    pbx.run(0.5)
    assert verbs(events(pbx)).count("CONNECT") == 2


def test_phone_login_refuses_wrong_pin_and_stores_only_a_hash(pbx):
    s = svc(pbx)
    ph = pbx.phone("202")
    ph.off_hook()
    pbx.run(0.5)
    ph.dial("*45")
    pbx.run(1.5)
    ph.dial("1002#")
    pbx.run(4.0)
    ph.dial("1111#")
    run_until_checked(pbx, lambda: s.agents["bob"].failures == 1)
    assert s.agents["bob"].status == "logged_out"
    ph.on_hook()
    pbx.run(1.5)
    text = (pbx.data_dir / "config.json").read_text()
    assert "5937" not in text and "scrypt$" in text
    ph.off_hook()
    pbx.run(0.5)
    ph.dial("*45")
    pbx.run(1.5)
    ph.dial("1002#")
    pbx.run(4.0)
    ph.dial("5937#")
    run_until_checked(pbx, lambda: s.agents["bob"].status == "available")
    ph.on_hook()                                    # ring mode
    pbx.run(1.5)
    assert not s.agents["bob"].headset and s.is_free(s.agents["bob"])
    ph.off_hook()
    pbx.run(0.5)
    ph.dial("*47")                                  # pause from the phone
    pbx.run(1.0)
    assert s.agents["bob"].status == "paused"
    ph.on_hook()
    pbx.run(1.5)
    ph.off_hook()
    pbx.run(0.5)
    ph.dial("*46")
    pbx.run(1.0)
    assert s.agents["bob"].status == "logged_out"
    agent_rows = [r for r in events(pbx) if r["agent"] == "bob" and not r["event"].endswith("MEMBER")]
    assert verbs(agent_rows) == ["AGENTLOGIN", "PAUSE", "UNPAUSE", "AGENTLOGOFF"]


def test_unanswered_offers_pause_the_agent_and_the_next_agent_rings(tmp_path):
    p = make_pbx(tmp_path, strategy="linear", ring_s=5, autopause_after=2)
    try:
        s = svc(p)
        login(p, "alice", "bob")
        r = call_in(p)
        alice, bob = s.agents["alice"], s.agents["bob"]
        p.run_until(lambda: alice.offer is not None, 3)
        assert bob.offer is None                                  # linear: one at a time
        p.run_until(lambda: bob.offer is not None, 7)             # alice missed it: bob next
        assert alice.offer is None
        p.run_until(lambda: alice.offer is not None, 7)           # bob missed: alice again
        p.run_until(lambda: alice.offer is None, 7)
        assert alice.status == "paused" and alice.reason == "autopause"
        p.run_until(lambda: p.phone("202").is_ringing, 7)
        p.phone("202").off_hook()
        p.run(0.3)
        assert s.agents["bob"].connection is not None
        r.hang_up()
        p.run(0.5)
        rows = events(p)
        assert verbs(rows).count("RINGNOANSWER") == 3
        assert any(r["event"] == "PAUSE" and r["data1"] == "autopause" for r in rows)
    finally:
        p.close()


def test_no_agents_empty_destination_and_timeout_to_another_queue(tmp_path):
    from firmware.callcenter import model
    p = make_pbx(tmp_path)
    try:
        cfg = p.config
        model.save_queue(cfg, {"number": "601", "name": "Overflow", "members": [{"agent": "carol", "penalty": 0}],
                               "join_empty": [], "leave_empty": [], "announce_every_s": 0})
        model.save_queue(cfg, {**model.queue(cfg, "600"), "empty_dest": "voicemail:201",
                               "max_wait_s": 20, "timeout_dest": "queue:601"}, original="600")
        p.run(0.2)
        r = p.co.remote("5550142")
        r.call(p.co.line_number(1))
        p.run(8.0)                                # nobody logged in: straight to voicemail
        assert type(p.engine.channels["fxo1"].handler).__name__ != "QueueCaller"
        assert not svc(p).callers
        r.hang_up()
        p.run(8.0)
        s = svc(p)
        login(p, "alice")
        s.pause(s.agents["alice"], "lunch")        # logged in but paused: joins, then times out
        r2 = call_in(p, "5550143")
        p.run(21.0)
        waiting = {c.number for c in s.callers.values()}
        assert waiting == {"601"}, waiting
        r2.hang_up()
        p.run(1.0)
        rows = events(p)
        assert verbs(rows) .count("EXITWITHTIMEOUT") == 1
        assert [r["queue"] for r in rows if r["event"] == "ENTERQUEUE"] == ["600", "601"]
        assert verbs(rows)[-1] == "ABANDON"
    finally:
        p.close()


def test_survey_keys_are_stored(tmp_path):
    from firmware.callcenter import model
    p = make_pbx(tmp_path)
    try:
        model.save_survey(p.config, {"id": "csat", "name": "Satisfaction",
                                     "questions": ["queue/survey_default", "queue/survey_default"]})
        model.save_queue(p.config, {**model.queue(p.config, "600"), "survey": "csat"}, original="600")
        p.run(0.2)
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        p.run_until(lambda: p.phone("201").is_ringing, 3)
        p.phone("201").off_hook()
        p.run(1.0)
        r.clear_heard()
        p.phone("201").on_hook()                   # agent ends: the caller gets the survey
        q = prompt("queue/survey_default")
        p.run(len(q) / RATE + 1.5)
        assert contains(r.heard(), q) > 0.8, "survey question not heard"
        r.dial("4")
        p.run(len(q) / RATE + 1.0)
        r.dial("5")
        p.run(4.0)
        assert p.state("fxo1") == "idle"            # thanked and let go
        rows = [x for x in events(p) if x["event"] == "SURVEY"]
        assert [(x["data1"], x["data2"], x["agent"]) for x in rows] == [("1", "4", "alice"), ("2", "5", "alice")]
        assert s.agents["alice"].connection is None
    finally:
        p.close()


def test_exit_key_and_leave_a_message_key(tmp_path):
    from firmware.apps.ivr_store import save_menu
    p = make_pbx(tmp_path)
    try:
        save_menu(p.config, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 3, "retries": 1,
                             "fallback": "extension:201", "options": {"2": "extension:202"}})
        from firmware.callcenter import model
        model.save_queue(p.config, {**model.queue(p.config, "600"), "exit_key": "0", "exit_dest": "ivr:main",
                                    "voicemail_key": "9", "voicemail_box": "203", "join_empty": [], "leave_empty": []},
                          original="600")
        p.run(0.2)
        r = call_in(p)
        p.run(1.0)
        r.dial("0")
        p.run(1.0)
        assert type(p.engine.channels["fxo1"].handler).__name__ == "IvrSession"
        rows = events(p)
        assert rows[-1]["event"] == "EXITWITHKEY" and rows[-1]["data1"] == "0"
        r.hang_up()
        p.run(3.0)
        r2 = call_in(p, "5550143")
        p.run(1.0)
        r2.dial("9")
        p.run(1.0)
        assert "voicemail" in type(p.engine.channels["fxo1"].handler).__module__
        r2.hang_up()
        p.run(1.0)
    finally:
        p.close()


def test_held_call_hears_music_not_silence(pbx):
    """Hook flash during an outside call holds the line: the caller hears music on hold."""
    from firmware.apps.ringgroups import save_group  # noqa: F401 - phone services are built in
    pbx.config.set_inbound_route("fxo1", "201")
    pbx.run(0.2)
    r = pbx.co.remote("5550142")
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 10)
    pbx.phone("201").off_hook()
    pbx.run(1.0)
    pbx.phone("201").flash()
    pbx.run(1.5)
    assert pbx.state("fxo1") == "held"
    r.clear_heard()
    pbx.run(3.0)
    heard = r.heard()
    assert rms_dbm0(heard) > -35, f"held caller hears silence ({rms_dbm0(heard):.1f} dBm0)"
    spectrum_peaks = np.abs(np.fft.rfft(heard[:8000] * np.hanning(8000)))
    assert (spectrum_peaks > spectrum_peaks.max() * 0.1).sum() > 5     # music, not a single tone


def test_agent_transfers_the_caller_to_an_extension_and_to_another_queue(tmp_path):
    from firmware.callcenter import model
    p = make_pbx(tmp_path)
    try:
        model.save_queue(p.config, {"number": "601", "name": "Billing", "members": [{"agent": "carol", "penalty": 0}],
                                    "join_empty": [], "leave_empty": [], "announce_every_s": 0})
        p.run(0.2)
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        p.run_until(lambda: p.phone("201").is_ringing, 3)
        alice = p.phone("201")
        alice.off_hook()
        p.run(1.0)
        alice.flash()
        p.run(1.5)
        r.clear_heard()
        p.run(1.0)
        assert rms_dbm0(r.heard()) > -35                       # the caller hears music while the agent dials
        alice.dial("203")
        p.run_until(lambda: p.phone("203").is_ringing, 6)
        assert s.state_of(s.agents["alice"]) == "queue_call"        # consulting until she hangs up
        alice.on_hook()                                              # while 203 rings: blind transfer
        p.run(1.5)
        assert s.state_of(s.agents["alice"]) == "wrapup"
        p.phone("203").off_hook()
        p.run(0.5)
        r.play_tone([1000], 600, -12)
        p.phone("203").clear_heard()
        p.run(0.8)
        assert tone_level(p.phone("203").heard()[-2400:], 1000) > -30
        rows = events(p)
        tr = next(x for x in rows if x["event"] == "TRANSFER")
        assert (tr["data1"], tr["agent"], tr["data5"]) == ("203", "alice", "1")
        r.hang_up()
        p.run(3.0)
        assert p.state("fxo1") == "idle" and p.state("fxs3") in ("busy", "idle")
        p.phone("203").on_hook()
        p.run(6.0)
        # to another queue
        r2 = call_in(p, "5550143")
        p.run_until(lambda: p.phone("201").is_ringing, 3)
        alice.off_hook()
        p.run(1.0)
        alice.flash()
        p.run(1.5)
        alice.dial("601")
        p.run(3.0)
        assert {c.number for c in s.callers.values()} == {"601"}
        call2 = [x for x in events(p) if x["data2"] == "5550143" and x["event"] == "ENTERQUEUE"]
        assert [x["queue"] for x in call2] == ["600", "601"]
        r2.hang_up()
        alice.on_hook()
        p.run(3.0)
        for cid in {x["call_id"] for x in events(p) if x["event"] == "ENTERQUEUE"}:
            evs = [x["event"] for x in events(p) if x["call_id"] == cid]
            finals = [e for e in evs if e in ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "ABANDON")]
            assert finals.count("TRANSFER") <= 1
    finally:
        p.close()


def test_menu_path_reaches_the_queue_call_and_the_store(tmp_path):
    """A caller picks option 1 of the attendant, which is queue 600: the queue's caller carries the
    call object with its menu path, and the menu events say "sent to a queue"."""
    from firmware.apps.ivr_store import save_menu
    p = make_pbx(tmp_path)
    try:
        save_menu(p.config, {"id": "main", "name": "Main", "greeting": "ivr/welcome", "timeout_s": 3, "retries": 1,
                             "fallback": "extension:201", "options": {"1": "queue:600"}})
        from firmware.callcenter import model
        model.save_queue(p.config, {**model.queue(p.config, "600"), "join_empty": [], "leave_empty": []},
                         original="600")
        p.config.set_inbound_route("fxo1", "ivr:main")
        p.run(0.2)
        r = p.co.remote("5550142")
        r.call(p.co.line_number(1))
        p.run_until(lambda: getattr(p.engine.channels["fxo1"].handler, "mode", None) == "menu", 15)
        r.dial("1")
        p.run(1.0)
        handler = p.engine.channels["fxo1"].handler
        assert type(handler).__name__ == "QueueCaller"
        assert [(s["menu"], s["key"]) for s in handler.call.menu_path] == [("main", "1")]
        p.records.flush()
        rows = p.records.query("SELECT call_id, menu, key, destination, outcome FROM menu_events ORDER BY id")
        assert [(x["key"], x["destination"], x["outcome"]) for x in rows] == [
            ("1", "queue:600", ""), ("", "queue:600", "queue")]
        assert {x["call_id"] for x in rows} == {handler.call.id}
        enter = [x for x in events(p) if x["event"] == "ENTERQUEUE"]
        assert enter and enter[0]["call_id"] == handler.call.id       # same call id in both logs
        r.hang_up()
        p.run(1.0)
    finally:
        p.close()
