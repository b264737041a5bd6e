"""Login throttling: exponential back-off per client address and per username.

A few mistakes are free; after that every further failure doubles the wait
before the next attempt is even checked. Both keys are tracked so a guesser
cannot dodge by rotating usernames, nor by rotating addresses against one
account. Kept in memory: a restart forgets it, which costs a guesser a reboot
of the box per handful of tries.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 3
BASE_DELAY = 2.0       # seconds after the first failure past the free ones
MAX_DELAY = 15 * 60.0
FORGET_AFTER = 24 * 3600.0


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def wait_seconds(self, ip: str, username: str) -> int:
        """Whole seconds until an attempt for this (ip, username) will be checked; 0 = now."""
        now = self._clock()
        with self._lock:
            waits = [r.blocked_until - now for k in self._keys(ip, username)
                     if (r := self._records.get(k)) is not None]
        longest = max(waits, default=0.0)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, ip: str, username: str) -> None:
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            for key in self._keys(ip, username):
                r = self._records.setdefault(key, _Record())
                r.failures += 1
                r.last_failure = now
                extra = r.failures - FREE_FAILURES
                if extra > 0:
                    r.blocked_until = now + min(MAX_DELAY, BASE_DELAY * 2 ** (extra - 1))

    def succeeded(self, ip: str, username: str) -> None:
        # Only the account's count is cleared: the address keeps its record, so
        # logging in to one's own account does not buy fresh guesses at others.
        with self._lock:
            self._records.pop(self._keys(ip, username)[1], None)

    @staticmethod
    def _keys(ip: str, username: str) -> tuple[str, str]:
        return f"ip:{ip}", f"user:{username.strip().lower()}"

    def _forget_old(self, now: float) -> None:
        if len(self._records) < 10_000:
            return
        for key in [k for k, r in self._records.items() if now - r.last_failure > FORGET_AFTER]:
            del self._records[key]
        if len(self._records) >= 10_000:   # a flood of fresh names: keep the newest half
            newest = sorted(self._records.items(), key=lambda kv: kv[1].last_failure)[5_000:]
            self._records = dict(newest)
