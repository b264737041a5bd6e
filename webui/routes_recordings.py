"""Recordings pages: recorded calls (listen, download, delete), the recording policy, the conference room.

Administrators and supervisors may listen and download; only administrators delete and
configure. Everything goes through engine API commands (recordings.*, conference.*:
firmware/apps/recording_commands.py); the engine checks file names against the recording name
pattern before they come near a path, and the web serves the file it names read-only.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from firmware.api import ApiError

from .engine_calls import attempt
from .engine_calls import call as engine_call  # `call` is also a query parameter (a call id) here
from .guards import AdminUser, MonitorUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"deleted": "Recording deleted.", "settings": "Recording settings saved.",
        "conference": "Conference room saved."}


def _field(form: Any, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, user, call_id: str = "", q: str = "", done: str = "",
                error: str | None = None, status_code: int = 200) -> Response:
    rows = await engine_call(request, "recordings.list", call=call_id[:40], q=q[:60])
    return render(request, "recordings.html", status_code=status_code, title="Recordings",
                  rows=rows, status=await engine_call(request, "recordings.status"), call=call_id[:40], q=q[:60],
                  flash=DONE.get(done), error=error, is_admin=user.role == "admin")


@router.get("/recordings")
async def recordings_page(request: Request, user: MonitorUser, call: str = "", q: str = "",
                          done: str = "") -> Response:
    return await _page(request, user, call, q, done)


@router.get("/api/recordings")
async def recordings_api(request: Request, user: MonitorUser, call: str = "") -> Response:
    """Recordings of a call (or all, newest first) for the call history: name, start, seconds, url."""
    rows = await engine_call(request, "recordings.list", call=call[:40])
    return JSONResponse([{"name": r["name"], "call_id": r["call_id"], "start": r["start"],
                          "seconds": r["seconds"], "url": f"/recordings/file/{r['name']}"} for r in rows])


@router.get("/recordings/file/{name}")
async def recording_audio(request: Request, name: str, user: MonitorUser, download: str = "") -> Response:
    try:
        path = await engine_call(request, "recordings.file", file=name)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return Response(exc.message, status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav", filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.post("/recordings/file/{name}/delete")
async def recording_delete(request: Request, name: str, user: AdminUser) -> Response:
    try:
        await engine_call(request, "recordings.delete", file=name)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return await _page(request, user, status_code=404, error=exc.message)
    return RedirectResponse("/recordings?done=deleted", status_code=303)


# --------------------------------------------------------------------------- policy

async def _settings_page(request: Request, values: dict | None = None, error: str | None = None,
                         status_code: int = 200, done: str = "") -> Response:
    data = await engine_call(request, "recordings.settings")
    return render(request, "recordings_settings.html", status_code=status_code, title="Recording settings",
                  s=values if values is not None else data["settings"], extensions=data["extensions"],
                  lines=data["lines"], groups=data["groups"], error=error, flash=DONE.get(done),
                  status=await engine_call(request, "recordings.status"))


@router.get("/recordings/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _settings_page(request, done=done)


@router.post("/recordings/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    raw = {"extensions": [v for v in form.getlist("extensions") if isinstance(v, str)][:64],
           "lines": [v for v in form.getlist("lines") if isinstance(v, str)][:16],
           "groups": [v for v in form.getlist("groups") if isinstance(v, str)][:64],
           "on_demand": _field(form, "on_demand", 5) == "on",
           "retention_days": _field(form, "retention_days", 12),
           "max_total_mb": _field(form, "max_total_mb", 12),
           "min_free_mb": _field(form, "min_free_mb", 12)}
    _, error = await attempt(request, "recordings.save_settings", settings=raw)
    if error:
        return await _settings_page(request, raw, error, 400)
    return RedirectResponse("/recordings/settings?done=settings", status_code=303)


# --------------------------------------------------------------------------- conference room

async def _conference_page(request: Request, values: dict | None = None, error: str | None = None,
                           status_code: int = 200, done: str = "") -> Response:
    room = await engine_call(request, "conference.room")
    return render(request, "recordings_conference.html", status_code=status_code, title="Conference room",
                  room=values if values is not None else room, code=room["code"], capacity=room["capacity"],
                  error=error, flash=DONE.get(done))


@router.get("/conference")
async def conference_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _conference_page(request, done=done)


@router.post("/conference")
async def conference_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    number, pin = _field(form, "number", 20), _field(form, "pin", 20)
    _, error = await attempt(request, "conference.save_room", number=number, pin=pin)
    if error:
        return await _conference_page(request, {"number": number, "pin": ""}, error, 400)
    return RedirectResponse("/conference?done=conference", status_code=303)
