"""How the web UI is served: uvicorn settings that a LAN attacker cannot exhaust.

* `X-Forwarded-For` is believed only from the proxies the owner listed (setting
  ``trusted_proxies``, empty by default): otherwise anyone could pick their own
  address for the login throttle (uvicorn's default trusts 127.0.0.1).
* Requests must arrive at a useful pace (`RequestDeadlineH11`): the headers within
  `HEADER_TIMEOUT_S`, then the body with at least `BODY_MIN_BYTES` in every `BODY_TIMEOUT_S`
  window (an ordinary form, at most 256 KiB, must so be in within the first window), so
  connections that trickle a byte now and then (slowloris) are closed, while an update bundle
  (about 2 GB, minutes to upload) is not cut off at a fixed time: the boot test's upload was
  closed silently after 60 s by the former whole-body deadline. A window in which the server
  itself held the body back (flow control: the app had not taken what came) does not count.
  Idle keep-alive connections end after `KEEP_ALIVE_S`.
* At most `MAX_CONNECTIONS` connections/requests at once (uvicorn answers 503 beyond).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0               # one window of the body
BODY_MIN_BYTES = 4 * 1024 * 1024   # what each window must bring (about 70 kB/s)
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 200
MAX_HEADER_BYTES = 16 * 1024


class RequestDeadlineH11(H11Protocol):
    """h11 protocol that closes a connection whose request does not arrive in time."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    body_min_bytes = BODY_MIN_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._received = 0              # bytes read on this connection
        self._window_start = 0          # self._received when the body's current window began
        super().connection_made(transport)
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        super().data_received(data)

    def _arm(self, seconds: float, then: Callable[[], None] | None = None) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, then or self._too_slow)

    def _arm_body_window(self) -> None:
        self._window_start = self._received
        self._arm(self.body_timeout_s, self._body_window_over)

    def _body_window_over(self) -> None:
        self._deadline = None
        if self._received - self._window_start >= self.body_min_bytes or self.flow.read_paused:
            self._arm_body_window()     # still coming at a useful pace (or we are the slow side)
        else:
            self._too_slow()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        state = self.conn.their_state
        if state is h11.SEND_BODY and not self._reading_body:
            self._reading_body = True
            self._arm_body_window()
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._disarm()          # the whole request is in (or the connection is ending)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._reading_body = False
            self._arm(self.header_timeout_s)   # the next request on this connection has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def server_config(app: Any, host: str, port: int, trusted_proxies: Sequence[str] = (),
                  **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration for the web UI (the service and the tests use this one)."""
    proxies = [str(p) for p in trusted_proxies if str(p).strip()]
    options: dict[str, Any] = dict(
        host=host, port=port, log_level="info", timeout_graceful_shutdown=2,
        http=RequestDeadlineH11, proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [],
        timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=MAX_CONNECTIONS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES)
    options.update(overrides)
    return uvicorn.Config(app, **options)
