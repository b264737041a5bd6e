"""The systemd watchdog, fed only while the media loop ticks (issue 14).

systemd gives a unit with `WatchdogSec=` two environment variables: `NOTIFY_SOCKET` (a datagram
socket, a path or an abstract name starting with '@') and `WATCHDOG_USEC` (the timeout). The
service must send `WATCHDOG=1` more often than that, or systemd kills and restarts it
(`Restart=always`). The protocol is one datagram per message; no library is needed.

`MediaWatchdog` is a small thread of its own (never the media thread: the tick only increments
a counter it already has, `TickHealth.ticks`). Every half timeout it looks at the tick counter:
if the media loop ticked since its last look, it sends `WATCHDOG=1`; if not, it sends nothing,
so a media loop stuck in a driver, a deadlock or an endless loop gets the engine restarted
within one timeout. `READY=1` goes out after the first tick (Type=notify: the web unit starts
after the engine really runs), `STOPPING=1` on a clean stop.

The kernel hang case is the hardware watchdog's: systemd itself feeds /dev/watchdog
(`RuntimeWatchdogSec=` in image/system.conf.d/linebox-watchdog.conf); if the kernel or PID 1
hangs, the SoC watchdog resets the board.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("linebox.watchdog")


class SystemdNotifier:
    """Sends sd_notify messages to `$NOTIFY_SOCKET`; does nothing when it is not set."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._sock: socket.socket | None = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, message: str) -> bool:
        """Send `message` (e.g. "WATCHDOG=1"); False if there is no socket or it failed."""
        if self._sock is None or self.address is None:
            return False
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._sock.sendto(message.encode("utf-8"), addr)
            return True
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", self.address, exc)
            return False

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_timeout_s(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """The watchdog timeout systemd set for this process (WATCHDOG_USEC, and WATCHDOG_PID if it
    names another process), or None when the watchdog is off."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    wpid = env.get("WATCHDOG_PID", "")
    if wpid and wpid != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1e6


class MediaWatchdog:
    """Feeds the systemd watchdog while `ticks()` keeps growing (see the module doc)."""

    def __init__(self, ticks: Callable[[], int], notifier: SystemdNotifier, timeout_s: float | None) -> None:
        self.ticks = ticks
        self.notifier = notifier
        self.timeout_s = timeout_s
        self.interval_s = timeout_s / 2 if timeout_s else 1.0
        self.stalled = False
        self.ready_sent = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = -1

    def check(self) -> bool:
        """One look: True if the loop ticked since the last look (and WATCHDOG=1 went out)."""
        now = self.ticks()
        moved = now != self._last and now > 0
        self._last = now
        if moved:
            if not self.ready_sent:
                self.ready_sent = self.notifier.notify("READY=1\nSTATUS=media loop ticking")
            if self.timeout_s:
                self.notifier.notify("WATCHDOG=1")
            if self.stalled:
                log.warning("the media loop ticks again")
                self.notifier.notify("STATUS=media loop ticking")
            self.stalled = False
        elif self.ready_sent and not self.stalled:
            self.stalled = True
            log.error("the media loop has not ticked for %.1f s; not feeding the watchdog "
                      "(systemd restarts the engine if it stays stuck)", self.interval_s)
            self.notifier.notify("STATUS=media loop stalled")
        return moved

    def _run(self) -> None:
        # the first look comes quickly, so READY=1 is not delayed by half a watchdog timeout
        wait = min(0.05, self.interval_s)
        while not self._stop.wait(wait):
            self.check()
            wait = self.interval_s if self.ready_sent else min(0.05, self.interval_s)

    def start(self) -> MediaWatchdog:
        if self.notifier.enabled:
            self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self.notifier.notify("STOPPING=1")
        self.notifier.close()


def start_media_watchdog(ticks: Callable[[], int]) -> MediaWatchdog:
    """The watchdog for this process as systemd configured it (idle outside systemd)."""
    return MediaWatchdog(ticks, SystemdNotifier.from_environment(), watchdog_timeout_s()).start()
