"""A blocking engine API client for CLIs, scripts and tests: `linebox sim ...` uses it.

    with ApiConnection(data_dir / "engine.sock") as api:
        api.call("sim.phone", ext="201", action="offhook")
        ports = api.subscribe()["ports"]
        for event in api.events(timeout=5): ...

Anyone who may open the socket (its file permissions) may use every command: see
docs/engine-api.md.
"""
from __future__ import annotations

import itertools
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .api import ERROR_CODES, ApiError
from .api_wire import HEADER, MAX_REPLY_BYTES, WIRE_VERSION, decode, encode, length_of


class EngineUnreachable(ConnectionError):
    """No engine answers on that socket (not running, or no permission)."""


class ApiConnection:
    def __init__(self, path: Path | str, *, timeout: float = 10.0, client: str = "cli") -> None:
        self.path = Path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(self.path))
        except OSError as exc:
            self.sock.close()
            raise EngineUnreachable(f"cannot reach the engine at {self.path}: {exc.strerror or exc}") from None
        self._ids = itertools.count(1)
        self._events: deque[dict] = deque()
        self.send({"type": "hello", "version": WIRE_VERSION, "client": client})
        self.hello = self.read()
        if self.hello.get("type") != "hello":
            raise EngineUnreachable(f"the engine refused the connection: {self.hello.get('message')}")

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(encode(msg))

    def read(self) -> dict[str, Any]:
        header = self._exactly(HEADER.size)
        return decode(self._exactly(length_of(header, MAX_REPLY_BYTES)))

    def _exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EngineUnreachable("the engine closed the connection")
            buf += chunk
        return bytes(buf)

    def request(self, msg: dict[str, Any]) -> Any:
        mid = next(self._ids)
        self.send({**msg, "id": mid})
        while True:
            reply = self.read()
            kind = reply.get("type")
            if kind == "event":
                self._events.append(reply)
                continue
            if kind == "bye":
                raise ApiError(reply.get("code") if reply.get("code") in ERROR_CODES else "internal",
                               str(reply.get("message")))
            if reply.get("id") != mid:
                continue
            if kind == "error":
                raise ApiError(reply["code"] if reply.get("code") in ERROR_CODES else "internal",
                               str(reply.get("message")))
            return reply.get("result")

    def call(self, name: str, **args: Any) -> Any:
        return self.request({"type": "call", "name": name, "args": args})

    def ping(self) -> None:
        self.request({"type": "ping"})

    def subscribe(self) -> dict[str, Any]:
        return self.request({"type": "subscribe"})

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Events as they come (after `subscribe`); ends when `timeout` passes with none."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            while True:
                while self._events:
                    yield self._events.popleft()
                try:
                    msg = self.read()
                except TimeoutError:
                    return
                if msg.get("type") == "event":
                    yield msg
                elif msg.get("type") == "bye":
                    return
        finally:
            self.sock.settimeout(old)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ApiConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
