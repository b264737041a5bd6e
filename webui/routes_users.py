"""User management for administrators: add with a role, change role, reset password, delete."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .accounts import ROLES, AccountError
from .engine_calls import call
from .guards import AdminUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE_MESSAGES = {
    "added": "User added.",
    "saved": "User updated.",
    "password": "Password changed; that user's sessions were ended.",
    "deleted": "User deleted.",
}


def _page(request: Request, status_code: int = 200, error: str | None = None,
          form: dict | None = None, done: str = "") -> Response:
    state = web(request)
    return render(request, "users.html", status_code=status_code, title="Users",
                  users=state.accounts.all(), roles=ROLES, error=error,
                  form=form or {"username": "", "role": "agent", "extension": ""},
                  flash=DONE_MESSAGES.get(done))


def _text(form, name: str, limit: int = 64) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _check_extension(request: Request, number: str) -> None:
    """A user's phone must be a configured extension (it decides what an agent sees)."""
    if number and await call(request, "config.extension", number=number[:20]) is None:
        raise AccountError(f"Extension {number[:10]} does not exist; add it on the Extensions page first, "
                           "or leave the field empty.")


@router.get("/users")
async def users_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _page(request, done=done)


@router.post("/users")
async def add_user(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    fields = {k: _text(form, k) for k in ("username", "role", "extension")}
    password = form.get("password", "")
    password = password if isinstance(password, str) else ""
    try:
        await _check_extension(request, fields["extension"])
        await run_in_threadpool(web(request).accounts.create, fields["username"], password,
                                fields["role"], fields["extension"] or None)
    except AccountError as exc:
        return _page(request, status_code=400, error=str(exc), form=fields)
    return RedirectResponse("/users?done=added", status_code=303)


@router.post("/users/{username}/update")
async def update_user(request: Request, username: str, user: AdminUser) -> Response:
    form = await request.form()
    try:
        await _check_extension(request, _text(form, "extension"))
        web(request).accounts.update(username, _text(form, "role"), _text(form, "extension") or None)
    except AccountError as exc:
        return _page(request, status_code=400, error=str(exc))
    return RedirectResponse("/users?done=saved", status_code=303)


@router.post("/users/{username}/password")
async def reset_password(request: Request, username: str, user: AdminUser) -> Response:
    form = await request.form()
    password = form.get("password", "")
    try:
        await run_in_threadpool(web(request).accounts.set_password, username,
                                password if isinstance(password, str) else "")
    except AccountError as exc:
        return _page(request, status_code=400, error=f"{username}: {exc}")
    if username == user.username:      # own password: the old session was ended too
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/users?done=password", status_code=303)


@router.post("/users/{username}/delete")
async def delete_user(request: Request, username: str, user: AdminUser) -> Response:
    try:
        web(request).accounts.delete(username)
    except AccountError as exc:
        return _page(request, status_code=400, error=str(exc))
    if username == user.username:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/users?done=deleted", status_code=303)
