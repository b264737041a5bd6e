"""Outbound campaigns end to end on the simulated board: a CSV list (validated, all or nothing),
progressive dialling to a logged-in agent over a free line, far ends that answer (speech heard by
the agent), are busy or do not answer (retried, then given up), a number the outbound gate refuses,
a number on the do-not-call list (never dialled), preview dialling, calling hours, and the
results export with spreadsheet formulas neutralised."""
from __future__ import annotations

import base64
import csv
import io

import pytest
from cc_scenarios import login, make_pbx, svc

from firmware.api import ApiContext, ApiError
from firmware.campaigns import commands as cmds
from firmware.campaigns.dialer import dialer_of
from firmware.harness import tone_level

HOURS_ALWAYS = {"from": "00:00", "to": "23:59", "days": [0, 1, 2, 3, 4, 5, 6]}


def ctx(p, media: bool = False) -> ApiContext:
    return ApiContext(config=p.config, records=p.records, data_dir=p.data_dir, control=p.engine.control,
                      engine=p.engine if media else None)


def b64(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode()


@pytest.fixture
def pbx(tmp_path):
    p = make_pbx(tmp_path)
    yield p
    p.close()


def campaign(p, **over):
    doc = {"id": "spring", "name": "Spring offer", "mode": "progressive", "agents": ["alice"],
           "caller_extension": "201", "hours": HOURS_ALWAYS, "max_attempts": 2, "retry_after_s": 30, "ring_s": 12,
           **over}
    return cmds.campaign_save(ctx(p), campaign=doc)["campaign"]


def work_phone(p, seconds: float, talk_s: float = 2.0, heard: list | None = None) -> None:
    """Agent alice at phone 201 for `seconds`: picks up when it rings, stays while a call is up
    (checking that the far end's tone reaches her), hangs up when the call is over."""
    ph = p.phone("201")
    ch = p.engine.channel_for_extension("201")
    t = 0.0
    answered_at = None
    while t < seconds:
        if ph.is_ringing:
            ph.off_hook()
            answered_at = None
        elif ph.off_hook_state if hasattr(ph, "off_hook_state") else ch.off_hook:
            if ch.state in ("busy", "congestion", "idle"):
                ph.on_hook()
            elif ch.state == "in-call":
                answered_at = answered_at if answered_at is not None else t
                if heard is not None and t - answered_at < 0.15:
                    far = next(r for r in p.co.remotes.values() if r.state == "connected")
                    far.play_tone([1000], 500, -12)
                    ph.clear_heard()
                    p.run(0.6)
                    t += 0.6
                    heard.append((far.number, tone_level(ph.heard()[-2400:], 1000)))
                    continue
                if t - answered_at > talk_s:
                    ph.on_hook()
        p.run(0.1)
        t += 0.1


def test_progressive_campaign_results_retries_gate_and_dnc(pbx):
    ok, busy, silent = pbx.co.remote("5550201"), pbx.co.remote("5550202"), pbx.co.remote("5550203")
    ok.far_end(1, say=None)
    busy.busy = True
    silent.far_end(None)
    pbx.co.remote("5550204").far_end(1)
    campaign(pbx)
    listing = ("number,name,note\n"
               "555-0201,=cmd|' /C calc'!A0,first\n"
               "5550202,Busy Bee,\n"
               "(555) 0203,Nobody,@SUM(A1)\n"
               "011442071234567,Abroad,\n"
               "5550204,Said no,\n")
    out = cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64(listing))
    assert out == {"imported": 5, "dnc": 0}
    cmds.dnc_add(ctx(pbx), numbers=["555 0204"])
    login(pbx, "alice")
    started = cmds.campaign_start(ctx(pbx), campaign="spring")
    assert started["to_dial"] == 5
    heard: list = []
    work_phone(pbx, 40.0, heard=heard)
    assert heard and heard[0][0] == "5550201" and heard[0][1] > -30, f"the agent does not hear the customer: {heard}"
    pbx.run(35.0)                                   # past retry_after_s: the second attempts
    work_phone(pbx, 40.0)
    res = cmds.campaign_results(ctx(pbx), campaign="spring")
    by = {r["number"]: r for r in res["numbers"]}
    assert by["5550201"]["status"] == "answered" and by["5550201"]["attempts"] == 1
    assert by["5550201"]["agent"] == "alice" and by["5550201"]["call_id"]
    assert by["5550202"]["status"] == "busy" and by["5550202"]["attempts"] == 2
    assert by["5550203"]["status"] == "no_answer" and by["5550203"]["attempts"] == 2
    assert by["011442071234567"]["status"] == "denied"          # international: not for class "national"
    assert by["5550204"]["status"] == "dnc" and by["5550204"]["attempts"] == 0
    assert pbx.co.remotes["5550204"].rings == 0                 # never dialled
    assert cmds.campaign_list(ctx(pbx))["campaigns"][0]["state"] == "done"
    assert dialer_of(pbx.engine).runs == {}
    pbx.records.flush()
    calls = pbx.records.query("SELECT dst, disposition FROM calls WHERE direction = 'outbound' ORDER BY start")
    assert ("5550201", "answered") in [(c["dst"], c["disposition"]) for c in calls]
    assert ("011442071234567", "denied") in [(c["dst"], c["disposition"]) for c in calls]
    # each call keeps one reason: answer supervision's (busy) or the ring time's, or who answered
    reasons: dict[str, list[str]] = {}
    for r in pbx.records.query("SELECT c.dst, r.reason FROM calls c JOIN call_reasons r USING (call_id) "
                               "WHERE c.direction = 'outbound' ORDER BY c.start"):
        reasons.setdefault(r["dst"], []).append(r["reason"])
    assert reasons["5550203"] == ["not answered within 12 s"] * 2, reasons
    assert reasons["5550202"] == ["busy"] * 2, reasons
    # (5550201 picks up silently; the agent's first words come back as its first sound)
    assert len(reasons["5550201"]) == 1 and "answered by: human (word_after_silence)" in reasons["5550201"][0], \
        reasons
    exported = cmds.campaign_export(ctx(pbx), campaign="spring")["csv"]
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows[0]["name"] == "'=cmd|' /C calc'!A0"           # shown as text, never run
    assert rows[2]["note"] == "'@SUM(A1)"
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    assert svc(pbx).agents["alice"].connection is None


