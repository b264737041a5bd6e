"""Extension-to-extension calls on the simulated board, checked by ear (audio measured at the phones)."""
import asyncio

import numpy as np
import pytest
from engine_scenarios import off_hook_and_dial, port_of, records

from firmware.harness import Pbx, dominant_freqs, tone_level


def _dial_tone_freqs(country: str) -> list[float]:
    with Pbx(country=country) as pbx:
        phone = pbx.phone("201")
        phone.off_hook()
        pbx.run(1.2)
        heard = phone.heard(1000)
        assert pbx.state("fxs1") == "dialtone"
        return sorted(dominant_freqs(heard, n=2, floor_db=15)), heard


def test_dial_tone_us_is_350_plus_440():
    freqs, heard = _dial_tone_freqs("US")
    assert freqs == pytest.approx([350, 440], abs=6)
    assert tone_level(heard, 350) == pytest.approx(-13, abs=2)     # the profile's level


@pytest.mark.parametrize("country,freq", [("DE", 425), ("CN", 450)])
def test_dial_tone_single_frequency_countries(country, freq):
    freqs, heard = _dial_tone_freqs(country)
    assert freqs == pytest.approx([freq], abs=6)
    assert tone_level(heard, 350) < tone_level(heard, freq) - 30


def test_extension_call_rings_with_cadence_caller_id_and_two_way_audio(pbx):
    a, b = pbx.phone("201"), pbx.phone("202")
    off_hook_and_dial(pbx, "201", "202")
    pbx.run_until(lambda: b.is_ringing, 3)
    assert pbx.state("fxs1") == "ringback" and pbx.state("fxs2") == "ringing"
    # Ring for two full US cycles (2 s on, 4 s off), caller ID in the first silence.
    b.ring_edges.clear()
    a.clear_heard()
    pbx.run(12.5)
    edges = b.ring_edges
    assert [on for _, on in edges[:4]] == [False, True, False, True]
    gaps = np.diff([f for f, _ in edges]) * 10
    assert gaps[0] == pytest.approx(4000, abs=20) and gaps[1] == pytest.approx(2000, abs=20)
    assert b.caller_id is not None and b.caller_id.number == "201"
    assert b.caller_id.name == "Extension 201"
    # The caller heard ringback: 440+480 Hz, on 2 s / off 4 s.
    heard = a.heard()
    assert sorted(dominant_freqs(heard, 2)) == pytest.approx([440, 480], abs=6)
    # Answer: two-way audio, 1 kHz from 201 measured at 202 and back.
    b.off_hook()
    pbx.run(0.3)
    assert pbx.state("fxs1") == "in-call" and pbx.state("fxs2") == "in-call"
    a.clear_heard()
    b.clear_heard()
    a.play_tone([1000], 1000, -10)
    pbx.run(1.2)
    at_b = b.heard(900)
    assert tone_level(at_b, 1000) == pytest.approx(-10, abs=1.5)
    assert tone_level(a.heard(900), 1000) < -50                  # no echo of itself on an FXS bridge
    b.clear_heard()
    b.play_tone([1700], 1000, -12)
    pbx.run(1.2)
    assert tone_level(a.heard(900), 1700) == pytest.approx(-12, abs=1.5)
    # 202 hangs up: 201 hears busy (480+620 Hz, 0.5 s on / 0.5 s off).
    b.on_hook()
    pbx.run(2.1)
    assert pbx.state("fxs1") == "busy" and pbx.state("fxs2") == "idle"
    busy = a.heard(2000)
    assert sorted(dominant_freqs(busy, 2)) == pytest.approx([480, 620], abs=6)
    on = [tone_level(busy[i:i + 400], 480) > -40 for i in range(0, 16000, 400)]
    assert 0.3 < sum(on) / len(on) < 0.7                         # cadenced, not steady
    a.on_hook()
    pbx.run(1.5)
    (rec,) = records(pbx)
    assert (rec["src"], rec["dst"], rec["direction"], rec["disposition"]) == ("201", "202", "internal", "answered")
    assert rec["answered"] - rec["start"] == pytest.approx(12.5 + 0.1, abs=1.0)
    assert rec["ended"] > rec["answered"]


def test_audio_does_not_leak_between_calls(pbx):
    b, d = pbx.phone("202"), pbx.phone("204")
    a = off_hook_and_dial(pbx, "201", "202")
    c = off_hook_and_dial(pbx, "203", "204")
    pbx.run_until(lambda: b.is_ringing and d.is_ringing, 3)
    b.off_hook()
    d.off_hook()
    pbx.run(0.5)
    for p in (a, b, c, d):
        p.clear_heard()
    a.play_tone([1000], 1000, -10)
    c.play_tone([1400], 1000, -10)
    pbx.run(1.2)
    assert tone_level(b.heard(900), 1000) == pytest.approx(-10, abs=1.5)
    assert tone_level(d.heard(900), 1400) == pytest.approx(-10, abs=1.5)
    assert tone_level(d.heard(900), 1000) < -60
    assert tone_level(b.heard(900), 1400) < -60


def test_no_answer_is_recorded(pbx):
    a = off_hook_and_dial(pbx, "201", "203")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)
    pbx.run(8)
    a.on_hook()
    pbx.run(1.5)          # on hook for longer than a flash
    assert pbx.state("fxs3") == "idle" and not pbx.phone("203").is_ringing
    (rec,) = records(pbx)
    assert rec["dst"] == "203" and rec["disposition"] == "no_answer" and rec["answered"] is None


