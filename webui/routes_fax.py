"""Fax inbox: the faxes received for the fax box of the user's extension (administrators: any box).

Every read is an engine API command (fax.*, firmware/fax/commands.py).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .accounts import User
from .engine_calls import call
from .guards import AnyUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])


async def _boxes_for(request: Request, user: User) -> list[str]:
    numbers = [e["number"] for e in await call(request, "config.extensions")]
    if user.role == "admin":
        return numbers
    return [user.extension] if user.extension in numbers else []


@router.get("/fax")
async def fax_inbox_page(request: Request, user: AnyUser, box: str = "") -> Response:
    boxes = await _boxes_for(request, user)
    if box not in boxes:
        box = boxes[0] if boxes else ""
    faxes = (await call(request, "fax.inbox", box=box))["faxes"] if box else []
    return render(request, "fax.html", title="Fax inbox", box=box, boxes=boxes, faxes=faxes)
