"""Engine API commands of the prompt set: list, upload (converted to 8 kHz), delete, file paths.

Uploads arrive through the spool folder (firmware.api_uploads): the web passes the spooled
file's name, the store command converts it (sox, strict argument lists, size and duration
caps) and stores it, or refuses and stores nothing. A live IVR reloads the changed prompt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import prompts
from .api import ApiContext, ApiError, command
from .api_uploads import take_upload


def _root(ctx: ApiContext) -> Path:
    root = prompts.prompts_root(ctx.config)
    return root if root is not None else prompts.prompts_root(ctx.data_dir)


def _refresh(ctx: ApiContext, ref: str) -> None:
    def apply(eng: Any) -> None:
        from .apps.ivr import service_of
        svc = service_of(eng)
        if svc is not None:
            svc.refresh_prompt(ref)
    ctx.on_media(apply)


@command("prompts.list")
def list_prompts(ctx: ApiContext) -> dict:
    """Every prompt: {"prompts": [{ref, kind, languages, text, seconds}], "languages": {code: name},
    "max_bytes", "max_seconds"} (the upload limits)."""
    return {"prompts": prompts.list_prompts(_root(ctx)), "languages": dict(prompts.LANGUAGE_LABELS),
            "max_bytes": prompts.MAX_UPLOAD_BYTES, "max_seconds": prompts.MAX_UPLOAD_SECONDS}


@command("prompts.upload")
def upload(ctx: ApiContext, slug: str, upload: str) -> str:
    """Convert and store spooled upload `upload` (see firmware.api_uploads) as prompt
    `custom/<slug>`; returns that reference."""
    data = take_upload(ctx, upload, prompts.MAX_UPLOAD_BYTES)
    try:
        ref = prompts.save_upload(_root(ctx), slug, data)
    except prompts.PromptError as exc:
        raise ApiError("bad_request", str(exc)) from None
    _refresh(ctx, ref)
    return ref


@command("prompts.delete")
def delete(ctx: ApiContext, slug: str) -> None:
    """Delete uploaded prompt `custom/<slug>` (refused while a menu greets callers with it)."""
    from .apps.ivr_store import menus
    slug = slug[:60]
    ref = f"custom/{slug}"
    used = [m["id"] for m in menus(ctx.config) if m.get("greeting") == ref]
    if used:
        raise ApiError("bad_request", f"Prompt {slug!r} is the greeting of menu {', '.join(used[:5])}; "
                                      "pick another greeting first.")
    try:
        prompts.delete_upload(_root(ctx), slug)
    except prompts.PromptError as exc:
        raise ApiError("bad_request", str(exc)) from None
    _refresh(ctx, ref)


@command("prompts.file")
def prompt_file(ctx: ApiContext, ref: str, language: str = "en") -> str:
    """The WAV file of prompt `ref` in `language` (English when that language has none), for
    the web to serve read-only; not_found when there is no such prompt or it is not generated yet."""
    root = _root(ctx)
    lang = language if language in prompts.LANGUAGES else "en"
    try:
        path = prompts.prompt_path(root, ref, lang)
    except KeyError:
        raise ApiError("not_found", "No such prompt.") from None
    if not path.is_file() and not ref.startswith("custom/"):
        path = prompts.prompt_path(root, ref, "en")
    if not path.is_file():
        raise ApiError("not_found", "This prompt has not been generated yet.")
    return str(path)
