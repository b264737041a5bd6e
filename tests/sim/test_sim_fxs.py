"""The simulated FXS side on its own (no engine): hook classification, ringing, audio both ways."""
from itertools import pairwise

import numpy as np
import pytest
from sim_measure import tone_dbm0

from drivers.port import EventType
from drivers.sim import SimBoard, VirtualPhone
from dsp_ext.callerid import encode_caller_id
from dsp_ext.dtmf import DtmfReceiver
from dsp_ext.levels import FRAME, RATE


def fxs_events(rec, port="fxs1"):
    return [(e.type, e.data) for _, e in rec.of(port)]


@pytest.fixture
def board():
    return SimBoard(fxs=2, fxo=0)


def test_off_hook_flash_and_hang_up_are_told_apart(board):
    phone = board.phone(1)
    phone.off_hook()
    assert fxs_events(board.advance(200)) == [(EventType.OFF_HOOK, None)]
    phone.flash(500)
    assert fxs_events(board.advance(1000)) == [(EventType.FLASH, None)]
    assert board.fxs(1).off_hook
    phone.flash(200)         # too long for a pulse, short enough for a flash
    assert fxs_events(board.advance(500)) == [(EventType.FLASH, None)]
    phone.flash(10)          # contact bounce
    assert fxs_events(board.advance(500)) == []
    phone.on_hook()
    rec = board.advance(1500)
    assert fxs_events(rec) == [(EventType.ON_HOOK, None)]
    # ON_HOOK is only sent once the break is longer than a flash could be
    on_hook_frame = rec.of("fxs1")[0][0]
    assert on_hook_frame - (board.frames - 150) >= 90


def test_pulse_dialling_is_classified_into_digits(board):
    phone = board.phone("fxs2")
    phone.off_hook()
    board.advance(100)
    phone.dial_pulse("3051")
    rec = board.advance(5000)
    assert fxs_events(rec, "fxs2") == [(EventType.PULSE_DIGIT, d) for d in "3051"]
    assert board.fxs(2).off_hook          # pulses never look like a hang-up


def test_phone_dtmf_is_audio_that_decodes_at_rx(board):
    phone = board.phone(1)
    phone.off_hook()
    board.advance(100)
    phone.dial("159*0#D")
    rec = board.advance(1500)
    events = DtmfReceiver().process(rec.rx["fxs1"])
    assert "".join(e.digit for e in events if e.kind == "start") == "159*0#D"
    assert not rec.rx["fxs2"].any()       # the other phone is on hook: silence


