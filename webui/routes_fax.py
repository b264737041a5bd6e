"""Fax inbox: the faxes received for the fax box of the user's extension (administrators: any box).

A user sees, downloads (PDF, TIFF) and deletes the faxes of their own box only; an administrator
those of every box. Each box has its e-mail recipients (who gets each fax as PDF). Every read and
write is an engine API command (fax.*: firmware/fax/commands.py, receive_commands.py); the web
serves the file the engine names, read-only, under a file name the engine built from digits.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from firmware.api import ApiError

from .accounts import User
from .engine_calls import attempt, call
from .guards import AdminUser, AnyUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"deleted": "Fax deleted.", "addresses": "E-mail recipients saved.",
        "detect": "Fax detection saved."}
FORMATS = ("pdf", "tiff")


async def _boxes_for(request: Request, user: User) -> list[str]:
    numbers = [e["number"] for e in await call(request, "config.extensions")]
    if user.role == "admin":
        return numbers
    return [user.extension] if user.extension in numbers else []


def _field(form: Any, name: str, limit: int = 4000) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, user: User, box: str = "", done: str = "", error: str | None = None,
                addresses: str | None = None, status_code: int = 200) -> Response:
    boxes = await _boxes_for(request, user)
    if box not in boxes:
        box = boxes[0] if boxes else ""
    faxes = (await call(request, "fax.inbox", box=box))["faxes"] if box else []
    mail = await call(request, "fax.addresses", box=box) if box else None
    if addresses is None and mail is not None:
        addresses = "\n".join(mail["own"])
    detect = (await call(request, "fax.detect_list"))["lines"] if user.role == "admin" else None
    return render(request, "fax.html", status_code=status_code, title="Fax inbox", box=box, boxes=boxes,
                  faxes=faxes, mail=mail, addresses=addresses or "", flash=DONE.get(done), error=error,
                  detect=detect)


def _not_yours() -> Response:
    # The same answer for "not your box" and "no such fax": nothing is learnt about other boxes.
    return Response("No such fax in your fax box.", status_code=404, media_type="text/plain")


@router.get("/fax")
async def fax_inbox_page(request: Request, user: AnyUser, box: str = "", done: str = "") -> Response:
    return await _page(request, user, box, done)


@router.get("/fax/{fid}/{fmt}")
async def fax_download(request: Request, fid: int, fmt: str, user: AnyUser, box: str = "") -> Response:
    if fmt not in FORMATS:
        return Response("Download a fax as pdf or tiff.", status_code=404, media_type="text/plain")
    if box not in await _boxes_for(request, user):
        return _not_yours()
    try:
        doc = await call(request, "fax.document", box=box, id=fid, format=fmt)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return Response(exc.message, status_code=404, media_type="text/plain")
    return FileResponse(doc["path"], media_type=doc["media_type"], filename=doc["filename"],
                        content_disposition_type="attachment")


@router.post("/fax/{fid}/delete")
async def fax_delete(request: Request, fid: int, user: AnyUser) -> Response:
    box = _field(await request.form(), "box", 12)
    if box not in await _boxes_for(request, user):
        return _not_yours()
    try:
        await call(request, "fax.delete", box=box, id=fid)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return await _page(request, user, box, error=exc.message, status_code=404)
    return RedirectResponse(f"/fax?box={box}&done=deleted", status_code=303)


@router.post("/fax/detect")
async def fax_detect_save(request: Request, user: AdminUser) -> Response:
    """Administrators: a line's fax box for fax detection (empty: off)."""
    form = await request.form()
    line, box = _field(form, "line", 12), _field(form, "box", 12)
    _saved, error = await attempt(request, "fax.detect_set", line=line, box=box)
    if error:
        return await _page(request, user, error=error, status_code=400)
    return RedirectResponse("/fax?done=detect", status_code=303)


@router.post("/fax/addresses")
async def fax_addresses_save(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    box, addresses = _field(form, "box", 12), _field(form, "addresses")
    if box not in await _boxes_for(request, user):
        return _not_yours()
    _saved, error = await attempt(request, "fax.addresses_set", box=box, addresses=addresses)
    if error:
        return await _page(request, user, box, error=error, addresses=addresses, status_code=400)
    return RedirectResponse(f"/fax?box={box}&done=addresses", status_code=303)
