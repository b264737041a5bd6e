"""The follow-up survey call, durable and machine-aware, end to end on the simulated board:

* a follow-up not yet made is a row of `survey_calls` in the call records database, so a power
  cut (the data directory as it is on disk, copied while the engine runs) and a restart do not
  lose it: the restarted box makes the call, still only within the queue's calling hours;
* the answering-machine detector of the campaigns listens after the answer: a person answering
  "Hello?" (espeak-ng) gets the survey; a machine (a long espeak-ng greeting, then a beep) is hung
  up on without hearing it, the attempt counts as `machine` and is retried per the policy; the
  call's one reason in the records says when it was answered and who answered."""
from __future__ import annotations

import shutil

import numpy as np
from cc_scenarios import events, make_pbx, prompt, svc
from test_followup_survey_call import (
    of_call,
    outside_calls,
    queue_call,
    survey_pbx,
    survey_within_hours_from_1005,
)

from drivers.sim.speech import speak
from dsp_ext.tones import tone
from firmware.harness import START_EPOCH, Pbx

GREETING = ("Hi, you have reached Anna and Tom. We can't take your call right now. "
            "Please leave a message after the tone.")


def heard_score(heard: np.ndarray, ref: np.ndarray) -> float:
    """Peak normalised cross-correlation of `ref` inside `heard` (as cc_scenarios.contains, with the
    sliding energy by cumulative sums: quick on a long recording)."""
    h, x = heard.astype(np.float64), ref.astype(np.float64)
    if len(h) < len(x):
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(h) + len(x))))
    corr = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(x, n)), n)[: len(h) - len(x) + 1]
    c = np.concatenate([[0.0], np.cumsum(h * h)])
    energy = np.sqrt(np.maximum(c[len(x):] - c[: len(h) - len(x) + 1], 0.0))
    return float((corr / (np.linalg.norm(x) * np.maximum(energy, 1e-9))).max())


def rows(p) -> list[dict]:
    p.records.flush()
    return p.records.query("SELECT * FROM survey_calls ORDER BY id")


def test_a_follow_up_not_yet_made_survives_a_power_cut_and_waits_for_calling_hours(tmp_path):
    first = tmp_path / "first"
    p = make_pbx(first)
    try:
        survey_within_hours_from_1005(p)
        p.run(0.2)
        _r, call_id = queue_call(p)
        kept = rows(p)
        assert [(k["call_id"], k["number"], k["attempts"], k["done"]) for k in kept] == [(call_id, "5550142", 0, None)]
        assert kept[0]["next_try"] >= p.now + 50                       # due a minute after the call
        # the power goes: what is on disk now is what the next start finds (the engine still runs)
        after_cut = tmp_path / "after-cut"
        shutil.copytree(first, after_cut)
        assert outside_calls(p) == []
    finally:
        p.close()
    # the box starts again at 10:02: the call is due but the queue's calling hours open at 10:05
    p = Pbx(country="US", seed=3, data_dir=after_cut, start_epoch=START_EPOCH + 120)
    try:
        p.co.disconnect_signal = "both"
        assert list(svc(p).follow_ups.pending) == [call_id]
        r = p.co.remote("5550142")
        r.far_end(1, say="Hello? Who is calling?")
        p.run(60.0)
        assert outside_calls(p) == []                                  # due, but outside calling hours
        p.run_until(lambda: r.is_ringing, 4 * 60)
        assert p.now >= START_EPOCH + 5 * 60
        p.run_until(lambda: r.is_off_hook, 10)
        p.run(14.0)
        r.dial("3")
        p.run(6.0)
        got = of_call(p, call_id)
        assert got == [("SURVEYCALL", "5550142", "1", ""), ("SURVEY", "1", "3", ""),
                       ("SURVEYCALLEND", "5550142", "answered", "1")], got
        done = rows(p)
        assert [(k["attempts"], k["result"]) for k in done] == [(1, "answered")] and done[0]["done"] is not None
        assert not svc(p).follow_ups.pending
    finally:
        p.close()
    # and a third start has nothing left to make
    p = Pbx(country="US", seed=3, data_dir=after_cut, start_epoch=START_EPOCH + 3600)
    try:
        assert not svc(p).follow_ups.pending
    finally:
        p.close()


def machine_audio() -> np.ndarray:
    """An answering machine: its greeting (about 6 s), a short pause, a 1 kHz beep."""
    return np.concatenate([speak(GREETING), np.zeros(3200, np.int16), tone([1000.0], 600, -12.0)])


