"""Voicemail pages: messages (listen, download, delete, mark read), greetings, mailbox and SMTP settings.

Who sees what: an administrator sees every mailbox; any other user sees only the
mailbox of the extension linked to their account (none linked: nothing). Mailbox
numbers and message ids from the URL are checked against strict patterns before
they come near a path. Disk work runs in the thread pool; after a change the
engine is told (through `EngineControl`) to re-count the mailbox, which updates
the phone's message-waiting indication.
"""
from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .accounts import User
from .guards import AdminUser, AnyUser, RoleForbidden, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"deleted": "Message deleted.", "read": "Marked as read.", "greeting": "Greeting saved.",
        "greeting-deleted": "Greeting removed; callers hear the default one.", "mailbox": "Mailbox saved.",
        "settings": "Voicemail settings saved."}
UPLOAD_HINT = "WAV, 8000 Hz mono 16-bit, up to 15 seconds"
CONVERTED_HINT = "WAV or MP3, any rate (converted to 8 kHz); up to 256 KiB per upload"


def _vm():
    # Imported late, like the config error type elsewhere: the web UI imports without the engine.
    from firmware.apps import voicemail, voicemail_store
    return voicemail, voicemail_store


def _store(request: Request):
    voicemail, store_mod = _vm()
    root = voicemail.voicemail_root(web(request).config)
    return store_mod.VoicemailStore(root)


def _config_error() -> type[Exception]:
    from firmware.config import ConfigError
    return ConfigError


def _boxes_for(request: Request, user: User) -> list[str]:
    numbers = [e["number"] for e in web(request).config.extensions()]
    if user.role == "admin":
        return numbers
    return [user.extension] if user.extension in numbers else []


def _check_box(request: Request, user: User, box: str) -> str:
    _, store_mod = _vm()
    if not store_mod.EXTENSION_RE.fullmatch(box or "") or box not in _boxes_for(request, user):
        raise RoleForbidden(user.role)
    return box


def _tell_engine(request: Request, box: str) -> None:
    voicemail, _ = _vm()
    web(request).control.call(lambda eng: voicemail.refresh_mailbox(eng, box))


