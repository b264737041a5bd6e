"""`linebox line calibrate PORT --data DATA` calibrates a line of the running service through its
engine API socket (a real `linebox run` on the simulated board, in real time): the profile is
printed, stored by the engine, and the same as `line.profile` answers afterwards. Then
`linebox line gains` sets, refuses (out of range) and resets that line's gains the same way."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from linebox_processes import ROOT, api, api_up, free_port, linebox, stop, until


def test_calibrating_a_line_of_the_running_service_from_the_terminal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = linebox("run", "--board", "sim", "--data", str(data), "--host", "127.0.0.1", "--port", str(free_port()),
                   log=tmp_path / "linebox.log")
    try:
        until(lambda: api_up(data), 60, "the engine API")
        out = subprocess.run([sys.executable, "-m", "firmware.cli", "line", "calibrate", "fxo1", "--data", str(data),
                              "--json"], cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr[-2000:]
        profile = json.loads(out.stdout)
        assert profile["port"] == "fxo1"
        assert "echo_probe" in out.stderr                       # progress on stderr, the profile on stdout
        # the simulated exchange's line: US dial tone 350 + 440 Hz, an echo path with a few dB of ERL
        assert sorted(round(f) for f in profile["dial_tone"]["freqs"]) == [350, 440]
        assert 3.0 < profile["echo"]["erl_db"] < 30.0
        with api(data) as a:
            stored = a.call("line.profile", port="fxo1")
        assert stored["date"] == profile["date"] and stored["echo"]["erl_db"] == profile["echo"]["erl_db"]

        def gains(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "firmware.cli", "line", "gains", *args, "--data", str(data)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)
        out = gains("fxo1", "--rx", "+2", "--tx", "-1")
        assert out.returncode == 0, out.stderr
        assert "fxo1: receive +2 dB, transmit -1 dB (calibration suggests" in out.stdout
        bad = gains("fxo1", "--rx", "40")
        assert bad.returncode != 0 and "outside what this line interface can do (-12 to +12 dB)" in bad.stderr
        with api(data) as a:
            assert a.call("line.gains")["fxo1"]["running"] == {"rx_db": 2, "tx_db": -1}
        out = gains("fxo1", "--reset")
        assert out.returncode == 0 and "fxo1: receive +0 dB, transmit +0 dB" in out.stdout
    finally:
        stop(proc)
