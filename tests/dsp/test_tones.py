"""Call-progress tones: generator and cadence-aware detector, every country profile."""
import numpy as np
import pytest

from dsp_ext.countries import PROFILES
from dsp_ext.levels import RATE, rms_dbm0
from dsp_ext.tones import ToneDetector, ToneGenerator, tone

NAMES = ("busy", "congestion", "dial", "ringback")


def detect(country, x, frame=80, tones=NAMES):
    det = ToneDetector(country, tones)
    ev = []
    for i in range(0, x.size, frame):
        ev += det.process(x[i:i + frame])
    return ev


def noise(n, dbm0, seed=3):
    from dsp_ext.levels import DBM0_RMS
    return np.random.default_rng(seed).normal(0, DBM0_RMS * 10 ** (dbm0 / 20), n)


def test_tone_levels_and_frequencies():
    x = tone((350, 440), 1000, -13)
    assert x.dtype == np.int16 and x.size == 8000
    assert abs(rms_dbm0(x) - (-13 + 10 * np.log10(2))) < 0.05
    spec = np.abs(np.fft.rfft(x))
    assert sorted(np.argsort(spec)[-2:].tolist()) == [350, 440]


def test_generator_is_phase_continuous_and_follows_cadence():
    g = ToneGenerator.for_country("US", "busy")
    whole = ToneGenerator.for_country("US", "busy").generate(16000)
    parts = np.concatenate([g.generate(n) for n in (1, 79, 333, 7587, 8000)])
    assert np.array_equal(parts, whole)
    on = np.abs(whole.reshape(-1, 400)).max(axis=1) > 0      # 50 ms slices
    assert on.tolist() == ([True] * 10 + [False] * 10) * 2