def _field(form: Any, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the page

def _page(request: Request, user: User, box: str | None, *, status_code: int = 200, error: str | None = None,
          done: str = "", typed: dict | None = None) -> Response:
    _, store_mod = _vm()
    boxes = _boxes_for(request, user)
    if box is None or box not in boxes:
        box = boxes[0] if boxes else None
    store = _store(request)
    config = web(request).config
    mailbox = store_mod.mailbox_config(config, box) if box else None
    new = store.messages(box, "new") if box else []
    saved = store.messages(box, "saved") if box else []
    greetings = {k: store.greeting_path(box, k).exists() for k in store_mod.GREETINGS} if box else {}
    return render(request, "voicemail.html", status_code=status_code, title="Voicemail", box=box,
                  boxes=boxes, mailbox=mailbox, new=new, saved=saved, greetings=greetings,
                  error=error, flash=DONE.get(done), typed=typed,
                  upload_hint=CONVERTED_HINT if upload_converter() is not None else UPLOAD_HINT,
                  is_admin=user.role == "admin")


@router.get("/voicemail")
async def voicemail_page(request: Request, user: AnyUser, box: str = "", done: str = "") -> Response:
    return await run_in_threadpool(lambda: _page(request, user, box or None, done=done))


def _back(box: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/voicemail?box={box}&done={done}", status_code=303)


# --------------------------------------------------------------------------- messages

@router.get("/voicemail/{box}/{message_id}.wav")
async def message_audio(request: Request, box: str, message_id: str, user: AnyUser,
                        download: str = "") -> Response:
    _check_box(request, user, box)
    msg = await run_in_threadpool(lambda: _store(request).find(box, message_id))
    if msg is None:
        return Response("No such message.", status_code=404, media_type="text/plain")
    name = f"voicemail-{box}-{msg.id}.wav"
    return FileResponse(msg.wav, media_type="audio/wav", filename=name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.post("/voicemail/{box}/{message_id}/read")
async def message_read(request: Request, box: str, message_id: str, user: AnyUser) -> Response:
    _check_box(request, user, box)
    store = _store(request)
    await run_in_threadpool(lambda: store.find(box, message_id) and store.save(box, message_id))
    _tell_engine(request, box)
    return _back(box, "read")


@router.post("/voicemail/{box}/{message_id}/delete")
async def message_delete(request: Request, box: str, message_id: str, user: AnyUser) -> Response:
    _check_box(request, user, box)
    store = _store(request)
    found = await run_in_threadpool(lambda: store.delete(box, message_id))
    if not found:
        return await run_in_threadpool(lambda: _page(request, user, box, status_code=404,
                                                     error="That message does not exist (already deleted?)."))
    _tell_engine(request, box)
    return _back(box, "deleted")


# --------------------------------------------------------------------------- greetings

def upload_converter() -> Any:
    """The prompt set's upload converter (`firmware.prompts.convert_upload`), or None."""
    try:
        from firmware import prompts  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(prompts, "convert_upload", None)


def upload_to_samples(data: bytes) -> np.ndarray:
    """An uploaded greeting as 8 kHz samples (ValueError with the reason).

    Conversion of other formats/rates is the prompts feature's converter
    (`firmware.prompts.convert_upload`, sox); without it only 8 kHz mono 16-bit
    WAV is accepted, with a message saying so."""
    convert = upload_converter()
    if convert is not None:
        return np.asarray(convert(data), dtype=np.int16)
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate, channels, width, comp = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getcomptype()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"The file is not a WAV file ({exc}). Upload a {UPLOAD_HINT}.") from None
    if (rate, channels, width, comp) != (8000, 1, 2, "NONE"):
        raise ValueError(f"The WAV is {rate} Hz, {channels} channel(s), {8 * width}-bit; upload a {UPLOAD_HINT} "
                         "(convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav).")
    samples = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)
    if len(samples) < 8000 // 2:
        raise ValueError("The greeting is shorter than half a second.")
    return samples


@router.post("/voicemail/{box}/greeting")
async def greeting_upload(request: Request, box: str, user: AnyUser) -> Response:
    _check_box(request, user, box)
    _, store_mod = _vm()
    form = await request.form()
    kind = _field(form, "kind", 20)
    upload = form.get("file")
    if kind not in store_mod.GREETINGS:
        error = "Choose which greeting this is: busy or unavailable."
    elif upload is None or isinstance(upload, str):
        error = "Choose a file to upload."
    else:
        data = await upload.read()
        try:
            samples = upload_to_samples(data)
        except ValueError as exc:
            error = str(exc)
        else:
            store = _store(request)
            await run_in_threadpool(lambda: store.set_greeting(box, kind, samples))
            return _back(box, "greeting")
    return await run_in_threadpool(lambda: _page(request, user, box, status_code=400, error=error))


@router.get("/voicemail/{box}/greetings/{kind}.wav")
async def greeting_audio(request: Request, box: str, kind: str, user: AnyUser) -> Response:
    _check_box(request, user, box)
    _, store_mod = _vm()
    if kind not in store_mod.GREETINGS:
        return Response("No such greeting.", status_code=404, media_type="text/plain")
    path = _store(request).greeting_path(box, kind)
    if not path.exists():
        return Response("No such greeting.", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="audio/wav")


@router.post("/voicemail/{box}/greetings/{kind}/delete")
async def greeting_delete(request: Request, box: str, kind: str, user: AnyUser) -> Response:
    _check_box(request, user, box)
    _, store_mod = _vm()
    if kind in store_mod.GREETINGS:
        store = _store(request)
        await run_in_threadpool(lambda: store.delete_greeting(box, kind))
    return _back(box, "greeting-deleted")


# --------------------------------------------------------------------------- mailbox settings

@router.post("/voicemail/{box}/mailbox")
async def mailbox_save(request: Request, box: str, user: AnyUser) -> Response:
    """PIN and e-mail (the mailbox's user or an admin); on/off (admin only)."""
    _check_box(request, user, box)
    _, store_mod = _vm()
    form = await request.form()
    pin = _field(form, "pin", 20).strip()
    changes: dict[str, Any] = {"email": _field(form, "email", 300), "pin": pin or None}
    if user.role == "admin":
        changes["enabled"] = form.get("enabled") in ("on", "true", "1")
    config = web(request).config
    mailbox = store_mod.mailbox_config(config, box)
    try:
        await run_in_threadpool(lambda: store_mod.save_mailbox(config, box, **changes))
    except _config_error() as exc:
        message = str(exc)
        typed = {"email": changes["email"],
                 "enabled": changes.get("enabled", (mailbox or {}).get("enabled"))}    # what was typed stays
        return await run_in_threadpool(lambda: _page(request, user, box, status_code=400, error=message,
                                                     typed=typed))
    if pin:
        voicemail, _ = _vm()
        web(request).control.call(lambda eng: (svc := voicemail.service_of(eng)) and svc.unlock(box))
    _tell_engine(request, box)
    return _back(box, "mailbox")


# --------------------------------------------------------------------------- SMTP and general settings

def _settings_page(request: Request, *, status_code: int = 200, error: str | None = None,
                   form: dict | None = None, done: str = "") -> Response:
    _, store_mod = _vm()
    current = store_mod.settings(web(request).config)
    shown = {k: v for k, v in (form or current).items() if k != "smtp_password"}
    return render(request, "voicemail_settings.html", status_code=status_code, title="Voicemail settings",
                  form=shown, password_stored=bool(current.get("smtp_password")),
                  securities=store_mod.SMTP_SECURITY, error=error, flash=DONE.get(done),
                  extensions=web(request).config.extensions())


@router.get("/voicemail/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _settings_page(request, done=done)


@router.post("/voicemail/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    _, store_mod = _vm()
    form = await request.form()
    changes = {k: _field(form, k) for k in ("operator", "max_message_s", "smtp_host", "smtp_port",
                                             "smtp_security", "smtp_user", "smtp_password", "smtp_from")}
    config = web(request).config
    try:
        await run_in_threadpool(lambda: store_mod.save_settings(config, changes))
    except _config_error() as exc:
        return _settings_page(request, status_code=400, error=str(exc), form=changes)
    return RedirectResponse("/voicemail/settings?done=settings", status_code=303)
