"""Supervisor on a queue call, end to end on the simulated board: *222 listen, *223 whisper,
*224 barge from a supervisor's phone, keys 4/5/6 to change mode, the same from the engine API
(the browser's path), the team rule, and force pause / log out / move between queues.

Audio is measured: a tone played by one party is looked for in what each other party heard.
The caller must never hear a whisper."""
from __future__ import annotations

import time

import pytest
from cc_scenarios import AGENTS, call_in, login, make_pbx, svc

from firmware.api import ApiContext, ApiError
from firmware.callcenter import model, supervision
from firmware.callcenter import supervision_commands as cmds
from firmware.harness import tone_level

CALLER_HZ, AGENT_HZ, SUP_HZ = 1000, 700, 1500
HEARD = -35          # dBm0: a tone this loud in the last 0.3 s was heard
SILENT = -50         # and below this it was not


def connect_alice(p):
    login(p, "alice")
    r = call_in(p)
    p.run_until(lambda: p.phone("201").is_ringing, 10)
    p.phone("201").off_hook()
    p.run_until(lambda: svc(p).agents["alice"].connection is not None, 2)
    p.run(0.3)
    return r


def talk(p, r, who: str) -> dict[str, float]:
    """`who` speaks a tone for 0.6 s; what each party heard of it (dBm0 at that frequency)."""
    parties = {"caller": r, "agent": p.phone("201"), "supervisor": p.phone("204")}
    hz = {"caller": CALLER_HZ, "agent": AGENT_HZ, "supervisor": SUP_HZ}[who]
    for x in parties.values():
        x.clear_heard()
    parties[who].play_tone([hz], 600, -12)
    p.run(0.6)
    return {name: tone_level(x.heard()[-2400:], hz) for name, x in parties.items() if name != who}


@pytest.fixture
def pbx(tmp_path):
    p = make_pbx(tmp_path)
    supervision.save_supervisor_phone(p.config, "sam", "204")
    p.run(0.1)
    yield p
    p.close()


def test_listen_whisper_barge_from_the_phone(pbx):
    r = connect_alice(pbx)
    sup = pbx.phone("204")
    sup.off_hook()
    pbx.run(0.3)
    sup.dial("*222201#")
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine), 5)
    pbx.run(0.3)
    assert supervision.sessions_of(pbx.engine)[0].mode == "listen"
    heard = talk(pbx, r, "caller")
    assert heard["supervisor"] > HEARD, f"the supervisor does not hear the caller: {heard}"
    assert heard["agent"] > HEARD
    heard = talk(pbx, r, "agent")
    assert heard["supervisor"] > HEARD, f"the supervisor does not hear the agent: {heard}"
    assert heard["caller"] > HEARD
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] < SILENT and heard["caller"] < SILENT, f"silent listen is not silent: {heard}"

    sup.dial("5")                                   # whisper
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine)[0].mode == "whisper", 2)
    pbx.run(0.3)
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] > HEARD, f"the agent does not hear the whisper: {heard}"
    assert heard["caller"] < SILENT, f"the caller hears the whisper: {heard}"
    heard = talk(pbx, r, "caller")                  # the agent still hears the caller under the whisper
    assert heard["agent"] > HEARD and heard["supervisor"] > HEARD

    sup.dial("6")                                   # barge: three-way
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine)[0].mode == "barge", 2)
    pbx.run(0.3)
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] > HEARD and heard["caller"] > HEARD, f"barge is not three-way: {heard}"

    sup.on_hook()                                   # the supervisor leaves: the call goes on as before
    pbx.run(1.5)
    assert not supervision.sessions_of(pbx.engine)
    heard = talk(pbx, r, "caller")
    assert heard["agent"] > HEARD
    heard = talk(pbx, r, "agent")
    assert heard["caller"] > HEARD
    assert svc(pbx).agents["alice"].connection is not None


