"""The app extension point: a feature code and an inbound route reach an app that drives the channel."""
import pytest
from engine_scenarios import off_hook_and_dial, records

from dsp_ext.tones import tone
from firmware.apps import AppSession
from firmware.config import DESTINATION_KINDS
from firmware.harness import tone_level


def test_echo_test_feature_code_loops_the_callers_audio(pbx):
    a = off_hook_and_dial(pbx, "201", "*43")
    pbx.run(0.3)
    assert pbx.state("fxs1") == "in-call"
    a.clear_heard()
    a.play_tone([1000], 1000, -10)
    pbx.run(1.2)
    assert tone_level(a.heard(900), 1000) == pytest.approx(-10, abs=1.5)
    a.on_hook()
    pbx.run(1.5)
    (rec,) = records(pbx)
    assert (rec["src"], rec["dst"], rec["disposition"]) == ("201", "echo-test", "answered")
    assert rec["answered"] is not None and rec["ended"] > rec["answered"]


class Announcement(AppSession):
    """A minimal app: play one second of 1 kHz, then hang up."""

    name = "announce"

    def start(self) -> None:
        self.ch.play(tone([1000], 1000, -10), on_done=self.leave)


def test_inbound_line_routed_to_an_app(pbx, monkeypatch):
    monkeypatch.setitem(DESTINATION_KINDS, "announce", lambda cfg, value: None)
    pbx.engine.register_app("announce", Announcement)
    pbx.config.set_inbound_route("fxo1", "announce:welcome")
    pbx.run(0.1)
    r = pbx.co.remote("5550100")
    r.call(pbx.co.line_number(1), name="ALICE")
    pbx.run_until(lambda: r.state == "connected", 12)        # answered once caller ID is in
    assert not pbx.phone("201").is_ringing
    pbx.run(0.5)
    assert tone_level(r.heard(400), 1000) == pytest.approx(-10, abs=2)
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 3)   # the app hung up when done
    pbx.run(1.5)
    assert r.state in ("busy", "released")
    (rec,) = records(pbx)
    assert (rec["direction"], rec["dst"], rec["caller_id_name"], rec["disposition"]) == \
        ("inbound", "announce:welcome", "ALICE", "answered")
