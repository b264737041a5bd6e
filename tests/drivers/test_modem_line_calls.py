"""A voice-modem line in the engine: the real driver over a pty against the emulated V.253 modem,
which sits on a line of the simulated exchange. An inbound call rings the office phone with the
caller's number and name (the modem decodes the exchange's caller-ID signal and reports it as
text; the driver re-encodes it for the engine), is answered, and audio flows both ways at the
levels sent (8-bit linear on the modem's serial link)."""
from __future__ import annotations

import pytest

import drivers.sim
from drivers.emulated_hat import emulated_hat_board
from dsp_ext.levels import rms_dbm0
from firmware.harness import Pbx


def test_inbound_call_on_a_modem_line_rings_with_caller_id_and_talks(monkeypatch):
    def hat(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
        return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=0, modems=1, **options)
    monkeypatch.setattr(drivers.sim, "SimBoard", hat)
    with Pbx(country="US", fxs=1, fxo=1, seed=5) as pbx:
        try:
            pbx.run(0.3)
            remote = pbx.co.remote("5550123", "ALICE")
            remote.call(pbx.co.line_number(1))
            phone = pbx.phone("201")
            pbx.run_until(lambda: phone.caller_id is not None, 12)
            assert (phone.caller_id.number, phone.caller_id.name) == ("5550123", "ALICE")
            phone.off_hook()
            pbx.run_until(lambda: remote.state == "connected", 3)
            pbx.run(1)
            remote.play_tone([1000], 1500, -20.0)
            pbx.run(0.5)
            phone.clear_heard()
            pbx.run(0.8)
            assert rms_dbm0(phone.heard(800)) == pytest.approx(-20.0, abs=1.0)
            pbx.run(0.5)
            phone.play_tone([600], 1500, -16.0)
            pbx.run(0.5)
            remote.clear_heard()
            pbx.run(0.8)
            assert rms_dbm0(remote.heard(800)) == pytest.approx(-16.0, abs=1.0)
            phone.on_hook()
            pbx.run_until(lambda: remote.state == "busy", 5)      # the exchange saw the modem hang up
            assert not pbx.board.chip("fxo1").off_hook
        finally:
            pbx.board.stop()
