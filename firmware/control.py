"""How the web server (asyncio, its own thread) talks to the engine (media thread).

The engine is single-threaded: only the media thread touches ports, channels,
calls and the simulator. Everyone else goes through `EngineControl`:

* `call(fn)` queues `fn(engine)` to run on the media thread at the start of the
  next tick and returns a Future with its result (`await control.acall(fn)` from
  asyncio). This is the only way to change anything live.
* `snapshot()` is the latest published status of every port (a list of
  `PortStatus`), safe to read from any thread.
* `subscribe()` gives an asyncio.Queue that receives a `StatusUpdate` whenever
  the engine publishes (port state change, call record, message); the web's
  live pages stream these to the browser.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PortStatus:
    port: str                 # "fxs1", "fxo2"
    kind: str                 # "fxs" | "fxo"
    label: str                # "201 Reception" / "Line 1 (555-0001)"
    state: str                # idle | ringing | off-hook | dialing | ringback | in-call | busy | congestion | fault | ...
    peer: str | None = None   # who this port is talking to / ringing for
    since: float = 0.0        # wall-clock (engine clock) time the state began, epoch seconds
    caller_id: str | None = None
    detail: str | None = None  # fault reason, digits dialled so far, ...

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StatusUpdate:
    kind: str                              # "ports" | "call" | "message" | ...
    payload: Any = None
    ports: list[PortStatus] = field(default_factory=list)


class EngineControl:
    def __init__(self) -> None:
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._snapshot: list[PortStatus] = []
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        # Plain callables told of every update on the publishing thread (the engine API server's
        # connections): each must return at once (a non-blocking queue put), never do I/O.
        self._sinks: frozenset[Callable[[StatusUpdate], None]] = frozenset()
        self.health: Any = None    # the media loop's TickHealth (read by the metrics command)
        # Runs fn() on the engine API's store thread, the one writer of the stores (set by EngineApi;
        # None in a bare test harness). The engine hands its own writes (phone feature codes) here.
        self.store_writer: Callable[[Callable[[], Any]], concurrent.futures.Future] | None = None

    # ---- any thread -> engine
    def call(self, fn: Callable[[Any], Any]) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._commands.put((fn, fut))
        return fut

    async def acall(self, fn: Callable[[Any], Any], timeout: float = 5.0) -> Any:
        return await asyncio.wait_for(asyncio.wrap_future(self.call(fn)), timeout)

    # ---- engine side (media thread)
    def run_pending(self, engine: Any) -> None:
        """Run queued commands; called by the media loop once per tick."""
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(engine))
            except Exception as exc:   # the caller gets the error; the engine keeps running
                fut.set_exception(exc)

    def publish(self, update: StatusUpdate) -> None:
        if update.ports:
            with self._lock:
                self._snapshot = list(update.ports)
        for sink in self._sinks:
            try:
                sink(update)
            except Exception:          # a broken sink must not break the publisher (the media loop)
                self.remove_sink(sink)
        for loop, q in list(self._subscribers):
            try:
                loop.call_soon_threadsafe(q.put_nowait, update)
            except RuntimeError:       # that loop has closed
                self._subscribers.discard((loop, q))

    def add_sink(self, fn: Callable[[StatusUpdate], None]) -> None:
        with self._lock:
            self._sinks = self._sinks | {fn}

    def remove_sink(self, fn: Callable[[StatusUpdate], None]) -> None:
        with self._lock:
            self._sinks = self._sinks - {fn}

    # ---- web side
    def snapshot(self) -> list[PortStatus]:
        with self._lock:
            return list(self._snapshot)

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.add((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._subscribers = {(lp, qq) for lp, qq in self._subscribers if qq is not q}
