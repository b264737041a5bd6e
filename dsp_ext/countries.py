"""Country profiles: call-progress tones, ring cadence and caller-ID standard.

Tone plans follow ITU-T E.180 (Supplement 2) as published for each network.
A cadence is a tuple of milliseconds, on/off alternating, repeated; an empty
cadence is a continuous tone. A "modulated" tone is f1 amplitude-modulated by
f2 (e.g. Australia's 425 Hz × 25 Hz), otherwise the frequencies are summed.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ToneSpec:
    freqs: tuple[float, ...]
    cadence_ms: tuple[int, ...] = ()
    level_dbm0: float = -13.0
    modulated: bool = False
    then_continuous: bool = False   # play the cadence once, then stay on (stutter dial tone)


@dataclass(frozen=True)
class CountryProfile:
    code: str
    name: str
    dial: ToneSpec
    ringback: ToneSpec
    busy: ToneSpec
    congestion: ToneSpec
    ring_cadence_ms: tuple[int, ...]          # FXS ringing voltage on/off
    cid_standard: str                          # "bell202" | "v23" | "dtmf"
    cid_timing: str = "after_first_ring"       # or "before_ring"
    stutter_dial: ToneSpec | None = None       # message waiting indication
    extra: dict = field(default_factory=dict)

    def tone(self, name: str) -> ToneSpec:
        return getattr(self, name)


def _stutter(dial: ToneSpec) -> ToneSpec:
    return ToneSpec(dial.freqs, (100, 100) * 10, dial.level_dbm0, dial.modulated, then_continuous=True)


def _profile(code, name, dial, ringback, busy, congestion, ring, cid, timing="after_first_ring"):
    return CountryProfile(code, name, dial, ringback, busy, congestion, ring, cid, timing, _stutter(dial))


UK_RING = (400, 200, 400, 2000)

PROFILES: dict[str, CountryProfile] = {
    p.code: p
    for p in [
        _profile("US", "United States",
                 ToneSpec((350, 440)), ToneSpec((440, 480), (2000, 4000), -19),
                 ToneSpec((480, 620), (500, 500), -24), ToneSpec((480, 620), (250, 250), -24),
                 (2000, 4000), "bell202"),
        _profile("UK", "United Kingdom",
                 ToneSpec((350, 440)), ToneSpec((400, 450), UK_RING, -19),
                 ToneSpec((400,), (375, 375)), ToneSpec((400,), (400, 350, 225, 525)),
                 UK_RING, "v23", "before_ring"),
        _profile("DE", "Germany",
                 ToneSpec((425,)), ToneSpec((425,), (1000, 4000)),
                 ToneSpec((425,), (480, 480)), ToneSpec((425,), (240, 240)),
                 (1000, 4000), "v23"),
        _profile("FR", "France",
                 ToneSpec((440,)), ToneSpec((440,), (1500, 3500)),
                 ToneSpec((440,), (500, 500)), ToneSpec((440,), (250, 250)),
                 (1500, 3500), "v23"),
        _profile("CN", "China",
                 ToneSpec((450,)), ToneSpec((450,), (1000, 4000)),
                 ToneSpec((450,), (350, 350)), ToneSpec((450,), (700, 700)),
                 (1000, 4000), "bell202"),
        _profile("JP", "Japan",
                 ToneSpec((400,)), ToneSpec((400, 16), (1000, 2000), modulated=True),
                 ToneSpec((400,), (500, 500)), ToneSpec((400,), (500, 500), -16),
                 (1000, 2000), "v23", "before_ring"),
        _profile("AU", "Australia",
                 ToneSpec((425, 25), modulated=True), ToneSpec((425, 25), UK_RING, modulated=True),
                 ToneSpec((425,), (375, 375)), ToneSpec((425,), (375, 375), -23),
                 UK_RING, "v23"),
        _profile("IN", "India",
                 ToneSpec((400, 25), modulated=True), ToneSpec((400, 25), UK_RING, modulated=True),
                 ToneSpec((400,), (750, 750)), ToneSpec((400,), (250, 250)),
                 UK_RING, "dtmf", "before_ring"),
    ]
}


def profile(code: str) -> CountryProfile:
    try:
        return PROFILES[code.upper()]
    except KeyError:
        raise ValueError(f"unknown country {code!r}; known: {', '.join(sorted(PROFILES))}") from None
