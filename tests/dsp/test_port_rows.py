"""Many ports in one C call per tick (dsp_ext.port_rows) give exactly what the one-port API
gives: the same cleaned samples from each echo canceller, the same digits (and the same echo
guard decisions) from each DTMF receiver, the same fax-tone events. Ports with different
signals side by side, some rows idle on some ticks, real speech (espeak-ng) through a hybrid."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.echo import EchoPath, hybrid_ir
from drivers.sim.speech import speak
from dsp_ext.dtmf import DtmfReceiver, dtmf_encode
from dsp_ext.echo import EchoCanceller
from dsp_ext.faxtone import FaxToneDetector
from dsp_ext.levels import FRAME, RATE, dbm0_to_peak
from dsp_ext.port_rows import DtmfRows, EchoRows, FaxToneRows


def frames(x: np.ndarray) -> np.ndarray:
    n = x.size // FRAME * FRAME
    return x[:n].reshape(-1, FRAME)


def pad(x: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([x, np.zeros(max(0, n - x.size), dtype=np.int16)])[:n]


@pytest.fixture(scope="module")
def talk() -> tuple[np.ndarray, np.ndarray]:
    far = speak("Good morning, this is the front desk calling about your order from last week.", -16.0)
    near = speak("Yes, hello, I was expecting your call, the parcel has not arrived yet.", -20.0, voice="en-gb")
    return far, near


def test_echo_rows_equal_one_canceller_per_port(talk: tuple[np.ndarray, np.ndarray]) -> None:
    far, near_talk = talk
    n = max(far.size, near_talk.size) + RATE
    far, near_talk = pad(far, n), pad(near_talk, n)
    # port 0: far speech, its echo only; port 1: nothing (FXS-like, no canceller); port 2: echo plus
    # the near end talking from half way (double talk); port 3: a canceller idle every third tick
    echo = EchoPath(hybrid_ir("medium", 12.0))
    echoed = np.clip(np.rint(echo.process(far)), -32768, 32767).astype(np.int16)
    dt = np.clip(echoed.astype(np.int32) + np.concatenate([np.zeros(n // 2, np.int16), near_talk[:n - n // 2]]),
                 -32768, 32767).astype(np.int16)
    signals = {0: (far, echoed), 2: (far, dt), 3: (far[::-1].copy(), echoed[::-1].copy())}
    one_port = {i: EchoCanceller() for i in signals}
    batched = {i: EchoCanceller() for i in signals}
    rows = EchoRows([batched.get(0), None, batched.get(2), batched.get(3)])
    expect = {i: [] for i in signals}
    got = {i: [] for i in signals}
    for k in range(n // FRAME):
        s = slice(k * FRAME, (k + 1) * FRAME)
        running = [i for i in signals if not (i == 3 and k % 3 == 0)]
        for i in running:
            f, x = signals[i]
            expect[i].append(one_port[i].process(f[s], x[s]))
            rows.far[i] = f[s]
            rows.near[i] = x[s]
            rows.on[i] = 1
        out = rows.run()
        assert not rows.on.any()              # marks are cleared for the next tick
        assert not out[1].any()               # a row without a canceller stays silent
        for i in running:
            got[i].append(out[i].copy())
    for i in signals:
        assert np.array_equal(np.concatenate(got[i]), np.concatenate(expect[i])), i
    # and it really cancelled: the echo-only port's output is far below its input
    tail = slice(n // 2, n)
    cleaned = np.concatenate(got[0])[tail].astype(float)
    assert 10 * np.log10(np.mean(echoed[tail].astype(float) ** 2) / max(np.mean(cleaned ** 2), 1e-9)) > 20


def test_dtmf_rows_equal_one_receiver_per_port(talk: tuple[np.ndarray, np.ndarray]) -> None:
    far, _ = talk
    digits = dtmf_encode("159#0*", level_dbm0=-12.0)
    n = digits.size + far.size + RATE
    # port 0: a caller's digits over silence; port 1: speech only (no digit may appear);
    # port 2: our own digits echoing back (sent given: the guard must drop them) followed by
    # the far end pressing 7; port 3: digits heard while we send nothing (sent not given)
    sent2 = pad(dtmf_encode("42", level_dbm0=-8.0), n)
    echo2 = (EchoPath(hybrid_ir("short", 10.0)).process(sent2))
    far_press = np.concatenate([np.zeros(RATE), dtmf_encode("7", level_dbm0=-15.0)]).astype(float)
    rx2 = np.clip(np.rint(echo2 + pad(far_press.astype(np.int16), n)), -32768, 32767).astype(np.int16)
    rx = {0: pad(digits, n), 1: pad(far, n), 2: rx2, 3: pad(np.concatenate([far[:RATE], digits]), n)}
    sent = {2: sent2}
    one_port = [DtmfReceiver() for _ in rx]
    batched = [DtmfReceiver() for _ in rx]
    rows = DtmfRows(batched)
    expect: dict[int, list] = {i: [] for i in rx}
    got: dict[int, list] = {i: [] for i in rx}
    starts_only = DtmfRows([DtmfReceiver() for _ in rx])     # the media loop's call: digit starts only
    digits_only: dict[int, list] = {i: [] for i in rx}
    for k in range(n // FRAME):
        s = slice(k * FRAME, (k + 1) * FRAME)
        ports, frames_, sent_ports, sent_frames = [], [], [], []
        # the ports in any order (as the media loop packs them: phones first, then lines)
        for i in (rx if k % 2 else reversed(rx)):
            if i == 1 and k % 4 == 0:          # a port that skips ticks (on hook for a moment)
                continue
            expect[i] += one_port[i].process(rx[i][s], sent[i][s] if i in sent else None)
            ports.append(i)
            frames_.append(rx[i][s])
            if i in sent:
                sent_ports.append(i)
                sent_frames.append(sent[i][s])
        for i, e in rows.run(ports, frames_, sent_ports, sent_frames):
            got[i].append(e)
        for i, d in starts_only.digits(ports, frames_, sent_ports, sent_frames):
            digits_only[i].append(d)
    assert got == expect
    assert {i: [e.digit for e in ev if e.kind == "start"] for i, ev in expect.items()} == digits_only
    starts = {i: "".join(e.digit for e in ev if e.kind == "start") for i, ev in got.items()}
    assert starts == {0: "159#0*", 1: "", 2: "7", 3: "159#0*"}


def test_press_over_our_own_digits_echo_is_found_through_the_rows() -> None:
    """We send 5; while its echo comes back the far end presses 5 too and holds it past the end of
    the echo. The receiver first takes the digit for our echo; the batched rows must keep showing it
    every tick (also ticks without events) so that it reports the press once the echo must be over,
    exactly as one receiver fed frame by frame does. A port next to it sends and hears only the echo."""
    sent = pad(dtmf_encode("5", on_ms=100, off_ms=400, level_dbm0=-8.0), RATE)
    echo = np.concatenate([np.zeros(16), sent[:-16] * 10 ** (-12 / 20)])
    press = np.concatenate([np.zeros(480), dtmf_encode("5", on_ms=300, off_ms=220, level_dbm0=-12.0)])
    rx = {0: np.clip(np.rint(echo + pad(press, RATE)), -32768, 32767).astype(np.int16),
          1: np.rint(echo).astype(np.int16)}
    one_port = [DtmfReceiver() for _ in rx]
    rows = DtmfRows([DtmfReceiver() for _ in rx])
    expect: dict[int, list] = {i: [] for i in rx}
    got: dict[int, list] = {i: [] for i in rx}
    for k in range(RATE // FRAME):
        s = slice(k * FRAME, (k + 1) * FRAME)
        for i in rx:
            expect[i] += one_port[i].process(rx[i][s], sent[s])
        for i, e in rows.run(list(rx), [rx[i][s] for i in rx], list(rx), [sent[s]] * len(rx)):
            got[i].append(e)
    assert got == expect
    starts = {i: [(e.digit, round(e.time, 2)) for e in ev if e.kind == "start"] for i, ev in got.items()}
    assert [d for d, _ in starts[0]] == ["5"] and starts[1] == []
    assert 0.1 < starts[0][0][1] < 0.4        # reported after our digit's echo, while the press lasts


def test_fax_tone_rows_equal_one_detector_per_port() -> None:
    t = np.arange(int(3.3 * RATE)) / RATE
    ced = dbm0_to_peak(-12) * np.sin(2 * np.pi * 2100 * t + np.pi * (np.floor(t / 0.45) % 2))
    burst = dbm0_to_peak(-10) * np.sin(2 * np.pi * 1100 * np.arange(RATE // 2) / RATE)
    cng = np.concatenate([burst, np.zeros(3 * RATE), burst])
    n = 5 * RATE
    sig = {0: pad(np.rint(ced).astype(np.int16), n), 2: pad(np.rint(cng).astype(np.int16), n)}
    one_port = {i: FaxToneDetector() for i in sig}
    rows = FaxToneRows(3)
    for i in sig:
        rows.attach(i, FaxToneDetector())
    expect: dict[int, list] = {i: [] for i in sig}
    got: dict[int, list] = {i: [] for i in sig}
    for k in range(n // FRAME):
        s = slice(k * FRAME, (k + 1) * FRAME)
        for i in sig:
            expect[i] += one_port[i].process(sig[i][s])
            rows.x[i] = sig[i][s]
            rows.on[i] = 1
        for i, events in rows.run():
            got[i] += events
    assert got == expect
    assert [(e.tone, e.kind) for e in got[0]] == [("CED", "start"), ("CED", "end")]
    assert [(e.tone, e.kind) for e in got[2]] == [("CNG", "start"), ("CNG", "end")] * 2
    rows.detach(0)
    rows.x[0] = sig[0][:FRAME]
    rows.on[0] = 1
    assert rows.run() == []                  # a detached row is not run


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="rows must be"):
        EchoRows([], n=0)
