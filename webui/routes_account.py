"""Every user's own account page: change one's own password (needs the current one)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .accounts import AccountError
from .guards import AnyUser, client_ip, csrf_guard, web
from .rendering import render
from .routes_auth import start_session

router = APIRouter(dependencies=[Depends(csrf_guard)])


@router.get("/account")
async def account_page(request: Request, user: AnyUser) -> Response:
    return render(request, "account.html", title="My account", error=None)


@router.post("/account/password")
async def change_own_password(request: Request, user: AnyUser) -> Response:
    state = web(request)
    form = await request.form()
    current, new, confirm = (str(form.get(k, ""))[:1024] for k in ("current", "password", "confirm"))
    ip = client_ip(request)
    # Same back-off as the login form: a borrowed session must not become a password oracle.
    wait = state.throttle.wait_seconds(ip, user.username)
    if wait:
        return render(request, "account.html", status_code=429, error=f"Too many attempts, try again in {wait} s.")
    if not state.hash_slots.try_take():
        return render(request, "account.html", status_code=429, error="The box is busy; try again in a moment.")
    state.throttle.charge(ip, user.username)
    try:
        verified = await run_in_threadpool(state.accounts.verify, user.username, current)
    finally:
        state.hash_slots.give_back()
    if verified is None:
        return render(request, "account.html", status_code=400, error="The current password is wrong.")
    state.throttle.succeeded(ip, user.username)
    if new != confirm:
        return render(request, "account.html", status_code=400, error="The two new passwords do not match.")
    try:
        await run_in_threadpool(state.accounts.set_password, user.username, new)
    except AccountError as exc:
        return render(request, "account.html", status_code=400, error=str(exc))
    # set_password ended every session of this user (other browsers too); this one gets a fresh one.
    return start_session(request, user, "/account?done=password")
