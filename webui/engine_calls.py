"""Calling the engine API from a route: an engine refusal becomes a plain HTTP error."""
from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from firmware.api import ApiError

from .guards import web

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
