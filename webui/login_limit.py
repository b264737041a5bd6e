"""Login throttling (before any password is hashed) and a bound on concurrent hashing.

Every attempt is *charged* before its password is hashed, so a burst of
simultaneous requests cannot all slip past the check while the first ones are
still hashing; a successful login refunds its charge. A few attempts are free;
after that each further one doubles the wait before the next is even looked at.

Keys, so that an attacker cannot turn the back-off against the owner:

* ``ip:<address>``: one address guessing at many names;
* ``pair:<name>|<address>``: one address guessing one name;
* ``user:<name>``: many addresses guessing one name (more free attempts, a
  shorter cap: it slows a distributed guesser without locking the owner out);
* a *known device* (a browser holding the signed device cookie set after a
  successful login for that name) is charged only under ``device:<id>``: a
  stranger's failures never delay the owner's own browser.

`HashSlots` bounds how many password hashes run at once (each takes ~19 MiB and
~0.1-0.2 s on a Pi 4); beyond that a login is refused at once with 429.
Kept in memory: a restart forgets it.
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
USER_FREE_FAILURES = 10          # per name from any address (distributed guessing)
USER_MAX_DELAY = 5 * 60.0
FORGET_AFTER = 24 * 3600.0
HASH_SLOTS = 2                   # password hashes at once (memory: 2 x 19 MiB)
BUSY_RETRY_AFTER = 1             # seconds a client is told to wait when every slot is busy


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

    def wait_seconds(self, ip: str, username: str, device: str | None = None) -> int:
        """Whole seconds until an attempt for this (ip, username[, device]) will be checked; 0 = now."""
        now = self._clock()
        with self._lock:
            waits = [r.blocked_until - now for k, _f, _m in self._keys(ip, username, device)
                     if (r := self._records.get(k)) is not None]
        longest = max(waits, default=0.0)
        return math.ceil(longest) if longest > 0 else 0

    def charge(self, ip: str, username: str, device: str | None = None) -> None:
        """Count an attempt before its password is checked (a success refunds it)."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            for key, free, cap in self._keys(ip, username, device):
                r = self._records.setdefault(key, _Record())
                r.failures += 1
                r.last_failure = now
                extra = r.failures - free
                if extra > 0:
                    r.blocked_until = now + min(cap, BASE_DELAY * 2 ** (extra - 1))

    failed = charge        # the same bookkeeping for callers that check first and count after

    def succeeded(self, ip: str, username: str, device: str | None = None) -> None:
        """The attempt was right: its name's records are cleared; the address only gets this
        attempt's charge back, so logging in to one's own account buys no guesses at others."""
        with self._lock:
            for key, _free, _cap in self._keys(ip, username, device):
                if key.startswith("ip:"):
                    r = self._records.get(key)
                    if r is not None and r.failures > 0:
                        r.failures -= 1
                else:
                    self._records.pop(key, None)

    @staticmethod
    def _keys(ip: str, username: str, device: str | None) -> list[tuple[str, int, float]]:
        name = username.strip().lower()
        if device:
            return [(f"device:{device}", FREE_FAILURES, MAX_DELAY)]
        return [(f"ip:{ip}", FREE_FAILURES, MAX_DELAY), (f"pair:{name}|{ip}", FREE_FAILURES, MAX_DELAY),
                (f"user:{name}", USER_FREE_FAILURES, USER_MAX_DELAY)]

    def _forget_old(self, now: float) -> None:
        if len(self._records) < 10_000:
            return
        for key in [k for k, r in self._records.items() if now - r.last_failure > FORGET_AFTER]:
            del self._records[key]
        if len(self._records) >= 10_000:   # a flood of fresh names: keep the newest half
            newest = sorted(self._records.items(), key=lambda kv: kv[1].last_failure)[5_000:]
            self._records = dict(newest)


class HashSlots:
    """At most `n` password hashes at once; `try_take()` never waits (the caller answers 429)."""

    def __init__(self, n: int = HASH_SLOTS) -> None:
        self._sem = threading.BoundedSemaphore(n)
        self.size = n

    def try_take(self) -> bool:
        return self._sem.acquire(blocking=False)

    def give_back(self) -> None:
        self._sem.release()
