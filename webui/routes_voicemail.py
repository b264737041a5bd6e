"""Voicemail pages: messages (listen, download, delete, mark read), greetings, mailbox and SMTP settings.

Who sees what: an administrator sees every mailbox; any other user sees only the
mailbox of the extension linked to their account (none linked: nothing). Every read and
change is an engine API command (voicemail.*, firmware/apps/voicemail_commands.py); the
engine checks mailbox numbers and message ids against strict patterns before they come near
a path, and after a change updates the phone's message-waiting indication. The web serves
message and greeting audio read-only from the paths the engine names.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from firmware.api import ApiError

from .accounts import User
from .engine_calls import attempt, call, spool_upload
from .guards import AdminUser, AnyUser, RoleForbidden, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"deleted": "Message deleted.", "read": "Marked as read.", "greeting": "Greeting saved.",
        "greeting-deleted": "Greeting removed; callers hear the default one.", "mailbox": "Mailbox saved.",
        "settings": "Voicemail settings saved."}
UPLOAD_HINT = "WAV, 8000 Hz mono 16-bit, up to 15 seconds"
CONVERTED_HINT = "WAV or MP3, 4 to 192 kHz (converted to 8 kHz); up to 60 seconds and 2 MB"
GREETINGS = ("busy", "unavailable")
UPLOAD_MAX_BYTES = 2 * 1024 * 1024           # the engine refuses more (voicemail.set_greeting)


async def _boxes_for(request: Request, user: User) -> list[str]:
    numbers = [e["number"] for e in await call(request, "config.extensions")]
    if user.role == "admin":
        return numbers
    return [user.extension] if user.extension in numbers else []


async def _check_box(request: Request, user: User, box: str) -> str:
    if box not in await _boxes_for(request, user):
        raise RoleForbidden(user.role)
    return box


def _field(form: Any, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the page

async def _page(request: Request, user: User, box: str | None, *, status_code: int = 200,
                error: str | None = None, done: str = "", typed: dict | None = None) -> Response:
    boxes = await _boxes_for(request, user)
    if box is None or box not in boxes:
        box = boxes[0] if boxes else None
    shown = await call(request, "voicemail.mailbox", box=box) if box else None
    return render(request, "voicemail.html", status_code=status_code, title="Voicemail", box=box,
                  boxes=boxes, mailbox=shown["mailbox"] if shown else None,
                  new=shown["new"] if shown else [], saved=shown["saved"] if shown else [],
                  greetings=shown["greetings"] if shown else {}, error=error, flash=DONE.get(done), typed=typed,
                  upload_hint=CONVERTED_HINT if shown and shown["converts_uploads"] else UPLOAD_HINT,
                  is_admin=user.role == "admin")


@router.get("/voicemail")
async def voicemail_page(request: Request, user: AnyUser, box: str = "", done: str = "") -> Response:
    return await _page(request, user, box or None, done=done)


def _back(box: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/voicemail?box={box}&done={done}", status_code=303)


# --------------------------------------------------------------------------- messages

@router.get("/voicemail/{box}/{message_id}.wav")
async def message_audio(request: Request, box: str, message_id: str, user: AnyUser,
                        download: str = "") -> Response:
    await _check_box(request, user, box)
    try:
        path = await call(request, "voicemail.message_file", box=box, message_id=message_id)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return Response("No such message.", status_code=404, media_type="text/plain")
    name = f"voicemail-{box}-{message_id}.wav"
    return FileResponse(path, media_type="audio/wav", filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.post("/voicemail/{box}/{message_id}/read")
async def message_read(request: Request, box: str, message_id: str, user: AnyUser) -> Response:
    await _check_box(request, user, box)
    await call(request, "voicemail.mark_read", box=box, message_id=message_id)
    return _back(box, "read")


@router.post("/voicemail/{box}/{message_id}/delete")
async def message_delete(request: Request, box: str, message_id: str, user: AnyUser) -> Response:
    await _check_box(request, user, box)
    try:
        await call(request, "voicemail.delete_message", box=box, message_id=message_id)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return await _page(request, user, box, status_code=404, error=exc.message)
    return _back(box, "deleted")


# --------------------------------------------------------------------------- greetings

@router.post("/voicemail/{box}/greeting")
async def greeting_upload(request: Request, box: str, user: AnyUser) -> Response:
    await _check_box(request, user, box)
    form = await request.form()
    kind = _field(form, "kind", 20)
    upload = form.get("file")
    if kind not in GREETINGS:
        error: str | None = "Choose which greeting this is: busy or unavailable."
    elif upload is None or isinstance(upload, str):
        error = "Choose a file to upload."
    else:
        name = await spool_upload(request, upload, UPLOAD_MAX_BYTES)
        _, error = await attempt(request, "voicemail.set_greeting", box=box, kind=kind, upload=name)
        if error is None:
            return _back(box, "greeting")
    return await _page(request, user, box, status_code=400, error=error)


@router.get("/voicemail/{box}/greetings/{kind}.wav")
async def greeting_audio(request: Request, box: str, kind: str, user: AnyUser) -> Response:
    await _check_box(request, user, box)
    try:
        path = await call(request, "voicemail.greeting_file", box=box, kind=kind)
    except ApiError as exc:
        if exc.code != "not_found":
            raise
        return Response("No such greeting.", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav")


@router.post("/voicemail/{box}/greetings/{kind}/delete")
async def greeting_delete(request: Request, box: str, kind: str, user: AnyUser) -> Response:
    await _check_box(request, user, box)
    await call(request, "voicemail.delete_greeting", box=box, kind=kind)
    return _back(box, "greeting-deleted")


# --------------------------------------------------------------------------- mailbox settings

@router.post("/voicemail/{box}/mailbox")
async def mailbox_save(request: Request, box: str, user: AnyUser) -> Response:
    """PIN and e-mail (the mailbox's user or an admin); on/off (admin only)."""
    await _check_box(request, user, box)
    form = await request.form()
    pin = _field(form, "pin", 20).strip()
    changes: dict[str, Any] = {"email": _field(form, "email", 300), "pin": pin or None}
    if user.role == "admin":
        changes["enabled"] = form.get("enabled") in ("on", "true", "1")
    _, error = await attempt(request, "voicemail.save_mailbox", box=box, **changes)
    if error:
        typed = {"email": changes["email"], "enabled": changes.get("enabled")}     # what was typed stays
        if "enabled" not in changes:
            shown = await call(request, "voicemail.mailbox", box=box)
            typed["enabled"] = (shown.get("mailbox") or {}).get("enabled")
        return await _page(request, user, box, status_code=400, error=error, typed=typed)
    return _back(box, "mailbox")


# --------------------------------------------------------------------------- SMTP and general settings

async def _settings_page(request: Request, *, status_code: int = 200, error: str | None = None,
                         form: dict | None = None, done: str = "") -> Response:
    current = await call(request, "voicemail.settings")
    shown = {k: v for k, v in (form or current).items() if k != "smtp_password"}
    return render(request, "voicemail_settings.html", status_code=status_code, title="Voicemail settings",
                  form=shown, password_stored=current["password_stored"],
                  securities=current["securities"], error=error, flash=DONE.get(done),
                  extensions=await call(request, "config.extensions"))


@router.get("/voicemail/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _settings_page(request, done=done)


@router.post("/voicemail/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    changes = {k: _field(form, k) for k in ("operator", "max_message_s", "smtp_host", "smtp_port",
                                             "smtp_security", "smtp_user", "smtp_password", "smtp_from")}
    _, error = await attempt(request, "voicemail.save_settings", changes=changes)
    if error:
        return await _settings_page(request, status_code=400, error=error, form=changes)
    return RedirectResponse("/voicemail/settings?done=settings", status_code=303)
