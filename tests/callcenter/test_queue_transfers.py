"""Transfers and queues on the simulated board: an ordinary call flash-transferred (blind) by a
phone into a queue number waits there and reaches an agent; an agent consults a colleague before
transferring a queue call (attended), or hangs up while the colleague's phone rings (blind); every
case is one TRANSFER or ENTERQUEUE story in queue_events, and the report counts it."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from cc_scenarios import call_in, events, login, make_pbx, svc

from firmware.harness import tone_level
from firmware.reports.kpis import KpiParams
from firmware.reports.report import ReportRequest
from firmware.reports.source import report_from_store


def talk_crosses(p, a, b, freq: int = 1000) -> bool:
    """A tone played by `a` (a phone or a remote party) is heard by `b`."""
    a.play_tone([freq], 600, -12)
    b.clear_heard()
    p.run(0.8)
    return tone_level(b.heard()[-2400:], freq) > -30


def report_total(p) -> dict:
    p.records.flush()
    start = p.engine.clock.start_epoch
    since = start - start % 900
    req = ReportRequest(since, since + 86400, "total", ZoneInfo("UTC"), KpiParams())
    return report_from_store(p.data_dir, req, use_aggregates=False)["total"]


def test_an_ordinary_call_flash_transferred_to_a_queue_number_waits_there_and_reaches_an_agent(tmp_path):
    p = make_pbx(tmp_path, join_empty=[], leave_empty=[])
    try:
        p.config.set_inbound_route("fxo1", "204")          # an ordinary call to dave's phone (not an agent now)
        p.run(0.2)
        s = svc(p)
        r = p.co.remote("5550142", name="CUSTOMER")
        r.call(p.co.line_number(1))
        dave = p.phone("204")
        p.run_until(lambda: dave.is_ringing, 10)
        dave.off_hook()
        p.run(1.0)
        assert talk_crosses(p, r, dave)
        dave.flash()
        p.run(1.5)
        dave.dial("600")
        p.run(2.0)
        (caller,) = s.callers.values()
        assert caller.number == "600" and caller.caller_number == "5550142"
        dave.on_hook()
        p.run(0.5)
        login(p, "alice")
        p.run_until(lambda: p.phone("201").is_ringing, 5)
        p.phone("201").off_hook()
        p.run(0.5)
        assert s.state_of(s.agents["alice"]) == "queue_call"
        assert talk_crosses(p, r, p.phone("201")) and talk_crosses(p, p.phone("201"), r, 700)
        p.phone("201").on_hook()
        p.run(2.0)
        rows = [x for x in events(p) if x["call_id"] != "NONE"]
        assert [x["event"] for x in rows] == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
        assert rows[0]["data2"] == "5550142" and rows[0]["queue"] == "600"
        rec = p.records.get(rows[0]["call_id"])
        assert rec["direction"] == "inbound" and rec["line"] == "fxo1" and rec["caller_id_number"] == "5550142"
        total = report_total(p)
        assert (total["entered"], total["answered"]) == (1, 1)
    finally:
        p.close()


def test_agent_consults_a_colleague_then_transfers_the_queue_call(tmp_path):
    """Attended: the agent flashes (caller on music), dials 203, talks to carol while the caller
    waits, then hangs up: caller and carol talk; one TRANSFER with the talk time, agent in wrap-up."""
    p = make_pbx(tmp_path)
    try:
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        alice, carol = p.phone("201"), p.phone("203")
        p.run_until(lambda: alice.is_ringing, 3)
        alice.off_hook()
        p.run(3.0)
        alice.flash()
        p.run(1.5)
        alice.dial("203")
        p.run_until(lambda: carol.is_ringing, 6)
        assert s.state_of(s.agents["alice"]) == "queue_call"          # still the agent's call
        carol.off_hook()
        p.run(0.5)
        assert talk_crosses(p, alice, carol) and talk_crosses(p, carol, alice, 700)   # consulting
        r.clear_heard()
        carol.play_tone([1300], 600, -12)
        p.run(0.8)
        assert tone_level(r.heard()[-2400:], 1300) < -45                # the caller does not hear it
        alice.on_hook()
        p.run(1.5)
        assert s.state_of(s.agents["alice"]) == "wrapup"
        assert talk_crosses(p, r, carol) and talk_crosses(p, carol, r, 700)
        tr = [x for x in events(p) if x["event"] == "TRANSFER"]
        assert len(tr) == 1 and (tr[0]["data1"], tr[0]["agent"]) == ("203", "alice")
        assert int(tr[0]["data4"]) >= 7                                  # talk incl. the consultation
        r.hang_up()
        p.run(3.0)
        assert p.state("fxo1") == "idle"
        carol.on_hook()
        p.run(6.0)
        finals = [x["event"] for x in events(p) if x["event"] in ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER")]
        assert finals == ["TRANSFER"]
        total = report_total(p)
        assert total["answered"] == 1 and total["aht_s"] >= 7            # handled: talk up to the transfer
    finally:
        p.close()


def test_consultation_cancelled_by_flash_goes_back_to_the_caller(tmp_path):
    p = make_pbx(tmp_path)
    try:
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        alice, carol = p.phone("201"), p.phone("203")
        p.run_until(lambda: alice.is_ringing, 3)
        alice.off_hook()
        p.run(1.0)
        alice.flash()
        p.run(1.5)
        alice.dial("203")
        p.run_until(lambda: carol.is_ringing, 6)
        carol.off_hook()
        p.run(0.5)
        alice.flash()                                   # changed her mind: carol dropped, caller back
        p.run(1.5)
        assert talk_crosses(p, r, alice) and talk_crosses(p, alice, r, 700)
        assert s.state_of(s.agents["alice"]) == "queue_call"
        assert not any(x["event"] == "TRANSFER" for x in events(p))
        carol.on_hook()
        alice.on_hook()
        p.run(2.0)
        finals = [x["event"] for x in events(p) if x["event"] in ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER")]
        assert finals == ["COMPLETEAGENT"]
    finally:
        p.close()


def test_colleague_busy_then_flash_returns_to_the_caller(tmp_path):
    p = make_pbx(tmp_path)
    try:
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        alice, carol = p.phone("201"), p.phone("203")
        carol.off_hook()                                # carol is busy (off hook)
        p.run_until(lambda: alice.is_ringing, 3)
        alice.off_hook()
        p.run(1.0)
        alice.flash()
        p.run(1.5)
        alice.dial("203")
        p.run(1.0)
        assert p.state("fxs1") == "busy"
        alice.flash()
        p.run(1.5)
        assert talk_crosses(p, r, alice)
        assert s.state_of(s.agents["alice"]) == "queue_call"
        alice.on_hook()
        p.run(1.0)
    finally:
        p.close()


def test_caller_hangs_up_during_the_consultation(tmp_path):
    """The caller gives up on hold: the queue call completes (COMPLETECALLER), the colleague's
    ringing phone stops, nothing is left ringing or stuck."""
    p = make_pbx(tmp_path)
    try:
        s = svc(p)
        login(p, "alice")
        r = call_in(p)
        alice, carol = p.phone("201"), p.phone("203")
        p.run_until(lambda: alice.is_ringing, 3)
        alice.off_hook()
        p.run(1.0)
        alice.flash()
        p.run(1.5)
        alice.dial("203")
        p.run_until(lambda: carol.is_ringing, 6)
        r.hang_up()
        p.run(3.0)
        assert not carol.is_ringing and p.state("fxs3") == "idle" and p.state("fxo1") == "idle"
        assert s.state_of(s.agents["alice"]) == "wrapup"
        finals = [x["event"] for x in events(p) if x["event"] in ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER")]
        assert finals == ["COMPLETECALLER"]
        alice.on_hook()
        p.run(6.0)
        assert s.is_free(s.agents["alice"])
    finally:
        p.close()