def test_bad_lists_are_refused_whole(pbx):
    campaign(pbx)
    cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64("number\n5550201\n"))
    cases = {
        "not UTF-8": ("number,name\n5550201,Jos\xe9\n", "latin-1"),
        "No 'number' column": ("phone,name\n5550201,A\n", "utf-8"),
        "Row 3": ("number\n5550201\nDROP TABLE numbers\n", "utf-8"),
        "already on row 2": ("number\n5550201\n555-0201\n", "utf-8"),
        "control characters": ("number,name\n5550201,\"a\x07b\"\n", "utf-8"),
        "no numbers": ("number\n", "utf-8"),
    }
    for expect, (text, enc) in cases.items():
        with pytest.raises(ApiError) as exc:
            cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64(text, enc))
        assert expect in exc.value.message, (expect, exc.value.message)
    big = "number\n" + "".join(f"55{i:08d}\n" for i in range(50_001))
    with pytest.raises(ApiError) as exc:
        cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64(big))
    assert "50000" in exc.value.message
    res = cmds.campaign_results(ctx(pbx), campaign="spring")
    assert [r["number"] for r in res["numbers"]] == ["5550201"]     # the earlier list is untouched
    full = "number,name\n" + "".join(f"55{i:08d},Customer {i}\n" for i in range(50_000))
    assert cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64(full))["imported"] == 50_000
    with pytest.raises(ApiError) as exc:
        campaign(pbx, agents=["mallory"])
    assert "mallory" in exc.value.message
    with pytest.raises(ApiError):
        campaign(pbx, hours={"from": "20:00", "to": "09:00", "days": [0]})
    with pytest.raises(ApiError):
        cmds.dnc_add(ctx(pbx), numbers=["5550201", "not a number"])


