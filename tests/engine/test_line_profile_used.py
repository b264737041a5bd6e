"""A line's calibrated profile is what supervises its calls (issue 15, items 4 and 5), end to end on
the simulated board in simulated time.

The simulated exchange is given tones the site's country plan (US) does not have: a 425 Hz
ringback 1 s on / 4 s off with a 425 Hz busy 500/500 and congestion 250/250 (a European style),
or a modulated 400 x 16 Hz ringback 1 s on / 2 s off (a Japanese style) with a 400 Hz busy, and
1.5 s of post-dial delay. Far ends answer at ring 0, 1, 2 and 5 with real speech (espeak-ng). With the country's plan alone
the answer instants or the busy/congestion verdicts come out wrong (checked, so this exchange
really needs its profile); after the installer calibrates the line against that exchange (a busy
number, then a number that answers and hangs up), every answer instant is within 0.5 s of the
exchange's truth, the busy and congestion numbers are told apart, and the records, the live
status and an always-on recording follow the answer. Where the congestion tone is not the busy
tone twice as fast (a slower one; a UK-style four-part cadence next to a double ringback), the
installer also calibrates against a number the exchange cannot route, and that is learned too.
"""
from __future__ import annotations

import wave

import numpy as np
import pytest
from engine_scenarios import off_hook_and_dial, records

from drivers.sim.speech import HELLO, speech_available
from dsp_ext.countries import ToneSpec
from firmware.api import EngineApi
from firmware.apps import recording_store as store
from firmware.apps.recording import service_of
from firmware.harness import Pbx
from firmware.linecal.cli import simulated_caller
from firmware.linecal.runner import run_calibration
from firmware.linecal.tone_plan import line_tone_plan

pytestmark = pytest.mark.skipif(not speech_available(), reason="needs espeak-ng")

NUMBER = "5550100"
BUSY_NUMBER = "5550155"
CAL_NUMBER = "5550177"
NO_SUCH_NUMBER = "6661234"
RINGS = (0, 1, 2, 5)
POST_DIAL_DELAY_MS = 1500

PLANS = {
    "425Hz-1on-4off": {"ringback": ToneSpec((425,), (1000, 4000), -19), "busy": ToneSpec((425,), (500, 500), -20),
                       "congestion": ToneSpec((425,), (250, 250), -20), "dial": ToneSpec((425,), (), -13)},
    "400x16Hz-1on-2off": {"ringback": ToneSpec((400, 16), (1000, 2000), -19, modulated=True),
                          "busy": ToneSpec((400,), (500, 500), -20), "congestion": ToneSpec((400,), (250, 250), -20),
                          "dial": ToneSpec((400,), (), -13)},
    # congestion slower than busy (as in China): "busy twice as fast" would be wrong; it must be learned
    "450Hz-congestion-slower": {"ringback": ToneSpec((450,), (1000, 4000), -19),
                                "busy": ToneSpec((450,), (350, 350), -20),
                                "congestion": ToneSpec((450,), (700, 700), -20), "dial": ToneSpec((450,), (), -13)},
    # a double ring on 400 + 450 Hz with a 400 Hz busy of almost the same burst length, and a
    # four-part congestion cadence (a UK-style plan)
    "400+450Hz-double-ring": {"ringback": ToneSpec((400, 450), (400, 200, 400, 2000), -19),
                              "busy": ToneSpec((400,), (375, 375), -20),
                              "congestion": ToneSpec((400,), (400, 350, 225, 525), -20),
                              "dial": ToneSpec((350, 440), (), -13)},
}
BUSY_IS_HALF_SPEED = ["425Hz-1on-4off", "400x16Hz-1on-2off"]


def exchange(plan: str, seed: int) -> Pbx:
    pbx = Pbx(country="US", fxs=2, fxo=1, seed=seed)
    pbx.co.set_tone_plan(**PLANS[plan])
    pbx.co.post_dial_delay_ms = POST_DIAL_DELAY_MS      # the exchange routes the call: silence first
    pbx.run(0.2)
    return pbx


