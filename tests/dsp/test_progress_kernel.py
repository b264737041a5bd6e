"""The call-progress analyser's C kernel (dsp_ext/src/progress_block.c) computes the same block
features as its numpy reference, block by block, on real signals: espeak-ng speech over line
noise with our own echo, the country's ringback, SIT, a fax answer tone, silence. And the events
the analyser emits are the same either way."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.speech import MACHINE_GREETING, SIT_ANNOUNCEMENT, speak, speech_available
from dsp_ext.progress import BLOCK, CallProgressAnalyser
from dsp_ext.tones import ToneGenerator, tone

pytestmark = pytest.mark.skipif(not speech_available(), reason="needs espeak-ng")


def _signals() -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    rng = np.random.default_rng(3)
    secs = 6
    noise = rng.standard_normal(8000 * secs) * 20
    speech = np.resize(speak(MACHINE_GREETING), 8000 * secs).astype(np.float64)
    ours = np.resize(speak("Hello, is anybody there?", voice="en-gb"), 8000 * secs).astype(np.float64)
    sit = np.concatenate([tone([913.8], 274, -20), tone([1370.6], 274, -20), tone([1776.7], 380, -20)])
    return {
        "speech with our echo": (speech + noise + 0.3 * ours, ours),
        "ringback": (ToneGenerator.for_country("US", "ringback").generate(8000 * secs) + noise, None),
        "SIT then speech": (np.concatenate([sit, speak(SIT_ANNOUNCEMENT)])[: 8000 * secs].astype(np.float64), None),
        "fax answer": (tone([2100.0], 3000, -12).astype(np.float64), None),
        "silence": (np.zeros(8000), None),
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_c_features_equal_the_numpy_reference(name: str) -> None:
    x, sent = _signals()[name]
    fast, ref = CallProgressAnalyser("US"), CallProgressAnalyser("US")
    n = 0
    for i in range(0, x.size - BLOCK + 1, BLOCK):
        blk = np.ascontiguousarray(x[i:i + BLOCK])
        tx = None if sent is None else np.ascontiguousarray(sent[i:i + BLOCK])
        a, b = fast.features(blk, tx), ref.features_reference(blk, tx)
        assert a.level_dbm0 == pytest.approx(b.level_dbm0, abs=1e-6)
        assert a.floor_dbm0 == pytest.approx(b.floor_dbm0, abs=1e-6)
        assert a.tonal_share == pytest.approx(b.tonal_share, rel=1e-6, abs=1e-9)
        if b.level_dbm0 > -90:                   # the peak of silence is any bin
            assert a.peak_hz == pytest.approx(b.peak_hz, abs=1e-3)
        assert (a.ringback, a.echo, a.voiced, a.varied) == (b.ringback, b.echo, b.voiced, b.varied), i
        n += 1
    assert n >= 40


def test_the_analysers_events_are_the_same_with_the_kernel() -> None:
    x, sent = _signals()["speech with our echo"]
    rb = ToneGenerator.for_country("US", "ringback").generate(8000 * 8).astype(np.float64)
    line = np.concatenate([rb, np.zeros(4000), x]).astype(np.int16)
    tx = np.concatenate([np.zeros(rb.size + 4000), sent]).astype(np.int16)

    class Reference(CallProgressAnalyser):
        features = CallProgressAnalyser.features_reference

    events = []
    for analyser in (CallProgressAnalyser("US"), Reference("US")):
        got = []
        for i in range(0, line.size - 80 + 1, 80):          # 10 ms frames, as the media loop feeds it
            got += analyser.process(line[i:i + 80], tx[i:i + 80])
        events.append([(e.kind, round(e.time, 3)) for e in got])
    assert events[0] == events[1]
    assert events[0][0][0] == "ringback_on" and any(k == "voice_on" for k, _ in events[0])
