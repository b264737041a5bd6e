"""The systemd watchdog is fed only while the media loop ticks: the real engine service on the
simulated board, with a fake NOTIFY_SOCKET (a datagram socket bound here, as systemd binds its
own) and WATCHDOG_USEC as systemd sets them. The media thread is then deliberately stalled (a
media command that blocks, as a stuck driver read would): WATCHDOG=1 stops within one timeout,
so systemd would restart the engine; when the loop moves again the feeding resumes."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.watchdog import MediaWatchdog, SystemdNotifier, watchdog_timeout_s

TIMEOUT_USEC = 400_000          # 0.4 s: WATCHDOG=1 every 0.2 s while healthy


class FakeSystemd:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> list[str]:
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            got.append(data.decode())
            self.messages.append((time.monotonic(), data.decode()))
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSystemd]:
    path = tmp_path / "notify.sock"
    fake = FakeSystemd(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", str(TIMEOUT_USEC))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield fake
    fake.close()


def test_engine_feeds_watchdog_only_while_media_loop_ticks(systemd: FakeSystemd, tmp_path: Path) -> None:
    from firmware.service import build_service
    svc = build_service(tmp_path / "data", board_kind="sim")
    svc.start_engine(api_socket=False, realtime="off")
    release = threading.Event()
    try:
        got = systemd.drain(1.0)
        assert got[0].startswith("READY=1")
        assert got.count("WATCHDOG=1") >= 3                  # every half timeout while ticking

        stuck = svc.control.call(lambda _eng: release.wait(10))   # the media thread blocks here
        got = systemd.drain(1.2)                               # three timeouts
        assert "STATUS=media loop stalled" in got
        stalled_at = next(t for t, m in systemd.messages if m == "STATUS=media loop stalled")
        assert not [t for t, m in systemd.messages if m == "WATCHDOG=1" and t > stalled_at]   # feeding stopped
        # no WATCHDOG=1 during the last full timeout: systemd would have killed and restarted us
        last_feed = max(t for t, m in systemd.messages if m == "WATCHDOG=1")
        assert time.monotonic() - last_feed > TIMEOUT_USEC / 1e6

        release.set()
        stuck.result(2)
        got = systemd.drain(0.8)
        assert got.count("WATCHDOG=1") >= 2                   # fed again once the loop moves
    finally:
        release.set()
        svc.stop()
    systemd.drain(0.2)
    assert any(m == "STOPPING=1" for _t, m in systemd.messages)


def test_no_socket_no_thread_and_wrong_pid_means_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier.from_environment()
    assert not notifier.enabled and notifier.notify("WATCHDOG=1") is False
    dog = MediaWatchdog(lambda: 1, notifier, None).start()
    assert not any(t.name == "watchdog" for t in threading.enumerate())
    dog.stop()
    assert watchdog_timeout_s({"WATCHDOG_USEC": "5000000"}, pid=7) == 5.0
    assert watchdog_timeout_s({"WATCHDOG_USEC": "5000000", "WATCHDOG_PID": "8"}, pid=7) is None
    assert watchdog_timeout_s({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_timeout_s({}) is None


def test_abstract_socket_address() -> None:
    name = f"linebox-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(1)
    try:
        n = SystemdNotifier("@" + name)
        assert n.notify("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"
        n.close()
    finally:
        sock.close()
