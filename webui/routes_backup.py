"""Backup & restore page (administrators).

"Back up now" starts the engine's backup job (`backup.create`, firmware/backup/commands.py: the
archive is written by a niced worker child, which can take minutes on a card full of recordings);
the page shows the job's progress (`/api/backup/job/N`, polled by static/backup.js) and, when
it is done, the download link; the kept archives are listed for download. A restore upload is streamed into the spool folder
and handed to `backup.restore`, which checks every member before anything is replaced; a refused
archive is shown with its reason and nothing changes.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from firmware.api import ApiError

from .engine_calls import attempt, call, spool_upload
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"created": "Backup made; download it below and keep it somewhere safe.",
        "restored": "Backup restored. The state before the restore was kept as an archive below."}


async def _page(request: Request, *, status_code: int = 200, error: str | None = None, done: str = "",
                job: int = 0, archive: str = "") -> Response:
    data = await call(request, "backup.list")
    running = await call(request, "backup.job", job=0)
    if job and running.get("job") != job:
        try:
            running = await call(request, "backup.job", job=job)
        except ApiError as exc:
            if exc.code != "not_found":
                raise
            running = {"state": "none"}
    if job and running.get("job") == job and not error:
        if running.get("state") == "failed":
            error = running.get("error")
        elif running.get("state") == "done" and not done:       # (a reload without the script)
            done, archive = "created", str(running.get("name", ""))
    ready = next((a for a in data["archives"] if a["name"] == archive), None) if done == "created" else None
    return render(request, "backup.html", status_code=status_code, title="Backup & restore",
                  archives=data["archives"], max_mb=int(data["max_bytes"]) // (1024 * 1024), error=error,
                  flash=DONE.get(done), ready=ready, job=running if running.get("state") == "running" else None)


@router.get("/backup")
async def backup_page(request: Request, user: AdminUser, done: str = "", job: int = 0, archive: str = "") -> Response:
    return await _page(request, done=done, job=job, archive=archive[:80])


@router.post("/backup/create")
async def backup_create(request: Request, user: AdminUser) -> Response:
    try:
        started = await call(request, "backup.create")
    except ApiError as exc:
        if exc.code != "conflict":
            raise
        return await _page(request, status_code=409, error=exc.message)
    return RedirectResponse(f"/backup?job={int(started['job'])}", status_code=303)


@router.get("/api/backup/job/{job}")
async def backup_job(request: Request, job: int, user: AdminUser) -> Response:
    """A backup job's progress, for the page's script (JSON: state, percent, name when done)."""
    return JSONResponse(await call(request, "backup.job", job=job))


@router.get("/backup/download/{archive}")
async def backup_download(request: Request, archive: str, user: AdminUser) -> Response:
    try:
        path = await call(request, "backup.file", archive=archive[:80])
    except ApiError as exc:
        if exc.code not in ("not_found", "bad_request"):
            raise
        return Response(exc.message, status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="application/gzip", filename=archive)


@router.post("/backup/restore")
async def backup_restore(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _page(request, status_code=400, error="Choose a backup archive (.tar.gz) to restore.")
    limits = await call(request, "backup.list")
    spooled = await spool_upload(request, upload, int(limits["max_bytes"]))
    try:
        _, error = await attempt(request, "backup.restore", upload=spooled)
    except ApiError as exc:
        if exc.code not in ("conflict", "too_large", "not_found"):
            raise
        error = exc.message
    if error:
        return await _page(request, status_code=400, error=error)
    return RedirectResponse("/backup?done=restored", status_code=303)
