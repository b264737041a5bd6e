"""The automated follow-up survey call, end to end on the simulated board: after a queue call the
box calls the customer back N minutes later on a free line, through the outbound gate and within
the queue's calling hours, says why it calls and asks the survey; the customer answers with DTMF
keys; the answers are SURVEY events of the original queue call and the report's satisfaction
figures count them. Busy or no answer is retried once; a number the owner did not allow is never
dialled."""
from __future__ import annotations

import pytest
from cc_scenarios import call_in, contains, events, login, make_pbx, prompt, svc
from test_queue_transfers import report_total

from firmware.callcenter import model
from firmware.config import ConfigError
from firmware.harness import START_EPOCH, tone_level


def outside_calls(p) -> list[str]:
    return [c.callee.number for c in [*p.co.history, *p.co.calls] if getattr(c.caller, "kind", "") == "line"]


def survey_pbx(tmp_path, minutes: int = 1, **queue):
    p = make_pbx(tmp_path)
    model.save_survey(p.config, {"id": "csat", "name": "Satisfaction",
                                 "questions": ["queue/survey_default", "queue/survey_default"]})
    model.save_queue(p.config, {**model.queue(p.config, "600"), "survey": "csat", "survey_call_min": minutes,
                                "survey_as": "204", **queue}, original="600")
    p.run(0.2)
    return p


def queue_call(p, number: str = "5550142"):
    """A customer calls the queue, talks to alice, alice hangs up: the queue call id."""
    login(p, "alice")
    r = call_in(p, number)
    p.run_until(lambda: p.phone("201").is_ringing, 5)
    p.phone("201").off_hook()
    p.run(1.0)
    call_id = svc(p).agents["alice"].connection.call.id
    r.play_tone([1000], 600, -12)
    p.phone("201").clear_heard()
    p.run(0.8)
    assert tone_level(p.phone("201").heard()[-2400:], 1000) > -30
    p.phone("201").on_hook()
    p.run(1.0)
    r.hang_up()
    p.run(1.0)
    return r, call_id


def of_call(p, call_id: str) -> list[tuple]:
    return [(e["event"], e["data1"], e["data2"], e["data3"]) for e in events(p, call_id)
            if e["event"] in ("SURVEY", "SURVEYCALL", "SURVEYCALLEND")]


def test_the_customer_is_called_back_and_answers_the_survey_by_keys(tmp_path):
    p = survey_pbx(tmp_path)
    try:
        r, call_id = queue_call(p)
        ended = p.now
        assert of_call(p, call_id) == []                      # no survey on the line: a call comes later
        r.far_end(1, say="Hello? Who is calling?")             # a person answers (espeak-ng speech)
        p.run(50.0)
        assert outside_calls(p) == []                          # not before N minutes
        p.run_until(lambda: r.is_ringing, 30)
        assert p.now - ended >= 60
        assert outside_calls(p) == ["5550142"]
        r.clear_heard()
        p.run_until(lambda: r.is_off_hook, 10)
        p.run(12.0)                                            # answer heard, why we call, the first question
        heard = r.heard()
        assert contains(heard, prompt("queue/survey_intro")) > 0.6
        assert contains(heard, prompt("queue/survey_default")) > 0.6
        r.dial("4")
        p.run(4.5)
        r.dial("5")
        p.run(6.0)                                             # thanks, and the line let go
        assert of_call(p, call_id) == [("SURVEYCALL", "5550142", "1", ""), ("SURVEY", "1", "4", ""),
                                       ("SURVEY", "2", "5", ""), ("SURVEYCALLEND", "5550142", "answered", "1")]
        answers = [e for e in events(p, call_id) if e["event"] == "SURVEY"]
        assert {(e["queue"], e["agent"]) for e in answers} == {("600", "alice")}
        p.run_until(lambda: p.state("fxo1") == "idle" and p.state("fxo2") == "idle", 10)
        total = report_total(p)
        assert total["satisfaction_avg"] == pytest.approx(4.5)  # the report's survey figures count them
        assert total["satisfied_share"] == pytest.approx(1.0)
        assert not svc(p).follow_ups.pending
    finally:
        p.close()