def test_ring_timeout_gives_busy_and_no_answer(pbx):
    pbx.config.update_settings(ring_timeout_ms=10000)
    pbx.run(0.1)
    off_hook_and_dial(pbx, "201", "203")
    pbx.run(11)
    assert pbx.state("fxs1") == "busy" and pbx.state("fxs3") == "idle"
    assert records(pbx)[0]["disposition"] == "no_answer"


def test_calling_a_busy_extension_gives_busy(pbx):
    off_hook_and_dial(pbx, "203", "204")               # 203 -> 204 ringing: both are taken
    a = off_hook_and_dial(pbx, "201", "203")
    pbx.run(1.5)
    assert pbx.state("fxs1") == "busy"
    assert sorted(dominant_freqs(a.heard(1000), 2)) == pytest.approx([480, 620], abs=6)
    recs = records(pbx)
    assert [(r["src"], r["dst"], r["disposition"]) for r in recs if r["src"] == "201"] == [("201", "203", "busy")]


def test_invalid_number_gets_congestion_after_a_pause(pbx):
    a = off_hook_and_dial(pbx, "201", "77")
    assert pbx.state("fxs1") == "dialing"
    pbx.run(2.5)
    assert pbx.state("fxs1") == "congestion"
    heard = a.heard(1000)
    assert sorted(dominant_freqs(heard, 2)) == pytest.approx([480, 620], abs=6)
    assert records(pbx)[0]["disposition"] == "failed"


def test_pulse_dialling_reaches_the_extension(pbx):
    off_hook_and_dial(pbx, "201", "202", pulse=True)
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    assert pbx.state("fxs2") == "ringing"


def test_new_extension_applies_without_restart(pbx):
    pbx.config.delete_extension("204")
    pbx.config.save_extension({"number": "250", "name": "Warehouse", "port": "fxs4"})
    pbx.run(0.1)                                        # the reload runs on the media thread's next tick
    assert pbx.engine.plan.extensions["250"].port == "fxs4"
    off_hook_and_dial(pbx, "201", "250")
    pbx.run_until(lambda: pbx.phone("250").is_ringing, 3)
    pbx.run(7)
    assert pbx.phone("250").caller_id.number == "201"
    labels = {p.port: p.label for p in pbx.control.snapshot()}
    assert labels[port_of(pbx, "250")] == "250 Warehouse"


def test_status_is_published_live(pbx):
    loop = asyncio.new_event_loop()

    async def subscribe():
        return pbx.control.subscribe()
    q = loop.run_until_complete(subscribe())
    off_hook_and_dial(pbx, "201", "202")
    pbx.run_until(lambda: pbx.phone("202").is_ringing, 3)
    loop.run_until_complete(asyncio.sleep(0))          # deliver what the media thread queued
    seen = []
    while not q.empty():
        seen.append(q.get_nowait())
    loop.close()
    calls = [u.payload for u in seen if u.kind == "call"]
    assert [(c["event"], c["src"], c["dst"]) for c in calls] == [("started", "201", "202")]
    seen = [u for u in seen if u.kind == "ports"]
    states = [{p.port: p.state for p in u.ports}["fxs1"] for u in seen]
    assert states[0] == "dialtone" and "dialing" in states and states[-1] == "ringback"
    last = {p.port: p for p in seen[-1].ports}
    assert last["fxs2"].state == "ringing" and last["fxs2"].caller_id == "201"
    assert last["fxs1"].peer == "202 Extension 202"
    assert last["fxs1"].since == pytest.approx(pbx.now, abs=1.0)
    assert [p.state for p in pbx.control.snapshot()] == [p.state for p in seen[-1].ports]


@pytest.mark.parametrize("country,cadence,std,ringback", [("DE", (1000, 4000), "v23", [425]),
                                                         ("CN", (1000, 4000), "bell202", [450])])
def test_ringing_cadence_and_caller_id_follow_the_country(country, cadence, std, ringback):
    with Pbx(country=country) as pbx:
        b = pbx.phone("202")
        a = off_hook_and_dial(pbx, "201", "202")
        pbx.run_until(lambda: b.is_ringing, 3)
        a.clear_heard()
        pbx.run(10.5)
        gaps = np.diff([f for f, _ in b.ring_edges]) * 10
        assert list(gaps[:3]) == pytest.approx([cadence[0], cadence[1], cadence[0]], abs=20)
        assert b.caller_id.number == "201" and b.caller_id.standard == std
        assert dominant_freqs(a.heard(), 1) == pytest.approx(ringback, abs=6)


def test_flash_on_busy_tone_gives_a_new_dial_tone(pbx):
    a = off_hook_and_dial(pbx, "201", "203")
    pbx.run_until(lambda: pbx.phone("203").is_ringing, 3)
    pbx.phone("203").off_hook()
    pbx.run(0.5)
    pbx.phone("203").on_hook()
    pbx.run(1.5)
    assert pbx.state("fxs1") == "busy"
    a.flash()
    pbx.run(1)
    assert pbx.state("fxs1") == "dialtone"
    assert sorted(dominant_freqs(a.heard(500), 2)) == pytest.approx([350, 440], abs=6)
    a.dial("204")
    pbx.run_until(lambda: pbx.phone("204").is_ringing, 3)


def test_no_digits_after_dial_tone_gives_congestion(pbx):
    pbx.phone("201").off_hook()
    pbx.run(14.5)
    assert pbx.state("fxs1") == "dialtone"
    pbx.run(1)
    assert pbx.state("fxs1") == "congestion"
    assert records(pbx) == []                       # nothing was dialled: no call attempt