def test_whisper_code_then_call_ends_supervisor_hears_busy(pbx):
    r = connect_alice(pbx)
    sup = pbx.phone("204")
    sup.off_hook()
    pbx.run(0.3)
    sup.dial("*2231001#")                           # by agent number
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine), 5)
    pbx.run(0.3)
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] > HEARD and heard["caller"] < SILENT, heard
    pbx.phone("201").on_hook()                      # the agent ends the call
    pbx.run(1.5)
    assert not supervision.sessions_of(pbx.engine)
    assert pbx.state(pbx.engine.channel_for_extension("204").name) == "busy"


def test_phone_that_is_not_a_supervisors_is_refused(pbx):
    r = connect_alice(pbx)
    other = pbx.phone("203")
    other.off_hook()
    pbx.run(0.3)
    other.dial("*222201#")
    pbx.run(2.0)
    assert not supervision.sessions_of(pbx.engine)
    assert pbx.state(pbx.engine.channel_for_extension("203").name) == "congestion"
    heard = talk(pbx, r, "caller")
    assert heard["agent"] > HEARD


def ctx(p, media: bool = True) -> ApiContext:
    return ApiContext(config=p.config, records=p.records, data_dir=p.data_dir, control=p.engine.control,
                      engine=p.engine if media else None)


def test_team_leader_reaches_only_their_team(pbx):
    model.save_team(pbx.config, {"id": "north", "name": "North", "leader": "sam"})
    model.save_team(pbx.config, {"id": "south", "name": "South", "leader": "tess"})
    for user, team in (("alice", "south"), ("bob", "north")):
        a = model.agent(pbx.config, user)
        model.save_agent(pbx.config, {**a, "team": team}, user)
    pbx.run(0.2)
    r = connect_alice(pbx)
    sup = pbx.phone("204")
    sup.off_hook()
    pbx.run(0.3)
    sup.dial("*222201#")                            # alice is south's: sam leads north
    pbx.run(2.0)
    assert not supervision.sessions_of(pbx.engine)
    with pytest.raises(ApiError) as exc:
        cmds.supervision_start(ctx(pbx), supervisor="sam", extension="204", agent="alice", mode="listen")
    assert exc.value.code == "forbidden"
    for fn in (cmds.supervision_pause_agent, cmds.supervision_logout_agent):
        with pytest.raises(ApiError) as exc:
            fn(ctx(pbx), supervisor="sam", username="alice")
        assert exc.value.code == "forbidden"
    live = cmds.wallboard_live(ctx(pbx), supervisor="sam")
    assert [a["username"] for a in live["agents"]] == ["bob"]
    model.save_team(pbx.config, {"id": "east", "name": "East", "leader": "sam"})     # a second team
    carol = model.agent(pbx.config, "carol")
    model.save_agent(pbx.config, {**carol, "team": "east"}, "carol")
    pbx.run(0.2)
    live = cmds.wallboard_live(ctx(pbx), supervisor="sam")
    assert sorted(a["username"] for a in live["agents"]) == ["bob", "carol"] and live["teams"] == ["east", "north"]
    live = cmds.wallboard_live(ctx(pbx), supervisor="tess")
    assert [a["username"] for a in live["agents"]] == ["alice"]
    assert live["queues"][0]["number"] == "600"
    assert talk(pbx, r, "caller")["agent"] > HEARD


def test_browser_listen_rings_the_supervisors_phone_then_stop(pbx):
    r = connect_alice(pbx)
    out = cmds.supervision_start(ctx(pbx), supervisor="sam", extension="204", agent="alice", mode="whisper")
    assert out["ringing"]
    pbx.run_until(lambda: pbx.phone("204").is_ringing, 3)
    pbx.phone("204").off_hook()
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine), 2)
    pbx.run(0.3)
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] > HEARD and heard["caller"] < SILENT, heard
    cmds.supervision_start(ctx(pbx), supervisor="sam", extension="204", agent="alice", mode="listen")
    heard = talk(pbx, r, "supervisor")
    assert heard["agent"] < SILENT, heard
    cmds.supervision_stop(ctx(pbx), supervisor="sam", agent="alice")
    pbx.run(0.3)
    assert not supervision.sessions_of(pbx.engine)
    with pytest.raises(ApiError) as exc:
        cmds.supervision_start(ctx(pbx), supervisor="sam", extension="204", agent="bob", mode="listen")
    assert exc.value.code == "conflict"          # bob is not on a call (and 204 hears busy tone anyway)


