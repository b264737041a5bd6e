"""Prompts page (administrators): the default spoken set and the owner's uploads, with preview.

Uploads (WAV or MP3, any rate/channels/bit depth) are streamed into the spool folder and
handed to the engine (`prompts.upload`, firmware/prompts_commands.py), which converts them
(sox, strict argument lists, size and duration caps); a refused file stores nothing.
Audio is served read-only as 8 kHz WAV, from the file the engine names, for the browser's
own <audio> player.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from firmware.api import ApiError

from .engine_calls import attempt, call, spool_upload
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"uploaded": "Prompt uploaded and converted to 8 kHz.", "deleted": "Prompt deleted."}


async def _page(request: Request, *, status_code: int = 200, error: str | None = None, done: str = "",
                name: str = "") -> Response:
    data = await call(request, "prompts.list")
    return render(request, "prompts.html", status_code=status_code, title="Prompts", prompts=data["prompts"],
                  languages=data["languages"], error=error, flash=DONE.get(done), name=name,
                  max_mb=data["max_bytes"] // (1024 * 1024), max_s=int(data["max_seconds"]))


@router.get("/prompts")
async def prompts_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _page(request, done=done)


@router.post("/prompts/upload")
async def prompt_upload(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    name = form.get("name", "")
    name = name.strip().lower()[:60] if isinstance(name, str) else ""
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _page(request, status_code=400, error="Choose a WAV or MP3 file to upload.", name=name)
    limits = await call(request, "prompts.list")
    spooled = await spool_upload(request, upload, int(limits["max_bytes"]))
    _, error = await attempt(request, "prompts.upload", slug=name, upload=spooled)
    if error:
        return await _page(request, status_code=400, error=error, name=name)
    return RedirectResponse("/prompts?done=uploaded", status_code=303)


@router.post("/prompts/custom/{slug}/delete")
async def prompt_delete(request: Request, slug: str, user: AdminUser) -> Response:
    _, error = await attempt(request, "prompts.delete", slug=slug[:60])
    if error:
        return await _page(request, status_code=400, error=error)
    return RedirectResponse("/prompts?done=deleted", status_code=303)


@router.get("/prompts/audio/{group}/{name}.wav")
async def prompt_audio(request: Request, group: str, name: str, user: AdminUser, lang: str = "en") -> Response:
    try:
        path = await call(request, "prompts.file", ref=f"{group}/{name}", language=lang)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return Response(exc.message, status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav")
