"""The engine API server: the engine process's Unix socket (`DATA/engine.sock`).

    server = ApiServer(api, data_dir / SOCKET_NAME, group=None)
    server.start()            # its own threads; the media loop never waits for it
    ...
    server.stop()

Transport (see `firmware.api_wire` for the framing and docs/engine-api.md for the contract):
a Unix stream socket, not TCP, so that who may drive the PBX is decided by file permissions
(mode 0600: only the engine's own user; with `group`, 0660 for that group: the web process's
user in the image). Nothing is listening on the network.

Threads: one accept thread; per connection a reader thread (frames in, commands submitted to
`EngineApi`) and a writer thread (frames out from a bounded queue). The media thread only
ever does a non-blocking `put_nowait` into a connection's queue when it publishes an event;
a connection whose queue is full (a client that stopped reading) is dropped by its own
threads, never waited for. Command results come back on the store/media thread the same
way (a non-blocking put).
"""
from __future__ import annotations

import contextlib
import grp
import logging
import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .api import API_VERSION, REGISTRY, ApiError, EngineApi
from .api_wire import MAX_REQUEST_BYTES, WIRE_VERSION, FrameError, decode, encode, length_of

log = logging.getLogger("linebox.api.server")

OUT_QUEUE = 512                 # frames waiting for a slow reader before it is dropped
MAX_INFLIGHT = 64               # commands one connection may have running at once
MAX_CONNECTIONS = 64
HELLO_TIMEOUT_S = 5.0
SEND_BUFFER = 64 * 1024
SEND_TIMEOUT_S = 5.0            # a client that does not take a frame for this long is dropped
_CLOSE = object()


class _Connection:
    def __init__(self, server: ApiServer, sock: socket.socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.name = f"api-conn-{number}"
        self.out: queue.Queue = queue.Queue(maxsize=OUT_QUEUE)
        self.closed = threading.Event()
        self.dropped_reason: str | None = None
        self.subscribed = False
        self.client = "?"
        self._inflight = 0
        self._lock = threading.Lock()

    # ---- any thread, never blocks
    def send(self, msg: Any) -> None:
        if self.closed.is_set():
            return
        try:
            self.out.put_nowait(msg)
        except queue.Full:
            self.drop(f"it stopped reading ({OUT_QUEUE} frames waiting)")

    def drop(self, reason: str) -> None:
        if self.dropped_reason is None:
            self.dropped_reason = reason
        self.closed.set()

    def on_event(self, update: Any) -> None:          # the control's sink: the publishing thread
        if self.subscribed:
            self.send(update)

    # ---- reader thread
    def read_exactly(self, n: int, deadline: float | None = None) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if self.closed.is_set():
                raise ConnectionError("closed")
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("no hello")
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 16))
            except TimeoutError:
                continue
            if not chunk:
                raise ConnectionError("peer closed")
            buf += chunk
        return bytes(buf)

    def read_frame(self, deadline: float | None = None) -> dict:
        n = length_of(self.read_exactly(4, deadline), MAX_REQUEST_BYTES)
        return decode(self.read_exactly(n, deadline))

    def run_reader(self) -> None:
        try:
            try:
                hello = self.read_frame(time.monotonic() + HELLO_TIMEOUT_S)
            except TimeoutError:
                self.bye("bad_request", f"no hello within {HELLO_TIMEOUT_S:.0f} s")
                return
            if hello.get("type") != "hello" or hello.get("version") != WIRE_VERSION:
                self.bye("bad_request", f"the first frame must be hello with version {WIRE_VERSION} "
                                        f"(got type {hello.get('type')!r}, version {hello.get('version')!r})")
                return
            self.client = str(hello.get("client", "?"))[:64]
            self.send({"type": "hello", "version": WIRE_VERSION, "api_version": API_VERSION,
                       "engine": "linebox", "commands": len(REGISTRY)})
            while not self.closed.is_set():
                try:
                    msg = self.read_frame()
                except FrameError as exc:
                    if exc.code == "too_large":          # cannot skip the body safely: say why, then close
                        self.bye(exc.code, exc.message)
                        return
                    self.send({"type": "error", "id": None, "code": exc.code, "message": exc.message})
                    continue
                self.handle(msg)
        except FrameError as exc:
            self.bye(exc.code, exc.message)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()

    def bye(self, code: str, message: str) -> None:
        log.info("engine API: closing %s (%s): %s", self.name, self.client, message)
        self.send({"type": "bye", "code": code, "message": message})
        self.send(_CLOSE)

    def handle(self, msg: dict) -> None:
        kind = msg["type"]
        mid = msg.get("id")
        if mid is not None and not isinstance(mid, int | str):
            self.send({"type": "error", "id": None, "code": "bad_request", "message": "id must be a number or string"})
            return
        if kind == "call":
            self.call(mid, msg.get("name"), msg.get("args", {}))
        elif kind == "ping":
            self.send({"type": "pong", "id": mid})
        elif kind == "subscribe":
            self.subscribed = True
            ports = [p.as_dict() for p in self.server.api.control.snapshot()]
            self.send({"type": "result", "id": mid, "result": {"ports": ports}})
        elif kind == "unsubscribe":
            self.subscribed = False
            self.send({"type": "result", "id": mid, "result": None})
        else:
            self.send({"type": "error", "id": mid, "code": "bad_request",
                       "message": f"unknown message type {kind!r}; use call, subscribe, unsubscribe or ping"})

    def call(self, mid: Any, name: Any, args: Any) -> None:
        if not isinstance(name, str) or not name:
            self.send({"type": "error", "id": mid, "code": "bad_request", "message": "call needs a command name"})
            return
        with self._lock:
            if self._inflight >= MAX_INFLIGHT:
                busy = True
            else:
                busy = False
                self._inflight += 1
        if busy:
            self.send({"type": "error", "id": mid, "code": "unavailable",
                       "message": f"{name}: more than {MAX_INFLIGHT} commands in flight on this connection; "
                                  "wait for answers before sending more"})
            return
        fut = self.server.api.submit(name, args if args is not None else {})
        fut.add_done_callback(lambda f: self.answered(mid, name, f))

    def answered(self, mid: Any, name: str, fut: Any) -> None:
        with self._lock:
            self._inflight -= 1
        exc = fut.exception()
        if exc is None:
            self.send({"type": "result", "id": mid, "result": fut.result(), "_name": name})
        elif isinstance(exc, ApiError):
            self.send({"type": "error", "id": mid, "code": exc.code, "message": exc.message})
        else:
            self.send({"type": "error", "id": mid, "code": "internal", "message": f"{name} failed: {exc}"})

    # ---- writer thread
    def run_writer(self) -> None:
        try:
            while True:
                try:
                    item = self.out.get(timeout=0.5)
                except queue.Empty:
                    if self.closed.is_set():
                        return
                    continue
                if item is _CLOSE:
                    return
                if self.dropped_reason is not None:
                    return
                self.sock.sendall(self.frame(item))
        except TimeoutError:
            self.drop(f"it stopped reading (took nothing for {SEND_TIMEOUT_S:.0f} s)")
        except OSError as exc:
            self.drop(f"sending failed ({exc})")
        finally:
            self.closed.set()
            if self.dropped_reason:
                log.warning("engine API: dropped %s (%s): %s", self.name, self.client, self.dropped_reason)
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.server.forget(self)

    @staticmethod
    def frame(item: Any) -> bytes:
        if isinstance(item, dict):
            name = item.pop("_name", None)
            try:
                return encode(item)
            except (TypeError, ValueError):
                log.error("engine API: command %s returned a value that is not JSON", name)
                return encode({"type": "error", "id": item.get("id"), "code": "internal",
                               "message": f"{name} returned a value that is not JSON; the details are in the log"})
        # a StatusUpdate from the engine (converted here, on the writer thread, not the media thread)
        ports = [p.as_dict() for p in (item.ports or ())]
        try:
            return encode({"type": "event", "kind": item.kind, "payload": item.payload, "ports": ports})
        except (TypeError, ValueError):
            import json
            payload = json.loads(json.dumps(item.payload, default=str))
            return encode({"type": "event", "kind": item.kind, "payload": payload, "ports": ports})


