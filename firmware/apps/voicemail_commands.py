"""Engine API commands of voicemail: mailboxes, messages, greetings, voicemail / SMTP settings.

The engine is the one writer of the mailboxes (message files and greetings) and of the
voicemail configuration. After a change that the phones should show (message waiting), the
store command queues a refresh of that mailbox onto the media thread. Mailbox numbers, message
ids and greeting kinds are checked against strict patterns before they come near a path.
Who may open which mailbox is the caller's decision (the web: administrators all, others the
mailbox of their own extension).
"""
from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np

from ..api import ApiContext, ApiError, command
from ..api_refusals import refusals
from ..api_uploads import take_upload
from . import voicemail, voicemail_store

UPLOAD_HINT = "WAV, 8000 Hz mono 16-bit, up to 15 seconds"
CONVERTED_HINT = "WAV or MP3, 4 to 192 kHz (converted to 8 kHz); up to 60 seconds and 2 MB"
GREETING_MAX_BYTES = 2 * 1024 * 1024       # as firmware.prompts.MAX_GREETING_BYTES
GREETING_MAX_SECONDS = 60.0


def upload_converter() -> Any:
    """The prompt set's upload converter (`firmware.prompts.convert_upload`), or None."""
    try:
        from .. import prompts
    except ImportError:
        return None
    return getattr(prompts, "convert_upload", None)


def upload_to_samples(data: bytes) -> np.ndarray:
    """An uploaded greeting as 8 kHz samples (ValueError with the reason).

    Other formats and rates go through the prompts' converter (`firmware.prompts.convert_upload`,
    sox); without it only 8 kHz mono 16-bit WAV is accepted, with a message saying so."""
    convert = upload_converter()
    if convert is not None:
        return np.asarray(convert(data, max_seconds=GREETING_MAX_SECONDS, max_bytes=GREETING_MAX_BYTES),
                          dtype=np.int16)
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


def _store(ctx: ApiContext) -> voicemail_store.VoicemailStore:
    root = voicemail.voicemail_root(ctx.config)
    if root is None:
        raise ApiError("unavailable", "Voicemail has no folder (the configuration has no file).")
    return voicemail_store.VoicemailStore(root)


def _box(box: str) -> str:
    if not voicemail_store.EXTENSION_RE.fullmatch(box or ""):
        raise ApiError("bad_request", f"Mailbox {str(box)[:10]!r} is not an extension number (2 to 6 digits).")
    return box


def _kind(kind: str) -> str:
    if kind not in voicemail_store.GREETINGS:
        raise ApiError("bad_request", "Choose which greeting this is: busy or unavailable.")
    return kind


def _refresh(ctx: ApiContext, box: str, unlock: bool = False) -> None:
    def apply(eng: Any) -> None:
        if unlock:
            svc = voicemail.service_of(eng)
            if svc is not None:
                svc.unlock(box)
        voicemail.refresh_mailbox(eng, box)
    ctx.on_media(apply)


def _public(mailbox: dict) -> dict:
    """A mailbox's settings as shown to users: the PIN hash never leaves the engine."""
    return {k: v for k, v in mailbox.items() if k != "pin_hash"} | {"pin_set": bool(mailbox.get("pin_hash"))}


# ---------------------------------------------------------------- mailbox and messages

@command("voicemail.mailbox")
def mailbox(ctx: ApiContext, box: str) -> dict:
    """A mailbox for its page: {"mailbox": {extension, enabled, email, pin_set}, "new": [...],
    "saved": [...] (messages {id, folder, mailbox, caller_number, caller_name, received, seconds}),
    "greetings": {busy: bool, unavailable: bool}, "converts_uploads": bool}."""
    _box(box)
    store = _store(ctx)
    return {"mailbox": _public(voicemail_store.mailbox_config(ctx.config, box)),
            "new": [m.as_dict() for m in store.messages(box, "new")],
            "saved": [m.as_dict() for m in store.messages(box, "saved")],
            "greetings": {k: store.greeting_path(box, k).exists() for k in voicemail_store.GREETINGS},
            "converts_uploads": upload_converter() is not None}


