"""Line impairments (echo, noise), determinism, and the CO's standalone per-frame contract."""
import numpy as np
import pytest
from sim_measure import tone_dbm0

from drivers.sim import CentralOffice, SimBoard
from drivers.sim.echo import ECHO_SHAPES, hybrid_ir, voice_band_erl_db
from dsp_ext.levels import FRAME, RATE, rms_dbm0


def connected_to_silent_remote(**kw):
    board = SimBoard(fxs=0, fxo=1, **kw)
    far = board.co.remote("5550100")
    far.call(board.co.line_number(1))      # an inbound call: no digits needed to get a quiet line
    board.advance(100)
    board.fxo(1).set_off_hook(True)
    board.advance(200)
    assert far.state == "connected"
    return board


def white(ms, dbm0, seed=7):
    x = np.random.default_rng(seed).standard_normal(ms * RATE // 1000)
    x *= 10 ** (dbm0 / 20) * (32767 * 10 ** (-3.14 / 20)) / np.sqrt(2)
    return np.round(x).astype(np.int16)


def test_line_returns_an_echo_at_the_expected_loss_and_delay():
    board = connected_to_silent_remote()
    tx = white(2000, -10)
    rx = board.advance(2000, {"fxo1": tx}).rx["fxo1"]
    erl = rms_dbm0(tx[800:]) - rms_dbm0(rx[800:])
    assert erl == pytest.approx(12, abs=1.5)
    # the echo is what we sent, delayed 5..20 ms: find the lag that explains most of it
    corr = np.abs(np.correlate(rx[800:].astype(float), tx[800:-200].astype(float), "valid"))  # lag 0..25 ms
    assert 5 <= int(np.argmax(corr)) * 1000 / RATE <= 20


def test_noise_level_and_no_echo_when_disabled():
    board = connected_to_silent_remote(echo=False, noise_dbm0=-60.0)
    rx = board.advance(2000, {"fxo1": white(2000, -10)}).rx["fxo1"]
    assert rms_dbm0(rx) == pytest.approx(-60, abs=0.5)


def test_tone_echo_is_tone_shaped():
    board = connected_to_silent_remote()
    t = np.arange(RATE) / RATE
    tx = np.round(8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    rx = board.advance(1000, {"fxo1": tx}).rx["fxo1"]
    loss = tone_dbm0(tx[800:], 1000) - tone_dbm0(rx[800:], 1000)
    assert 6 < loss < 20


@pytest.mark.parametrize("shape", sorted(ECHO_SHAPES))
def test_echo_shapes_have_their_erl_and_fit_in_20_ms(shape):
    ir = hybrid_ir(shape, erl_db=18.0)
    assert voice_band_erl_db(ir) == pytest.approx(18.0, abs=0.01)
    assert ir.size <= 20 * RATE // 1000
    first = int(np.argmax(np.abs(ir) > 1e-6))
    assert first * 1000 // RATE == int(ECHO_SHAPES[shape].delay_ms)


def test_echo_can_be_set_per_line():
    board = connected_to_silent_remote()
    board.co.set_echo(1, "long", erl_db=24.0)
    tx = white(1000, -10)
    rx = board.advance(1000, {"fxo1": tx}).rx["fxo1"]
    assert rms_dbm0(tx[800:]) - rms_dbm0(rx[800:]) == pytest.approx(24, abs=1.5)
    with pytest.raises(ValueError, match="unknown echo shape"):
        board.co.set_echo(1, "cathedral")


def scenario(seed):
    board = SimBoard(fxs=2, fxo=2, seed=seed)
    alice = board.co.remote("5550100")
    alice.call(board.co.line_number(2), name="ALICE")
    board.phone(1).off_hook()
    board.fxo(1).set_off_hook(True)
    rec = board.advance(3000, {"fxo1": white(1000, -15), "fxs1": white(500, -20)})
    return np.concatenate([rec.rx[p] for p in sorted(rec.rx)]), [(f, e.port, e.type) for f, e in rec.events]


def test_same_seed_same_world():
    a, ev_a = scenario(0)
    b, ev_b = scenario(0)
    c, _ = scenario(1)
    assert np.array_equal(a, b) and ev_a == ev_b
    assert not np.array_equal(a, c)                    # the noise follows the seed


def test_central_office_standalone_contract():
    co = CentralOffice(country="DE", noise_dbm0=None, echo=False)
    line = co.add_line()
    assert line.number == "5550001" and co.line_number(1) == "5550001"
    silence = np.zeros(FRAME, dtype=np.int16)
    out = {}
    for _ in range(50):
        out = co.step({1: (True, silence)})
    sig = out[1]
    assert sig.powered and sig.loop_current and not sig.ringing and not sig.reversed
    assert tone_dbm0(sig.audio, 425) > -20
    co.step({})                               # missing lines are on hook
    assert co.frames == 51
