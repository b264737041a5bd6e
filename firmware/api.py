"""The engine API: named, typed commands and the event stream.

This is the one way into the engine for the web UI, the CLIs and third parties (CTI), the
way AMI/ARI are for Asterisk. A command is a plain function registered by name:

    from firmware.api import ApiContext, ApiError, command

    @command("addressbook.add", on="store")
    def addressbook_add(ctx: ApiContext, extension: str, name: str, number: str) -> dict:
        ...
        return {"id": 7}

  Put a domain's commands in a module named `commands` or `*_commands` anywhere under
  `firmware/`: `load_commands()` finds and imports them when the engine API starts.

* Arguments are keyword arguments with type hints; they are validated (pydantic) before the
  function runs, so a caller sending the wrong types gets `ApiError("bad_request", ...)`.
  Results must be JSON-serialisable (dicts, lists, str, int, float, bool, None).
* `on="store"` commands run one at a time on the engine process's single **store thread**:
  every write to configuration, records and media files goes through it, so two writers
  can never race (the store has exactly one writer). They may do disk I/O. To change live
  engine state afterwards, `ctx.on_media(fn)` queues `fn(engine)` onto the media thread.
* `on="media"` commands run on the media thread at the start of a tick, with `ctx.engine`:
  they must be quick and never touch a disk, a socket or a database.
* `on="read"` commands run on a **reader thread**, beside the store thread: lookups that must
  answer while the store thread is busy (the screen pop during a big CSV import). They never
  write, and read through their own read-only connection (SQLite in WAL mode lets a reader see
  the last commit while the one writer writes).
* Errors: raise `ApiError(code, message)`; `code` is one of ERROR_CODES. Any other
  exception becomes `internal` (logged in full in the engine, a one-line message to the caller).
* Events go out with `ctx.publish(kind, payload)` (or `engine.control.publish`): every
  subscriber of the event stream receives them.

No Python object other than JSON values crosses this boundary: the transport (a local
socket, see `firmware.api_server`) only carries names, JSON arguments and JSON results.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from .sqlite_files import SchemaWaitsForCommit

log = logging.getLogger("linebox.api")

API_VERSION = 1
ERROR_CODES = ("bad_request", "not_found", "conflict", "forbidden", "unavailable", "too_large", "internal")


class ApiError(Exception):
    """A refusal the caller should show: `code` (one of ERROR_CODES) and a plain message."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown API error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Command:
    name: str
    fn: Callable[..., Any]
    on: str                           # "store" | "media" | "read"
    args: type[pydantic.BaseModel]    # the validated keyword arguments
    doc: str


REGISTRY: dict[str, Command] = {}


def _args_model(name: str, fn: Callable[..., Any]) -> type[pydantic.BaseModel]:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())[1:]          # the first is the context
    hints = _resolved_hints(fn)
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"command {name}: argument {p.name} must be a named argument")
        ann = hints.get(p.name, Any)
        fields[p.name] = (ann, ... if p.default is p.empty else p.default)
    model_name = "Args_" + name.replace(".", "_").replace("-", "_")
    return pydantic.create_model(model_name, __config__=pydantic.ConfigDict(extra="forbid", strict=False),
                                 **fields)


def _resolved_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an unresolvable hint is validated as Any
        return {}


