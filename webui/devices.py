"""Known devices: a signed, long-lived cookie set in a browser after a successful login.

A browser that has logged in as a name before is not held up by failures other
people cause against that name (see `login_limit`): the owner can still log in
from their own computer while someone else is guessing at the account. The
cookie carries no authority by itself; it only chooses which back-off applies.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from .store import WebStore

DEVICE_COOKIE = "lb_device"
DEVICE_MAX_AGE = 365 * 24 * 3600


class KnownDevices:
    def __init__(self, store: WebStore) -> None:
        self._store = store
        self._key: bytes | None = None

    def _sign(self, username: str, device_id: str) -> str:
        if self._key is None:
            self._key = self._store.secret("device-cookie").encode()
        return hmac.new(self._key, f"{username}:{device_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, username: str, old_cookie: str | None = None) -> str:
        """The cookie value for this browser (keeps its device id when it already had one)."""
        device_id = self.device_of(old_cookie, username) or secrets.token_urlsafe(12)
        return f"{username}:{device_id}:{self._sign(username, device_id)}"

    def device_of(self, cookie: str | None, username: str) -> str | None:
        """The device id when `cookie` is a genuine device cookie for `username`, else None."""
        if not cookie or len(cookie) > 200 or cookie.count(":") != 2:
            return None
        name, device_id, sig = cookie.split(":")
        if name != username.strip().lower() or not device_id:
            return None
        return device_id if hmac.compare_digest(sig, self._sign(name, device_id)) else None
