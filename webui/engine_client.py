"""The web process's engine API client: the engine's Unix socket, with the face of
`firmware.api.LocalClient` (`await call(name, **args)`, `snapshot()`, `subscribe()`,
`unsubscribe(q)`), so routes do not know which transport they use.

It connects on first use inside the web server's event loop, subscribes to the event
stream once and fans the events out to the open pages' queues, keeps the last port
snapshot, and measures the round trip with a transport ping every few seconds.

When the engine is away (restarting, killed), `connected` is False, `call` raises
`ApiError("unavailable", RESTARTING)` (the web shows it as HTTP 503), open event streams get
an `engine` event `{"state": "restarting"}` (the status page shows a banner), and the client
reconnects by itself with back-off; on return they get `{"state": "up"}` and a fresh
snapshot.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from pathlib import Path
from typing import Any

from firmware.api import ERROR_CODES as _CODES
from firmware.api import ApiError
from firmware.api_wire import HEADER, MAX_REPLY_BYTES, WIRE_VERSION, FrameError, decode, encode, length_of
from firmware.control import PortStatus, StatusUpdate

log = logging.getLogger("linebox.webui.engine")

RESTARTING = "Telephony is restarting; this page will work again in a few seconds."
ENGINE_EVENT = "engine"
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)
PING_EVERY_S = 2.0
CONNECT_WAIT_S = 3.0          # a call made while (re)connecting waits this long before "unavailable"


class EngineClient:
    def __init__(self, path: Path | str, *, timeout: float = 10.0, client_name: str = "webui") -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.client_name = client_name
        self.connected = False
        self.rtt_s: float | None = None          # the last transport round trip
        self.rtt_max_s = 0.0
        self.reconnects = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._snapshot: list[PortStatus] = []
        self._subscribers: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self._up: asyncio.Event | None = None
        self._closing = False

    # ---- the LocalClient face
    async def call(self, name: str, answer_within: float | None = None, **args: Any) -> Any:
        """`answer_within`: seconds to wait for this call's answer instead of `timeout`."""
        self._start()
        if not self.connected:
            assert self._up is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), CONNECT_WAIT_S)
            if not self.connected:
                raise ApiError("unavailable", RESTARTING)
        return await self._request({"type": "call", "name": name, "args": args}, answer_within)

    def snapshot(self) -> list[PortStatus]:
        self._start()
        return list(self._snapshot)

    def subscribe(self) -> asyncio.Queue:
        self._start()
        q: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subscribers.discard(q)

    def publish_local(self, update: StatusUpdate) -> None:
        """Give `update` to this web process's open event streams (e.g. its own shutdown)."""
        for q in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(update)

    def shutting_down(self, update: StatusUpdate) -> None:
        """This web process is stopping: tell its open pages, and do not call the engine's
        going away (it stops at the same time) a loss."""
        self._closing = True
        self.publish_local(update)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._drop_connection()

    # ---- connection
    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._up = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="engine-client")

    async def _request(self, msg: dict[str, Any], answer_within: float | None = None) -> Any:
        writer = self._writer
        if writer is None:
            raise ApiError("unavailable", RESTARTING)
        mid = next(self._ids)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        try:
            writer.write(encode({**msg, "id": mid}))
            await writer.drain()
        except (OSError, ValueError, TypeError) as exc:
            self._pending.pop(mid, None)
            if isinstance(exc, (ValueError, TypeError)):
                raise ApiError("bad_request", f"arguments are not JSON: {exc}") from None
            raise ApiError("unavailable", RESTARTING) from None
        try:
            return await asyncio.wait_for(fut, answer_within or self.timeout)
        except TimeoutError:
            raise ApiError("unavailable", f"the engine did not answer within {answer_within or self.timeout:.0f} s") from None
        finally:
            self._pending.pop(mid, None)

    async def _run(self) -> None:
        attempt = 0
        was_up = False
        while not self._closing:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.path), limit=1 << 16)
            except OSError:
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                continue
            try:
                writer.write(encode({"type": "hello", "version": WIRE_VERSION, "client": self.client_name}))
                await writer.drain()
                hello = await asyncio.wait_for(_read(reader), 5.0)
                if hello.get("type") != "hello":
                    raise ConnectionError(f"engine refused the connection: {hello.get('message')}")
                self._writer = writer
                reading = asyncio.get_running_loop().create_task(self._read_loop(reader))
                sub = await self._request({"type": "subscribe"})
                self._snapshot = [PortStatus(**p) for p in sub.get("ports", [])]
                self.connected = True
                assert self._up is not None
                self._up.set()
                attempt = 0
                if was_up:
                    self.reconnects += 1
                    log.info("engine API: connected again")
                self.publish_local(StatusUpdate("ports", ports=list(self._snapshot)))
                self.publish_local(StatusUpdate(ENGINE_EVENT, payload={"state": "up"}))
                was_up = True
                pinging = asyncio.get_running_loop().create_task(self._ping_loop())
                try:
                    await reading
                finally:
                    pinging.cancel()
            except (OSError, ConnectionError, TimeoutError, FrameError, ApiError, ValueError) as exc:
                log.info("engine API connection: %s", exc)
            except asyncio.CancelledError:
                self._drop_connection()
                raise
            self._drop_connection()
            if was_up and not self._closing:
                log.warning("engine API: lost the engine; reconnecting")
                self.publish_local(StatusUpdate(ENGINE_EVENT, payload={"state": "restarting",
                                                                       "message": RESTARTING}))
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    def _drop_connection(self) -> None:
        self.connected = False
        if self._up is not None:
            self._up.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ApiError("unavailable", RESTARTING))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            msg = await _read(reader)
            kind = msg.get("type")
            if kind == "event":
                ports = [PortStatus(**p) for p in msg.get("ports") or []]
                if ports:
                    self._snapshot = ports
                self.publish_local(StatusUpdate(str(msg.get("kind")), payload=msg.get("payload"), ports=ports))
            elif kind in ("result", "error", "pong"):
                fut = self._pending.get(msg.get("id"))
                if fut is None or fut.done():
                    continue
                if kind == "error":
                    code = msg.get("code") if msg.get("code") in _CODES else "internal"
                    fut.set_exception(ApiError(code, str(msg.get("message", "engine API error"))))
                else:
                    fut.set_result(msg.get("result"))
            elif kind == "bye":
                raise ConnectionError(f"engine closed the connection: {msg.get('message')}")

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(PING_EVERY_S)
            t0 = time.perf_counter()
            try:
                await self._request({"type": "ping"})
            except ApiError:
                return
            self.rtt_s = time.perf_counter() - t0
            self.rtt_max_s = max(self.rtt_max_s, self.rtt_s)


async def _read(reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        header = await reader.readexactly(HEADER.size)
        body = await reader.readexactly(length_of(header, MAX_REPLY_BYTES))
    except asyncio.IncompleteReadError:
        raise ConnectionError("the engine closed the connection") from None
    return decode(body)

