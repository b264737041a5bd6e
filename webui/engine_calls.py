"""How a route reaches the engine: named engine API commands, nothing else.

    rows = await call(request, "config.extensions")
    saved, error = await attempt(request, "config.save_extension", extension=ext)

`attempt` is for forms: a refusal of the input (`bad_request`) comes back as the message to
show next to what was typed; any other refusal (not_found, unavailable, ...) propagates to the
one ApiError handler in `webui.app`, which turns it into the HTTP status.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from firmware.api import ApiError

from .guards import web


async def call(request: Request, name: str, /, **args: Any) -> Any:
    """Run engine API command `name`; refusals raise ApiError."""
    return await web(request).api.call(name, **args)


async def attempt(request: Request, name: str, /, **args: Any) -> tuple[Any, str | None]:
    """(result, None), or (None, message) when the engine refused the input."""
    try:
        return await web(request).api.call(name, **args), None
    except ApiError as exc:
        if exc.code != "bad_request":
            raise
        return None, exc.message


def port_names(request: Request, kind: str) -> list[str]:
    """The ports of `kind` ("fxs" / "fxo") on the running board, from the live status."""
    return [p.port for p in web(request).api.snapshot() if p.kind == kind]


SPOOL_DIR = "spool"            # firmware.api_uploads.SPOOL_DIR: the engine takes uploads from here
CHUNK = 64 * 1024


async def spool_upload(request: Request, upload: Any, max_bytes: int) -> str:
    """Stream an uploaded file into the spool folder and return the name to pass to the engine
    command that takes it (at most `max_bytes + 1` bytes are kept: the engine says "too big")."""
    spool = Path(web(request).data_dir) / SPOOL_DIR
    name = secrets.token_hex(16) + ".upload"
    path = spool / name

    def open_file() -> Any:
        spool.mkdir(mode=0o770, exist_ok=True)
        return open(path, "wb")
    f = await run_in_threadpool(open_file)
    try:
        left = max_bytes + 1
        while left > 0:
            chunk = await upload.read(min(CHUNK, left))
            if not chunk:
                break
            await run_in_threadpool(f.write, chunk)
            left -= len(chunk)
    except BaseException:
        f.close()
        path.unlink(missing_ok=True)
        raise
    await run_in_threadpool(f.close)
    return name


# For JSON routes that answer a refusal themselves (live calls, the setup wizard).
STATUS_OF = {"bad_request": 400, "not_found": 404, "conflict": 409, "forbidden": 403, "unavailable": 503,
             "too_large": 413, "internal": 500}


class EngineRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def engine_call(request: Request, name: str, **args: Any) -> Any:
    """`await engine_call(request, "calls.list")`: the result, or EngineRefused(status, message)."""
    try:
        return await web(request).api.call(name, **args)
    except ApiError as exc:
        raise EngineRefused(STATUS_OF.get(exc.code, 500), exc.message) from None
    except TimeoutError:
        raise EngineRefused(503, "The PBX engine did not answer in time; try again in a moment.") from None


def refused_json(exc: EngineRefused) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)