@command("voicemail.message_file")
def message_file(ctx: ApiContext, box: str, message_id: str) -> str:
    """The path of a message's WAV file (for the web to serve, read-only); not_found if none."""
    msg = _store(ctx).find(_box(box), message_id)
    if msg is None:
        raise ApiError("not_found", "No such message.")
    return str(msg.wav)


@command("voicemail.mark_read")
def mark_read(ctx: ApiContext, box: str, message_id: str) -> bool:
    """Move a new message to the saved ones (true if it was there); updates message waiting."""
    store = _store(ctx)
    done = bool(store.find(_box(box), message_id) and store.save(box, message_id))
    _refresh(ctx, box)
    return done


@command("voicemail.delete_message")
def delete_message(ctx: ApiContext, box: str, message_id: str) -> None:
    """Delete a message; not_found when it does not exist (already deleted?)."""
    if not _store(ctx).delete(_box(box), message_id):
        raise ApiError("not_found", "That message does not exist (already deleted?).")
    _refresh(ctx, box)


@command("voicemail.save_mailbox")
def save_mailbox(ctx: ApiContext, box: str, enabled: bool | None = None, pin: str | None = None,
                 email: str | None = None) -> dict:
    """Change a mailbox: on/off, PIN (a new PIN also lifts a lock-out), e-mail address. Fields
    left null keep their value. Returns {extension, enabled, email, pin_set}."""
    with refusals():
        saved = voicemail_store.save_mailbox(ctx.config, box, enabled=enabled, pin=pin, email=email)
    _refresh(ctx, box, unlock=bool(pin))
    return _public(saved)


# ---------------------------------------------------------------- greetings

@command("voicemail.set_greeting")
def set_greeting(ctx: ApiContext, box: str, kind: str, upload: str) -> None:
    """Store an uploaded greeting (`upload`: the name of a file in the spool folder, see
    firmware.api_uploads), converted to 8 kHz; a refused file stores nothing."""
    _box(box)
    _kind(kind)
    data = take_upload(ctx, upload, GREETING_MAX_BYTES)
    if len(data) > GREETING_MAX_BYTES:
        raise ApiError("too_large", f"The file is larger than {GREETING_MAX_BYTES >> 20} MiB.")
    with refusals(ValueError):
        samples = upload_to_samples(data)
    _store(ctx).set_greeting(box, kind, samples)
    _refresh(ctx, box)


@command("voicemail.greeting_file")
def greeting_file(ctx: ApiContext, box: str, kind: str) -> str:
    """The path of a mailbox's own greeting WAV (busy / unavailable); not_found if none."""
    if kind not in voicemail_store.GREETINGS:
        raise ApiError("not_found", "No such greeting.")
    path = _store(ctx).greeting_path(_box(box), kind)
    if not path.exists():
        raise ApiError("not_found", "No such greeting.")
    return str(path)


@command("voicemail.delete_greeting")
def delete_greeting(ctx: ApiContext, box: str, kind: str) -> None:
    """Remove a mailbox's own greeting: callers hear the default one again."""
    if kind in voicemail_store.GREETINGS:
        _store(ctx).delete_greeting(_box(box), kind)
        _refresh(ctx, box)


# ---------------------------------------------------------------- voicemail / SMTP settings

@command("voicemail.settings")
def settings(ctx: ApiContext) -> dict:
    """Voicemail and SMTP settings {operator, max_message_s, smtp_host, smtp_port, smtp_security,
    smtp_user, smtp_from, password_stored, securities}; the SMTP password itself never leaves."""
    current = voicemail_store.settings(ctx.config)
    shown = {k: v for k, v in current.items() if k != "smtp_password"}
    return shown | {"password_stored": bool(current.get("smtp_password")),
                    "securities": list(voicemail_store.SMTP_SECURITY)}


@command("voicemail.save_settings")
def save_settings(ctx: ApiContext, changes: dict[str, Any]) -> None:
    """Change voicemail / SMTP settings (an empty smtp_password keeps the stored one)."""
    with refusals():
        voicemail_store.save_settings(ctx.config, changes)