@pytest.mark.parametrize("country", sorted(PROFILES))
@pytest.mark.parametrize("name", NAMES)
def test_each_tone_of_each_country_is_recognised(country, name):
    lead = np.zeros(RATE // 2, np.int16)
    body = ToneGenerator.for_country(country, name).generate(RATE * 13)
    x = np.concatenate([lead, body, np.zeros(RATE * 6, np.int16)]).astype(float) + noise(RATE * 19 + RATE // 2, -50)
    ev = detect(country, np.clip(x, -32768, 32767).astype(np.int16))
    starts = [e for e in ev if e.kind == "start"]
    assert [e.tone for e in starts] == [name], ev
    assert abs(starts[0].time - 0.5) <= 0.06
    ends = [e for e in ev if e.kind == "end"]
    assert len(ends) == 1 and ends[0].time <= 13.5 + 0.06


def test_silence_and_noise_are_not_tones():
    assert detect("DE", np.clip(noise(RATE * 10, -20), -32768, 32767).astype(np.int16)) == []
    assert detect("US", np.zeros(RATE * 10, np.int16)) == []


def test_busy_recognised_after_two_cycles_for_disconnect_supervision():
    x = np.concatenate([np.zeros(800, np.int16), ToneGenerator.for_country("US", "busy").generate(RATE * 4)])
    det = ToneDetector("US", ("busy",))
    for i in range(0, x.size, 80):
        ev = det.process(x[i:i + 80])
        if ev:
            assert ev[0].tone == "busy" and ev[0].kind == "start"
            assert 1.9 <= (i + 80) / RATE <= 2.3     # two 500/500 cycles after the tone began at 0.1 s
            return
    pytest.fail("busy tone not recognised")


def test_no_call_progress_tone_in_speech_music_or_noise():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus
    if not corpus.tools_available():
        pytest.skip("espeak-ng and sox are needed to build the talk-off corpus")
    material = corpus.speech()[::2] + corpus.music() + corpus.noises()
    hits = [(name, cc, ev) for name, x in material for cc in sorted(PROFILES)
            if (ev := ToneDetector(cc).process(x))]
    assert hits == []


# ---- learning an unknown line's tone ----

from dsp_ext.countries import ToneSpec  # noqa: E402
from dsp_ext.tones import learn_tone  # noqa: E402


def _recording(spec, seconds, noise_dbm0=-40.0, lead=0.37, seed=11):
    body = ToneGenerator(spec).generate(int(seconds * RATE)).astype(float)
    x = np.concatenate([np.zeros(int(lead * RATE)), body])
    return np.clip(np.rint(x + noise(x.size, noise_dbm0, seed)), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("country", sorted(PROFILES))
@pytest.mark.parametrize("name", ["busy", "congestion", "dial", "ringback"])
def test_learns_every_profile_tone(country, name):
    spec = PROFILES[country].tone(name)
    learned = learn_tone(_recording(spec, 14 if name == "ringback" else 6))
    assert learned.freqs == tuple(spec.freqs) and learned.modulated == spec.modulated
    assert len(learned.cadence_ms) == len(spec.cadence_ms)
    assert all(abs(a - b) <= 20 for a, b in zip(learned.cadence_ms, spec.cadence_ms, strict=True))
    assert abs(learned.level_dbm0 - spec.level_dbm0) <= 0.5


def test_learned_unknown_disconnect_tone_is_then_detected():
    odd = ToneSpec((470.0, 590.0), (300, 200), -27.0)        # in no profile
    learned = learn_tone(_recording(odd, 4, noise_dbm0=-45))
    assert learned.freqs == (470, 590) and learned.cadence_ms == (300, 200)
    assert learned.as_dict() == {"freqs": [470, 590], "cadence_ms": [300, 200],
                                 "level_dbm0": pytest.approx(-27.0, abs=0.3), "modulated": False}
    det = ToneDetector("DE", ("busy",), extra={"disconnect": learned.as_spec()})
    ev = det.process(_recording(odd, 5, noise_dbm0=-45, seed=12))
    assert [(e.kind, e.tone) for e in ev][:1] == [("start", "disconnect")]
    assert abs(ev[0].time - 0.37) <= 0.05


@pytest.mark.parametrize("what", ["silence", "noise", "speech", "short"])
def test_learning_refuses_what_is_not_a_tone(what):
    if what == "speech":
        import sys
        from pathlib import Path
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import corpus
        if not corpus.tools_available():
            pytest.skip("espeak-ng and sox are needed")
        x = corpus.speech()[0][1]
    else:
        x = {"silence": np.zeros(RATE * 3, np.int16),
             "noise": np.clip(noise(RATE * 3, -15), -32768, 32767).astype(np.int16),
             "short": tone((425,), 500, -13)}[what]
    with pytest.raises(ValueError, match="no tone|no steady tone|too short"):
        learn_tone(x)


@pytest.mark.parametrize("dev", [-0.02, 0.02])
def test_tones_two_percent_off_frequency_are_recognised(dev):
    missed = []
    for country in sorted(PROFILES):
        for name in NAMES:
            spec = PROFILES[country].tone(name)
            freqs = ((spec.freqs[0] * (1 + dev), spec.freqs[1]) if spec.modulated
                     else tuple(f * (1 + dev) for f in spec.freqs))
            gen = ToneGenerator(ToneSpec(freqs, spec.cadence_ms, spec.level_dbm0, spec.modulated))
            seconds = 13 if name == "ringback" else 4
            x = np.concatenate([np.zeros(RATE // 2, np.int16), gen.generate(RATE * seconds), np.zeros(RATE, np.int16)])
            if [e.tone for e in ToneDetector(country).process(x) if e.kind == "start"] != [name]:
                missed.append((country, name))
    assert missed == []


@pytest.mark.parametrize("level, noise_dbm0", [(-36, -50), (-30, -40)])
def test_weak_busy_tone_in_line_noise_for_disconnect_supervision(level, noise_dbm0):
    for country in sorted(PROFILES):
        spec = PROFILES[country].busy
        x = ToneGenerator(ToneSpec(spec.freqs, spec.cadence_ms, level, spec.modulated)).generate(RATE * 6).astype(float)
        x = np.concatenate([np.zeros(RATE // 2), x, np.zeros(RATE * 3)])
        x = np.clip(np.rint(x + noise(x.size, noise_dbm0)), -32768, 32767).astype(np.int16)
        starts = [e.tone for e in ToneDetector(country, ("busy", "congestion")).process(x) if e.kind == "start"]
        # Japan and Australia send busy and congestion alike but for level; either means "far end gone"
        assert starts == (["busy"] if country not in ("JP", "AU") else starts[:1]) and len(starts) == 1, country


def test_stutter_dial_tone_then_continuous_and_am_tones():
    x = ToneGenerator.for_country("US", "stutter_dial").generate(RATE * 3)
    on = np.abs(x.reshape(-1, 400)).max(axis=1) > 0                 # 50 ms slices
    assert on[:40].tolist() == ([True, True, False, False] * 10) and on[40:].all()
    # Australia's dial tone: 425 Hz carrier, 25 Hz envelope, no energy at 425 +- 100 Hz
    y = ToneGenerator.for_country("AU", "dial").generate(RATE).astype(float)
    spec = np.abs(np.fft.rfft(y)) / (RATE / 2)
    peaks = sorted(int(i) for i in np.argsort(spec)[-3:])
    assert peaks == [400, 425, 450]
    from dsp_ext.levels import dbm0_to_peak
    assert abs(spec[425] - dbm0_to_peak(-13)) / dbm0_to_peak(-13) < 0.01
    assert abs(spec[400] / spec[425] - 0.25) < 0.01                 # sidebands at depth / 2


@pytest.mark.parametrize("country, name, words", [("US", "beep", "unknown tone"), ("XX", "busy", "unknown country")])
def test_generator_and_detector_name_what_is_wrong(country, name, words):
    with pytest.raises(ValueError, match=words):
        ToneGenerator.for_country(country, name)
    with pytest.raises(ValueError, match=words):
        ToneDetector(country, (name,))


def test_frame_size_does_not_change_the_events():
    x = np.concatenate([np.zeros(RATE // 3, np.int16), ToneGenerator.for_country("UK", "congestion").generate(RATE * 6),
                        np.zeros(RATE * 2, np.int16)])
    reference = detect("UK", x, frame=80)
    assert [e.kind for e in reference] == ["start", "end"]
    for frame in (1, 7, 160, 1000, x.size):
        assert detect("UK", x, frame=frame) == reference


def _stretched(spec, factor, freq_factor=1.0):
    import dataclasses
    return dataclasses.replace(spec, cadence_ms=tuple(round(c * factor) for c in spec.cadence_ms),
                               freqs=tuple(f * freq_factor for f in spec.freqs))


@pytest.mark.parametrize("country", sorted(PROFILES))
@pytest.mark.parametrize("factor", [0.75, 1.3])
def test_busy_and_congestion_off_their_cadence_are_still_told_apart(country, factor):
    """Beyond the strict 10 % tolerance: the nearest evenly stretched busy/congestion cadence."""
    from dsp_ext.tones import ToneGenerator
    prof = PROFILES[country]
    for name in ("busy", "congestion"):
        x = ToneGenerator(_stretched(prof.tone(name), factor, 1.01)).generate(8000 * 9)
        events = ToneDetector(country, ("busy", "congestion")).process(x)
        assert [(e.kind, e.tone) for e in events][:1] == [("start", name)], (name, events)


@pytest.mark.parametrize("country", sorted(PROFILES))
def test_ringback_and_far_off_tones_are_no_busy_or_congestion(country):
    """The loose match never takes the country's own ringback (same frequency in DE, FR, CN,
    JP, AU, IN), nor a tone over twice as slow as any busy/congestion period, for either."""
    import dataclasses

    from dsp_ext.tones import ToneGenerator
    prof = PROFILES[country]
    slow = round(2.2 * max(prof.busy.cadence_ms + prof.congestion.cadence_ms))
    for spec in (prof.ringback, dataclasses.replace(prof.busy, cadence_ms=(slow, slow))):
        x = ToneGenerator(spec).generate(8000 * 20)
        assert ToneDetector(country, ("busy", "congestion")).process(x) == [], spec
