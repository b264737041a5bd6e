"""The Linebox web UI: `create_app(...)` builds the FastAPI application.

The app never touches the engine's objects directly: it reaches the engine through the
engine API client `api` (`firmware.api.LocalClient` in one process, as the tests build it;
`webui.engine_client.EngineClient` over the engine's socket in the service), which gives
commands, the port snapshot and the event stream. It reads configuration and call history
(read-only in the service's web process). Its own data (users, sessions) lives in
`data_dir/webui.sqlite`.
"""
from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from firmware.api import ApiError

from .accounts import UserAccounts
from .devices import KnownDevices
from .guards import BadRequest, CsrfRejected, LoginRequired, RoleForbidden, SetupRequired, is_api
from .http_guard import MAX_BODY, HttpGuard
from .login_limit import LoginThrottle
from .rendering import install_filters, load_site_timezone, render
from .sessions import SessionStore
from .state import WebState
from .store import WebStore

log = logging.getLogger("linebox.webui")
HERE = Path(__file__).resolve().parent

INTERNAL_MESSAGE = "Internal error; the details are in the Linebox log."
INTERNAL_PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error · Linebox</title>'
                 '<link rel="stylesheet" href="/static/app.css"></head><body class="auth"><main class="auth-card">'
                 f'<h1>Something went wrong</h1><p>{INTERNAL_MESSAGE}</p><p><a class="btn" href="/">Back</a></p>'
                 '</main></body></html>')
API_ERROR_STATUS = {"bad_request": 400, "not_found": 404, "conflict": 409, "forbidden": 403,
                    "unavailable": 503, "too_large": 413, "internal": 500}
CSRF_MESSAGE = "Security token missing or wrong (CSRF check). Reload the page and try again."


def _wants_json(request: Request) -> bool:
    """API calls and scripts get JSON errors; a browser opening or posting a page gets a page."""
    if is_api(request):
        return True
    return request.method != "GET" and "text/html" not in request.headers.get("accept", "")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "message.html", status_code=status, title="Request refused",
                  message=message, link="/")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        if err.get("type") == "json_invalid":
            return "Request body is not valid JSON."
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SetupRequired)
    async def _setup(request: Request, exc: SetupRequired) -> Response:
        if is_api(request):
            return JSONResponse({"error": "No administrator yet: open /setup first."}, status_code=401)
        return RedirectResponse("/setup", status_code=303)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        browser_form = request.method == "POST" and "text/html" in request.headers.get("accept", "")
        if is_api(request) or (request.method != "GET" and not browser_form):
            return JSONResponse({"error": "Not logged in (or the session expired)."}, status_code=401)
        if browser_form:         # a form sent after the session expired: log in again, then retry
            return RedirectResponse("/login", status_code=303)
        target = request.url.path
        return RedirectResponse(f"/login?next={quote(target)}" if target != "/" else "/login", status_code=303)

    @app.exception_handler(RoleForbidden)
    async def _forbidden(request: Request, exc: RoleForbidden) -> Response:
        return _error(request, 403, f"Your role ({exc.role}) may not open this page.")

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return _error(request, 403, CSRF_MESSAGE)

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest) -> Response:
        return _error(request, 400, exc.message)         # a page's form gets a page, an API JSON

    @app.exception_handler(ApiError)
    async def _engine_refused(request: Request, exc: ApiError) -> Response:
        # The one place an engine API refusal becomes HTTP (pages re-render their own form errors).
        if exc.code == "internal":
            log.error("engine API error on %s %s: %s", request.method, request.url.path, exc.message)
        return _error(request, API_ERROR_STATUS.get(exc.code, 500), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "No such page.", 405: "That method is not allowed here.",
                    400: "Malformed request."}
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail and "parsing the body" in detail:
            detail = "Malformed request body."
        message = messages.get(exc.status_code) if exc.status_code in (404, 405) else detail
        return _error(request, exc.status_code, message or "Request refused.")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # Logged in full for the installer; the browser gets no stack trace.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_api(request) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": INTERNAL_MESSAGE}, status_code=500)
        # Plain page, no template: whatever failed may be what rendering needs.
        return HTMLResponse(INTERNAL_PAGE, status_code=500)


def _mount_sim_api(app: FastAPI, sim_token: str) -> None:
    try:
        sim_api = importlib.import_module("webui.sim_api")
    except ImportError:
        log.info("webui.sim_api not present; /api/sim not mounted")
        return
    router = getattr(sim_api, "router", None)
    if router is None and hasattr(sim_api, "make_router"):
        router = sim_api.make_router(sim_token)
    if router is None:
        log.warning("webui.sim_api has no router; /api/sim not mounted")
        return
    app.state.sim_token = sim_token
    app.include_router(router)