def calibrate(pbx: Pbx, congestion: bool = False) -> dict:
    """What an installer does: call a busy number, (with `congestion`, a number the exchange
    cannot route), then one that answers (silently) at the second ring and hangs up three
    seconds later."""
    pbx.co.remote(BUSY_NUMBER).busy = True
    far = pbx.co.remote(CAL_NUMBER)
    far.far_end(2, None)
    api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    call = simulated_caller(pbx, api)
    try:
        run_calibration(call, pbx.run, "fxo1", number=BUSY_NUMBER, as_extension="201", listen_s=10)
        if congestion:
            run_calibration(call, pbx.run, "fxo1", number=NO_SUCH_NUMBER, as_extension="201", listen_s=14,
                            expect_tone="congestion")
        hung_up: list[bool] = []

        def hang_up_after_answer(status: dict) -> None:
            if status["phase"] == "listening" and not hung_up:
                pbx.run_until(lambda: far.state == "connected", 30)
                pbx.run(3)
                far.hang_up()
                hung_up.append(True)
        profile = run_calibration(call, pbx.run, "fxo1", number=CAL_NUMBER, as_extension="201", listen_s=25,
                                  progress=hang_up_after_answer)
    finally:
        api.close()
    pbx.run(1)                                   # the stored profile reaches the engine
    return profile


def call_out(pbx: Pbx, number: str, ring: int | None = None, say: str | None = HELLO) -> dict:
    """Dial `number` from extension 201; the far end (if `ring` is given) answers at that ring
    saying `say` (None: silently). Returns the record with the exchange's truth and what the
    status said."""
    remote = pbx.co.remote(number) if number != NO_SUCH_NUMBER else None    # a remote would exist
    if ring is not None:
        remote.far_end(ring, say, delay_ms=300)
    seen: dict = {"truth": None, "in_call_while_ringing": False}
    phone = off_hook_and_dial(pbx, "201", "9" + number)
    pbx.run_until(lambda: pbx.state("fxo1") in ("ringback", "in-call") or pbx.state("fxs1") in ("busy", "congestion"),
                  15)
    for _ in range(4500):                         # up to 45 s
        pbx.run(0.01)
        if remote is None:
            pass
        elif seen["truth"] is None and remote.state == "connected":
            seen["truth"] = pbx.now
        elif remote.is_ringing and pbx.state("fxs1") == "in-call":
            seen["in_call_while_ringing"] = True
        if seen["truth"] is not None and pbx.now - seen["truth"] > (5 if say else 10):
            break
        if pbx.state("fxo1") == "idle":
            break
    phone.on_hook()
    pbx.run(2)
    if remote is not None:
        remote.hang_up()
    pbx.run(1)
    rec = records(pbx)[-1]
    pbx.records.flush()
    rec["reason"] = pbx.records.reasons([rec["call_id"]]).get(rec["call_id"])
    return {**rec, **seen}


def outcomes(pbx: Pbx) -> list[str]:
    """What goes wrong on this line: one sentence per wrong answer instant or verdict."""
    wrong = []
    for ring in RINGS:
        r = call_out(pbx, NUMBER, ring)
        if r["disposition"] != "answered" or r["answered"] is None:
            wrong.append(f"ring {ring}: {r['disposition']} ({r['reason']})")
        elif abs(r["answered"] - r["truth"]) > 0.5:
            wrong.append(f"ring {ring}: answered {r['answered'] - r['truth']:+.2f} s from the truth")
        elif r["reason"] != "human":
            wrong.append(f"ring {ring}: taken for {r['reason']}")
        if r["in_call_while_ringing"]:
            wrong.append(f"ring {ring}: status in-call while the far end still rang")
    r = call_out(pbx, NUMBER, 2, say=None)          # picked up at the second ring, nothing said
    if r["disposition"] != "answered" or r["answered"] is None:
        wrong.append(f"silent answer at ring 2: {r['disposition']} ({r['reason']})")
    elif abs(r["answered"] - r["truth"]) > 0.5:
        wrong.append(f"silent answer at ring 2: answered {r['answered'] - r['truth']:+.2f} s from the truth")
    pbx.co.remote(BUSY_NUMBER).busy = True
    r = call_out(pbx, BUSY_NUMBER)
    if (r["disposition"], r["reason"]) != ("busy", "busy"):
        wrong.append(f"busy number: {r['disposition']} ({r['reason']})")
    r = call_out(pbx, NO_SUCH_NUMBER)
    if (r["disposition"], r["reason"]) != ("failed", "congestion"):
        wrong.append(f"unobtainable number: {r['disposition']} ({r['reason']})")
    return wrong


