"""The setup wizard an administrator is offered after the first login (Live status shows it until
it is finished or skipped): 1 country and timezone, 2 lines, 3 extensions, 4 e-mail with a test
message. Every step goes to the engine API (`setup.*`); a refused step comes back with what was
typed and what was wrong."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from firmware.api import ApiError

from .engine_calls import call, refusal_status
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])
STEPS = ("site", "lines", "extensions", "mail")
TITLES = {"site": "Where is this Linebox?", "lines": "Your phone lines", "extensions": "Your phones",
          "mail": "E-mail for voicemail"}


def _text(form: Any, name: str, limit: int = 300) -> str:
    value = form.get(name, "")
    return value[:limit].strip() if isinstance(value, str) else ""


async def _page(request: Request, step: str, *, status_code: int = 200, error: str | None = None,
                typed: dict | None = None) -> Response:
    state = await call(request, "setup.state")
    return render(request, "welcome.html", status_code=status_code, title="Set up Linebox", step=step,
                  steps=STEPS, titles=TITLES, state=state, typed=typed or {}, error=error)


@router.get("/welcome")
async def welcome(request: Request, user: AdminUser, step: str = "site") -> Response:
    return await _page(request, step if step in STEPS else "site")


def _next(step: str) -> str:
    i = STEPS.index(step)
    return f"/welcome?step={STEPS[i + 1]}" if i + 1 < len(STEPS) else "/welcome/done"


@router.post("/welcome/{step}")
async def welcome_save(request: Request, step: str, user: AdminUser) -> Response:
    if step not in STEPS:
        return RedirectResponse("/welcome", status_code=303)
    form = await request.form()
    if step == "site":
        args: dict[str, Any] = {k: _text(form, k, 100) for k in ("country", "timezone", "site_name")}
        typed = args
    elif step == "lines":
        ports = form.getlist("port")[:16]
        args = {"lines": [{"port": str(p)[:10], "name": str(n)[:60], "number": str(num)[:40]}
                          for p, n, num in zip(ports, form.getlist("name"), form.getlist("number"), strict=False)]}
        typed = {"lines": {a["port"]: a for a in args["lines"]}}
    elif step == "extensions":
        args = {"extensions": [{"number": str(n)[:10], "name": str(nm)[:60]}
                               for n, nm in zip(form.getlist("number")[:64], form.getlist("name"), strict=False)]}
        typed = {"extensions": {a["number"]: a["name"] for a in args["extensions"]}}
    else:
        args = {k: _text(form, k) for k in ("smtp_host", "smtp_port", "smtp_security", "smtp_user", "smtp_from")}
        args["smtp_password"] = form.get("smtp_password", "")[:256] if isinstance(form.get("smtp_password"), str) else ""
        typed = {k: v for k, v in args.items() if k != "smtp_password"}
    try:
        await call(request, f"setup.{step}", **args)
    except ApiError as exc:
        return await _page(request, step, status_code=refusal_status(exc), error=exc.message, typed=typed)
    if step == "mail" and form.get("then") == "test":
        return RedirectResponse("/welcome?step=mail#test-mail", status_code=303)
    return RedirectResponse(_next(step), status_code=303)


@router.post("/welcome-test-mail")
async def welcome_test_mail(request: Request, user: AdminUser) -> JSONResponse:
    body = await request.json() if "json" in request.headers.get("content-type", "") else {}
    to = body.get("to") if isinstance(body, dict) else None
    if not isinstance(to, str) or not to.strip():
        return JSONResponse({"error": "Give the address to send the test message to."}, status_code=400)
    try:
        result = await call(request, "setup.test_mail", to=to.strip()[:254])
    except ApiError as exc:
        status = refusal_status(exc)
        return JSONResponse({"error": exc.message}, status_code=status if status != 500 else 502)
    return JSONResponse(result)


@router.get("/welcome/done")
async def welcome_done(request: Request, user: AdminUser) -> Response:
    return await _page(request, "done")


@router.post("/welcome-finish")
async def welcome_finish(request: Request, user: AdminUser) -> Response:
    await call(request, "setup.finish")
    return RedirectResponse("/status", status_code=303)