def reasons(p) -> list[str]:
    p.records.flush()
    return [r["reason"] for r in p.records.query(
        "SELECT r.reason FROM calls c JOIN call_reasons r USING (call_id) WHERE c.direction = 'outbound' "
        "ORDER BY c.start")]


def test_a_machine_is_hung_up_on_without_the_survey_then_a_person_gets_it(tmp_path):
    p = survey_pbx(tmp_path)
    try:
        r, call_id = queue_call(p)
        r.far_end(1, say=machine_audio())
        p.run_until(lambda: r.is_off_hook, 90)
        r.clear_heard()
        p.run_until(lambda: not r.is_off_hook or r.state == "busy", 15)   # the box hangs up on it
        heard = r.heard()
        if r.state != "idle":
            r.hang_up()
        assert of_call(p, call_id) == [("SURVEYCALL", "5550142", "1", "")]
        assert heard_score(heard, prompt("queue/survey_intro")) < 0.3          # the survey was not played
        assert [e["event"] for e in events(p, call_id)].count("SURVEY") == 0
        first = reasons(p)
        assert len(first) == 1 and "answered by: machine" in first[0] and "s after dialling" in first[0], first
        assert rows(p)[0]["history"] == "machine" and rows(p)[0]["done"] is None
        # the retry, N minutes later: this time the customer answers
        r.far_end(1, say="Hello?")
        p.run_until(lambda: r.is_ringing, 90)
        p.run_until(lambda: r.is_off_hook, 10)
        r.clear_heard()
        p.run(13.0)
        assert heard_score(r.heard(), prompt("queue/survey_intro")) > 0.6
        r.dial("5")
        p.run(5.0)
        r.dial("4")
        p.run(6.0)
        assert of_call(p, call_id) == [("SURVEYCALL", "5550142", "1", ""), ("SURVEYCALL", "5550142", "2", ""),
                                       ("SURVEY", "1", "5", ""), ("SURVEY", "2", "4", ""),
                                       ("SURVEYCALLEND", "5550142", "answered", "2")]
        both = reasons(p)
        assert len(both) == 2 and "answered by: human (short_greeting)" in both[1], both
        assert [(k["attempts"], k["result"], k["history"]) for k in rows(p)] == [(2, "answered", "machine")]
    finally:
        p.close()


def test_machines_on_every_attempt_give_up_with_the_results(tmp_path):
    p = survey_pbx(tmp_path)
    try:
        r, call_id = queue_call(p)
        r.far_end(1, say=machine_audio())
        for _ in range(2):
            p.run_until(lambda: r.is_off_hook, 120)
            p.run_until(lambda: not r.is_off_hook or r.state == "busy", 15)
            if r.state != "idle":
                r.hang_up()
        p.run(2.0)
        assert of_call(p, call_id)[-1] == ("SURVEYCALLEND", "5550142", "gave_up:machine,machine", "2")
        p.run(150.0)
        assert len(outside_calls(p)) == 2
    finally:
        p.close()


def test_a_power_cut_during_the_survey_call_makes_it_again_at_the_restart(tmp_path):
    first = tmp_path / "first"
    p = survey_pbx(first)
    try:
        r, call_id = queue_call(p)
        r.far_end(None)                                                # it rings; nobody answers yet
        p.run_until(lambda: r.is_ringing, 90)
        p.run(1.0)
        kept = rows(p)
        assert [(k["attempts"], k["done"]) for k in kept] == [(1, None)]
        after_cut = tmp_path / "after-cut"
        shutil.copytree(first, after_cut)                              # the power goes mid-call
    finally:
        p.close()
    p = Pbx(country="US", seed=3, data_dir=after_cut, start_epoch=START_EPOCH + 600)
    try:
        p.co.disconnect_signal = "both"
        r = p.co.remote("5550142")
        r.far_end(1, say="Hello?")
        p.run_until(lambda: r.is_ringing, 5)                           # due at once: the attempt was cut
        p.run_until(lambda: r.is_off_hook, 10)
        p.run(12.0)
        r.dial("2")
        p.run(5.0)
        r.dial("3")
        p.run(6.0)
        got = of_call(p, call_id)
        assert got == [("SURVEYCALL", "5550142", "1", ""), ("SURVEYCALL", "5550142", "2", ""),   # before, after
                       ("SURVEY", "1", "2", ""), ("SURVEY", "2", "3", ""),
                       ("SURVEYCALLEND", "5550142", "answered", "2")], got
        assert [(k["attempts"], k["result"]) for k in rows(p)] == [(2, "answered")]
    finally:
        p.close()
