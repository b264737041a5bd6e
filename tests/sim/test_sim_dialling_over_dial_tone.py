"""The simulated exchange's digit receiver when digits are dialled over its own dial tone (issue 15).

A real exchange's DTMF receiver hears the subscriber's digits together with its own dial tone
reflected back off the subscriber's end of the loop (the CPE's return loss), and some exchanges
(or an upstream PBX) keep the dial tone on until the number is complete. The simulator has both
as knobs (`co.dial_tone_during_dialling`, `co.cpe_return_loss_db`); these tests check that the
receiver really hears the reflected tone at the set level and still finds every digit.
"""
import numpy as np
import pytest
from sim_measure import tone_dbm0

from drivers.sim import SimBoard
from dsp_ext.countries import profile
from dsp_ext.dtmf import dtmf_encode

NUMBER = "5550100"


def dial_over_dial_tone(country: str, return_loss_db: float | None, level_dbm0: float = -10.0):
    board = SimBoard(fxs=0, fxo=1, country=country)
    co = board.line(1).co
    co.dial_tone_during_dialling = True
    co.cpe_return_loss_db = return_loss_db
    board.fxo(1).set_off_hook(True)
    board.advance(600)
    board.advance(len(NUMBER) * 160 + 300, {"fxo1": dtmf_encode(NUMBER, level_dbm0=level_dbm0)})
    return board, board.line(1)


def test_dial_tone_can_stay_on_until_the_number_is_complete():
    board = SimBoard(fxs=0, fxo=1)
    board.line(1).co.dial_tone_during_dialling = True
    board.fxo(1).set_off_hook(True)
    board.advance(600)
    rx = board.advance(500, {"fxo1": dtmf_encode("5")}).rx["fxo1"]
    assert tone_dbm0(rx[-1600:], 350) > -14             # still on after the first digit
    assert board.line(1).digits == "5"


@pytest.mark.parametrize("country", ["US", "UK", "DE"])
@pytest.mark.parametrize("return_loss_db", [6.0, 12.0])
def test_the_receiver_hears_its_dial_tone_reflected_and_still_finds_every_digit(country, return_loss_db):
    board, line = dial_over_dial_tone(country, return_loss_db)
    assert line.digits == NUMBER and line.state in ("ringback", "ringing", "connected"), (line.digits, line.state)
    heard = np.concatenate(line.receiver_heard).astype(np.float64)
    first_digit = heard.size - (len(NUMBER) * 160 + 300) * 8
    spec = profile(country).dial
    want = spec.level_dbm0 - return_loss_db
    for f in spec.freqs:
        # before the first digit, and in the gap after it (80 ms of tone, 80 of silence)
        assert tone_dbm0(heard[first_digit - 400: first_digit], f) == pytest.approx(want, abs=1.5), f
        assert tone_dbm0(heard[first_digit + 720: first_digit + 1200], f) == pytest.approx(want, abs=1.5), f


def test_weak_digits_under_a_strongly_reflected_dial_tone_are_found():
    """Digits 25 dB below the dial tone's reflection (a bad hybrid at the subscriber, a weak phone)."""
    _, line = dial_over_dial_tone("US", 0.0, level_dbm0=-35.0)
    assert line.digits == NUMBER


def test_without_reflection_the_receiver_hears_only_the_subscriber():
    _, line = dial_over_dial_tone("US", None)
    heard = np.concatenate(line.receiver_heard).astype(np.float64)
    assert tone_dbm0(heard[:400], 350) < -60 and line.digits == NUMBER