def test_force_pause_logout_and_move(pbx):
    login(pbx, "alice", "bob")
    s = svc(pbx)
    cmds.supervision_pause_agent(ctx(pbx), supervisor="", username="alice")
    assert s.agents["alice"].status == "paused" and s.agents["alice"].reason == "supervisor"
    cmds.supervision_logout_agent(ctx(pbx), supervisor="", username="bob")
    assert s.agents["bob"].status == "logged_out"
    with pytest.raises(ApiError) as exc:
        cmds.supervision_logout_agent(ctx(pbx), supervisor="", username="bob")
    assert exc.value.code == "conflict"
    model.save_queue(pbx.config, {"number": "601", "name": "Support", "strategy": "ringall", "members": []})
    out = cmds.supervision_move_agent(ctx(pbx, media=False), supervisor="", username="carol",
                                      from_queue="600", to_queue="601")
    assert out["to"] == "601"
    assert "carol" not in [m["agent"] for m in model.queue(pbx.config, "600")["members"]]
    assert "carol" in [m["agent"] for m in model.queue(pbx.config, "601")["members"]]
    with pytest.raises(ApiError) as exc:
        cmds.supervision_move_agent(ctx(pbx, media=False), supervisor="", username="carol",
                                    from_queue="600", to_queue="601")
    assert exc.value.code == "conflict"
    pbx.run(0.3)
    assert s.dispatcher.penalty("601", "carol") is not None      # live: the engine reloaded
    assert AGENTS["carol"][2] == "203"


def test_wallboard_figures_are_the_reports_figures_with_bands(pbx):
    from firmware.reports import KpiParams, make_request, report_from_store, site_from_config
    s = svc(pbx)
    login(pbx, "alice")
    s.pause(s.agents["alice"], "lunch")
    r = call_in(pbx, "5550100")
    pbx.run(8.0)                                     # nobody free: the caller gives up after 8 s
    r.hang_up()
    pbx.run(1.0)
    s.unpause(s.agents["alice"])
    r2 = call_in(pbx, "5550101")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 10)
    pbx.phone("201").off_hook()
    pbx.run(2.0)
    r2.hang_up()
    pbx.run(1.0)
    at = pbx.engine.clock.now()
    got = cmds.wallboard_figures(ctx(pbx, media=False), queues=["600"], at=at)["queues"]["600"]
    assert (got["answered"], got["abandoned"]) == (1, 1)
    assert got["service_level"] == 0.5 and got["band"] == "red"          # 1 within 20 s of 1 + 1 abandoned
    day = cmds.wallboard.today(pbx.config, at)
    report = report_from_store(pbx.data_dir, make_request(day, day, "queue", site_from_config(pbx.config),
                                                          KpiParams(sl_threshold_s=20)))
    row = next(x["kpis"] for x in report["rows"] if str(x["key"]) == "600")
    assert (row["answered"], row["abandoned"], row["service_level"]) == (1, 1, 0.5)
    cmds.wallboard_target_save(ctx(pbx, media=False), queue="600", target=0.55, threshold_s=20)
    got = cmds.wallboard_figures(ctx(pbx, media=False), queues=["600"], at=at)["queues"]["600"]
    assert got["band"] == "amber"                     # within 10 points under the target
    cmds.wallboard_target_save(ctx(pbx, media=False), queue="600", target=0.5, threshold_s=20)
    assert cmds.wallboard_figures(ctx(pbx, media=False), queues=["600"], at=at)["queues"]["600"]["band"] == "green"
    with pytest.raises(ApiError):
        cmds.wallboard_target_save(ctx(pbx, media=False), queue="600", target=80, threshold_s=20)
    live = cmds.wallboard_live(ctx(pbx), supervisor="")
    alice = next(a for a in live["agents"] if a["username"] == "alice")
    assert alice["shown_state"] in ("wrapup", "idle") and alice["in_state_s"] >= 0


