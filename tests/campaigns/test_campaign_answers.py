"""Who answered a campaign call, end to end on the simulated board with real espeak-ng speech:
a person ("Hello?" then waiting) is a contact and talks to the agent; an answering machine
(a 7-second greeting and a beep) is hung up on and tried again, or gets the recorded message
after its beep (checked in what the far end heard), or goes to the agent anyway; a far end that
answers and hangs up without a word is no contact and is tried again; a call-rate refusal by the
gate is not final, a number not allowed is. Every attempt and result is in the queue event log."""
from __future__ import annotations

import base64

import numpy as np
import pytest
from cc_scenarios import contains, login, make_pbx, svc

from drivers.sim.speech import speak
from drivers.sim.subscriber import FRAME_MS
from dsp_ext.tones import tone
from firmware.api import ApiContext
from firmware.apps import permissions_store
from firmware.campaigns import commands as cmds
from firmware.prompts import save_upload, wav_bytes

HOURS_ALWAYS = {"from": "00:00", "to": "23:59", "days": [0, 1, 2, 3, 4, 5, 6]}
GREETING = ("Hi, you have reached Anna and Tom. We can't take your call right now. "
            "Please leave a message after the tone.")
MESSAGE = "This is Linebox Books with your spring offer. Please call us back on five five five, zero one hundred."


def ctx(p) -> ApiContext:
    return ApiContext(config=p.config, records=p.records, data_dir=p.data_dir, control=p.engine.control)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def where_heard(heard: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """(peak normalised cross-correlation, sample offset) of `ref` inside `heard`; the sliding
    energy by cumulative sums (`contains` of cc_scenarios convolves: slow for a long message)."""
    h, x = heard.astype(np.float64), ref.astype(np.float64)
    if len(h) < len(x):
        return 0.0, 0
    n = 1 << int(np.ceil(np.log2(len(h) + len(x))))
    corr = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(x, n)), n)[: len(h) - len(x) + 1]
    c = np.concatenate([[0.0], np.cumsum(h * h)])
    energy = np.sqrt(np.maximum(c[len(x):] - c[: len(h) - len(x) + 1], 0.0))
    score = corr / (np.linalg.norm(x) * np.maximum(energy, 1e-9))
    at = int(np.argmax(score))
    return float(score[at]), at


def machine_audio() -> np.ndarray:
    """An answering machine: its greeting (about 6 s), a short pause, a 1 kHz beep."""
    return np.concatenate([speak(GREETING), np.zeros(3200, np.int16), tone([1000.0], 600, -12.0)])


@pytest.fixture
def pbx(tmp_path):
    p = make_pbx(tmp_path)
    yield p
    p.close()


def start(p, numbers: list[str], **over) -> None:
    doc = {"id": "spring", "name": "Spring offer", "mode": "progressive", "agents": ["alice"],
           "caller_extension": "201", "hours": HOURS_ALWAYS, "max_attempts": 2, "retry_after_s": 30, "ring_s": 20,
           **over}
    cmds.campaign_save(ctx(p), campaign=doc)
    cmds.campaign_import(ctx(p), campaign="spring", csv_b64=b64("number\n" + "".join(n + "\n" for n in numbers)))
    login(p, "alice")
    cmds.campaign_start(ctx(p), campaign="spring")


