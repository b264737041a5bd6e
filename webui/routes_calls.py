"""Calls in progress for the live status page: the list (admins and supervisors) and an
administrator's hang-up. Both go to the engine API (`calls.list`, `calls.hangup`)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .engine_calls import call
from .guards import AdminUser, MonitorUser, csrf_guard

router = APIRouter(dependencies=[Depends(csrf_guard)])


@router.get("/api/calls")
async def calls_json(request: Request, user: MonitorUser) -> JSONResponse:
    calls = await call(request, "calls.list")      # a refusal: JSON {"error"} with its status (webui.app)
    return JSONResponse({"calls": calls, "can_hang_up": user.role == "admin"})


@router.post("/api/calls/{call_id}/hangup")
async def hang_up(request: Request, call_id: str, user: AdminUser) -> JSONResponse:
    if len(call_id) > 64:
        return JSONResponse({"error": "No such call."}, status_code=404)
    return JSONResponse(await call(request, "calls.hangup", call_id=call_id))
