"""Fax settings (administrators): the station identifier and header line sent with each fax, the
retry intervals and attempts, how many faxes go out at once, and how long finished send jobs and
received faxes are kept. Read and saved through the engine API (`fax.settings`, `fax.settings_set`:
firmware/fax/settings_commands.py); the engine checks every value and saves nothing if one is wrong.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

# form field -> what the owner reads next to it (also used in the error of a value that is no number)
NUMBERS = {
    "retry_busy_min": "Retry after busy, no answer or a dropped call (minutes)",
    "retry_person_min": "Retry after a person answered (minutes)",
    "retry_training_min": "Retry after a training failure (minutes)",
    "max_attempts": "Attempts per fax",
    "max_sending": "Faxes sent at once (0 = automatic)",
    "job_days": "Keep finished send jobs (days, 0 = until deleted)",
    "inbox_days": "Keep received faxes (days, 0 = until deleted)",
}


def _field(form: Any, name: str, limit: int = 80) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, values: dict | None = None, error: str | None = None, done: str = "",
                status_code: int = 200) -> Response:
    current = await call(request, "fax.settings")
    return render(request, "fax_settings.html", status_code=status_code, title="Fax settings",
                  s={**current, **(values or {})}, current=current, labels=NUMBERS, error=error,
                  flash="Fax settings saved." if done == "saved" else None)


@router.get("/fax/settings")
async def fax_settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _page(request, done=done)


@router.post("/fax/settings")
async def fax_settings_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    raw: dict[str, Any] = {"ident": _field(form, "ident", 40), "header": _field(form, "header", 80),
                           "keep_line_free": _field(form, "keep_line_free", 5) == "on"}
    for name, label in NUMBERS.items():
        text = _field(form, name, 12).strip()
        raw[name] = text
        if not text.isdigit():
            return await _page(request, raw, f"{label}: {text[:12]!r} is not a whole number; give one such as 5.",
                               status_code=400)
    args = {k: (int(v) if k in NUMBERS else v) for k, v in raw.items()}
    _saved, error = await attempt(request, "fax.settings_set", **args)
    if error:
        return await _page(request, raw, error, status_code=400)
    return RedirectResponse("/fax/settings?done=saved", status_code=303)