def agent_works(p, seconds: float, talk_s: float = 3.0, heard: list | None = None,
                drop: tuple[str, ...] = ()) -> None:
    """Alice answers every ring, listens (what she hears is kept in `heard`), hangs up `talk_s`
    after the call is up or when she hears busy/congestion. On the numbers in `drop` she hangs up
    1.5 s after the far end answered: at a machine greeting's first words, before the detector's
    verdict."""
    ph = p.phone("201")
    ch = p.engine.channel_for_extension("201")
    t = 0.0
    while t < seconds:
        for far in p.co.remotes.values():
            if far.state == "busy":             # we hung up on them: they put the phone down too
                far.hang_up()
        for number in drop:
            far = p.co.remotes.get(number)
            if far is not None and far.state == "connected" and ch.off_hook and ch.state == "in-call" \
                    and (p.co.frames - far.state_frame) * FRAME_MS > 1500:
                ph.on_hook()
        if ph.is_ringing:
            ph.off_hook()
            ph.clear_heard()
        elif ch.off_hook:
            if ch.state in ("busy", "congestion", "idle"):
                if heard is not None:
                    heard.append(ph.heard())
                ph.on_hook()
            elif ch.state == "in-call" and p.now - ch.since > talk_s:
                if heard is not None:
                    heard.append(ph.heard())
                ph.on_hook()
        p.run(0.1)
        t += 0.1


def results(p) -> dict[str, dict]:
    return {r["number"]: r for r in cmds.campaign_results(ctx(p), campaign="spring")["numbers"]}


def campaign_events(p) -> list[tuple]:
    p.records.flush()
    rows = p.records.query("SELECT * FROM queue_events WHERE event LIKE 'CAMPAIGN%' ORDER BY id")
    return [(r["event"], r["agent"], r["data1"], r["data2"], r["data3"], r["data4"], r["data5"]) for r in rows]


def test_person_is_a_contact_machine_is_hung_up_on_and_retried(pbx):
    person, machine = pbx.co.remote("5550401"), pbx.co.remote("5550402")
    person.far_end(1, say="Hello?")
    machine.far_end(1, say=machine_audio())
    start(pbx, ["5550401", "5550402"], machine_action="hangup")
    heard: list = []
    agent_works(pbx, 45.0, talk_s=4.0, heard=heard)
    res = results(pbx)
    assert res["5550401"]["status"] == "answered" and res["5550401"]["last_result"] == "answered"
    assert res["5550402"]["last_result"] == "machine" and res["5550402"]["status"] == "pending", res["5550402"]
    assert res["5550402"]["attempts"] == 1
    # the agent heard the person's "Hello?"
    assert contains(np.concatenate(heard), speak("Hello?")) > 0.5
    # the machine was hung up on during its greeting: it never reached the beep
    pbx.records.flush()
    reasons = {r["dst"]: r["reason"] for r in pbx.records.query(
        "SELECT c.dst, r.reason FROM calls c JOIN call_reasons r USING (call_id) WHERE c.direction = 'outbound'")}
    assert "machine" in reasons["5550402"] and "long_greeting" in reasons["5550402"], reasons
    assert "human" in reasons["5550401"], reasons
    pbx.run(30.0)
    agent_works(pbx, 40.0)
    res = results(pbx)
    assert res["5550402"]["status"] == "machine" and res["5550402"]["attempts"] == 2     # given up: no contact
    ev = campaign_events(pbx)
    assert ("CAMPAIGNDIAL", "alice", "spring", "5550401", "1", "", "") in ev
    talk = [e for e in ev if e[0] == "CAMPAIGNRESULT" and e[3] == "5550401"]
    assert len(talk) == 1 and talk[0][4] == "answered" and int(talk[0][5]) >= 3 and talk[0][6] == "answered"
    machines = [e[4:] for e in ev if e[0] == "CAMPAIGNRESULT" and e[3] == "5550402"]
    assert machines == [("machine", "0", "pending"), ("machine", "0", "machine")]
    assert svc(pbx).agents["alice"].connection is None