def test_bulletins_post_list_expire_and_refusals(pbx):
    model.save_team(pbx.config, {"id": "north", "name": "North", "leader": "sam"})
    model.save_team(pbx.config, {"id": "south", "name": "South", "leader": "tess"})
    c = ctx(pbx, media=False)
    seen: list = []
    pbx.engine.control.add_sink(lambda u: seen.append(u) if u.kind == "bulletin" else None)
    a = cmds.bulletins_post(c, supervisor="", text="  All hands at 3  ")["bulletin"]
    assert a["text"] == "All hands at 3" and a["team"] is None
    b = cmds.bulletins_post(c, supervisor="sam", text="North: new script", team="north",
                            expires_at=time.time() + 60)["bulletin"]
    assert [u.payload["id"] for u in seen] == [a["id"], b["id"]]
    assert [x["id"] for x in cmds.bulletins_list(c, team="north")["bulletins"]] == [b["id"], a["id"]]
    assert [x["id"] for x in cmds.bulletins_list(c, team="south")["bulletins"]] == [a["id"]]
    assert [x["id"] for x in cmds.bulletins_list(c, team="north", at=time.time() + 120)["bulletins"]] == [a["id"]]
    assert [x["id"] for x in cmds.bulletins_list(c, teams=["south", "north"])["bulletins"]] == [b["id"], a["id"]]
    assert [x["id"] for x in cmds.bulletins_list(c, teams=["south"])["bulletins"]] == [a["id"]]
    for kwargs, code in ((dict(supervisor="sam", text="to south", team="south"), "forbidden"),
                         (dict(supervisor="sam", text="to all"), "forbidden"),
                         (dict(supervisor="", text="   "), "bad_request"),
                         (dict(supervisor="", text="x" * 501), "bad_request"),
                         (dict(supervisor="", text="bell\x07"), "bad_request"),
                         (dict(supervisor="", text="late", expires_at=time.time() - 1), "bad_request"),
                         (dict(supervisor="", text="nowhere", team="west"), "bad_request")):
        with pytest.raises(ApiError) as exc:
            cmds.bulletins_post(c, **kwargs)
        assert exc.value.code == code, kwargs
    with pytest.raises(ApiError) as exc:
        cmds.bulletins_delete(c, supervisor="tess", bulletin_id=b["id"])
    assert exc.value.code == "forbidden"
    cmds.bulletins_delete(c, supervisor="sam", bulletin_id=b["id"])
    assert [x["id"] for x in cmds.bulletins_list(c, team="north")["bulletins"]] == [a["id"]]


def test_whispered_speech_reaches_the_agent_only(pbx):
    """Real speech (espeak-ng): what the supervisor whispers is found in what the agent heard and
    not in what the caller heard; in barge it is found in both."""
    from cc_scenarios import contains

    from drivers.sim.speech import speak
    r = connect_alice(pbx)
    sup = pbx.phone("204")
    sup.off_hook()
    pbx.run(0.3)
    sup.dial("*223201#")
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine), 5)
    pbx.run(0.5)
    words = speak("Offer the customer the spring discount, ten percent.")
    secs = len(words) / 8000 + 0.5
    for x in (r, pbx.phone("201")):
        x.clear_heard()
    sup.play(words)
    pbx.run(secs)
    to_agent, to_caller = contains(pbx.phone("201").heard(), words), contains(r.heard(), words)
    assert to_agent > 0.7, f"the agent does not hear the whisper (correlation {to_agent:.2f})"
    assert to_caller < 0.2, f"the caller hears the whisper (correlation {to_caller:.2f})"
    sup.dial("6")
    pbx.run_until(lambda: supervision.sessions_of(pbx.engine)[0].mode == "barge", 2)
    pbx.run(0.5)
    for x in (r, pbx.phone("201")):
        x.clear_heard()
    sup.play(words)
    pbx.run(secs)
    assert contains(r.heard(), words) > 0.5, "in barge the caller does not hear the supervisor"