def test_busy_then_no_answer_is_retried_once_then_given_up(tmp_path):
    p = survey_pbx(tmp_path)
    try:
        r, call_id = queue_call(p)
        r.busy = True                                          # the customer is on the phone
        p.run_until(lambda: [e[0] for e in of_call(p, call_id)].count("SURVEYCALL") == 1, 90)
        p.run(5.0)
        r.busy = False
        p.run_until(lambda: r.is_ringing, 90)                  # the retry, N minutes later: nobody answers
        p.run_until(lambda: any(e[0] == "SURVEYCALLEND" for e in of_call(p, call_id)), 60)
        got = of_call(p, call_id)
        assert got == [("SURVEYCALL", "5550142", "1", ""), ("SURVEYCALL", "5550142", "2", ""),
                       ("SURVEYCALLEND", "5550142", "gave_up:busy,no_answer", "2")]
        p.run(150.0)                                           # more than the next N minutes
        assert len(outside_calls(p)) == 2                      # retried once, no more
        assert not svc(p).follow_ups.pending
    finally:
        p.close()


def test_a_number_the_owner_did_not_allow_is_never_dialled(tmp_path):
    p = survey_pbx(tmp_path)
    try:
        r, call_id = queue_call(p, "19005551234")              # premium: not for extension 204's class
        p.run(150.0)
        assert outside_calls(p) == []
        assert of_call(p, call_id) == [("SURVEYCALLEND", "19005551234", "denied", "0")]
    finally:
        p.close()


def survey_within_hours_from_1005(p) -> None:
    """Queue 600 with a follow-up survey call a minute after each call, as extension 204, only
    within calling hours that open at 10:05 (the simulated day starts at 10:00)."""
    from firmware.apps.timeconditions import save_condition
    save_condition(p.config, {"id": "office", "name": "Office", "open": "voicemail:201",
                              "closed": "voicemail:201",
                              "rules": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "10:05", "end": "18:00"}]})
    model.save_survey(p.config, {"id": "csat", "name": "Satisfaction", "questions": ["queue/survey_default"]})
    model.save_queue(p.config, {**model.queue(p.config, "600"), "survey": "csat", "survey_call_min": 1,
                                "survey_as": "204", "hours": "office", "join_empty": [], "leave_empty": []},
                     original="600")


def test_the_survey_call_waits_for_calling_hours(tmp_path):
    """The queue's hours open at 10:05 (it is 10:00): a survey due at 10:01 is made after 10:05."""
    p = make_pbx(tmp_path)
    try:
        survey_within_hours_from_1005(p)
        p.run(0.2)
        r, call_id = queue_call(p)
        p.run(150.0)
        assert outside_calls(p) == []                          # due, but outside calling hours
        r.far_end(1, say="Hello? Who is calling?")
        p.run_until(lambda: r.is_ringing, 5 * 60)
        assert p.now >= START_EPOCH + 5 * 60
        p.run_until(lambda: r.is_off_hook, 10)
        p.run(12.0)
        r.dial("3")
        p.run(5.0)
        assert ("SURVEY", "1", "3", "") in of_call(p, call_id)
    finally:
        p.close()


def test_survey_call_settings_are_checked(tmp_path):
    p = make_pbx(tmp_path)
    try:
        q = model.queue(p.config, "600")
        with pytest.raises(ConfigError, match="choose the survey"):
            model.validate_queue(p.config, {**q, "survey_call_min": 5, "survey_as": "204"}, original="600")
        model.save_survey(p.config, {"id": "csat", "name": "S", "questions": ["queue/survey_default"]})
        with pytest.raises(ConfigError, match="extension whose outside-call permissions"):
            model.validate_queue(p.config, {**q, "survey": "csat", "survey_call_min": 5, "survey_as": "999"},
                                 original="600")
        with pytest.raises(ConfigError, match="Survey call after"):
            model.validate_queue(p.config, {**q, "survey": "csat", "survey_call_min": 5000, "survey_as": "204"},
                                 original="600")
        ok = model.validate_queue(p.config, {**q, "survey": "csat", "survey_call_min": 5, "survey_as": "204"},
                                  original="600")
        assert (ok["survey_call_min"], ok["survey_as"]) == (5, "204")
    finally:
        p.close()
