"""IVR builder and time-conditions pages (administrators).

One form per menu: greeting, timeout, retries, fallback, and an options table (key →
destination) whose rows ivr.js adds and removes. Destinations come from the IVR's
destination registry in the engine (`ivr.destinations`), so apps that register a kind appear
in the list by themselves. Reads and writes are engine API commands (ivr.*, timeconditions.*:
firmware/apps/ivr_commands.py); a refused change comes back as `bad_request`, shown above the
form with what was typed, nothing stored.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "deleted": "Deleted."}
MAX_ROWS = 12


class FormError(ValueError):
    """A form that cannot be sent as it is (shown like the engine's own refusals)."""


def _field(form: Any, name: str, limit: int = 100) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def destination_label(kind_labels: dict[str, str], dest: str) -> str:
    """How a destination is shown: "Extension: 201", "Hang up"."""
    kind, _, value = str(dest).partition(":")
    label = kind_labels.get(kind)
    if label is None:
        return dest
    return f"{label}: {value}" if value else label


def _menu_from_form(form: Any) -> dict:
    keys, dests, customs = form.getlist("opt_key"), form.getlist("opt_dest"), form.getlist("opt_custom")
    options: dict[str, str] = {}
    for i, key in enumerate(keys[:MAX_ROWS]):
        key = key.strip()[:2] if isinstance(key, str) else ""
        custom = customs[i].strip()[:60] if i < len(customs) and isinstance(customs[i], str) else ""
        dest = custom or (dests[i].strip()[:60] if i < len(dests) and isinstance(dests[i], str) else "")
        if not key and not dest:
            continue
        if key in options:
            raise FormError(f"Key {key} is used twice; each key can lead to one place only.")
        options[key] = dest
    fallback = _field(form, "fallback_custom", 60) or _field(form, "fallback", 60)
    return {"id": _field(form, "id", 40), "name": _field(form, "name", 60), "language": _field(form, "language", 5),
            "greeting": _field(form, "greeting", 60), "timeout_s": _field(form, "timeout_s", 4),
            "retries": _field(form, "retries", 4), "direct_dial": form.get("direct_dial") in ("on", "1", "true"),
            "fallback": fallback, "options": options}


async def _ivr_page(request: Request, *, edit: str = "", status_code: int = 200, error: str | None = None,
                   done: str = "", typed: dict | None = None) -> Response:
    data = await call(request, "ivr.page", menu=edit if not typed else "")
    current = typed or data["menu"] or {
        "id": "", "name": "", "language": "en", "greeting": "ivr/welcome", "timeout_s": 5, "retries": 3,
        "direct_dial": True, "fallback": "hangup:", "options": {}}
    rows = [{"key": k, "dest": v} for k, v in current.get("options", {}).items()]
    choices = data["choices"]
    known = {d for g in choices for d, _ in g["items"]}
    kinds = data["kind_labels"]
    return render(request, "ivr.html", status_code=status_code, title="Auto attendant (IVR)", menus=data["menus"],
                  current=current, editing=edit if not typed else typed.get("original", ""), rows=rows,
                  choices=choices, known=known, option_keys=data["option_keys"], prompts=data["prompts"],
                  languages=data["languages"], label=lambda d: data["names"].get(d) or destination_label(kinds, d),
                  used_by=lambda i: data["used_by"].get(i, ""), error=error, flash=DONE.get(done))


@router.get("/ivr")
async def ivr_page(request: Request, user: AdminUser, menu: str = "", done: str = "") -> Response:
    return await _ivr_page(request, edit=menu[:40], done=done)


@router.post("/ivr/save")
async def ivr_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _field(form, "original", 40) or None
    data: dict = {"options": {}}
    try:
        data = _menu_from_form(form)
    except FormError as exc:
        return await _ivr_page(request, status_code=400, error=str(exc), typed={**data, "original": original or ""})
    saved, error = await attempt(request, "ivr.save_menu", menu=data, original=original)
    if error:
        return await _ivr_page(request, status_code=400, error=error, typed={**data, "original": original or ""})
    return RedirectResponse(f"/ivr?menu={saved['id']}&done=saved", status_code=303)


@router.post("/ivr/{menu_id}/delete")
async def ivr_delete(request: Request, menu_id: str, user: AdminUser) -> Response:
    _, error = await attempt(request, "ivr.delete_menu", menu_id=menu_id[:40])
    if error:
        return await _ivr_page(request, edit=menu_id[:40], status_code=400, error=error)
    return RedirectResponse("/ivr?done=deleted", status_code=303)


# ---- time conditions

async def _tc_page(request: Request, *, edit: str = "", status_code: int = 200, error: str | None = None,
                  done: str = "", typed: dict | None = None) -> Response:
    data = await call(request, "timeconditions.page", condition=edit if not typed else "")
    current = typed or data["condition"] or {
        "id": "", "name": "", "rules": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        "holidays": [], "open": "", "closed": ""}
    rules = list(current.get("rules", [])) + [{"days": [], "start": "", "end": ""}] * 2
    holidays = "\n".join(f"{h['date']} {h.get('name', '')}".strip() for h in current.get("holidays", []))
    choices = [g for g in data["choices"] if g["kind"] != "timecondition"]
    kinds = data["kind_labels"]
    return render(request, "timeconditions.html", status_code=status_code, title="Time conditions",
                  items=data["conditions"], current=current, rules=rules[:max(3, len(current.get("rules", [])) + 1)],
                  holidays=holidays, days=data["day_names"], choices=choices,
                  editing=edit if not typed else typed.get("original", ""),
                  timezone=data["timezone"],
                  label=lambda d: data["names"].get(d) or destination_label(kinds, d),
                  used_by=lambda i: data["used_by"].get(i, ""), error=error, flash=DONE.get(done))


def _condition_from_form(form: Any) -> dict:
    rules = []
    for i in range(10):
        start, end = _field(form, f"rule{i}_start", 5), _field(form, f"rule{i}_end", 5)
        days = [d for d in form.getlist(f"rule{i}_day") if isinstance(d, str)][:7]
        if start or end or days:
            rules.append({"days": days, "start": start, "end": end})
    holidays = []
    for line in _field(form, "holidays", 5000).splitlines()[:200]:
        date, _, name = line.strip().partition(" ")
        if date:
            holidays.append({"date": date, "name": name.strip()})
    return {"id": _field(form, "id", 40), "name": _field(form, "name", 60), "rules": rules,
            "holidays": holidays, "open": _field(form, "open", 60), "closed": _field(form, "closed", 60)}


@router.get("/timeconditions")
async def tc_page(request: Request, user: AdminUser, edit: str = "", done: str = "") -> Response:
    return await _tc_page(request, edit=edit[:40], done=done)


@router.post("/timeconditions/save")
async def tc_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _field(form, "original", 40) or None
    data = _condition_from_form(form)
    saved, error = await attempt(request, "timeconditions.save", condition=data, original=original)
    if error:
        return await _tc_page(request, status_code=400, error=error, typed={**data, "original": original or ""})
    return RedirectResponse(f"/timeconditions?edit={saved['id']}&done=saved", status_code=303)


@router.post("/timeconditions/{cond_id}/delete")
async def tc_delete(request: Request, cond_id: str, user: AdminUser) -> Response:
    _, error = await attempt(request, "timeconditions.delete", condition_id=cond_id[:40])
    if error:
        return await _tc_page(request, status_code=400, error=error)
    return RedirectResponse("/timeconditions?done=deleted", status_code=303)
