"""`linebox run` stops promptly and quietly while a browser has a live page open.

Found by trying Linebox as a new user: with a status page open, SIGTERM/Ctrl-C waited out
uvicorn's whole graceful timeout and then printed a page of CancelledError traceback.
"""
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from firmware.firstboot import read_code

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Quiet-Harbour-Lantern-8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_with_an_open_event_stream_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "sim", "--data",
                             str(tmp_path), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = httpx.Client(base_url=url, timeout=5)
        deadline = time.monotonic() + 60          # a real process: real time (a loaded machine is slow)
        while True:
            try:
                page = client.get("/setup")
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()                   # reading a live process's output would wait forever
                    raise AssertionError(f"the web UI did not answer:\n{proc.communicate(timeout=30)[0][-3000:]}") from None
                time.sleep(0.1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/setup", data={"username": "owner", "password": PASSWORD, "confirm": PASSWORD,
                                        "setup_code": read_code(tmp_path), "csrf_token": token})
        assert r.status_code == 303
        opened = threading.Event()
        ended = threading.Event()

        def watch() -> None:      # a browser tab on the status page
            try:
                with client.stream("GET", "/api/events", timeout=30) as events:
                    for line in events.iter_lines():
                        if line.startswith("event: ports"):
                            opened.set()
            except httpx.HTTPError:
                pass
            ended.set()
        threading.Thread(target=watch, daemon=True).start()
        assert opened.wait(10), "the event stream did not open"
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        took = time.monotonic() - start
        log = proc.stdout.read()
        assert ended.wait(5)
        assert "Traceback" not in log and "CancelledError" not in log, log[-2000:]
        assert "Linebox stopped" in log
        # The page's stream ended on request: uvicorn never waited out its graceful timeout (2 s)
        # to cancel it. Checked from uvicorn's own log line, not from a wall-clock bound that a
        # loaded CI machine can break; the bound below only catches a hang.
        assert "timeout graceful shutdown exceeded" not in log, log[-2000:]
        assert took < 10, f"stopping took {took:.1f} s with one page open"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
