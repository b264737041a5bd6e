"""Recordings pages: recorded calls (listen, download, delete), the recording policy, the conference room.

Administrators and supervisors may listen and download; only administrators delete and
configure. File names from the URL must match the recording name pattern before they
come near a path (no traversal). Disk work runs in the thread pool; the engine reads the
new policy through the config listener.
"""
from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .guards import AdminUser, MonitorUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"deleted": "Recording deleted.", "settings": "Recording settings saved.",
        "conference": "Conference room saved."}
PAGE_SIZE = 200


def _store():
    from firmware.apps import recording_store
    return recording_store


def _root(request: Request):
    return _store().recordings_root(web(request).config)


def _field(form: Any, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _rows(request: Request, call: str = "", q: str = "") -> list[dict]:
    """Recordings on disk, each with its call record (if the records still have it)."""
    store = _store()
    files = store.listing(_root(request))
    records = web(request).records
    ids = list(dict.fromkeys(f.call_id for f in files))[:1000]
    calls: dict[str, dict] = {}
    for call_id in ids:
        rec = records.get(call_id)
        if rec is not None:
            calls[call_id] = rec
    triggers: dict[str, str] = {}
    if files:
        try:
            for r in records.query("SELECT file, trigger FROM call_recordings"):
                triggers[r["file"]] = r["trigger"]
        except Exception:          # an older records database without the table: no triggers shown
            pass
    out = []
    q = q.strip().lower()
    for f in files:
        rec = calls.get(f.call_id, {})
        row = {"name": f.name, "start": f.start, "seconds": f.seconds, "bytes": f.bytes,
               "call_id": f.call_id, "src": rec.get("src") or f.src, "dst": rec.get("dst") or f.dst,
               "caller_name": rec.get("caller_id_name") or "", "direction": rec.get("direction") or "",
               "disposition": rec.get("disposition") or "", "trigger": triggers.get(f.name, "")}
        if call and f.call_id != call:
            continue
        if q and not any(q in str(row[k]).lower() for k in ("src", "dst", "caller_name", "call_id")):
            continue
        out.append(row)
    return out[:PAGE_SIZE]


def _status(request: Request) -> dict:
    store = _store()
    root = _root(request)
    s = store.settings(web(request).config)
    free_mb = None
    if root is not None:
        probe = root if root.is_dir() else root.parent
        try:
            free_mb = shutil.disk_usage(probe).free >> 20
        except OSError:
            free_mb = None
    marked = root is not None and (root / store.DISK_LOW_MARK).exists()
    low = marked or (free_mb is not None and free_mb < int(s["min_free_mb"]))
    total = sum(f.bytes for f in store.listing(root)) if root is not None else 0
    return {"free_mb": free_mb, "disk_low": low, "total_mb": round(total / 1048576, 1), "settings": s}


def _page(request: Request, user, call: str = "", q: str = "", done: str = "", error: str | None = None,
          status_code: int = 200) -> Response:
    return render(request, "recordings.html", status_code=status_code, title="Recordings",
                  rows=_rows(request, call, q), status=_status(request), call=call[:40], q=q[:60],
                  flash=DONE.get(done), error=error, is_admin=user.role == "admin")


@router.get("/recordings")
async def recordings_page(request: Request, user: MonitorUser, call: str = "", q: str = "",
                          done: str = "") -> Response:
    return await run_in_threadpool(lambda: _page(request, user, call, q, done))


@router.get("/api/recordings")
async def recordings_api(request: Request, user: MonitorUser, call: str = "") -> Response:
    """Recordings of a call (or all, newest first) for the call history: name, start, seconds, url."""
    rows = await run_in_threadpool(lambda: _rows(request, call))
    return JSONResponse([{"name": r["name"], "call_id": r["call_id"], "start": r["start"],
                          "seconds": r["seconds"], "url": f"/recordings/file/{r['name']}"} for r in rows])


@router.get("/recordings/file/{name}")
async def recording_audio(request: Request, name: str, user: MonitorUser, download: str = "") -> Response:
    path = _store().find(_root(request), name)
    if path is None:
        return Response("No such recording (deleted, or removed by the retention limits).",
                        status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav", filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.post("/recordings/file/{name}/delete")
async def recording_delete(request: Request, name: str, user: AdminUser) -> Response:
    found = await run_in_threadpool(lambda: _store().delete(_root(request), name))
    if not found:
        return await run_in_threadpool(lambda: _page(request, user, status_code=404,
                                                     error="That recording does not exist (already deleted?)."))
    return RedirectResponse("/recordings?done=deleted", status_code=303)


# --------------------------------------------------------------------------- policy

def _settings_page(request: Request, values: dict | None = None, error: str | None = None,
                   status_code: int = 200, done: str = "") -> Response:
    store = _store()
    config = web(request).config
    s = values if values is not None else store.settings(config)
    return render(request, "recordings_settings.html", status_code=status_code, title="Recording settings",
                  s=s, extensions=config.extensions(), lines=config.lines(),
                  groups=sorted(store.group_numbers(config)), error=error, flash=DONE.get(done),
                  status=_status(request))


@router.get("/recordings/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await run_in_threadpool(lambda: _settings_page(request, done=done))


@router.post("/recordings/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    from firmware.config import ConfigError
    form = await request.form()
    raw = {"extensions": [v for v in form.getlist("extensions") if isinstance(v, str)][:64],
           "lines": [v for v in form.getlist("lines") if isinstance(v, str)][:16],
           "groups": [v for v in form.getlist("groups") if isinstance(v, str)][:64],
           "on_demand": _field(form, "on_demand", 5) == "on",
           "retention_days": _field(form, "retention_days", 12),
           "max_total_mb": _field(form, "max_total_mb", 12),
           "min_free_mb": _field(form, "min_free_mb", 12)}
    try:
        await run_in_threadpool(lambda: _store().save_settings(web(request).config, raw))
    except ConfigError as exc:
        message = str(exc)
        return await run_in_threadpool(lambda: _settings_page(request, raw, message, 400))
    return RedirectResponse("/recordings/settings?done=settings", status_code=303)


# --------------------------------------------------------------------------- conference room

def _conference_page(request: Request, values: dict | None = None, error: str | None = None,
                     status_code: int = 200, done: str = "") -> Response:
    from firmware.apps import conference
    room = values if values is not None else conference.room_settings(web(request).config)
    return render(request, "recordings_conference.html", status_code=status_code, title="Conference room",
                  room=room, code=conference.ROOM_CODE, capacity=conference.ROOM_CAPACITY,
                  error=error, flash=DONE.get(done))


@router.get("/conference")
async def conference_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await run_in_threadpool(lambda: _conference_page(request, done=done))


@router.post("/conference")
async def conference_save(request: Request, user: AdminUser) -> Response:
    from firmware.apps import conference
    from firmware.config import ConfigError
    form = await request.form()
    number, pin = _field(form, "number", 20), _field(form, "pin", 20)
    try:
        await run_in_threadpool(lambda: conference.save_room_settings(web(request).config, number, pin))
    except ConfigError as exc:
        message = str(exc)
        return await run_in_threadpool(lambda: _conference_page(request, {"number": number, "pin": ""},
                                                                message, 400))
    return RedirectResponse("/conference?done=conference", status_code=303)
