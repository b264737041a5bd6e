"""First-boot setup, login and logout."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from firmware.firstboot import SETUP_CODE_FEATURE

from .accounts import AccountError, User
from .devices import DEVICE_COOKIE, DEVICE_MAX_AGE
from .guards import SESSION_COOKIE, client_ip, csrf_guard, current_session, current_user, web
from .login_limit import BUSY_RETRY_AFTER
from .navigation import landing_page
from .rendering import render
from .tls_info import certificate_fingerprint

router = APIRouter(dependencies=[Depends(csrf_guard)])
log = logging.getLogger("linebox.webui")
SETUP_THROTTLE_NAME = "(setup)"         # the throttle's name key for setup-code attempts


def _safe_next(target: str | None, user: User) -> str:
    """Only same-site paths: a crafted ?next= must not send the user elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return landing_page(user.role)


def start_session(request: Request, user: User, target: str) -> Response:
    state = web(request)
    old = request.cookies.get(SESSION_COOKIE)
    if old:                      # never keep a session id from before login
        state.sessions.end(old)
    session_id, _ = state.sessions.create(user.username)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/",
                        max_age=int(state.sessions.absolute_timeout))
    return response


@router.get("/")
async def home(request: Request) -> Response:
    user = await current_user(request)
    return RedirectResponse(landing_page(user.role), status_code=303)


@router.get("/setup")
async def setup_form(request: Request) -> Response:
    if web(request).accounts.any_user():
        return RedirectResponse("/login", status_code=303)
    return render(request, "setup.html", username="admin", error=None, setup_feature=SETUP_CODE_FEATURE,
                  tls_fingerprint=certificate_fingerprint(web(request).data_dir))


@router.post("/setup")
async def setup_submit(request: Request) -> Response:
    state = web(request)
    if state.accounts.any_user():
        return render(request, "message.html", status_code=403, title="Setup is finished",
                      message="The administrator account already exists. Log in instead.",
                      link="/login")
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    confirm = str(form.get("confirm", ""))[:1024]
    code = str(form.get("setup_code", ""))[:64]
    ip = client_ip(request)

    def page(status: int, error: str, keep_code: bool = True, retry_after: int = 0) -> Response:
        response = render(request, "setup.html", status_code=status, username=username, error=error,
                          setup_feature=SETUP_CODE_FEATURE, setup_code=code if keep_code else "",
                          tls_fingerprint=certificate_fingerprint(state.data_dir))
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response
    # The setup code is what makes the first administrator the owner, not whoever came first:
    # throttled like a login (the code has 10^8 values), checked before anything is hashed.
    wait = state.throttle.wait_seconds(ip, SETUP_THROTTLE_NAME)
    if wait:
        return page(429, f"Too many attempts, try again in {wait} s.", retry_after=wait)
    state.throttle.charge(ip, SETUP_THROTTLE_NAME)
    if not await state.api.call("setup.check_code", code=code):
        return page(400, keep_code=False,
                    error="The setup code is wrong. It is printed on the Linebox console at start, kept in "
                          f"setup.code in the data folder, and read out on any phone: dial {SETUP_CODE_FEATURE}.")
    state.throttle.succeeded(ip, SETUP_THROTTLE_NAME)
    if password != confirm:
        return page(400, "The two passwords do not match.")
    if not state.hash_slots.try_take():
        return page(429, "The box is busy; try again in a moment.", retry_after=BUSY_RETRY_AFTER)
    try:
        user = await run_in_threadpool(state.accounts.create, username, password, "admin", first_admin=True)
    except AccountError as exc:
        return page(400, str(exc))
    finally:
        state.hash_slots.give_back()
    await state.api.call("setup.renew_code")                  # single use
    log.info("administrator %r created with the setup code; the code was renewed", user.username)
    return start_session(request, user, landing_page(user.role))


@router.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    state = web(request)
    if not state.accounts.any_user():
        return RedirectResponse("/setup", status_code=303)
    if current_session(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", username="", next=next, error=None)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    state = web(request)
    if not state.accounts.any_user():
        return RedirectResponse("/setup", status_code=303)
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    target = str(form.get("next", ""))
    ip = client_ip(request)
    device = state.devices.device_of(request.cookies.get(DEVICE_COOKIE), username) if state.devices else None
    # Throttled before any hashing; every attempt is charged up front (a success is refunded).
    wait = state.throttle.wait_seconds(ip, username, device)
    if wait:
        return _refused(request, username, target, wait, f"Too many attempts, try again in {wait} s.")
    if not state.hash_slots.try_take():
        return _refused(request, username, target, BUSY_RETRY_AFTER,
                        "The box is busy checking other logins; try again in a moment.")
    state.throttle.charge(ip, username, device)
    try:
        user = await run_in_threadpool(state.accounts.verify, username, password)
    finally:
        state.hash_slots.give_back()
    if user is None:
        return render(request, "login.html", status_code=401, username=username, next=target,
                      error="Wrong username or password.")
    state.throttle.succeeded(ip, username, device)
    response = start_session(request, user, _safe_next(target, user))
    if state.devices is not None:      # this browser is now a known device for this name
        response.set_cookie(DEVICE_COOKIE, state.devices.issue(user.username, request.cookies.get(DEVICE_COOKIE)),
                            httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            path="/", max_age=DEVICE_MAX_AGE)
    return response


def _refused(request: Request, username: str, target: str, retry_after: int, message: str) -> Response:
    response = render(request, "login.html", status_code=429, username=username, next=target, error=message)
    response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        web(request).sessions.end(session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
