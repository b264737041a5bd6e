"""Whisper the caller's name (queue option): the agent hears the customer's name, spoken by
espeak-ng, before the two are put through; the caller hears music meanwhile. Unknown callers and
queues without the option are put through at once."""
from __future__ import annotations

import time

from cc_scenarios import call_in, contains, login
from desk_kit import call, client

from dsp_ext.levels import rms_dbm0
from firmware.callcenter import model
from firmware.desk.whisper import clean_name, speak_name, whisper_of
from firmware.harness import tone_level


def _name_ready(p, call_id: str) -> None:
    deadline = time.monotonic() + 20
    while call_id not in whisper_of(p.engine).ready:
        assert time.monotonic() < deadline, "the name was not prepared"
        time.sleep(0.05)


def test_agent_hears_the_callers_name_before_connecting(pbx):
    api = client(pbx)
    model.save_queue(pbx.config, {**model.queue(pbx.config, "600"), "whisper_name": True}, original="600")
    call(pbx, api, "customers.save", contact={"name": "Dora Diaz", "numbers": ["5550142"]})
    pbx.run(0.2)
    login(pbx, "alice")
    r = call_in(pbx, "5550142")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)
    call_id = call(pbx, api, "desk.state", username="alice")["call"]["call_id"]
    _name_ready(pbx, call_id)
    name = speak_name("Dora Diaz")
    assert name is not None and len(name) > 4000
    ph = pbx.phone("201")
    ph.off_hook()
    ph.clear_heard()
    r.clear_heard()
    pbx.run(len(name) / 8000 + 0.3)
    assert contains(ph.heard(), name) > 0.8, "the agent did not hear the caller's name"
    assert rms_dbm0(r.heard()) > -35, "the caller heard silence during the whisper"
    r.play_tone([1000], 600, -12)
    ph.clear_heard()
    pbx.run(0.8)
    assert tone_level(ph.heard()[-2400:], 1000) > -30          # then put through
    api.api.close()


def test_unknown_caller_is_put_through_at_once(pbx):
    api = client(pbx)
    model.save_queue(pbx.config, {**model.queue(pbx.config, "600"), "whisper_name": True}, original="600")
    pbx.run(0.2)
    login(pbx, "alice")
    r = call_in(pbx, "5550199")
    pbx.run_until(lambda: pbx.phone("201").is_ringing, 3)
    call_id = call(pbx, api, "desk.state", username="alice")["call"]["call_id"]
    _name_ready(pbx, call_id)
    assert whisper_of(pbx.engine).ready[call_id] is None
    pbx.phone("201").off_hook()
    pbx.run(0.3)
    r.play_tone([1000], 600, -12)
    pbx.phone("201").clear_heard()
    pbx.run(0.8)
    assert tone_level(pbx.phone("201").heard()[-2400:], 1000) > -30
    api.api.close()


def test_names_are_cleaned_before_speaking():
    assert clean_name("--help\x00 Dora\n\tDiaz") == "help Dora Diaz"
    assert len(clean_name("x" * 500)) == 60
    assert speak_name("\x00\x01") is None
