"""Outbound permissions page (administrators): classes of service and their number patterns,
each extension's class and limits, authorisation codes, DISA and outside-to-outside rules.

Reads and changes are engine API commands (permissions.*, firmware/apps/permissions_commands.py);
a refused change comes back as `bad_request`, shown above the page with nothing stored. Codes
are write-only: the page never shows one back (only its label and class).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "added": "Authorisation code added.", "deleted": "Authorisation code deleted.",
        "reset": "Class reset to the country's defaults."}


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, *, status_code: int = 200, error: str | None = None, done: str = "",
                anchor: str = "", typed: dict[str, Any] | None = None) -> Response:
    data = await call(request, "permissions.page")
    return render(request, "permissions.html", status_code=status_code, title="Outbound permissions",
                  perms=data["perms"], classes=data["classes"], class_names=data["class_names"],
                  class_labels=data["class_labels"], customised=set(data["customised"]),
                  extensions=data["extensions"], codes=data["codes"], country=data["country"],
                  emergency=data["emergency"], trunk_vias=data["trunk_vias"],
                  error=error, flash=DONE.get(done), anchor=anchor, typed=typed or {"section": ""})


async def _change(request: Request, command: str, args: dict[str, Any], done: str, anchor: str,
                  typed: dict[str, Any] | None = None) -> Response:
    """Apply one change; on a refusal show the page again with the error and what was typed
    (`typed["section"]` names the form it belongs to; codes are never sent back)."""
    _, error = await attempt(request, command, **args)
    if error:
        return await _page(request, status_code=400, error=error, anchor=anchor,
                           typed=dict(typed or {}, section=anchor))
    return RedirectResponse(f"/permissions?done={done}#{anchor}", status_code=303)


@router.get("/permissions")
async def permissions_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _page(request, done=done)


@router.post("/permissions/general")
async def save_general(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    data = await call(request, "permissions.page")
    changes: dict[str, Any] = {"default_class": _field(form, "default_class", 20)}
    for key in data["limits"]:
        changes[key] = _field(form, key, 10).strip()
    changes["trunk_to_trunk"] = {v: form.get(f"trunk_{v}") in ("on", "true", "1") for v in data["trunk_vias"]}
    return await _change(request, "permissions.update_general", {"changes": changes}, "saved", "general",
                         changes)


@router.post("/permissions/extensions/{number}")
async def save_extension(request: Request, number: str, user: AdminUser) -> Response:
    form = await request.form()
    cls = _field(form, "class", 20)
    rate = _field(form, "calls_per_hour", 10).strip() or None
    minutes = _field(form, "max_minutes", 10).strip() or None
    return await _change(request, "permissions.set_extension_policy",
                         {"number": number[:10], "cls": cls, "calls_per_hour": rate, "max_minutes": minutes},
                         "saved", "extensions",
                         {"number": number[:10], "class": cls, "calls_per_hour": rate or "", "max_minutes": minutes or ""})


@router.post("/permissions/classes/{cls}")
async def save_class(request: Request, cls: str, user: AdminUser) -> Response:
    form = await request.form()
    allow, deny = _field(form, "allow", 2000), _field(form, "deny", 2000)
    return await _change(request, "permissions.set_class_patterns", {"cls": cls[:20], "allow": allow, "deny": deny},
                         "saved", f"class-{cls[:20]}", {"allow": allow, "deny": deny})


@router.post("/permissions/classes/{cls}/reset")
async def reset_class(request: Request, cls: str, user: AdminUser) -> Response:
    return await _change(request, "permissions.reset_class", {"cls": cls[:20]}, "reset", f"class-{cls[:20]}")


@router.post("/permissions/codes")
async def add_code(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    label, code, cls = _field(form, "label", 100), _field(form, "code", 40), _field(form, "class", 20)
    return await _change(request, "permissions.add_auth_code", {"label": label, "code": code, "cls": cls},
                         "added", "codes", {"label": label, "class": cls})


@router.post("/permissions/codes/delete")
async def delete_code(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    return await _change(request, "permissions.delete_auth_code", {"label": _field(form, "label", 100)},
                         "deleted", "codes")


@router.post("/permissions/disa")
async def save_disa(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    enabled = form.get("enabled") in ("on", "true", "1")
    return await _change(request, "permissions.set_disa", {"enabled": enabled, "cls": _field(form, "class", 20)},
                         "saved", "disa")
