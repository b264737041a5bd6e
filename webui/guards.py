"""Who may do what: session lookup, role checks and CSRF, as FastAPI dependencies.

Failures raise the small exceptions below; `app.py` turns them into a redirect
(pages) or a JSON error (``/api/...``), so handlers never repeat that logic.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from .accounts import User
from .sessions import Session
from .state import WebState

SESSION_COOKIE = "lb_session"
PRE_SESSION_COOKIE = "lb_pre"   # CSRF token for the forms shown before login
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
log = logging.getLogger("linebox.webui")


class SetupRequired(Exception):
    """No account exists yet: the owner must create the administrator first."""


class LoginRequired(Exception):
    """No valid session."""


class RoleForbidden(Exception):
    def __init__(self, role: str) -> None:
        super().__init__(role)
        self.role = role


class CsrfRejected(Exception):
    """State-changing request without the right per-session token."""


class BadRequest(Exception):
    """Malformed input (not JSON, wrong shape); the message says what to send instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def web(request: Request) -> WebState:
    return request.app.state.web


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_UNSET = object()


def current_session(request: Request) -> Session | None:
    """The request's session, looked up once per request."""
    session = getattr(request.state, "session", _UNSET)
    if session is _UNSET:
        session = web(request).sessions.lookup(request.cookies.get(SESSION_COOKIE))
        request.state.session = session
    return session  # type: ignore[return-value]


async def current_user(request: Request) -> User:
    state = web(request)
    session = current_session(request)
    if session is None:
        if not state.accounts.any_user():
            raise SetupRequired
        raise LoginRequired
    user = state.accounts.get(session.username)
    if user is None:           # deleted while logged in
        raise LoginRequired
    request.state.user = user
    return user


def require_role(*roles: str) -> Callable[[Request], Awaitable[User]]:
    async def check(request: Request) -> User:
        user = await current_user(request)
        if user.role not in roles:
            raise RoleForbidden(user.role)
        return user
    return check


def expected_csrf(request: Request) -> str | None:
    session = current_session(request)
    if session is not None:
        return session.csrf_token
    return request.cookies.get(PRE_SESSION_COOKIE)


async def csrf_guard(request: Request) -> None:
    """Every POST/PUT/PATCH/DELETE must carry the token from the page it came from."""
    if request.method not in UNSAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except MultiPartException as exc:      # malformed multipart: say so, not 500
            raise BadRequest(f"The form could not be read: {exc.message}") from exc
        except HTTPException as exc:           # the same, as Starlette reports it inside an app
            if exc.status_code != 400:
                raise
            raise BadRequest(f"The form could not be read: {exc.detail}") from exc
        except OSError as exc:                 # no room for its parts (a full disk): nothing was changed
            log.error("a form's upload could not be stored: %s", exc)
            raise BadRequest("The upload could not be stored on the box (it has no room left for it); "
                             "nothing was changed.") from exc
        except Exception as exc:   # anything else unreadable is refused, never a 500
            raise CsrfRejected from exc
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    check_csrf_token(request, given)


def check_csrf_token(request: Request, given: str | None) -> None:
    """CsrfRejected (or LoginRequired for an expired session) unless `given` is the page's token."""
    expected = expected_csrf(request)
    if not expected or not given or not secrets.compare_digest(expected.encode(), given.encode()):
        if current_session(request) is None and request.cookies.get(SESSION_COOKIE):
            raise LoginRequired      # the page was sent by a session that has since expired
        raise CsrfRejected


def pre_session_token(request: Request) -> str:
    """The pre-login CSRF token (set as a cookie by the login/setup pages)."""
    token = request.cookies.get(PRE_SESSION_COOKIE)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(32)
    request.state.new_pre_token = token
    return token


# Handler parameter types: `user: AdminUser` both checks the role and hands over the user.
AnyUser = Annotated[User, Depends(require_role("admin", "supervisor", "agent"))]
MonitorUser = Annotated[User, Depends(require_role("admin", "supervisor"))]
AdminUser = Annotated[User, Depends(require_role("admin"))]
