"""Line calibration (issue 15, item 5) on the simulated board in simulated time: the engine seizes
a line, learns the exchange's dial tone, measures the echo path with a probe (the G.168 Annex D
hybrid models, with ERL and pure delay we set), calls a number through the outbound permission
gate, learns ringback and disconnect/busy tones, suggests gains and stores the profile. The
analysis runs on the engine API's store thread, never on the media tick."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from drivers.sim.echo import voice_band_erl_db
from firmware.api import ApiError, EngineApi
from firmware.apps import permissions_store
from firmware.harness import Pbx
from firmware.linecal import analysis, load_profile
from firmware.linecal.cli import simulated_calibration, simulated_caller
from firmware.linecal.picture import impulse_response_svg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "dsp"))
from g168 import HEADER, g168_models  # noqa: E402

needs_g168 = pytest.mark.skipif(not HEADER.exists(), reason="needs libspandsp-dev's G.168 models")


def truth(ir: np.ndarray) -> tuple[float, float]:
    first = int(np.flatnonzero(np.abs(ir) >= 0.1 * np.abs(ir).max())[0])
    return voice_band_erl_db(ir), first / 8.0


@needs_g168
@pytest.mark.parametrize("model, erl, delay_ms", [("d2", 6, 0), ("d4", 12, 20), ("d7", 9, 40), ("d9", 12, 64)])
def test_echo_path_of_a_g168_hybrid_is_measured(model, erl, delay_ms):
    taps = g168_models()[model]
    profile, ir = simulated_calibration("US", taps, erl, delay_ms, "", None, 3.0, 25)
    erl_true, delay_true = truth(ir)
    echo = profile["echo"]
    assert echo["erl_db"] == pytest.approx(erl_true, abs=0.5)          # stated tolerance: 0.5 dB
    assert echo["delay_ms"] == pytest.approx(delay_true, abs=0.5)      # and 0.5 ms (4 samples)
    assert echo["snr_db"] > 30
    measured = np.asarray(echo["ir"])
    n = min(measured.size, ir.size)
    err = np.sum((measured[:n] - ir[:n]) ** 2) / np.sum(ir ** 2)
    assert err < 0.01                                                  # the shape, tap by tap (-20 dB)
    assert profile["dial_tone"]["freqs"] == [350, 440] and profile["dial_tone"]["cadence_ms"] == []
    gains = profile["suggested_gains"]
    assert gains["rx_db"] == 0
    # a hybrid returning more than G.168's 6 dB assumption: send less, by the shortfall
    assert gains["tx_db"] == (0 if echo["erl_db"] >= 6 else -float(np.ceil(6 - echo["erl_db"])))
    assert erl_true >= 6 or gains["tx_db"] < 0


def test_call_learns_ringback_and_disconnect_and_stores_the_profile():
    with Pbx(country="US", fxs=1, fxo=1, seed=4) as pbx:
        pbx.run(0.2)
        remote = pbx.co.remote("5550100")
        remote.far_end(2, None)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)
        threads: list[str] = []
        real = analysis.estimate_echo_path

        def spy(*a, **k):
            threads.append(threading.current_thread().name)
            return real(*a, **k)
        analysis.estimate_echo_path = spy
        try:
            status = call("line.calibrate", port="fxo1", number="5550100", as_extension="201", listen_s=30)
            assert status["phase"] == "seizing" and pbx.board.fxo(1).is_off_hook
            assert pbx.state("fxo1") == "calibrating"
            with pytest.raises(ApiError) as busy:
                call("line.calibrate", port="fxo1")
            assert busy.value.code == "conflict"
            with pytest.raises(ApiError):
                call("line.calibration_finish", port="fxo1")       # still running: refused, nothing lost
            pbx.run_until(lambda: remote.state == "connected", 30)
            answered_at = pbx.now
            pbx.run(3)
            remote.hang_up()                                       # the exchange sends its disconnect tone
            pbx.run_until(lambda: call("line.calibration_status", port="fxo1")["phase"] == "captured", 40)
            assert not pbx.board.fxo(1).is_off_hook and pbx.state("fxo1") == "idle"
            profile = call("line.calibration_finish", port="fxo1")
        finally:
            analysis.estimate_echo_path = real
            api.close()
        assert threads and all(t.startswith("store") for t in threads)   # analysed off the media thread
        assert profile["ringback"]["freqs"] == [440, 480] and profile["ringback"]["cadence_ms"] == [2000, 4000]
        assert profile["disconnect"]["freqs"] == [480, 620] and profile["disconnect"]["cadence_ms"] == [500, 500]
        stored = load_profile(pbx.config, "fxo1")
        assert stored is not None and stored["echo"]["erl_db"] == profile["echo"]["erl_db"]
        assert stored["ringback"] == profile["ringback"]
        # the test call is in the call records like any outside call, its answer read from the line
        pbx.records.flush()
        (rec,) = pbx.records.search()
        assert (rec["src"], rec["dst"], rec["line"], rec["disposition"]) == ("201", "5550100", "fxo1", "answered")
        assert rec["answered"] == pytest.approx(answered_at, abs=0.5)
        assert pbx.records.reasons([rec["call_id"]])[rec["call_id"]] == "line calibration test call"


def test_busy_number_teaches_the_busy_tone():
    with Pbx(country="DE", fxs=1, fxo=1, seed=5) as pbx:
        pbx.run(0.2)
        pbx.co.remote("5550100").busy = True
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)
        call("line.calibrate", port="fxo1", number="5550100", as_extension="201", listen_s=10)
        pbx.run_until(lambda: call("line.calibration_status", port="fxo1")["phase"] == "captured", 30)
        profile = call("line.calibration_finish", port="fxo1")
        api.close()
        assert profile["busy"]["freqs"] == [425] and profile["busy"]["cadence_ms"] == [480, 480]
        assert "error" in profile["ringback"]
        pbx.records.flush()
        assert [r["disposition"] for r in pbx.records.search()] == ["busy"]


def test_the_test_call_goes_through_the_outbound_permission_gate():
    with Pbx(country="US", fxs=1, fxo=1, seed=6) as pbx:
        pbx.run(0.2)
        permissions_store.set_extension_policy(pbx.config, "201", "internal")
        pbx.run(0.1)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)
        for args, code in (({"number": "5550100", "as_extension": "201"}, "forbidden"),
                           ({"number": "5550100", "as_extension": ""}, "bad_request"),
                           ({"number": "55501x0", "as_extension": "201"}, "bad_request"),
                           ({"listen_s": 500}, "bad_request")):
            with pytest.raises(ApiError) as exc:
                call("line.calibrate", port="fxo1", **args)
            assert exc.value.code == code
        with pytest.raises(ApiError) as exc:
            call("line.calibrate", port="fxs1")
        assert exc.value.code == "conflict" and "not a line" in exc.value.message
        pbx.run(1)
        assert not pbx.board.fxo(1).is_off_hook and pbx.co.remote("5550100").state == "idle"
        api.close()


def test_picture_is_self_contained_svg():
    ir = np.concatenate([np.zeros(40), np.hanning(30) * np.cos(np.arange(30))]) * 0.2
    svg = impulse_response_svg(ir, 11.5, 5.0, 9.0, title="<script>x</script>")
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "") and "<style" not in svg
    assert "ERL 11.5 dB" in svg and "delay 5.0 ms" in svg


def test_cli_sim_prints_the_profile_and_writes_the_picture(tmp_path: Path):
    svg = tmp_path / "ir.svg"
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "line", "calibrate", "--sim", "--echo", "long",
                          "--erl", "8", "--delay-ms", "16", "--svg", str(svg)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "echo path: ERL 8.0 dB, delay 28.0 ms" in out.stdout
    assert "(simulated truth: ERL 8.0 dB, delay 28.0 ms)" in out.stdout
    assert svg.read_text().startswith("<svg")
    bad = subprocess.run([sys.executable, "-m", "firmware.cli", "line", "calibrate", "--sim", "--echo", "nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--echo takes" in bad.stderr
    live = subprocess.run([sys.executable, "-m", "firmware.cli", "line", "calibrate", "fxo1",
                           "--data", str(tmp_path / "no-service")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert live.returncode != 0 and "cannot reach the engine" in live.stderr and "is Linebox running" in live.stderr


def test_inbound_call_times_the_rings_and_learns_the_disconnect_tone():
    # The installer rings the line, stays silent when it answers, hangs up: the exchange's
    # disconnect (here busy) tone is learned, and the ring period is timed.
    profile, _ir = simulated_calibration("UK", "short", 10.0, 0.0, "", None, 3.0, 12, inbound_wait_s=60)
    assert profile["ring"]["period_ms"] == 3000                       # UK: 400/200/400/2000
    assert profile["disconnect"]["freqs"] == [400] and profile["disconnect"]["cadence_ms"] == [375, 375]
    assert profile["echo"]["erl_db"] == pytest.approx(10.0, abs=0.5)
    assert "ringback" not in profile


def test_learned_disconnect_tone_clears_calls_the_country_plan_would_leave_up():
    # The exchange sends a disconnect tone that is not in the configured country's plan (a DE
    # exchange, 425 Hz 480/480, on a box set up for the US): without calibration an inbound call
    # whose caller hung up stays up; once the line is calibrated, its learned tone clears it.
    with Pbx(country="DE", fxs=1, fxo=1, seed=8) as pbx:
        pbx.config.update_settings(country="US")
        pbx.run(0.3)
        assert pbx.engine.country == "US"
        caller = pbx.co.remote("5550123")
        phone = pbx.phone("201")

        def inbound_call_then_caller_hangs_up() -> float:
            caller.call(pbx.co.line_number(1))
            pbx.run_until(lambda: phone.is_ringing, 20)
            phone.off_hook()
            pbx.run_until(lambda: pbx.state("fxo1") == "in-call", 3)
            pbx.run(2)
            caller.hang_up()
            start = pbx.now
            try:
                pbx.run_until(lambda: pbx.state("fxo1") == "idle", 12)
                return pbx.now - start
            except TimeoutError:
                return float("inf")
            finally:
                phone.on_hook()
                pbx.run(2)
        assert inbound_call_then_caller_hangs_up() == float("inf")      # the US plan misses it
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)
        call("line.calibrate", port="fxo1", inbound_wait_s=60, listen_s=10)
        pbx.run_until(lambda: call("line.calibration_status", port="fxo1")["phase"] == "waiting_ring", 10)
        pbx.run(2)
        caller.call(pbx.co.line_number(1))
        pbx.run_until(lambda: caller.state == "connected", 20)
        pbx.run(2)
        caller.hang_up()
        pbx.run_until(lambda: call("line.calibration_status", port="fxo1")["phase"] == "captured", 15)
        profile = call("line.calibration_finish", port="fxo1")
        api.close()
        assert profile["disconnect"]["freqs"] == [425] and profile["disconnect"]["cadence_ms"] == [480, 480]
        pbx.run(2)
        assert "fxo1" in pbx.engine.line_tones
        assert inbound_call_then_caller_hangs_up() < 4


def test_a_line_without_dial_tone_or_voltage_is_a_clear_refusal_and_stores_nothing():
    """A line that takes loop current but gives no dial tone (not in service, cut off): the
    calibration stops after listening for the dial tone, dials nothing (dialling into silence
    would look like a silent answer), stores no profile and says what to check. An unplugged
    line is refused before it is taken."""
    with Pbx(country="US", fxs=1, fxo=1, seed=8) as pbx:
        pbx.co.set_in_service(1, False)
        pbx.run(0.2)
        api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
        call = simulated_caller(pbx, api)
        try:
            status = call("line.calibrate", port="fxo1", number="5550100", as_extension="201")
            while status["phase"] not in ("captured", "failed"):
                pbx.run(0.5)
                status = call("line.calibration_status", port="fxo1")
            assert status["phase"] == "failed" and "gives no dial tone" in status["error"]
            assert "Check the line with an ordinary phone" in status["error"]
            with pytest.raises(ApiError) as exc:
                call("line.calibration_finish", port="fxo1")
            assert exc.value.code == "conflict" and "gives no dial tone" in exc.value.message
            assert load_profile(pbx.config, "fxo1") is None
            assert pbx.co.remote("5550100").state == "idle" and not pbx.co.history      # nothing dialled
            pbx.run(1)
            assert not pbx.board.fxo(1).is_off_hook and pbx.state("fxo1") == "idle"

            pbx.co.set_in_service(1, True)
            pbx.co.unplug(1)
            pbx.run(3)
            with pytest.raises(ApiError) as exc:
                call("line.calibrate", port="fxo1")
            assert exc.value.code == "conflict" and "has no line voltage: plug the line in first" in exc.value.message
        finally:
            api.close()


@pytest.mark.parametrize("state, words", [("no-dial-tone", "gives no dial tone"),
                                          ("unplugged", "has no line voltage: plug the line in first")])
def test_cli_sim_says_what_is_wrong_with_a_dead_line(state, words):
    out = subprocess.run([sys.executable, "-m", "firmware.cli", "line", "calibrate", "--sim", "--line", state],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and words in out.stderr and out.stdout == ""
