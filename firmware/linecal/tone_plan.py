"""The tones a line's exchange really sends: the site's country plan, corrected by what the
line's calibration learned.

`line_tone_plan(country, stored_profile)` gives a `CountryProfile` for one line: the learned
dial tone, ringback, busy and congestion tones replace the country's (frequencies, cadence,
level). Congestion is only learned when the installer calibrates against a number the exchange
cannot route (`expect_tone="congestion"`); until then, when the busy tone was learned and differs
from the country's, it is the learned busy tone's frequencies with the country's congestion
cadence and level step (not "busy twice as fast": China's congestion is slower than its busy,
the UK's has four parts, Japan's and Australia's differ from busy only in level).
A learned disconnect tone that is none of those is kept as an extra tone.

Answer supervision (`firmware.answer.AnswerSupervisor`), the call-progress analyser
(`dsp_ext.progress`) and the busy/congestion/disconnect detector (`dsp_ext.tones.ToneDetector`)
of that line all take this plan, so a line whose exchange does not follow the country's
plan is supervised by what it sends.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from dsp_ext.countries import CountryProfile, ToneSpec

from .store import load_profiles

log = logging.getLogger("linebox.linecal")

LEARNED_TONES = {"dial_tone": "dial", "ringback": "ringback", "busy": "busy", "congestion": "congestion"}
FREQ_TOL_HZ = 15.0
CADENCE_TOL = 0.15


def learned_spec(tone: Any) -> ToneSpec | None:
    """A stored learned tone ({"freqs", "cadence_ms", "level_dbm0", "modulated"}) as a ToneSpec;
    None when it was not learned (an "error" entry) or the entry is damaged."""
    if not isinstance(tone, dict) or "error" in tone or not tone.get("freqs"):
        return None
    try:
        freqs = tuple(float(f) for f in tone["freqs"])
        cadence = tuple(int(c) for c in tone.get("cadence_ms") or ())
        level = float(tone.get("level_dbm0", -20.0))
        modulated = bool(tone.get("modulated"))
    except (TypeError, ValueError):
        return None
    if not 1 <= len(freqs) <= 3 or not all(100 <= f <= 3400 for f in freqs if not modulated) \
            or (modulated and len(freqs) != 2) or any(c <= 0 for c in cadence) or len(cadence) % 2:
        return None
    return ToneSpec(freqs, cadence, level, modulated)


def same_tone(a: ToneSpec, b: ToneSpec) -> bool:
    """Same frequencies (within 15 Hz) and the same cadence (within 15 %)."""
    if a.modulated != b.modulated or len(a.freqs) != len(b.freqs) or len(a.cadence_ms) != len(b.cadence_ms):
        return False
    if any(abs(x - y) > FREQ_TOL_HZ for x, y in zip(sorted(a.freqs), sorted(b.freqs), strict=True)):
        return False
    return all(abs(x - y) <= CADENCE_TOL * max(x, y) for x, y in zip(a.cadence_ms, b.cadence_ms, strict=True))


def congestion_like(busy: ToneSpec, country: CountryProfile) -> ToneSpec:
    """The congestion tone an exchange with this learned busy tone most likely sends: the
    country's congestion cadence, on the busy tone's frequencies, as far below (or above) the
    busy tone as the country's plan puts it."""
    step = country.congestion.level_dbm0 - country.busy.level_dbm0
    return ToneSpec(busy.freqs, country.congestion.cadence_ms, busy.level_dbm0 + step, busy.modulated)


def line_tone_plan(country: CountryProfile, stored: dict | None) -> CountryProfile:
    """`country` with the tones `stored` (a line profile) learned. The country itself when the
    profile learned nothing usable, or was learned for another country's settings."""
    if not stored:
        return country
    learned: dict[str, ToneSpec] = {}
    for key, name in LEARNED_TONES.items():
        spec = learned_spec(stored.get(key))
        if spec is None:
            continue
        if name == "ringback" and not spec.cadence_ms:
            # a ringback is never continuous: too few cycles heard to time it; its frequencies
            # with the country's cadence are still better than the country's frequencies
            spec = dataclasses.replace(spec, cadence_ms=country.ringback.cadence_ms)
        if name in ("busy", "congestion") and not spec.cadence_ms:
            continue                   # a steady tone after dialling is no busy tone we can use
        learned[name] = spec
    extra = dict(country.extra)
    busy = learned.get("busy")
    if busy is not None and "congestion" not in learned and not same_tone(busy, country.busy):
        learned["congestion"] = congestion_like(busy, country)
        if same_tone(learned["congestion"], country.busy):
            del learned["congestion"]
    disconnect = learned_spec(stored.get("disconnect"))
    plan = dataclasses.replace(country, **learned) if learned else country
    if disconnect is not None and not any(same_tone(disconnect, t) for t in (plan.busy, plan.congestion)):
        extra["disconnect"] = disconnect
    if extra != country.extra:
        plan = dataclasses.replace(plan, extra=extra)
    return plan


def line_tone_plans(config: Any, country: CountryProfile) -> dict[str, CountryProfile]:
    """Per line port with a stored profile, its tone plan (lines without one use `country`)."""
    out: dict[str, CountryProfile] = {}
    for port, stored in load_profiles(config).items():
        if stored.get("country") not in (None, country.code):
            log.warning("line profile of %s was learned with country %s, the site is now %s: "
                        "its tones are used all the same (calibrate again if the line changed)",
                        port, stored.get("country"), country.code)
        plan = line_tone_plan(country, stored)
        if plan is not country:
            out[port] = plan
    return out


def detector_tones(plan: CountryProfile, country: CountryProfile) -> dict[str, ToneSpec]:
    """The tones a line's busy/congestion/disconnect detector must take from its plan instead of
    (busy, congestion) or besides (disconnect) the country's: `ToneDetector(extra=...)`."""
    out: dict[str, ToneSpec] = {}
    for name in ("busy", "congestion"):
        spec = plan.tone(name)
        if spec != country.tone(name):
            out[name] = spec
    if isinstance(plan.extra.get("disconnect"), ToneSpec):
        out["disconnect"] = plan.extra["disconnect"]
    return out
