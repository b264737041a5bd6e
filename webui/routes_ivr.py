"""IVR builder and time-conditions pages (administrators).

One form per menu: greeting, timeout, retries, fallback, and an options table (key →
destination) whose rows ivr.js adds and removes. Destinations come from the IVR's
destination registry (`firmware.apps.ivr_store.DESTINATIONS`), so apps that register a
kind appear in the list by themselves. Validation is the store's: a refused change comes
back as `ConfigError`, shown above the form with what was typed, nothing stored.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .guards import AdminUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "deleted": "Deleted."}
MAX_ROWS = 12


def _store():
    from firmware.apps import ivr_store
    return ivr_store


def _tc():
    from firmware.apps import timeconditions
    return timeconditions


def _config_error() -> type[Exception]:
    from firmware.config import ConfigError
    return ConfigError


def _field(form: Any, name: str, limit: int = 100) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def destination_choices(cfg: Any, purpose: str = "ivr") -> list[dict]:
    """Every destination the owner can pick, with plain names (firmware.destinations):
    [{"label": kind label, "kind": kind, "items": [(dest, name)]}]."""
    from firmware.destinations import catalog
    return [{"label": k["label"], "kind": k["kind"], "items": [(t["value"], t["name"]) for t in k["targets"]]}
            for k in catalog(cfg, purpose)]


def _used_by(cfg: Any, kind: str) -> Any:
    """For the delete question: what still sends calls to `kind:id`, in plain words."""
    from firmware.destinations import used_by, used_by_text
    return lambda item_id: used_by_text(used_by(cfg, f"{kind}:{item_id}"))


def _prompt_choices(request: Request) -> list[str]:
    from firmware import prompts
    root = prompts.prompts_root(web(request).config)
    return [p["ref"] for p in prompts.list_prompts(root) if p["ref"].startswith(("ivr/", "custom/"))]


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
            from firmware.config import ConfigError
            raise ConfigError(f"Key {key} is used twice; each key can lead to one place only.")
        options[key] = dest
    fallback = _field(form, "fallback_custom", 60) or _field(form, "fallback", 60)
    return {"id": _field(form, "id", 40), "name": _field(form, "name", 60), "language": _field(form, "language", 5),
            "greeting": _field(form, "greeting", 60), "timeout_s": _field(form, "timeout_s", 4),
            "retries": _field(form, "retries", 4), "direct_dial": form.get("direct_dial") in ("on", "1", "true"),
            "fallback": fallback, "options": options}


def _ivr_page(request: Request, *, edit: str = "", status_code: int = 200, error: str | None = None,
              done: str = "", typed: dict | None = None) -> Response:
    from firmware import prompts
    cfg = web(request).config
    store = _store()
    menus = store.menus(cfg)
    current = typed or (store.menu(cfg, edit) if edit else None) or {
        "id": "", "name": "", "language": "en", "greeting": "ivr/welcome", "timeout_s": 5, "retries": 3,
        "direct_dial": True, "fallback": "hangup:", "options": {}}
    rows = [{"key": k, "dest": v} for k, v in current.get("options", {}).items()]
    choices = destination_choices(cfg)
    known = {d for g in choices for d, _ in g["items"]}
    return render(request, "ivr.html", status_code=status_code, title="Auto attendant (IVR)", menus=menus,
                  current=current, editing=edit if not typed else typed.get("original", ""), rows=rows,
                  choices=choices, known=known, option_keys=store.OPTION_KEYS, prompts=_prompt_choices(request),
                  languages=prompts.LANGUAGE_LABELS, label=lambda d: store.destination_label(cfg, d),
                  used_by=_used_by(cfg, "ivr"), error=error, flash=DONE.get(done))


@router.get("/ivr")
async def ivr_page(request: Request, user: AdminUser, menu: str = "", done: str = "") -> Response:
    return await run_in_threadpool(lambda: _ivr_page(request, edit=menu[:40], done=done))


@router.post("/ivr/save")
async def ivr_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _field(form, "original", 40) or None
    store = _store()
    data: dict = {"options": {}}
    try:
        data = _menu_from_form(form)
        saved = await run_in_threadpool(lambda: store.save_menu(web(request).config, data, original))
    except _config_error() as exc:
        return _ivr_page(request, status_code=400, error=str(exc), typed={**data, "original": original or ""})
    return RedirectResponse(f"/ivr?menu={saved['id']}&done=saved", status_code=303)


@router.post("/ivr/{menu_id}/delete")
async def ivr_delete(request: Request, menu_id: str, user: AdminUser) -> Response:
    store = _store()
    try:
        await run_in_threadpool(lambda: store.delete_menu(web(request).config, menu_id[:40]))
    except _config_error() as exc:
        return _ivr_page(request, edit=menu_id[:40], status_code=400, error=str(exc))
    return RedirectResponse("/ivr?done=deleted", status_code=303)


# ---- time conditions

def _tc_page(request: Request, *, edit: str = "", status_code: int = 200, error: str | None = None,
             done: str = "", typed: dict | None = None) -> Response:
    cfg = web(request).config
    tc = _tc()
    items = tc.conditions(cfg)
    current = typed or (tc.condition(cfg, edit) if edit else None) or {
        "id": "", "name": "", "rules": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        "holidays": [], "open": "", "closed": ""}
    rules = list(current.get("rules", [])) + [{"days": [], "start": "", "end": ""}] * 2
    holidays = "\n".join(f"{h['date']} {h.get('name', '')}".strip() for h in current.get("holidays", []))
    choices = [g for g in destination_choices(cfg) if g["label"] != _store().DESTINATIONS["timecondition"].label]
    return render(request, "timeconditions.html", status_code=status_code, title="Time conditions",
                  items=items, current=current, rules=rules[:max(3, len(current.get("rules", [])) + 1)],
                  holidays=holidays, days=tc.DAY_NAMES, choices=choices,
                  editing=edit if not typed else typed.get("original", ""),
                  timezone=cfg.settings().get("timezone", "UTC"),
                  label=lambda d: _store().destination_label(cfg, d), used_by=_used_by(cfg, "timecondition"),
                  error=error, flash=DONE.get(done))


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
    return await run_in_threadpool(lambda: _tc_page(request, edit=edit[:40], done=done))


@router.post("/timeconditions/save")
async def tc_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    original = _field(form, "original", 40) or None
    data = _condition_from_form(form)
    try:
        saved = await run_in_threadpool(lambda: _tc().save_condition(web(request).config, data, original))
    except _config_error() as exc:
        return _tc_page(request, status_code=400, error=str(exc), typed={**data, "original": original or ""})
    return RedirectResponse(f"/timeconditions?edit={saved['id']}&done=saved", status_code=303)


@router.post("/timeconditions/{cond_id}/delete")
async def tc_delete(request: Request, cond_id: str, user: AdminUser) -> Response:
    try:
        await run_in_threadpool(lambda: _tc().delete_condition(web(request).config, cond_id[:40]))
    except _config_error() as exc:
        return _tc_page(request, status_code=400, error=str(exc))
    return RedirectResponse("/timeconditions?done=deleted", status_code=303)
