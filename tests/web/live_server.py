"""A real uvicorn server on 127.0.0.1 (random port) in a thread, for SSE and browser tests."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI


@contextmanager
def serve(app: FastAPI, tls: dict | None = None) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A short graceful-shutdown timeout: open event streams would otherwise hold shutdown forever.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1,
                                           lifespan="off", **(tls or {})))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:            # waiting for a real server thread, not simulated time
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def setup_code(app: FastAPI) -> str:
    """The first-boot setup code of this app's data directory (what the console prints)."""
    return setup_code_in(app.state.web.data_dir)


def setup_code_in(data_dir: Path) -> str:
    """The first-boot setup code kept in `data_dir` (what the console prints)."""
    from firmware.firstboot import read_code
    code = read_code(Path(data_dir))
    assert code is not None, "the app made no setup code"
    return code


def create_admin(page, base: str, username: str, password: str, code: str) -> None:
    """First boot in the browser: fill the setup form (with the setup code: `setup_code(app)`);
    the app then logs the owner in."""
    page.goto(base + "/setup")
    page.fill("input[name=setup_code]", code)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.fill("input[name=confirm]", password)
    page.click("button[type=submit]")
