"""The web server under abuse (issue 9 item 6): X-Forwarded-For only from configured proxies,
slow connections (slowloris) closed by a request deadline, deeply nested JSON refused with 400."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient

from firmware.firstboot import read_code
from webui.http_server import RequestDeadlineH11, server_config

from .conftest import WebEnv, page_token

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Quiet-Harbour-Lantern-8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def linebox_run(data: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """The real service (`linebox run --board sim`) in its own process."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "sim", "--data", str(data),
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30          # a real process: real time
        while True:
            try:
                httpx.get(url + "/setup", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "linebox run did not start"
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_forwarded_for_from_localhost_does_not_dodge_the_login_throttle(tmp_path: Path) -> None:
    with linebox_run(tmp_path) as (url, _proc), httpx.Client(base_url=url, timeout=10) as c:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/setup").text).group(1)
        r = c.post("/setup", data={"username": "owner", "password": PASSWORD, "confirm": PASSWORD,
                                   "setup_code": read_code(tmp_path), "csrf_token": token})
        assert r.status_code == 303
        c.cookies.clear()
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        codes = []
        for i in range(8):       # a guesser on the box's own address claims a new address each time
            r = c.post("/login", data={"username": f"guess{i}", "password": "wrong-password-1",
                                       "csrf_token": token},
                       headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
            codes.append(r.status_code)
        assert codes[:4] == [401] * 4 and set(codes[4:]) == {429}, codes
        # deeply nested JSON on the real server: a clear 400, not a 500
        r = c.post("/api/extensions", content=b"[" * 100_000 + b"]" * 100_000,
                   headers={"content-type": "application/json"})
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"]


class QuickDeadline(RequestDeadlineH11):
    header_timeout_s = 0.5
    body_timeout_s = 0.5
    body_min_bytes = 64 * 1024


@contextmanager
def serve_guarded(app, **overrides) -> Iterator[tuple[str, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = dict(http=QuickDeadline, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, **{**options, **overrides}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _closed_by_server(s: socket.socket, within_s: float) -> bool:
    """Keep trickling a header byte; True once the server has closed the connection."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            s.sendall(b"X")
            s.settimeout(0.1)
            if s.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_slow_connections_are_closed_and_the_web_still_answers(env: WebEnv) -> None:
    with serve_guarded(env.app()) as (host, port):
        slow = []
        for i in range(40):       # slowloris: headers that never end
            s = socket.create_connection((host, port))
            s.sendall(b"GET /login HTTP/1.1\r\nHost: box\r\nX-Slow-" + str(i).encode() + b": ")
            slow.append(s)
        body_slow = socket.create_connection((host, port))     # a body that never arrives in full
        body_slow.sendall(b"POST /login HTTP/1.1\r\nHost: box\r\nContent-Type: application/x-www-form-urlencoded"
                          b"\r\nContent-Length: 100\r\n\r\nusername=")
        keep = socket.create_connection((host, port))           # a good request, then a slow second one
        keep.sendall(b"GET /login HTTP/1.1\r\nHost: box\r\n\r\n")
        keep.settimeout(5)
        assert keep.recv(65536).startswith(b"HTTP/1.1 303")     # no admin yet: to /setup
        keep.sendall(b"GET /login HTTP/1.1\r\nHost: box\r\n")
        assert all(_closed_by_server(s, 5) for s in slow)
        assert _closed_by_server(body_slow, 5) and _closed_by_server(keep, 5)
        assert httpx.get(f"http://{host}:{port}/setup", timeout=5).status_code == 200
        for s in (*slow, body_slow, keep):
            s.close()


async def _count_body(scope, receive, send) -> None:  # noqa: ANN001 - a bare ASGI app
    """Reads the whole body and says how many bytes came (an upload route does the same)."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"received {size}".encode()})


def test_a_long_upload_that_keeps_coming_is_not_cut_off(env: WebEnv) -> None:
    """An update bundle takes minutes: the body may take many windows as long as each brings
    enough (the image's boot test saw its 1.8 GB upload closed after the former fixed 60 s)."""
    size, chunk = 6 * 1024 * 1024, b"x" * (64 * 1024)      # 96 chunks, ~4 windows of 0.5 s
    with serve_guarded(_count_body) as (host, port), socket.create_connection((host, port)) as s:
        s.sendall(b"POST /update/upload HTTP/1.1\r\nHost: box\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
        started = time.monotonic()
        for _ in range(size // len(chunk)):
            s.sendall(chunk)                  # 64 KiB every 20 ms: ~25 times the minimum pace
            time.sleep(0.02)
        assert time.monotonic() - started > 3 * QuickDeadline.body_timeout_s   # longer than one window
        s.settimeout(10)
        answer = b""
        while b"received" not in answer:
            got = s.recv(65536)
            assert got, f"the server closed the upload: {answer!r}"
            answer += got
        assert answer.startswith(b"HTTP/1.1 200") and f"received {size}\r\n".encode() in answer


def test_connections_beyond_the_limit_are_refused_not_queued(env: WebEnv) -> None:
    from webui.http_server import MAX_CONNECTIONS
    assert 50 <= MAX_CONNECTIONS <= 500
    with serve_guarded(env.app(), limit_concurrency=5) as (host, port):
        held = [socket.create_connection((host, port)) for _ in range(5)]
        for i, s in enumerate(held):
            s.sendall(b"GET /setup HTTP/1.1\r\nHost: box\r\nX-Held-" + str(i).encode() + b": ")
        time.sleep(0.1)
        assert httpx.get(f"http://{host}:{port}/setup", timeout=5).status_code == 503
        for s in held:
            s.close()


def test_deeply_nested_json_is_a_clear_400(admin: TestClient) -> None:
    plain = TestClient(admin.app, raise_server_exceptions=False, cookies=admin.cookies)
    token = page_token(admin)
    for body in (b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                 b'{"number": "270", "name": ' + b"[" * 40 + b"]" * 40 + b"}"):
        r = plain.post("/api/extensions", content=body,
                       headers={"content-type": "application/json", "X-CSRF-Token": token})
        assert r.status_code == 400, r.text
        assert "nested too deeply" in r.json()["error"]
    # brackets inside strings are text, not nesting
    r = plain.post("/api/extensions", json={"number": "271", "name": "[[[[" * 20},
                   headers={"X-CSRF-Token": token})
    assert r.status_code != 500 and "nested" not in r.text