def command(name: str, *, on: str = "store") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(ctx, **kwargs)` as engine API command `name`."""
    if on not in ("store", "media", "read"):
        raise ValueError("on must be 'store', 'media' or 'read'")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY and REGISTRY[name].fn is not fn:
            raise ValueError(f"engine API command {name!r} is registered twice")
        REGISTRY[name] = Command(name, fn, on, _args_model(name, fn), inspect.getdoc(fn) or "")
        return fn
    return register


def validate(name: str, args: dict[str, Any]) -> tuple[Command, dict[str, Any]]:
    cmd = REGISTRY.get(name)
    if cmd is None:
        raise ApiError("not_found", f"unknown command {name!r}")
    if not isinstance(args, dict):
        raise ApiError("bad_request", f"{name}: arguments must be an object")
    try:
        model = cmd.args.model_validate(args)
    except pydantic.ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        raise ApiError("bad_request", f"{name}: " + "; ".join(parts)) from None
    return cmd, {k: getattr(model, k) for k in cmd.args.model_fields}


@dataclass
class ApiContext:
    """What a command can reach. `engine` is only set for `on="media"` commands."""
    config: Any
    records: Any
    data_dir: Path
    control: Any                  # firmware.control.EngineControl
    engine: Any = None

    def on_media(self, fn: Callable[[Any], Any]) -> concurrent.futures.Future:
        """Queue `fn(engine)` onto the media thread (after a store write, to apply it live)."""
        return self.control.call(fn)

    def publish(self, kind: str, payload: Any = None) -> None:
        from .control import StatusUpdate
        self.control.publish(StatusUpdate(kind, payload=payload))


def load_commands() -> None:
    """Import every command module: any module under `firmware` named `commands` or `*_commands`
    (e.g. `firmware/callcenter/commands.py`, `firmware/apps/voicemail_commands.py`). A domain adds
    its commands by adding such a module; no central list to edit."""
    import importlib
    import pkgutil

    import firmware
    for info in pkgutil.walk_packages(firmware.__path__, "firmware."):
        last = info.name.rsplit(".", 1)[-1]
        if last == "commands" or last.endswith("_commands"):
            importlib.import_module(info.name)


class EngineApi:
    """The engine-side dispatcher: validates, then runs each command on its thread."""

    def __init__(self, *, config: Any, records: Any, data_dir: Path, control: Any) -> None:
        load_commands()
        self.config = config
        self.records = records
        self.data_dir = Path(data_dir)
        self.control = control
        self._store = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._reader = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader")
        self._closed = threading.Event()
        control.store_writer = self.write_on_store

    def write_on_store(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run `fn()` on the store thread (the engine's own writes: one writer per store)."""
        return self._store.submit(fn)

    def _ctx(self, engine: Any = None) -> ApiContext:
        return ApiContext(self.config, self.records, self.data_dir, self.control, engine)

    def submit(self, name: str, args: dict[str, Any] | None = None) -> concurrent.futures.Future:
        """Run command `name` with JSON `args`; the Future holds its result or an ApiError."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        try:
            cmd, kwargs = validate(name, args or {})
        except ApiError as exc:
            fut.set_exception(exc)
            return fut
        if self._closed.is_set():
            fut.set_exception(ApiError("unavailable", "the engine is stopping"))
            return fut
        if cmd.on == "media":
            inner = self.control.call(lambda eng: self._run(cmd, self._ctx(eng), kwargs))
        elif cmd.on == "read":
            inner = self._reader.submit(self._run, cmd, self._ctx(), kwargs)
        else:
            inner = self._store.submit(self._run, cmd, self._ctx(), kwargs)
        inner.add_done_callback(lambda f: _copy_result(f, fut))
        return fut

    @staticmethod
    def _run(cmd: Command, ctx: ApiContext, kwargs: dict[str, Any]) -> Any:
        try:
            return cmd.fn(ctx, **kwargs)
        except ApiError:
            raise
        except SchemaWaitsForCommit as exc:         # a store kept at its old schema while a release is tried
            raise ApiError("unavailable", str(exc)) from None
        except Exception as exc:
            log.exception("engine API command %s failed", cmd.name)
            raise ApiError("internal", f"{cmd.name} failed; the details are in the Linebox log") from exc

    def close(self) -> None:
        self._closed.set()
        self._store.shutdown(wait=True)
        self._reader.shutdown(wait=True)


def _copy_result(src: concurrent.futures.Future, dst: concurrent.futures.Future) -> None:
    exc = src.exception()
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())


class LocalClient:
    """An engine API client in the same process (tests, and the transport's server side).

    The web UI sees the same face whatever the transport: `await client.call(name, **args)`,
    `snapshot()`, `subscribe()` / `unsubscribe(q)`."""

    def __init__(self, api: EngineApi, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout

    async def call(self, name: str, answer_within: float | None = None, **args: Any) -> Any:
        """`answer_within`: seconds to wait for this call's answer instead of `timeout`."""
        return await asyncio.wait_for(asyncio.wrap_future(self.api.submit(name, args)), answer_within or self.timeout)

    def call_sync(self, name: str, **args: Any) -> Any:
        return self.api.submit(name, args).result(self.timeout)

    def snapshot(self) -> list:
        return self.api.control.snapshot()

    def subscribe(self) -> asyncio.Queue:
        return self.api.control.subscribe()

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.api.control.unsubscribe(q)


def describe() -> list[dict]:
    """Every registered command with its argument schema (for the API page and `api.describe`)."""
    return [{"name": c.name, "on": c.on, "doc": c.doc, "args": c.args.model_json_schema()}
            for c in sorted(REGISTRY.values(), key=lambda c: c.name)]


@command("api.describe")
def _describe(ctx: ApiContext) -> dict:
    """The API version and every command with its JSON schema."""
    return {"version": API_VERSION, "commands": describe()}
