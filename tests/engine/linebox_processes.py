"""Real Linebox processes for end-to-end tests: `linebox run` / `engine` / `web` in a temp data dir.

These tests run in real time by nature (real processes, a real media loop paced by the clock);
every wait is a bounded poll of the real thing.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from firmware.api_client import ApiConnection, EngineUnreachable

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(pred: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def linebox(*args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", *args], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT)


def api(data: Path, timeout: float = 10.0) -> ApiConnection:
    return ApiConnection(data / "engine.sock", timeout=timeout, client="test")


def api_up(data: Path) -> bool:
    try:
        with api(data, timeout=2) as a:
            a.call("api.ping")
        return True
    except (EngineUnreachable, OSError):
        return False


def web_up(url: str) -> bool:
    try:
        return httpx.get(url + "/setup", timeout=1).status_code in (200, 303)
    except httpx.TransportError:
        return False


def children(pid: int) -> list[int]:
    """Child processes of `pid`, whichever of its threads started them."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def web_child(pid: int) -> int | None:
    """The `linebox web` process `linebox run` (pid) supervises."""
    for c in children(pid):
        with contextlib.suppress(OSError):
            if b"web" in Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0"):
                return c
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True


def stop(proc: subprocess.Popen, timeout: float = 15) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    return proc.returncode


def ticks(data: Path) -> int:
    with api(data) as a:
        return a.call("metrics.read", window_s=1.0)["ticks"]