class ApiServer:
    def __init__(self, api: EngineApi, path: Path, group: str | None = None) -> None:
        self.api = api
        self.path = Path(path)
        self.group = group
        self._sock: socket.socket | None = None
        self._conns: set[_Connection] = set()
        self._lock = threading.Lock()
        self._count = 0
        self._stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()              # a stale socket of a previous run (DATA is locked: not a live one)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        if self.group:
            try:
                gid = grp.getgrnam(self.group).gr_gid
                os.chown(self.path, -1, gid)
                os.chmod(self.path, 0o660)
            except (KeyError, PermissionError) as exc:
                log.warning("engine API socket: cannot give group %s access (%s); it stays owner-only",
                            self.group, exc)
        sock.listen(16)
        self._sock = sock
        self.thread = threading.Thread(target=self._accept, name="api-accept", daemon=True)
        self.thread.start()
        log.info("engine API on %s", self.path)

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                csock, _ = self._sock.accept()
            except OSError:
                return
            csock.settimeout(SEND_TIMEOUT_S)
            with contextlib.suppress(OSError):      # bounds what a stalled reader can pin in the kernel
                csock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            with self._lock:
                self._count += 1
                conn = _Connection(self, csock, self._count)
                full = len(self._conns) >= MAX_CONNECTIONS
                if not full:
                    self._conns.add(conn)
            if full:
                with contextlib.suppress(OSError):
                    csock.sendall(encode({"type": "bye", "code": "unavailable",
                                          "message": f"too many connections (limit {MAX_CONNECTIONS})"}))
                csock.close()
                continue
            self.api.control.add_sink(conn.on_event)
            threading.Thread(target=conn.run_reader, name=conn.name + "-rx", daemon=True).start()
            threading.Thread(target=conn.run_writer, name=conn.name + "-tx", daemon=True).start()

    def forget(self, conn: _Connection) -> None:
        self.api.control.remove_sink(conn.on_event)
        with self._lock:
            self._conns.discard(conn)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.drop("the engine is stopping")
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
