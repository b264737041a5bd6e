"""How a route reaches the engine: named engine API commands, nothing else.

    rows = await call(request, "config.extensions")
    saved, error = await attempt(request, "config.save_extension", extension=ext)

`attempt` is for forms: a refusal of the input (`bad_request`) comes back as the message to
show next to what was typed; any other refusal (not_found, unavailable, ...) propagates to the
one ApiError handler in `webui.app`, which turns it into the HTTP status.
"""
from __future__ import annotations

from typing import Any

from fastapi import Request

from firmware.api import ApiError

from .guards import web


async def call(request: Request, name: str, **args: Any) -> Any:
    """Run engine API command `name`; refusals raise ApiError."""
    return await web(request).api.call(name, **args)


async def attempt(request: Request, name: str, **args: Any) -> tuple[Any, str | None]:
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