def test_preview_and_calling_hours(pbx):
    ok = pbx.co.remote("5550201")
    ok.far_end(1, say="Hello?")                    # a person: a silent answer would be no contact
    pbx.co.remote("5550202").far_end(1, say="Hello?")
    campaign(pbx, mode="preview")
    cmds.campaign_import(ctx(pbx), campaign="spring", csv_b64=b64("number,name\n5550201,Ann\n5550202,Ben\n"))
    login(pbx, "alice")
    cmds.campaign_start(ctx(pbx), campaign="spring")
    pbx.run(2.0)
    assert not pbx.phone("201").is_ringing                         # preview: nothing dialled by itself
    m = ctx(pbx, media=True)
    with pytest.raises(ApiError) as exc:
        cmds.campaign_preview_next(m, campaign="spring", username="bob")
    assert exc.value.code == "forbidden"
    first = cmds.campaign_preview_next(m, campaign="spring", username="alice")["number"]
    assert (first["number"], first["name"]) == ("5550201", "Ann")
    cmds.campaign_preview_skip(m, campaign="spring", username="alice")           # back in the list
    again = cmds.campaign_preview_next(m, campaign="spring", username="alice")["number"]
    assert again["number"] == "5550202"
    cmds.campaign_preview_dial(m, campaign="spring", username="alice")
    work_phone(pbx, 25.0)
    res = {r["number"]: r for r in cmds.campaign_results(ctx(pbx), campaign="spring")["numbers"]}
    assert res["5550202"]["status"] == "answered" and res["5550201"]["status"] == "pending"
    s = svc(pbx)
    assert s.is_free(s.agents["alice"]), (s.state_of(s.agents["alice"]), s.agents["alice"].connection,
                                          pbx.engine.channel_for_extension("201").state)
    # outside the calling hours nothing is dialled, not even from preview
    cmds.campaign_pause(ctx(pbx), campaign="spring")
    pbx.run(0.2)
    campaign(pbx, mode="preview", hours={"from": "03:00", "to": "03:01", "days": [6]})
    cmds.campaign_start(ctx(pbx), campaign="spring")
    pbx.run(0.2)
    cmds.campaign_preview_next(m, campaign="spring", username="alice")
    with pytest.raises(ApiError) as exc:
        cmds.campaign_preview_dial(m, campaign="spring", username="alice")
    assert "calling hours" in exc.value.message


def test_one_line_two_agents_never_more_attempts_than_lines(tmp_path):
    p = make_pbx(tmp_path, fxo=1)
    try:
        for n in ("5550301", "5550302"):
            p.co.remote(n).far_end(1, say="Hello there, who is calling?")
        cmds.campaign_save(ctx(p), campaign={"id": "duo", "name": "Duo", "mode": "progressive",
                                             "agents": ["alice", "bob"], "caller_extension": "201",
                                             "hours": HOURS_ALWAYS, "max_attempts": 1, "ring_s": 20})
        cmds.campaign_import(ctx(p), campaign="duo", csv_b64=b64("number\n5550301\n5550302\n"))
        login(p, "alice", "bob")
        cmds.campaign_start(ctx(p), campaign="duo")
        phones = {"201": p.phone("201"), "202": p.phone("202")}
        most = 0
        for _ in range(900):                        # 90 s: each agent answers its ring, talks 2 s, hangs up
            busy = sum(1 for a in svc(p).agents.values() if a.connection is not None)
            most = max(most, busy)
            for ext, ph in phones.items():
                ch = p.engine.channel_for_extension(ext)
                if ph.is_ringing:
                    ph.off_hook()
                elif ch.off_hook and ch.state in ("busy", "congestion", "idle"):
                    ph.on_hook()
                elif ch.off_hook and ch.state == "in-call" and p.now - ch.since > 2.0:
                    ph.on_hook()
            p.run(0.1)
            counts = cmds.campaign_results(ctx(p), campaign="duo")["counts"] if _ % 50 == 0 else {}
            if counts.get("answered") == 2:
                break
        counts = cmds.campaign_results(ctx(p), campaign="duo")["counts"]
        assert counts == {"answered": 2}, counts
        assert most == 1, "two attempts at once over one line"
    finally:
        p.close()
