"""Installer-applied line gains (issue 15, item 5), end to end: the exchange's dial tone arrives
6 dB low (a long loop); calibration suggests +6 dB of receive gain; `line.apply_gains` stores it
and the line interface applies it at once. Measured on a call: the far end's tone at the office
phone is 6 dB louder, our phone's tone at the far end follows the transmit gain, and a reset
brings both back. On the emulated HAT the real Si3050 driver writes the DAA's gain registers
(R38/R39 of the register-level emulator) and the level on the call changes with them."""
from __future__ import annotations

import pytest
from engine_scenarios import off_hook_and_dial

import drivers.sim
from drivers.emulated_hat import EmulatedHatBoard, emulated_hat_board
from dsp_ext.countries import ToneSpec
from dsp_ext.levels import rms_dbm0
from firmware.api import ApiError, EngineApi
from firmware.harness import Pbx
from firmware.linecal.cli import simulated_caller
from firmware.linecal.gains import load_gains
from firmware.linecal.runner import run_calibration

NUMBER = "5550100"
FAR_TONE_DBM0 = -20.0
OUR_TONE_DBM0 = -16.0


def api_of(pbx: Pbx):
    api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    return api, simulated_caller(pbx, api)


def connect(pbx: Pbx):
    remote = pbx.co.remote(NUMBER)
    remote.far_end(1, None)
    phone = off_hook_and_dial(pbx, "201", "9" + NUMBER)
    pbx.run_until(lambda: remote.state == "connected", 20)
    pbx.run_until(lambda: pbx.state("fxs1") == "in-call", 12)
    pbx.run(1)
    return phone, remote


def levels(pbx: Pbx, phone, remote) -> tuple[float, float]:
    """(the far end's 1 kHz tone at our phone, our phone's 1.4 kHz tone at the far end), dBm0,
    each measured over 1 s once it is steady, one direction at a time."""
    remote.play_tone([1000], 2000, FAR_TONE_DBM0)
    pbx.run(0.8)
    phone.clear_heard()
    pbx.run(1.0)
    heard_here = rms_dbm0(phone.heard(1000))
    pbx.run(0.6)
    phone.play_tone([1400], 2000, OUR_TONE_DBM0)
    pbx.run(0.8)
    remote.clear_heard()
    pbx.run(1.0)
    heard_there = rms_dbm0(remote.heard(1000))
    pbx.run(0.6)
    return heard_here, heard_there


def test_suggested_gains_are_applied_measured_on_a_call_and_reset():
    with Pbx(country="US", fxs=2, fxo=1, seed=51) as pbx:
        pbx.co.set_tone_plan(dial=ToneSpec((350, 440), (), -19.0))       # 6 dB below the nominal -13
        pbx.run(0.2)
        api, call = api_of(pbx)
        try:
            profile = run_calibration(call, pbx.run, "fxo1")                # dial tone and echo path only
            assert profile["suggested_gains"]["rx_db"] == 6 and profile["suggested_gains"]["tx_db"] == 0
            before = call("line.gains")["fxo1"]
            assert before["running"] == {"rx_db": 0, "tx_db": 0} and before["range_db"] == [-12, 12]
            assert before["suggested"]["rx_db"] == 6

            phone, remote = connect(pbx)
            here0, there0 = levels(pbx, phone, remote)
            assert here0 == pytest.approx(FAR_TONE_DBM0, abs=1.0)

            applied = call("line.apply_gains", port="fxo1")                 # the calibration's suggestion
            assert (applied["rx_db"], applied["tx_db"], applied["source"]) == (6, 0, "suggested")
            assert applied["running"] == {"rx_db": 6, "tx_db": 0}
            here1, there1 = levels(pbx, phone, remote)
            assert here1 - here0 == pytest.approx(6.0, abs=0.5)
            assert there1 - there0 == pytest.approx(0.0, abs=0.5)

            call("line.apply_gains", port="fxo1", rx_db=6, tx_db="-4")
            here2, there2 = levels(pbx, phone, remote)
            assert here2 - here0 == pytest.approx(6.0, abs=0.5)
            assert there2 - there0 == pytest.approx(-4.0, abs=0.5)

            # bad input: a clear refusal, and the gains in force stay as they were
            for args, code, words in (({"rx_db": 20}, "bad_request", "outside what this line interface can do"),
                                      ({"rx_db": 2.5}, "bad_request", "whole number"),
                                      ({"tx_db": "loud"}, "bad_request", "whole number"),
                                      ({"rx_db": True}, "bad_request", "whole number")):
                with pytest.raises(ApiError) as exc:
                    call("line.apply_gains", port="fxo1", **args)
                assert exc.value.code == code and words in exc.value.message
            with pytest.raises(ApiError) as exc:
                call("line.apply_gains", port="fxs1", rx_db=1)
            assert exc.value.code == "not_found" and "not a line" in exc.value.message
            assert call("line.gains")["fxo1"]["running"] == {"rx_db": 6, "tx_db": -4}
            assert load_gains(pbx.config)["fxo1"].tx_db == -4

            reset = call("line.reset_gains", port="fxo1")
            assert reset["running"] == {"rx_db": 0, "tx_db": 0}
            here3, there3 = levels(pbx, phone, remote)
            assert here3 == pytest.approx(here0, abs=0.5) and there3 == pytest.approx(there0, abs=0.5)
            assert "fxo1" not in load_gains(pbx.config)
            phone.on_hook()
            pbx.run(1)
        finally:
            api.close()