@pytest.mark.parametrize("plan", list(PLANS))
def test_without_calibration_this_exchange_is_misread(plan):
    with exchange(plan, seed=41) as pbx:
        wrong = outcomes(pbx)
    assert wrong, "the country's plan reads this exchange right: the test below would prove nothing"
    assert any(w.startswith("busy number") for w in wrong)


@pytest.mark.parametrize("plan", BUSY_IS_HALF_SPEED)
def test_after_calibration_answers_busy_and_congestion_are_right(plan):
    spec = PLANS[plan]
    with exchange(plan, seed=42) as pbx:
        profile = calibrate(pbx)
        rb, busy = profile["ringback"], profile["busy"]
        assert rb["cadence_ms"] == pytest.approx(list(spec["ringback"].cadence_ms), abs=50), profile
        assert rb["modulated"] == spec["ringback"].modulated
        assert rb["freqs"][0] == pytest.approx(spec["ringback"].freqs[0], abs=5)
        assert busy["freqs"] == pytest.approx(list(spec["busy"].freqs), abs=5)
        assert busy["cadence_ms"] == pytest.approx(list(spec["busy"].cadence_ms), abs=50)
        plan_used = pbx.engine.tone_plan("fxo1")          # what supervises the line's calls now
        assert plan_used.ringback.cadence_ms == tuple(rb["cadence_ms"])
        assert plan_used.congestion.cadence_ms == pytest.approx(spec["congestion"].cadence_ms, abs=25)
        assert outcomes(pbx) == []


def test_always_recorded_calibrated_line_records_from_the_answer():
    with exchange("425Hz-1on-4off", seed=43) as pbx:
        calibrate(pbx)
        store.save_settings(pbx.config, {"lines": ["fxo1"], "on_demand": False, "retention_days": 0,
                                         "max_total_mb": 0, "min_free_mb": 10})
        pbx.run(0.1)
        r = call_out(pbx, NUMBER, 2)
        assert r["disposition"] == "answered" and r["answered"] == pytest.approx(r["truth"], abs=0.5)
        svc = service_of(pbx.engine)
        assert svc is not None and svc.writer.flush(10)
        files = store.listing(svc.root)
        assert len(files) == 1
        with wave.open(str(svc.root / files[0].name), "rb") as w:
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
        assert data.shape[0] / 8000 == pytest.approx(r["ended"] - r["truth"], abs=0.5)


def test_a_damaged_or_empty_profile_leaves_the_country_plan():
    from dsp_ext.countries import profile
    us = profile("US")
    assert line_tone_plan(us, None) is us
    assert line_tone_plan(us, {"ringback": {"error": "no ringback heard"}}) is us
    assert line_tone_plan(us, {"ringback": {"freqs": ["x"], "cadence_ms": [1000, 4000]}}) is us
    assert line_tone_plan(us, {"busy": {"freqs": [425], "cadence_ms": [500, -1]}}) is us
    got = line_tone_plan(us, {"busy": {"freqs": [425], "cadence_ms": [500, 500], "level_dbm0": -20}})
    assert got.busy.freqs == (425.0,) and got.congestion.cadence_ms == (250, 250)
    assert got.ringback == us.ringback


@pytest.mark.parametrize("plan", ["450Hz-congestion-slower", "400+450Hz-double-ring"])
def test_congestion_unlike_the_busy_tone_is_learned_from_an_unroutable_number(plan):
    spec = PLANS[plan]
    with exchange(plan, seed=44) as pbx:
        calibrate(pbx)                                    # busy and answering numbers only
        r = call_out(pbx, NO_SUCH_NUMBER)
        assert (r["disposition"], r["reason"]) != ("failed", "congestion")     # guessed from the busy: wrong
        profile = calibrate(pbx, congestion=True)
        assert profile["congestion"]["freqs"] == pytest.approx(list(spec["congestion"].freqs), abs=5)
        assert profile["ringback"]["cadence_ms"] == pytest.approx(list(spec["ringback"].cadence_ms), abs=50)
        assert profile["congestion"]["cadence_ms"] == pytest.approx(list(spec["congestion"].cadence_ms), abs=50)
        assert profile["busy"]["cadence_ms"] == pytest.approx(list(spec["busy"].cadence_ms), abs=50)   # kept
        assert outcomes(pbx) == []
