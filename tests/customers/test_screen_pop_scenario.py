"""End to end on the simulated board: a known customer calls in on a line (caller ID sent by
the simulated exchange as FSK and decoded by the DSP core), the queue rings the agent's phone,
and while it rings the caller's record pops from what the engine reports (`queue.status`: the
waiting caller ringing that agent) — the desk page's path. The agent answers and they talk
(audio both ways), the wrap-up records the interaction with a disposition and a work order;
the customer's next call pops with that interaction and the open work order. An unknown caller
pops no contact and keeps the raw caller ID."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "callcenter"))

from cc_scenarios import call_in, login, make_pbx, svc  # noqa: E402

from firmware.api import EngineApi, LocalClient  # noqa: E402
from firmware.harness import tone_level  # noqa: E402


def media_call(p, api: LocalClient, name: str, **args):
    fut = api.api.submit(name, args)
    p.run(0.02)                             # the media thread runs it at the start of a tick
    return fut.result(5)


def ringing_caller(p, api: LocalClient, agent: str) -> dict | None:
    status = media_call(p, api, "queue.status")
    for q in status["queues"]:
        for w in q["waiting"]:
            if agent in w["ringing"]:
                return w
    return None


def test_known_caller_pops_while_the_agent_phone_rings_then_wrap_up_feeds_the_next_pop(tmp_path):
    p = make_pbx(tmp_path)
    api = LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))
    try:
        cid = api.call_sync("customers.save", contact={"name": "Ann Smith", "company": "Acme", "tags": ["VIP"],
                                                       "numbers": ["(212) 555-0142"]})["id"]
        login(p, "alice")
        r = call_in(p, "2125550142")
        p.run_until(lambda: p.phone("201").is_ringing, 5)
        waiting = ringing_caller(p, api, "alice")
        assert waiting is not None and waiting["caller"] == "2125550142"     # decoded from the line's FSK
        pop = api.call_sync("customers.pop", number=waiting["caller"], call_id=waiting["id"])
        assert p.phone("201").is_ringing                                      # popped while it rings
        assert pop["match"] == "e164" and pop["contact"]["id"] == cid and pop["contact"]["tags"] == ["VIP"]
        assert pop["raw"] == "2125550142" and pop["interactions"] == []
        p.phone("201").off_hook()
        p.run(0.5)
        r.play_tone([1000], 600, -12)
        p.phone("201").clear_heard()
        p.run(0.8)
        assert tone_level(p.phone("201").heard()[-2400:], 1000) > -30, "the caller does not reach the agent"
        p.phone("201").play_tone([700], 600, -12)
        r.clear_heard()
        p.run(0.8)
        assert tone_level(r.heard()[-2400:], 700) > -35, "the agent does not reach the caller"
        p.phone("201").on_hook()
        p.run(1.5)
        assert svc(p).state_of(svc(p).agents["alice"]) == "wrapup"
        wo = api.call_sync("workorders.create", title="Replace handset", contact_id=pop["contact"]["id"],
                           number=pop["raw"], call_id=waiting["id"], created_by="alice", disposition="complaint")
        api.call_sync("interactions.record", call_id=waiting["id"], number=pop["raw"], agent="alice", queue="600",
                      disposition="complaint", notes="Handset cracked", resolved=False, recording=None,
                      work_order_id=wo["id"])
        p.run_until(lambda: svc(p).state_of(svc(p).agents["alice"]) == "idle", 8)
        r.hang_up()
        p.run(2.0)
        call_in(p, "2125550142")
        p.run_until(lambda: p.phone("201").is_ringing, 5)
        again = ringing_caller(p, api, "alice")
        pop2 = api.call_sync("customers.pop", number=again["caller"], call_id=again["id"])
        assert pop2["contact"]["id"] == cid
        assert [(i["agent"], i["disposition"], i["notes"], i["call_id"]) for i in pop2["interactions"]] == \
            [("alice", "complaint", "Handset cracked", waiting["id"])]
        assert [(w["id"], w["title"], w["state"]) for w in pop2["work_orders"]] == \
            [(wo["id"], "Replace handset", "submitted")]
    finally:
        api.api.close()
        p.close()


def test_unknown_caller_pops_no_contact_with_the_raw_number(tmp_path):
    p = make_pbx(tmp_path)
    api = LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))
    try:
        login(p, "bob")
        call_in(p, "3125550199")
        p.run_until(lambda: p.phone("202").is_ringing, 5)
        waiting = ringing_caller(p, api, "bob")
        pop = api.call_sync("customers.pop", number=waiting["caller"], call_id=waiting["id"])
        assert pop["contact"] is None and pop["match"] is None
        assert pop["raw"] == "3125550199" and pop["e164"] == "+13125550199"
    finally:
        api.api.close()
        p.close()