def test_message_left_after_the_beep(pbx, tmp_path):
    machine = pbx.co.remote("5550402")
    audio = machine_audio()
    machine.far_end(1, say=audio)
    message = speak(MESSAGE, voice="en-gb")
    save_upload(tmp_path / "prompts", "spring-message", wav_bytes(message))
    start(pbx, ["5550402"], machine_action="message", machine_message="custom/spring-message")
    ear_from = None
    ph = pbx.phone("201")
    ch = pbx.engine.channel_for_extension("201")
    for _ in range(500):                          # 50 s
        if ph.is_ringing:
            ph.off_hook()
        elif ch.off_hook and ch.state in ("busy", "congestion", "idle"):
            ph.on_hook()                         # the agent is let go once it is a machine
        if ear_from is None and machine.state == "connected":
            machine.clear_heard()
            ear_from = pbx.now
        pbx.run(0.1)
        if _ % 10 == 0 and results(pbx).get("5550402", {}).get("status") == "message_left":
            break
    res = results(pbx)["5550402"]
    assert res["status"] == "message_left" and res["attempts"] == 1, res
    heard = machine.heard()
    # the message is all there, and it started after the machine's beep (greeting + pause + beep)
    score, at = where_heard(heard, message)
    assert score > 0.6, score
    beep_end_s = (len(audio) + 2400) / 8000     # the greeting starts 300 ms after the answer
    assert at / 8000 > beep_end_s, (at / 8000, beep_end_s)
    assert svc(pbx).agents["alice"].connection is None
    assert not pbx.engine.calls
    ev = campaign_events(pbx)
    assert [e[4] for e in ev if e[0] == "CAMPAIGNRESULT"] == ["message_left"]


def test_machine_passed_to_the_agent_anyway(pbx):
    machine = pbx.co.remote("5550402")
    machine.far_end(1, say=machine_audio())
    start(pbx, ["5550402"], machine_action="agent")
    heard: list = []
    agent_works(pbx, 40.0, talk_s=9.0, heard=heard)
    res = results(pbx)["5550402"]
    assert res["status"] == "machine_agent" and res["attempts"] == 1
    assert contains(np.concatenate(heard), tone([1000.0], 300, -12.0)) > 0.5      # she heard the beep too


@pytest.mark.parametrize("reversal", [True, False], ids=["polarity-reversal", "audio-only"])
def test_silent_quick_hang_up_is_no_contact_and_is_retried(pbx, reversal):
    # with polarity reversal the exchange says when the far end picks up: answered, then gone
    # before a word (hung_up); without it the silent pick-up is never heard as an answer at all
    # (failed). Either way no contact, and the number is tried again.
    pbx.co.reverse_on_answer = reversal
    far = pbx.co.remote("5550403")
    far.far_end(1, say=None)
    start(pbx, ["5550403"])
    ph = pbx.phone("201")
    ch = pbx.engine.channel_for_extension("201")
    answered_at = None
    for _ in range(400):
        if ph.is_ringing:
            ph.off_hook()
        elif ch.off_hook and ch.state in ("busy", "congestion", "idle"):
            ph.on_hook()
        if far.state == "connected" and answered_at is None:
            answered_at = pbx.now
        if answered_at is not None and far.state == "connected" and pbx.now - answered_at >= 1.5:
            far.hang_up()                       # picked up, said nothing, hung up
        pbx.run(0.1)
        if _ % 10 == 0 and results(pbx)["5550403"]["last_result"]:
            break
    res = results(pbx)["5550403"]
    first = "hung_up" if reversal else "failed"
    assert res["last_result"] == first and res["status"] == "pending" and res["attempts"] == 1, res
    # the second attempt: a person this time
    far.far_end(1, say="Hello?")
    pbx.run(30.0)
    agent_works(pbx, 40.0)
    res = results(pbx)["5550403"]
    assert res["status"] == "answered" and res["attempts"] == 2, res
    ev = [e[4] for e in campaign_events(pbx) if e[0] == "CAMPAIGNRESULT"]
    assert ev == [first, "answered"]


