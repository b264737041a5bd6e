"""Answering-machine detection over a small corpus of real speech (espeak-ng, nine languages):
people answering with a word or a short phrase, machines with a greeting and a beep, through a
line's treatment and the engine's call-progress analyser (bench/amd_accuracy.py also prints it).
The scenario tests on the whole simulated board are in test_campaign_answers.py."""
from __future__ import annotations

import pytest

from bench.amd_accuracy import CORPUS, HELD_OUT, HUMAN, MACHINE, answer_audio, classify, line_treatment, run
from firmware.campaigns.amd import AmdSettings
from firmware.campaigns.model import CampaignError, validate


def test_corpus_accuracy():
    out = run(CORPUS + HELD_OUT)
    wrong = [(o.voice, o.text, o.verdict, o.cause) for o in out if not o.right]
    assert sum(o.right for o in out) / len(out) >= 0.9, wrong
    # every machine is caught (a person wrongly hung up on is the costlier mistake only in
    # "hangup" campaigns; a machine passed to an agent wastes the agent's time in all of them)
    assert all(o.right for o in out if o.truth == MACHINE), wrong
    # the person decided quickly: within 2.5 s of picking up for a one-word answer
    hello = next(o for o in out if o.text == "Hello?")
    assert hello.verdict == HUMAN and hello.after_s <= 2.5


def test_a_beep_after_silence_alone_makes_a_machine():
    audio = line_treatment(answer_audio("en-us", MACHINE, "Leave a message."))
    assert classify(audio)[:2] == ("machine", "beep")
    # the same words without the beep are a person's
    assert classify(line_treatment(answer_audio("en-us", HUMAN, "Leave a message.")))[0] == HUMAN


def test_settings_are_checked():
    assert AmdSettings.from_doc({"greeting_s": "3"}).greeting_s == 3.0
    with pytest.raises(ValueError, match="greeting_s: a number from 0.5 to 5.0"):
        AmdSettings.from_doc({"greeting_s": 60})
    with pytest.raises(ValueError, match="max_words"):
        AmdSettings.from_doc({"max_words": "many"})
    base = {"id": "x", "agents": ["alice"], "caller_extension": "201"}
    with pytest.raises(CampaignError, match="needs the message"):
        validate({**base, "machine_action": "message"}, {"alice"}, lambda e: True)
    with pytest.raises(CampaignError, match="hangup"):
        validate({**base, "machine_action": "shout"}, {"alice"}, lambda e: True)
    with pytest.raises(CampaignError, match="custom/<name>"):
        validate({**base, "machine_action": "message", "machine_message": "../../etc/passwd"}, {"alice"},
                 lambda e: True)
    doc = validate({**base, "machine_action": "agent", "amd": {"initial_silence_s": 4}}, {"alice"}, lambda e: True)
    assert doc["machine_action"] == "agent" and doc["amd"]["initial_silence_s"] == 4.0
