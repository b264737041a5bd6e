"""`linebox run` as a real process: serves HTTP, and `linebox sim ...` drives it (real time, short)."""
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(pred, timeout: float, what: str):
    """Poll a real process (this test runs in real time by nature) until `pred()` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def service(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "auto", "--data",
                             str(tmp_path), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(url + "/", timeout=0.5)
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read()
            return None
    try:
        _until(up, 30, "the web server")
        yield proc, url, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _sim(url: str, data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "firmware.cli", "sim", "--url", url, "--data", str(data), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)


def _ports(url: str, data: Path) -> dict:
    out = _sim(url, data, "status")
    assert out.returncode == 0, out.stderr
    return {p["port"]: p for p in json.loads(out.stdout)["ports"]}


def test_linebox_run_serves_and_sim_commands_drive_it(service):
    proc, url, data = service
    assert httpx.get(url + "/", timeout=5).status_code in (200, 303)        # setup page or its redirect
    token = data / "sim.token"
    assert token.stat().st_mode & 0o777 == 0o600
    assert httpx.get(url + "/api/sim/status", timeout=5).status_code == 401  # no token, no simulator
    out = _sim(url, data, "phone", "201", "offhook")
    assert out.returncode == 0 and json.loads(out.stdout)["off_hook"] is True
    # Bounds that only catch a hang: every poll starts a `linebox sim status` process, seconds each on a
    # loaded machine (a full run beside other suites once missed "202 ringing" within 15 s).
    _until(lambda: _ports(url, data)["fxs1"]["state"] == "dialtone", 30, "dial tone on 201")
    assert _sim(url, data, "phone", "201", "pulse", "202").returncode == 0
    _until(lambda: _ports(url, data)["fxs2"]["state"] == "ringing", 30, "202 ringing")
    bad = _sim(url, data, "phone", "299", "offhook")
    assert bad.returncode != 0 and "no extension '299'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    log = proc.stdout.read()
    assert "no HAT found, running the simulated board" in log
    assert not token.exists()
    from firmware.records import CallRecords
    recs = CallRecords(data / "records.db")
    try:
        # the call was still ringing when the service stopped: closed, not left open
        assert [(r["src"], r["dst"], r["disposition"]) for r in recs.search()] == [("201", "202", "failed")]
    finally:
        recs.close()


def test_sim_command_without_a_service_says_so(tmp_path):
    out = _sim("http://127.0.0.1:9", tmp_path, "status")
    assert out.returncode != 0 and "cannot reach the engine at" in out.stderr and "engine.sock" in out.stderr
    assert f"is `linebox run --data {tmp_path}` running?" in out.stderr
    stale = socket.socket(socket.AF_UNIX)       # a socket file left by an engine that died
    stale.bind(str(tmp_path / "engine.sock"))
    stale.close()
    out = _sim("http://127.0.0.1:9", tmp_path, "status")
    assert out.returncode != 0 and "cannot reach the engine" in out.stderr and "refused" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
