"""Prompts page (administrators): the default spoken set and the owner's uploads, with preview.

Uploads (WAV or MP3, any rate/channels/bit depth) are converted by `firmware.prompts`
(sox, strict argument lists, size and duration caps); a refused file stores nothing.
Audio is served as 8 kHz WAV for the browser's own <audio> player.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .guards import AdminUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"uploaded": "Prompt uploaded and converted to 8 kHz.", "deleted": "Prompt deleted."}


def _prompts():
    from firmware import prompts
    return prompts


def _root(request: Request):
    return _prompts().prompts_root(web(request).config)


def _page(request: Request, *, status_code: int = 200, error: str | None = None, done: str = "",
          name: str = "") -> Response:
    p = _prompts()
    items = p.list_prompts(_root(request))
    return render(request, "prompts.html", status_code=status_code, title="Prompts", prompts=items,
                  languages=p.LANGUAGE_LABELS, error=error, flash=DONE.get(done), name=name,
                  max_mb=p.MAX_UPLOAD_BYTES // (1024 * 1024), max_s=int(p.MAX_UPLOAD_SECONDS))


def _tell_engine(request: Request, ref: str) -> None:
    def refresh(eng: Any) -> None:
        from firmware.apps.ivr import service_of
        svc = service_of(eng)
        if svc is not None:
            svc.refresh_prompt(ref)
    control = web(request).control
    if hasattr(control, "call"):
        control.call(refresh)


@router.get("/prompts")
async def prompts_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await run_in_threadpool(lambda: _page(request, done=done))


@router.post("/prompts/upload")
async def prompt_upload(request: Request, user: AdminUser) -> Response:
    p = _prompts()
    form = await request.form()
    name = form.get("name", "")
    name = name.strip().lower()[:60] if isinstance(name, str) else ""
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _page(request, status_code=400, error="Choose a WAV or MP3 file to upload.", name=name)
    root = _root(request)
    try:      # spooled to disk by the form parser; checked (soxi) before it is converted
        ref = await run_in_threadpool(lambda: p.save_upload(root, name, upload.file))
    except p.PromptError as exc:
        return _page(request, status_code=400, error=str(exc), name=name)
    _tell_engine(request, ref)
    return RedirectResponse("/prompts?done=uploaded", status_code=303)


@router.post("/prompts/custom/{slug}/delete")
async def prompt_delete(request: Request, slug: str, user: AdminUser) -> Response:
    p = _prompts()
    slug = slug[:60]
    ref = f"custom/{slug}"
    used = [m["id"] for m in _menus(request) if m.get("greeting") == ref]
    if used:
        return _page(request, status_code=400,
                     error=f"Prompt {slug!r} is the greeting of menu {', '.join(used[:5])}; pick another greeting first.")
    try:
        await run_in_threadpool(lambda: p.delete_upload(_root(request), slug))
    except p.PromptError as exc:
        return _page(request, status_code=400, error=str(exc))
    _tell_engine(request, ref)
    return RedirectResponse("/prompts?done=deleted", status_code=303)


def _menus(request: Request) -> list[dict]:
    from firmware.apps.ivr_store import menus
    return menus(web(request).config)


@router.get("/prompts/audio/{group}/{name}.wav")
async def prompt_audio(request: Request, group: str, name: str, user: AdminUser, lang: str = "en") -> Response:
    p = _prompts()
    ref = f"{group}/{name}"
    try:
        path = p.prompt_path(_root(request), ref, lang if lang in p.LANGUAGES else "en")
    except KeyError:
        return Response("No such prompt.", status_code=404, media_type="text/plain")
    if not path.is_file() and not ref.startswith("custom/"):
        path = p.prompt_path(_root(request), ref, "en")
    if not path.is_file():
        return Response("This prompt has not been generated yet.", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav")
