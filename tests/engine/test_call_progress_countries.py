"""Busy, congestion, special information tones and no answer told apart without any line
calibration (issue 15, item 4), for every country plan the firmware ships, end to end: the engine
dials out through the simulated exchange, which sends that country's tones through G.711 with line
noise; the call record's disposition and reason must say what the exchange said, and nothing may
be taken for an answer. The exchange's SIT is its region's (North America's four Telcordia codes,
elsewhere ITU-T E.180's 950/1400/1800 Hz), followed by a spoken announcement (espeak-ng).

Japan's and Australia's busy and congestion tones differ only in level: the engine measures the
line's loss on its dial tone before dialling and judges their level against it, so a long loop
(every tone 6 dB low) does not turn busy into congestion."""
from __future__ import annotations

import dataclasses

import pytest
from engine_scenarios import off_hook_and_dial, records

from drivers.sim.speech import speech_available
from dsp_ext.countries import PROFILES
from dsp_ext.levels import rms_dbm0
from firmware.apps.permissions_store import set_class_patterns
from firmware.harness import Pbx

pytestmark = pytest.mark.skipif(not speech_available(), reason="needs espeak-ng")

COUNTRIES = sorted(PROFILES)
NOISE_DBM0 = -50.0
NUMBERS = {"busy": "5550100", "congestion": "6661234", "sit": "5559123", "no_answer": "5550100"}
EXPECTED = {"busy": ("busy", "busy"), "congestion": ("failed", "congestion"), "sit": ("failed", "sit"),
            "no_answer": ("no_answer", None)}


def codec(country: str) -> str:
    return "ulaw" if country in ("US", "JP") else "alaw"


def place(pbx: Pbx, case: str) -> tuple[dict, str | None, object]:
    """Dial the case's number from extension 201; returns (record, reason, phone)."""
    number = NUMBERS[case]
    if case == "busy":
        pbx.co.remote(number).busy = True
    elif case == "no_answer":
        pbx.co.remote(number).far_end(None)
    phone = off_hook_and_dial(pbx, "201", "9" + number)
    if case == "sit":
        pbx.run_until(lambda: "not in service" in (pbx.engine.channels["fxo1"].detail or ""), 12)
        phone.clear_heard()
        pbx.run(3)                                   # the caller hears the announcement
        assert rms_dbm0(phone.heard(3000)) > -40
    elif case == "no_answer":
        pbx.run(15)                                  # 2.5 to 5 ringback cycles, past every answer rule
        assert pbx.state("fxs1") == "ringback" and pbx.state("fxo1") == "ringback"
    else:
        pbx.run_until(lambda: pbx.state("fxo1") != "idle", 10)
        pbx.run_until(lambda: pbx.state("fxo1") == "idle", 20)
        assert pbx.state("fxs1") in ("busy", "congestion")       # the caller is told
    phone.on_hook()
    pbx.run(1.5)
    rec = records(pbx)[-1]
    pbx.records.flush()
    return rec, pbx.records.reasons([rec["call_id"]]).get(rec["call_id"]), phone


def office(country: str, seed: int) -> Pbx:
    pbx = Pbx(country=country, fxs=1, fxo=1, seed=seed, noise_dbm0=NOISE_DBM0)
    pbx.co.set_codec(1, codec(country))
    # the exchange's test numbers are 7 digits: let extension 201 dial them in every numbering plan
    set_class_patterns(pbx.config, "national", "XXXXXXX", "")
    pbx.engine.reload_config()
    pbx.run(0.2)
    return pbx


@pytest.mark.parametrize("case", list(EXPECTED))
@pytest.mark.parametrize("country", COUNTRIES)
def test_busy_congestion_sit_and_no_answer_in_every_country_plan(country, case):
    with office(country, seed=COUNTRIES.index(country) * 7 + list(EXPECTED).index(case)) as pbx:
        rec, reason, _ = place(pbx, case)
        assert (rec["disposition"], reason) == EXPECTED[case]
        assert rec["answered"] is None


@pytest.mark.parametrize("variant", ["VC", "RO", "NC"])
def test_north_american_sit_codes(variant):
    with office("US", seed=40) as pbx:
        pbx.co.sit_variant = variant
        rec, reason, _ = place(pbx, "sit")
        assert (rec["disposition"], reason, rec["answered"]) == ("failed", "sit", None)


@pytest.mark.parametrize("case", ["busy", "congestion"])
@pytest.mark.parametrize("country", ["JP", "AU"])
def test_tones_told_apart_by_level_on_a_long_loop(country, case):
    """Every tone arrives 6 dB low (the exchange's plan is the country's, the loop loses 6 dB):
    judged against the line's dial tone, busy stays busy and congestion congestion."""
    with office(country, seed=50) as pbx:
        plan = PROFILES[country]
        pbx.co.set_tone_plan(**{name: dataclasses.replace(plan.tone(name), level_dbm0=plan.tone(name).level_dbm0 - 6)
                                for name in ("dial", "ringback", "busy", "congestion")})
        rec, reason, _ = place(pbx, case)
        assert (rec["disposition"], reason) == EXPECTED[case]
        assert pbx.engine.channels["fxo1"].line_loss_db == pytest.approx(6.0, abs=1.0)


def off_nominal(spec, cadence_factor: float, freq_factor: float):
    return dataclasses.replace(spec, cadence_ms=tuple(round(c * cadence_factor) for c in spec.cadence_ms),
                               freqs=tuple(round(f * freq_factor, 1) for f in spec.freqs))


@pytest.mark.parametrize("country", COUNTRIES)
def test_busy_and_congestion_off_the_plan(country):
    """An exchange whose busy and congestion tones run 25 % slow (or 20 % fast, every other
    country) and 1 % sharp of its country's plan, beyond the detector's strict tolerance: a
    regular on/off tone on the plan's frequencies, timed over three cycles, is the busy or
    congestion tone whose on and off periods are nearest; never an answer."""
    factor = 1.25 if COUNTRIES.index(country) % 2 else 0.8
    with office(country, seed=60 + COUNTRIES.index(country)) as pbx:
        plan = PROFILES[country]
        pbx.co.set_tone_plan(busy=off_nominal(plan.busy, factor, 1.01),
                             congestion=off_nominal(plan.congestion, factor, 1.01))
        for case in ("busy", "congestion"):
            rec, reason, _ = place(pbx, case)
            assert (rec["disposition"], reason, rec["answered"]) == (*EXPECTED[case], None), case
            pbx.co.remote(NUMBERS["busy"]).busy = False
