"""How a route reaches the engine: named engine API commands, nothing else.

    rows = await call(request, "config.extensions")
    saved, error = await attempt(request, "config.save_extension", extension=ext)

`attempt` is for forms: a refusal of the input (`bad_request`) comes back as the message to
show next to what was typed; any other refusal (not_found, unavailable, ...) propagates to the
one ApiError handler in `webui.app`, which turns it into the HTTP status (JSON for /api routes).
A route that answers a refusal itself catches `ApiError` and takes the status from
`refusal_status(exc)`. An engine that does not answer in time is an ApiError("unavailable")
whichever client the web has (socket or in-process).
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from firmware.api import ApiError

from .guards import web

NO_ANSWER = "The PBX engine did not answer in time; try again in a moment."
REFUSAL_STATUS = {"bad_request": 400, "not_found": 404, "conflict": 409, "forbidden": 403, "unavailable": 503,
                  "too_large": 413, "internal": 500}


async def call(request: Request, name: str, /, **args: Any) -> Any:
    """Run engine API command `name`; refusals (and no answer in time) raise ApiError."""
    try:
        return await web(request).api.call(name, **args)
    except TimeoutError:
        raise ApiError("unavailable", NO_ANSWER) from None


async def attempt(request: Request, name: str, /, **args: Any) -> tuple[Any, str | None]:
    """(result, None), or (None, message) when the engine refused the input."""
    try:
        return await call(request, name, **args), None
    except ApiError as exc:
        if exc.code != "bad_request":
            raise
        return None, exc.message


def refusal_status(exc: ApiError) -> int:
    """The HTTP status of an engine refusal, for a route that answers it itself."""
    return REFUSAL_STATUS.get(exc.code, 500)


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