def test_rate_limit_defers_a_refused_number_stays_refused(pbx):
    for n in ("5550501", "5550502"):
        pbx.co.remote(n).far_end(1, say="Hello?")
    permissions_store.set_extension_policy(pbx.config, "201", "national", calls_per_hour=1)
    pbx.engine.outside_policy.reload()
    start(pbx, ["5550501", "5550502", "011442071234567"])
    agent_works(pbx, 40.0)
    res = results(pbx)
    assert res["5550501"]["status"] == "answered"
    assert res["011442071234567"]["status"] == "denied"                      # not allowed: final
    assert res["5550502"]["status"] == "pending" and res["5550502"]["last_result"] == "rate_limited"
    assert res["5550502"]["attempts"] == 0 and pbx.co.remotes["5550502"].rings == 0
    pbx.run(31.0)
    agent_works(pbx, 5.0)                                                        # asked again: still over
    res = results(pbx)
    assert res["5550502"]["attempts"] == 0 and pbx.co.remotes["5550502"].rings == 0
    # the owner raises the limit: the deferred number is dialled at its next turn
    permissions_store.set_extension_policy(pbx.config, "201", "national", calls_per_hour=10)
    pbx.engine.outside_policy.reload()
    pbx.run(31.0)
    agent_works(pbx, 40.0)
    res = results(pbx)
    assert res["5550502"]["status"] == "answered" and res["5550502"]["attempts"] == 1, res
    assert cmds.campaign_list(ctx(pbx))["campaigns"][0]["state"] == "done"
    ev = [(e[3], e[4], e[6]) for e in campaign_events(pbx) if e[0] == "CAMPAIGNRESULT"]
    assert ev.count(("5550502", "rate_limited", "pending")) >= 2
    assert ("011442071234567", "denied", "denied") in ev
    assert ("5550502", "answered", "answered") in ev


def test_preview_over_the_rate_limit_is_refused_and_the_number_kept(pbx):
    from firmware.api import ApiError
    for n in ("5550511", "5550512"):
        pbx.co.remote(n).far_end(1, say="Hello?")
    permissions_store.set_extension_policy(pbx.config, "201", "national", calls_per_hour=1)
    pbx.engine.outside_policy.reload()
    start(pbx, ["5550511", "5550512"], mode="preview")
    pbx.run(0.2)
    m = ApiContext(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.engine.control,
                   engine=pbx.engine)
    assert cmds.campaign_preview_next(m, campaign="spring", username="alice")["number"]["number"] == "5550511"
    cmds.campaign_preview_dial(m, campaign="spring", username="alice")
    agent_works(pbx, 25.0)
    assert results(pbx)["5550511"]["status"] == "answered"
    assert cmds.campaign_preview_next(m, campaign="spring", username="alice")["number"]["number"] == "5550512"
    with pytest.raises(ApiError) as exc:
        cmds.campaign_preview_dial(m, campaign="spring", username="alice")
    assert exc.value.code == "conflict" and "outside-call limit" in exc.value.message and "min" in exc.value.message
    assert not pbx.phone("201").is_ringing and pbx.co.remotes["5550512"].rings == 0
    # still hers to look at (and to dial once the limit allows)
    assert cmds.campaign_preview_next(m, campaign="spring", username="alice")["number"]["number"] == "5550512"


def test_silent_answer_the_agent_stays_on_is_a_contact_and_listening_stops(pbx):
    pbx.co.reverse_on_answer = True
    pbx.co.remote("5550404").far_end(1, say=None)            # picks up and says nothing, stays
    start(pbx, ["5550404"])
    analysing: list[tuple[float, bool]] = []
    for _ in range(50):
        agent_works(pbx, 1.0, talk_s=40.0)
        analysing.append((pbx.now, any(d.progress is not None for d in pbx.media._dsp.values())))
    res = results(pbx)["5550404"]
    assert res["status"] == "answered" and res["attempts"] == 1, res
    pbx.records.flush()
    reasons = [r["reason"] for r in pbx.records.query("SELECT reason FROM call_reasons")]
    assert any("answered by: unknown (silent, initial_silence)" in r for r in reasons), reasons
    # the line was analysed while silent (for a first word), and no longer after 30 s of it
    on = [t for t, a in analysing if a]
    assert on and on[-1] - on[0] >= 25 and not analysing[-1][1] and len(on) < 40, analysing
