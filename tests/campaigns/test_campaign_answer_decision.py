"""One decision on who answered a campaign call, end to end on the simulated board with espeak-ng
speech: answer supervision says when (the instant T and how it knew), the campaign's
answering-machine detector says who (human | machine | unknown) — the supervision's own guess
is not used — and the call keeps one reason saying both and what was done, written once; one
"answered_by" live event per call. An agent who puts the phone down on a machine's greeting
before the detector has decided is not a contact: the result is "unknown" and the number is
tried again."""
from __future__ import annotations

import pytest
from test_campaign_answers import agent_works, campaign_events, machine_audio, results, start

from firmware.control import StatusUpdate


@pytest.fixture
def pbx(tmp_path):
    from cc_scenarios import make_pbx
    p = make_pbx(tmp_path)
    yield p
    p.close()


def reasons(p) -> dict[str, list[str]]:
    p.records.flush()
    out: dict[str, list[str]] = {}
    for r in p.records.query("SELECT c.dst, r.reason FROM calls c JOIN call_reasons r USING (call_id) "
                             "WHERE c.direction = 'outbound' ORDER BY c.start"):
        out.setdefault(r["dst"], []).append(r["reason"])
    return out


def test_one_decision_and_one_reason_per_answered_call(pbx):
    seen: list[dict] = []

    def sink(u: StatusUpdate) -> None:
        if u.kind == "call" and u.payload.get("event") == "answered_by":
            seen.append(dict(u.payload))
    pbx.control.add_sink(sink)
    writes: list[tuple[str, str]] = []
    set_reason = pbx.records.set_reason
    pbx.records.set_reason = lambda call_id, reason: (writes.append((call_id, reason)), set_reason(call_id, reason))
    person, machine = pbx.co.remote("5550401"), pbx.co.remote("5550402")
    person.far_end(1, say="Hello?")
    machine.far_end(1, say=machine_audio())
    start(pbx, ["5550401", "5550402"], machine_action="hangup", max_attempts=1)
    agent_works(pbx, 45.0, talk_s=4.0)
    res = results(pbx)
    assert (res["5550401"]["status"], res["5550402"]["status"]) == ("answered", "machine")
    got = reasons(pbx)
    assert len(got["5550401"]) == 1 and len(got["5550402"]) == 1, got
    person_reason, machine_reason = got["5550401"][0], got["5550402"][0]
    assert "s after dialling (" in person_reason and "answered by: human (short_greeting); talked to the agent" \
        in person_reason, person_reason
    assert "answered by: machine (long_greeting); hung up on" in machine_reason, machine_reason
    # written once per call (not the supervision's guess, then the detector's, then again)
    assert len(writes) == 2 and len({c for c, _ in writes}) == 2, writes
    assert sorted((e["answered_by"], e["cause"]) for e in seen) == [("human", "short_greeting"),
                                                                   ("machine", "long_greeting")]
    # the instant T in the record is the supervision's answer time, before the detector's verdict
    pbx.records.flush()
    for row in pbx.records.query("SELECT * FROM calls WHERE direction = 'outbound'"):
        assert row["answered"] is not None and row["answered"] < row["ended"]


def test_agent_hanging_up_on_a_machine_before_the_verdict_is_not_a_contact(pbx):
    machine = pbx.co.remote("5550402")
    machine.far_end(1, say=machine_audio())
    start(pbx, ["5550402"], machine_action="hangup")
    ph = pbx.phone("201")
    pbx.run_until(lambda: ph.is_ringing, 5)
    ph.off_hook()
    pbx.run_until(lambda: machine.state == "connected", 30)
    pbx.run(1.5)                                      # the greeting's first words: she knows a machine
    ph.on_hook()
    pbx.run(2.0)
    if machine.state != "idle":
        machine.hang_up()
    res = results(pbx)["5550402"]
    assert res["last_result"] == "unknown" and res["status"] == "pending" and res["attempts"] == 1, res
    ev = [e[4:] for e in campaign_events(pbx) if e[0] == "CAMPAIGNRESULT"]
    assert ev == [("unknown", "0", "pending")]
    got = reasons(pbx)["5550402"]
    assert len(got) == 1 and "answered by: unknown (ended before a verdict); the agent hung up before the verdict" \
        in got[0], got
    # tried again later (the retry time is 30 s): a person this time, a contact
    machine.far_end(1, say="Hello?")
    pbx.run(30.0)
    agent_works(pbx, 30.0)
    res = results(pbx)["5550402"]
    assert res["status"] == "answered" and res["attempts"] == 2, res
