"""Outbound permissions page (administrators): classes of service and their number patterns,
each extension's class and limits, authorisation codes, DISA and outside-to-outside rules.

Validation is `firmware.apps.permissions_store`'s: a refused change comes back as
`ConfigError`, shown above the page with nothing stored. Codes are write-only:
the page never shows one back (only its label and class).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .guards import AdminUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "added": "Authorisation code added.", "deleted": "Authorisation code deleted.",
        "reset": "Class reset to the country's defaults."}


def _store():
    # Imported late so the web UI can be imported on its own (pure parts tested without firmware).
    from firmware.apps import permissions_store
    return permissions_store


def _config_error() -> type[Exception]:
    from firmware.config import ConfigError
    return ConfigError


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _page(request: Request, *, status_code: int = 200, error: str | None = None, done: str = "",
          anchor: str = "", typed: dict[str, Any] | None = None) -> Response:
    store = _store()
    config = web(request).config
    perms = store.load(config)
    country = config.settings().get("country", "US")
    classes = store.effective_classes(perms, country)
    from firmware.apps.permissions_patterns import country_numbers
    extensions = [dict(e, policy=perms["extensions"].get(e["number"], {})) for e in config.extensions()]
    codes = [{"label": c.get("label", ""), "class": c.get("class", "")} for c in perms["auth_codes"]]
    return render(request, "permissions.html", status_code=status_code, title="Outbound permissions",
                  perms=perms, classes=classes, class_names=store.CLASSES, class_labels=store.CLASS_LABELS,
                  customised=set(perms["classes"]), extensions=extensions, codes=codes, country=country,
                  emergency=country_numbers(country).emergency, trunk_vias=store.TRUNK_VIAS,
                  error=error, flash=DONE.get(done), anchor=anchor, typed=typed or {"section": ""})


async def _change(request: Request, fn: Callable[[Any], Any], done: str, anchor: str,
                  typed: dict[str, Any] | None = None) -> Response:
    """Apply one change; on a refusal show the page again with the error and what was typed
    (`typed["section"]` names the form it belongs to; codes are never sent back)."""
    try:
        await run_in_threadpool(lambda: fn(web(request).config))
    except _config_error() as exc:
        return _page(request, status_code=400, error=str(exc), anchor=anchor,
                     typed=dict(typed or {}, section=anchor))
    return RedirectResponse(f"/permissions?done={done}#{anchor}", status_code=303)


@router.get("/permissions")
async def permissions_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _page(request, done=done)


@router.post("/permissions/general")
async def save_general(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    changes: dict[str, Any] = {"default_class": _field(form, "default_class", 20)}
    for key in store.LIMITS:
        changes[key] = _field(form, key, 10).strip()
    changes["trunk_to_trunk"] = {v: form.get(f"trunk_{v}") in ("on", "true", "1") for v in store.TRUNK_VIAS}
    return await _change(request, lambda cfg: store.update_general(cfg, **changes), "saved", "general",
                         changes)


@router.post("/permissions/extensions/{number}")
async def save_extension(request: Request, number: str, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    cls = _field(form, "class", 20)
    rate = _field(form, "calls_per_hour", 10).strip() or None
    minutes = _field(form, "max_minutes", 10).strip() or None
    return await _change(request, lambda cfg: store.set_extension_policy(cfg, number[:10], cls, rate, minutes),
                         "saved", "extensions",
                         {"number": number[:10], "class": cls, "calls_per_hour": rate or "", "max_minutes": minutes or ""})


@router.post("/permissions/classes/{cls}")
async def save_class(request: Request, cls: str, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    allow, deny = _field(form, "allow", 2000), _field(form, "deny", 2000)
    return await _change(request, lambda cfg: store.set_class_patterns(cfg, cls[:20], allow, deny),
                         "saved", f"class-{cls[:20]}", {"allow": allow, "deny": deny})


@router.post("/permissions/classes/{cls}/reset")
async def reset_class(request: Request, cls: str, user: AdminUser) -> Response:
    store = _store()
    return await _change(request, lambda cfg: store.reset_class_patterns(cfg, cls[:20]), "reset",
                         f"class-{cls[:20]}")


@router.post("/permissions/codes")
async def add_code(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    label, code, cls = _field(form, "label", 100), _field(form, "code", 40), _field(form, "class", 20)
    return await _change(request, lambda cfg: store.add_auth_code(cfg, label, code, cls), "added", "codes",
                         {"label": label, "class": cls})


@router.post("/permissions/codes/delete")
async def delete_code(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    label = _field(form, "label", 100)
    return await _change(request, lambda cfg: store.delete_auth_code(cfg, label), "deleted", "codes")


@router.post("/permissions/disa")
async def save_disa(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    store = _store()
    enabled = form.get("enabled") in ("on", "true", "1")
    cls = _field(form, "class", 20)
    return await _change(request, lambda cfg: store.set_disa(cfg, enabled, cls), "saved", "disa")