def test_audio_both_ways_and_heard_only_while_off_hook(board):
    phone = board.phone(1)
    t = np.arange(RATE) / RATE
    tone = np.round(3000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    board.advance(500, {"fxs1": tone[:4000]})            # on hook: nothing reaches the earpiece
    assert phone.heard().size == 0
    phone.off_hook()
    board.advance(1000, {"fxs1": tone})
    assert tone_dbm0(phone.heard(500), 1000) == pytest.approx(tone_dbm0(tone, 1000), abs=0.1)
    phone.play_tone(1000, 500, level_dbm0=-10)
    rec = board.advance(500)
    assert tone_dbm0(rec.rx["fxs1"], 1000) == pytest.approx(-10, abs=0.5)
    phone.clear_heard()
    assert phone.heard().size == 0


def test_ringing_cadence_is_seen_by_the_phone_and_answering_trips_it(board):
    port, phone = board.fxs(1), board.phone(1)
    for _ in range(3):                       # the engine times the cadence: 2 s on, 4 s off
        port.set_ringing(True)
        board.advance(2000)
        port.set_ringing(False)
        board.advance(4000)
    assert phone.rings == 3
    edges = phone.ring_edges
    assert [on for _, on in edges] == [True, False] * 3
    assert [b - a for (a, _), (b, _) in pairwise(edges)] == [200, 400, 200, 400, 200]
    port.set_ringing(True)
    board.advance(500)
    assert phone.is_ringing
    phone.off_hook()
    rec = board.advance(100)
    assert not port.ringing and not phone.is_ringing   # ring trip by the port, not by the engine
    assert fxs_events(rec) == [(EventType.OFF_HOOK, None)]


def test_caller_id_reaches_an_on_hook_phone_only_with_onhook_transmission(board):
    fsk = encode_caller_id("bell202", "mdmf", "5550100", "ALICE", "11231015")
    board.advance(1000, {"fxs1": fsk, "fxs2": fsk})
    assert board.phone(1).caller_id is None
    board.fxs(1).set_onhook_transmission(True)
    board.advance(1500, {"fxs1": fsk, "fxs2": fsk})
    cid = board.phone(1).caller_id
    assert (cid.number, cid.name) == ("5550100", "ALICE")
    assert board.phone(2).caller_id is None


def test_virtual_phone_is_usable_standalone():
    phone = VirtualPhone("bench")
    silence = np.zeros(FRAME, dtype=np.int16)
    loop, mic = phone.step(silence, ringing=True)
    assert not loop and not mic.any()
    assert phone.is_ringing and phone.rings == 1
    phone.off_hook()
    phone.dial("7")
    loop, mic = phone.step(silence, ringing=True)
    assert loop and not phone.is_ringing and np.abs(mic).max() > 1000
    frames = [mic] + [phone.step(silence, False)[1] for _ in range(20)]
    assert [e.digit for e in DtmfReceiver().process(np.concatenate(frames)) if e.kind == "start"] == ["7"]


def test_bad_input_is_refused_with_a_clear_error(board):
    with pytest.raises(ValueError, match="DTMF"):
        board.phone(1).dial("12x")
    with pytest.raises(ValueError, match="on hook"):
        board.phone(1).flash()
    with pytest.raises(ValueError, match="fxs port"):
        board.phone(3)
    with pytest.raises(ValueError, match="int16"):
        board.tick({"fxs1": np.zeros(FRAME)})
    with pytest.raises(ValueError, match="unknown port"):
        board.tick({"fxs9": np.zeros(FRAME, dtype=np.int16)})


def test_actions_posted_from_another_thread_run_at_the_next_tick(board):
    import threading

    done = []
    t = threading.Thread(target=lambda: done.append(board.post(board.phone(2).off_hook)))
    t.start()
    t.join()
    failing = board.post(board.phone(2).dial, "not digits")
    assert not done[0].done() and not board.phone(2).is_off_hook
    board.tick()
    assert done[0].result() is None and board.phone(2).is_off_hook
    with pytest.raises(ValueError, match="DTMF"):
        failing.result()
    assert fxs_events(board.advance(100), "fxs2") == [(EventType.OFF_HOOK, None)]


def test_phone_plays_a_wav_file_into_the_line(board, tmp_path):
    from dsp_ext.wav import write_wav

    t = np.arange(RATE // 2) / RATE
    write_wav(tmp_path / "hello.wav", np.round(4000 * np.sin(2 * np.pi * 700 * t)))
    phone = board.phone(1)
    phone.off_hook()
    phone.say_silence(200)
    phone.play(tmp_path / "hello.wav")
    rx = board.advance(1000).rx["fxs1"]
    assert not rx[:1600].any()                                      # the pause comes first
    assert tone_dbm0(rx[1600:5600], 700) == pytest.approx(tone_dbm0(4000 * np.sin(2 * np.pi * 700 * t), 700), abs=0.1)
    (tmp_path / "stereo.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(ValueError):
        phone.play(tmp_path / "stereo.wav")
    assert not phone.busy_dialling


def test_fsk_message_waiting_sets_the_phone_indicator(board):
    from dsp_ext.callerid import encode_mwi

    board.fxs(1).set_onhook_transmission(True)
    board.advance(1500, {"fxs1": encode_mwi(True)})
    assert board.phone(1).message_waiting is True
    board.advance(1500, {"fxs1": encode_mwi(False)})
    assert board.phone(1).message_waiting is False and board.phone(1).caller_id is None
