"""Our FXO port calling out through the simulated central office (no engine)."""
import numpy as np
import pytest
from sim_measure import dominant_freqs, level_while_on, on_off_runs, tone_dbm0

from drivers.port import EventType
from drivers.sim import SimBoard
from dsp_ext.countries import profile
from dsp_ext.dtmf import dtmf_encode
from dsp_ext.levels import RATE


def tone(freq, ms, amp=3000):
    t = np.arange(ms * RATE // 1000) / RATE
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def dial(board, digits, port="fxo1"):
    fxo = board.fxo(port)
    fxo.set_off_hook(True)
    board.advance(300)
    return board.advance(len(digits) * 160 + 100, {port: dtmf_encode(digits)})


def types(rec, port="fxo1"):
    return [e.type for _, e in rec.of(port)]


@pytest.mark.parametrize("country", ["US", "UK", "DE", "CN"])
def test_off_hook_hears_the_countrys_dial_tone(country):
    board = SimBoard(fxs=0, fxo=1, country=country)
    board.fxo(1).set_off_hook(True)
    rx = board.advance(1000).rx["fxo1"][1600:]          # skip the seizure
    spec = profile(country).dial
    assert dominant_freqs(rx, len(spec.freqs)) == pytest.approx(spec.freqs, abs=2)
    for f in spec.freqs:
        assert tone_dbm0(rx, f) == pytest.approx(spec.level_dbm0, abs=1.0)
    assert tone_dbm0(rx, 1000) < -50
    assert board.line(1).state == "dialing"


def test_on_hook_line_is_quiet_but_not_digitally_silent():
    board = SimBoard(fxs=0, fxo=1)
    rx = board.advance(1000).rx["fxo1"]
    assert 0 < np.abs(rx).max() < 50            # line noise only (-70 dBm0 by default)


def test_call_to_a_remote_rings_connects_both_ways_and_far_hang_up_gives_busy():
    board = SimBoard(fxs=0, fxo=2)
    far = board.co.remote("5550100")
    dial(board, "5550100")
    assert board.line(1).digits == "5550100"
    assert far.state == "ringing" and board.line(1).state == "ringback"
    rx = board.advance(3000).rx["fxo1"]
    assert far.rings == 1
    ringback = profile("US").ringback
    assert tone_dbm0(rx[:8000], 440) == pytest.approx(ringback.level_dbm0, abs=1.5)
    far.answer()
    board.advance(100)
    assert far.state == "connected" and board.line(1).state == "connected"
    far.clear_heard()
    board.advance(1000, {"fxo1": tone(1000, 1000)})
    assert tone_dbm0(far.heard(800), 1000) == pytest.approx(tone_dbm0(tone(1000, 800), 1000), abs=0.2)
    far.play_tone(1000, 1000, level_dbm0=-12)
    rx = board.advance(1000).rx["fxo1"]
    assert tone_dbm0(rx[800:], 1000) == pytest.approx(-12, abs=0.5)
    far.hang_up()
    rx = board.advance(3000).rx["fxo1"]
    busy = profile("US").busy
    assert level_while_on(rx, 480) == pytest.approx(busy.level_dbm0, abs=1)
    runs = on_off_runs(rx[800:])                               # skip the partial first cycle
    assert [ms for on, ms in runs[1:-1]] == [busy.cadence_ms[0], busy.cadence_ms[1]] * (len(runs[1:-1]) // 2)
    assert board.line(1).state == "busy" and far.state == "idle"
    board.fxo(1).set_off_hook(False)
    board.advance(1500)
    assert board.line(1).state == "idle"
    assert [c.disposition for c in board.co.history] == ["answered"]


def test_caller_hears_busy_from_a_busy_subscriber_and_congestion_for_an_unknown_number():
    board = SimBoard(fxs=0, fxo=2)
    board.co.remote("5550111").busy = True
    dial(board, "5550111")
    assert board.line(1).state == "busy"
    dial(board, "123", port="fxo2")
    assert board.line(2).state == "dialing"                # waits for more digits ...
    rx = board.advance(4500).rx["fxo2"]
    assert board.line(2).state == "congestion"             # ... then gives up after 4 s of silence
    cong = profile("US").congestion
    assert level_while_on(rx[-8000:], 620) == pytest.approx(cong.level_dbm0, abs=1)
    runs = on_off_runs(rx[-8000:])
    assert {ms for _, ms in runs[1:-1]} == {250}
    assert [c.disposition for c in board.co.history] == ["busy", "congestion"]


def test_dial_tone_stops_at_the_first_digit():
    board = SimBoard(fxs=0, fxo=1)
    board.fxo(1).set_off_hook(True)
    assert tone_dbm0(board.advance(5000).rx["fxo1"][-800:], 350) > -14     # waits, steady
    rx = board.advance(500, {"fxo1": dtmf_encode("5")}).rx["fxo1"]
    assert tone_dbm0(rx[-1600:], 350) < -60
    assert board.line(1).state == "dialing" and board.line(1).digits == "5"


def test_our_two_lines_can_call_each_other():
    board = SimBoard(fxs=0, fxo=2)
    rec = dial(board, board.co.line_number(2))
    assert types(rec, "fxo2") == [EventType.RING_ON]
    board.fxo(2).set_off_hook(True)
    board.advance(200)
    rec = board.advance(1000, {"fxo1": tone(1000, 1000)})
    assert tone_dbm0(rec.rx["fxo2"][2000:], 1000) == pytest.approx(tone_dbm0(tone(1000, 800), 1000), abs=0.5)


def test_pulse_dialling_reaches_the_co():
    board = SimBoard(fxs=0, fxo=1)
    board.co.remote("5550100")
    fxo = board.fxo(1)
    fxo.set_off_hook(True)
    board.advance(300)
    for d in "5550100":                       # the engine would time these breaks itself
        for _ in range(int(d) or 10):
            fxo.set_off_hook(False)
            board.advance(60)
            fxo.set_off_hook(True)
            board.advance(40)
        board.advance(700)
    assert board.line(1).state == "ringback"


@pytest.mark.parametrize("how, expect", [
    ("busy", []),
    ("loop_drop", [EventType.LOOP_DROP]),
    ("both", [EventType.LOOP_DROP]),
])
def test_far_end_disconnect_signal(how, expect):
    board = SimBoard(fxs=0, fxo=1)
    board.co.disconnect_signal = how
    board.co.reverse_on_answer = True
    far = board.co.remote("5550100")
    far.auto_answer_after_rings = 1
    dial(board, "5550100")
    rec = board.advance(2500)
    assert types(rec) == [EventType.POLARITY_REVERSAL]
    assert board.fxo(1).line_voltage < 0
    far.hang_up()
    rec = board.advance(2000)
    assert [t for t in types(rec) if t is not EventType.POLARITY_REVERSAL] == expect
    heard_busy = tone_dbm0(rec.rx["fxo1"][-8000:], 480) > -40
    assert heard_busy == (how != "loop_drop")


def test_line_down_and_up_and_parallel_phone():
    board = SimBoard(fxs=0, fxo=1)
    board.co.unplug(1)
    rec = board.advance(200)
    assert types(rec) == [EventType.LINE_DOWN] and board.fxo(1).line_voltage == 0
    assert not rec.rx["fxo1"][-80:].any()
    board.co.plug(1)
    assert types(board.advance(200)) == [EventType.LINE_UP]
    board.co.set_parallel_off_hook(1, True)
    assert types(board.advance(200)) == [EventType.LINE_IN_USE]
    board.co.set_parallel_off_hook(1, False)
    assert types(board.advance(200)) == [EventType.LINE_FREE]


def test_unplugging_mid_call_ends_it_for_the_far_end():
    board = SimBoard(fxs=0, fxo=1)
    far = board.co.remote("5550100")
    far.auto_answer_after_rings = 0
    dial(board, "5550100")
    board.advance(200)
    assert far.state == "connected"
    board.co.unplug(1)
    board.advance(100)
    assert far.state == "busy"
    with pytest.raises(ValueError, match="lines are 1..1"):
        board.co.unplug(2)


def test_frames_left_out_of_tx_are_silence_on_the_line():
    # an engine that sends nothing between digits must not glue "55" into one long "5"
    board = SimBoard(fxs=0, fxo=1)
    board.co.remote("5550100")
    board.fxo(1).set_off_hook(True)
    board.advance(300)
    sig = dtmf_encode("5550100")
    for k in range(0, sig.size, 80):
        frame = sig[k:k + 80]
        board.tick({"fxo1": frame} if frame.any() else {})
    board.advance(100)
    assert board.line(1).digits == "5550100"