def test_stored_gains_survive_a_restart_and_a_damaged_entry_is_ignored(tmp_path):
    with Pbx(country="US", fxs=1, fxo=2, seed=52, data_dir=tmp_path / "box") as pbx:
        pbx.run(0.2)
        api, call = api_of(pbx)
        call("line.apply_gains", port="fxo2", rx_db=-3, tx_db=2)
        api.close()
        pbx.config.table("line_gains").insert({"port": "fxo1", "rx_db": "x", "tx_db": 99})   # hand-edited
    with Pbx(country="US", fxs=1, fxo=2, seed=52, data_dir=tmp_path / "box") as pbx:
        pbx.run(0.1)
        assert (pbx.board.fxo(2).rx_gain_db, pbx.board.fxo(2).tx_gain_db) == (-3, 2)
        assert (pbx.board.fxo(1).rx_gain_db, pbx.board.fxo(1).tx_gain_db) == (0, 0)


def test_gains_reach_the_si3050_registers_on_the_emulated_hat(monkeypatch):
    def hat(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
        return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=fxo, **options)
    monkeypatch.setattr(drivers.sim, "SimBoard", hat)
    with Pbx(country="US", fxs=2, fxo=1, seed=53) as pbx:
        assert isinstance(pbx.board, EmulatedHatBoard)
        pbx.run(0.2)
        chip = pbx.board.chip("fxo1")
        assert (chip.r[38], chip.r[39]) == (0, 0)
        api, call = api_of(pbx)
        try:
            phone, remote = connect(pbx)
            here0, there0 = levels(pbx, phone, remote)
            applied = call("line.apply_gains", port="fxo1", rx_db=4, tx_db=-3)
            assert applied["running"] == {"rx_db": 4, "tx_db": -3}
            assert chip.r[39] == 0x04 and chip.r[38] == 0x13       # RXG2 +4 dB; TXG2 attenuate 3 dB
            here1, there1 = levels(pbx, phone, remote)
            assert here1 - here0 == pytest.approx(4.0, abs=0.5)
            assert there1 - there0 == pytest.approx(-3.0, abs=0.5)
            call("line.reset_gains", port="fxo1")
            assert (chip.r[38], chip.r[39]) == (0, 0)
            phone.on_hook()
            pbx.run(1)
        finally:
            api.close()


def test_gains_reach_a_voice_modem_line(monkeypatch):
    """A line on a V.253 voice modem (the real driver over a pty against the emulated modem, on a
    line of the simulated exchange): the modem says which +VGR/+VGT values it takes (here 120-136,
    1 dB each: -8 to +8 dB), `line.gains` says so, `line.apply_gains` sends AT+VGR/AT+VGT during
    the call and the levels on the call follow; a gain outside the modem's range is refused."""
    def hat(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
        return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=0, modems=1,
                                  modem_options={"gain_range": (120, 136), "gain_step_db": 1.0,
                                                 "range_reply": "({lo}-{hi})"}, **options)
    monkeypatch.setattr(drivers.sim, "SimBoard", hat)
    with Pbx(country="US", fxs=2, fxo=1, seed=54) as pbx:
        modem = pbx.board.chip("fxo1")
        api, call = api_of(pbx)
        try:
            pbx.run(0.2)
            g = call("line.gains")["fxo1"]
            assert g["rx_range_db"] == [-8, 8] and g["tx_range_db"] == [-8, 8] and g["step_db"] == 1.0
            assert "AT+VGR=? 120-136" in g["how"]
            phone, remote = connect(pbx)
            here0, there0 = levels(pbx, phone, remote)
            assert here0 == pytest.approx(FAR_TONE_DBM0, abs=1.0)
            applied = call("line.apply_gains", port="fxo1", rx_db=5, tx_db=-4)
            assert applied["running"] == {"rx_db": 5, "tx_db": -4}
            pbx.run(0.2)
            assert (modem.vgr, modem.vgt) == (133, 124) and modem.streaming
            here1, there1 = levels(pbx, phone, remote)
            assert here1 - here0 == pytest.approx(5.0, abs=0.5)
            assert there1 - there0 == pytest.approx(-4.0, abs=0.5)
            with pytest.raises(ApiError) as exc:
                call("line.apply_gains", port="fxo1", rx_db=10)
            assert exc.value.code == "bad_request" and "(-8 to +8 dB)" in exc.value.message
            assert (modem.vgr, modem.vgt) == (133, 124)
            call("line.reset_gains", port="fxo1")
            pbx.run(0.2)
            assert (modem.vgr, modem.vgt) == (128, 128)
            here2, there2 = levels(pbx, phone, remote)
            assert here2 == pytest.approx(here0, abs=0.5) and there2 == pytest.approx(there0, abs=0.5)
            phone.on_hook()
            pbx.run(1)
            assert not modem.off_hook
        finally:
            api.close()
            pbx.board.stop()
