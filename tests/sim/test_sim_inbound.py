"""Calls from remote subscribers into our FXO lines: ring cadence and caller ID on the line."""
from itertools import pairwise

import numpy as np
import pytest
from sim_measure import tone_dbm0

from drivers.port import EventType
from drivers.sim import SimBoard
from dsp_ext.callerid import CallerIdReceiver
from dsp_ext.countries import profile
from dsp_ext.levels import FRAME


def ring_events(rec, port="fxo1"):
    return [(f, e.type) for f, e in rec.of(port) if e.type in (EventType.RING_ON, EventType.RING_OFF)]


@pytest.mark.parametrize("country", ["US", "UK", "DE", "IN"])
def test_inbound_call_rings_with_the_country_cadence_and_sends_caller_id(country):
    prof = profile(country)
    board = SimBoard(fxs=0, fxo=1, country=country)
    name = None if prof.cid_standard == "dtmf" else "ALICE"
    board.co.remote("5550100").call(board.co.line_number(1), name=name)
    rec = board.advance(16000)
    rings = ring_events(rec)
    assert [t for _, t in rings[:4]] == [EventType.RING_ON, EventType.RING_OFF] * 2
    # burst and gap lengths, from the debounced events, follow the cadence (to the frame);
    # the long gap after the first cycle may be stretched to fit the caller ID
    cad = prof.ring_cadence_ms
    n = len(cad)
    lengths = [(b - a) * 10 for (a, _), (b, _) in pairwise(rings)]
    assert lengths[: n - 1] == list(cad[:-1])
    assert lengths[n - 1] >= cad[-1]
    assert lengths[n: 2 * n - 1] == list(cad[:-1])
    # caller ID, decoded from our rx while on hook, arrives where the country puts it
    msgs, when = [], None
    rx = CallerIdReceiver()
    for k in range(0, rec.rx["fxo1"].size, FRAME):
        got = rx.process(rec.rx["fxo1"][k:k + FRAME])
        if got and when is None:
            when = board.frames - rec.rx["fxo1"].size // FRAME + k // FRAME + 1
        msgs += got
    assert len(msgs) == 1
    assert (msgs[0].number, msgs[0].name, msgs[0].standard) == ("5550100", name, prof.cid_standard)
    first_on = rings[0][0]
    if prof.cid_timing == "before_ring":
        assert when < first_on
    else:
        assert rings[n - 1][0] < when < rings[n][0]     # after the first cycle, before the second


def test_answering_an_inbound_call_connects_audio_and_caller_hangup_clears_ringing():
    board = SimBoard(fxs=0, fxo=1)
    alice = board.co.remote("5550100")
    alice.call("555-0001")
    board.advance(500)
    assert board.fxo(1).ringing and alice.state == "ringback"
    assert tone_dbm0(alice.heard(400), 440) > -25           # alice hears ringback
    board.fxo(1).set_off_hook(True)
    board.advance(200)
    assert alice.state == "connected" and not board.fxo(1).ringing
    alice.play_tone(1000, 500, -15)
    rx = board.advance(500).rx["fxo1"]
    assert tone_dbm0(rx[800:], 1000) == pytest.approx(-15, abs=0.5)
    board.fxo(1).set_off_hook(False)
    board.advance(1500)
    assert alice.state == "busy"
    alice.hang_up()
    alice.call("5550001")
    board.advance(1000)
    alice.hang_up()                                          # gives up before we answer
    rec = board.advance(1000)
    assert ring_events(rec)[-1][1] == EventType.RING_OFF and board.line(1).state == "idle"
    assert [c.disposition for c in board.co.history] == ["answered", "no_answer"]


def test_a_busy_line_gives_the_remote_caller_busy_tone():
    board = SimBoard(fxs=0, fxo=1)
    board.fxo(1).set_off_hook(True)
    board.advance(200)
    bob = board.co.remote("5550200")
    bob.call("5550001")
    board.advance(1000)
    assert bob.state == "busy" and tone_dbm0(bob.heard(1000), 620) > -35


def test_message_waiting_fsk_reaches_the_on_hook_line():
    board = SimBoard(fxs=0, fxo=1)
    board.co.send_message_waiting(1, True)
    msgs = CallerIdReceiver().process(board.advance(1500).rx["fxo1"])
    assert [(m.kind, m.message_waiting) for m in msgs] == [("mwi", True)]
    assert np.abs(board.advance(100).rx["fxo1"]).max() < 50


def test_remote_call_errors_are_clear():
    board = SimBoard(fxs=0, fxo=1)
    alice = board.co.remote("5550100")
    with pytest.raises(ValueError, match="not a phone number"):
        alice.call("call me")
    with pytest.raises(ValueError, match="not ringing"):
        alice.answer()
    with pytest.raises(ValueError, match="our line"):
        board.co.remote("5550001")


def test_remote_dtmf_reaches_our_line_as_audio():
    from dsp_ext.dtmf import DtmfReceiver

    board = SimBoard(fxs=0, fxo=1)
    alice = board.co.remote("5550100")
    alice.call("5550001")
    board.advance(100)
    board.fxo(1).set_off_hook(True)
    board.advance(200)
    alice.dial("2#")
    rx = board.advance(600).rx["fxo1"]
    assert [e.digit for e in DtmfReceiver().process(rx) if e.kind == "start"] == ["2", "#"]