def _announce_setup_code(app: FastAPI) -> None:
    """No administrator yet: make sure a setup code exists and print it for the person at the box.

    An in-process engine answers at once; the engine's socket only once the web has started, so
    then the code is asked for (with retries while the engine comes up) after start-up."""
    state: WebState = app.state.web
    if state.accounts.any_user():
        return
    if hasattr(state.api, "call_sync"):
        try:
            _log_setup_code(state, state.api.call_sync("setup.ensure_code"))   # the file belongs to the engine
        except Exception as exc:         # no code now: /setup says it is wrong; the log says why
            log.error("no setup code could be made in %s: %s", state.data_dir, exc)
        return

    async def ask_engine() -> None:
        import asyncio
        for _attempt in range(60):
            try:
                _log_setup_code(state, await state.api.call("setup.ensure_code"))
                return
            except Exception:            # engine not up yet
                await asyncio.sleep(1.0)
        log.error("no setup code could be made in %s: the engine did not answer", state.data_dir)

    async def start() -> None:
        import asyncio
        app.state.setup_code_task = asyncio.get_running_loop().create_task(ask_engine())
    app.router.on_startup.append(start)


def _log_setup_code(state: WebState, code: str) -> None:
    from firmware.firstboot import SETUP_CODE_FEATURE
    log.warning("No administrator yet. Open /setup in a browser and enter the setup code %s "
                "(also in %s/setup.code, and read out on any phone: dial %s).",
                code, state.data_dir, SETUP_CODE_FEATURE)


def create_app(*, api: Any = None, control: Any = None, config: Any = None, records: Any = None,
               data_dir: Path, sim_token: str | None = None, clock: Callable[[], float] = time.time,
               throttle_clock: Callable[[], float] | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """Build the web UI. `clock` (wall time) and `throttle_clock` are injectable for tests.

    `api` is the engine API client; without one the app runs the engine API in this process
    (tests, `linebox run --single-process`): `LocalClient(EngineApi(...))` over `control`."""
    from . import routes_account, routes_auth, routes_config, routes_history, routes_status, routes_users

    data_dir = Path(data_dir)
    if api is None:
        from firmware.api import EngineApi, LocalClient
        from firmware.record_events import forward_call_records
        api = LocalClient(EngineApi(config=config, records=records, data_dir=data_dir, control=control))
        forward_call_records(control, records)
    store = WebStore(data_dir / "webui.sqlite")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["app_name"] = "Linebox"
    install_filters(templates)
    app = FastAPI(title="Linebox", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(load_site_timezone)])
    app.state.web = WebState(
        control=control, config=config, records=records, data_dir=data_dir,
        accounts=UserAccounts(store, clock=clock),
        sessions=SessionStore(store, clock=clock),
        throttle=LoginThrottle(clock=throttle_clock or time.monotonic),
        templates=templates, clock=clock, devices=KnownDevices(store), api=api,
        store_alarm=store.alarm,
    )
    _announce_setup_code(app)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for module in (routes_auth, routes_account, routes_status, routes_history, routes_config, routes_users):
        app.include_router(module.router)
    from . import routes_permissions
    app.include_router(routes_permissions.router)
    from . import routes_voicemail
    app.include_router(routes_voicemail.router)
    from . import routes_fax
    app.include_router(routes_fax.router)
    from . import routes_fax_send
    app.include_router(routes_fax_send.router)
    from . import routes_fax_settings
    app.include_router(routes_fax_settings.router)
    from . import routes_ivr, routes_prompts
    app.include_router(routes_ivr.router)
    app.include_router(routes_prompts.router)
    from . import routes_phone_services
    app.include_router(routes_phone_services.router)
    from . import routes_recordings
    app.include_router(routes_recordings.router)
    from . import routes_backup, routes_update
    app.include_router(routes_backup.router)
    app.include_router(routes_update.router)
    app.include_router(routes_update.upload_router)
    from . import routes_ssh_keys
    app.include_router(routes_ssh_keys.router)
    from . import routes_metrics
    app.include_router(routes_metrics.router)
    routes_metrics.ensure_token(data_dir)
    from . import routes_calls, routes_welcome
    app.include_router(routes_calls.router)
    app.include_router(routes_welcome.router)
    from . import routes_linecal
    app.include_router(routes_linecal.router)
    from . import routes_callcenter
    app.include_router(routes_callcenter.router)
    from . import routes_wallboard
    app.include_router(routes_wallboard.router)
    from . import routes_campaigns
    app.include_router(routes_campaigns.router)
    from . import routes_desktop
    app.include_router(routes_desktop.router)
    from . import routes_desk_preview
    app.include_router(routes_desk_preview.router)
    from . import routes_reports
    app.include_router(routes_reports.router)
    from . import routes_customers, routes_workorders
    app.include_router(routes_customers.router)
    app.include_router(routes_workorders.router)
    if sim_token:
        _mount_sim_api(app, sim_token)
    app.add_middleware(HttpGuard, max_body=max_body)
    return app
