"""PBX configuration pages for administrators: extensions, lines (with inbound route), settings.

All validation is `Config`'s: a refused change comes back as `ConfigError`, whose
message is shown next to the form with the user's input kept. Config writes
(fsync'd file replaces) run in the thread pool so live pages keep streaming.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .guards import AdminUser, BadRequest, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE_MESSAGES = {"added": "Saved.", "saved": "Saved.", "deleted": "Deleted."}
DEFAULT_FXS = ("fxs1", "fxs2", "fxs3", "fxs4")
DEFAULT_FXO = ("fxo1", "fxo2")


def _config_error() -> type[Exception]:
    # Imported late so the web UI can be imported (and its pure parts tested) on its own.
    from firmware.config import ConfigError
    return ConfigError


async def _apply(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await run_in_threadpool(lambda: fn(*args, **kwargs))


def _known_ports(request: Request, kind: str) -> list[str]:
    ports = [p.port for p in web(request).control.snapshot() if p.kind == kind]
    return ports or list(DEFAULT_FXS if kind == "fxs" else DEFAULT_FXO)


def _port_not_on_board(request: Request, port: str | None, kind: str, keep: str | None) -> str | None:
    """Why `port` cannot be used here: the running board has no such port (Config itself
    accepts any well-formed name, so a typo such as fxs9 was saved and silently never rang).
    `keep` is the port the entry already has: a config moved to a smaller board stays editable."""
    if not port:
        return None
    name = port.strip().lower()
    present = [p.port for p in web(request).control.snapshot() if p.kind == kind]
    if not present or name in present or name == (keep or "").strip().lower():
        return None
    if not name.startswith(kind):
        return None          # the wrong kind of port: Config explains that one
    return f"Port {name[:20]} is not on this board; it has {', '.join(present)}."


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _checked(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


# --------------------------------------------------------------------------- extensions

def _extensions_page(request: Request, *, status_code: int = 200, error: str | None = None,
                     form: dict | None = None, editing: str | None = None, done: str = "") -> Response:
    state = web(request)
    routes = state.config.inbound_routes()
    return render(request, "extensions.html", status_code=status_code, title="Extensions",
                  extensions=state.config.extensions(), error=error, editing=editing,
                  form=form or {"number": "", "name": "", "port": "", "enabled": True},
                  fxs_ports=_known_ports(request, "fxs"), routes=routes,
                  flash=DONE_MESSAGES.get(done))


def _extension_from_form(form: Any) -> dict[str, Any]:
    return {"number": _field(form, "number", 20).strip(), "name": _field(form, "name", 200),
            "port": _field(form, "port", 20).strip() or None, "enabled": _checked(form, "enabled")}


@router.get("/extensions")
async def extensions_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _extensions_page(request, done=done)


@router.get("/extensions/{number}/edit")
async def extension_edit(request: Request, number: str, user: AdminUser) -> Response:
    ext = web(request).config.extension(number)
    if ext is None:
        return _extensions_page(request, status_code=404,
                                error=f"Extension {number[:10]} does not exist (it may have been deleted).")
    return _extensions_page(request, form=ext, editing=ext["number"])


@router.post("/extensions")
async def extension_add(request: Request, user: AdminUser) -> Response:
    return await _extension_save(request, None)


@router.post("/extensions/{number}")
async def extension_update(request: Request, number: str, user: AdminUser) -> Response:
    return await _extension_save(request, number)


async def _extension_save(request: Request, original: str | None) -> Response:
    form = await request.form()
    ext = _extension_from_form(form)
    current = web(request).config.extension(original) if original else None
    problem = _port_not_on_board(request, ext["port"], "fxs", current and current.get("port"))
    if problem:
        return _extensions_page(request, status_code=400, error=f"Extension {ext['number'][:10]}: {problem}",
                                form=ext, editing=original)
    try:
        await _apply(web(request).config.save_extension, ext, original_number=original)
    except _config_error() as exc:
        return _extensions_page(request, status_code=400, error=str(exc), form=ext, editing=original)
    return RedirectResponse("/extensions?done=" + ("saved" if original else "added"), status_code=303)


@router.post("/extensions/{number}/delete")
async def extension_delete(request: Request, number: str, user: AdminUser) -> Response:
    try:
        await _apply(web(request).config.delete_extension, number)
    except _config_error() as exc:
        return _extensions_page(request, status_code=400, error=str(exc))
    return RedirectResponse("/extensions?done=deleted", status_code=303)


# --------------------------------------------------------------------------- lines

def _lines_page(request: Request, *, status_code: int = 200, error: str | None = None,
                form: dict | None = None, editing: str | None = None, done: str = "") -> Response:
    state = web(request)
    routes = {r["line"]: r["destination"] for r in state.config.inbound_routes()}
    lines = [dict(ln, destination=routes.get(ln["port"], "")) for ln in state.config.lines()]
    return render(request, "lines.html", status_code=status_code, title="Lines", lines=lines,
                  error=error, editing=editing,
                  form=form or {"name": "", "port": "", "number": "", "enabled": True, "destination": ""},
                  fxo_ports=_known_ports(request, "fxo"), extensions=state.config.extensions(),
                  flash=DONE_MESSAGES.get(done), **_destination_context(state.config))


def _destination_context(cfg: Any) -> dict:
    """The destination picker's choices and plain names for line routes (firmware.destinations)."""
    from firmware.destinations import catalog, plain_name
    groups = [{"label": k["label"], "kind": k["kind"], "items": [(t["value"], t["name"]) for t in k["targets"]]}
              for k in catalog(cfg, "line")]
    return {"choices": groups, "label": lambda d: plain_name(cfg, d)}


@router.get("/lines")
async def lines_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _lines_page(request, done=done)


@router.get("/lines/{port}/edit")
async def line_edit(request: Request, port: str, user: AdminUser) -> Response:
    state = web(request)
    line = next((ln for ln in state.config.lines() if ln["port"] == port), None)
    if line is None:
        return _lines_page(request, status_code=404, error=f"There is no line on port {port[:10]!r}.")
    routes = {r["line"]: r["destination"] for r in state.config.inbound_routes()}
    return _lines_page(request, form=dict(line, destination=routes.get(port, "")), editing=port)


@router.post("/lines")
async def line_add(request: Request, user: AdminUser) -> Response:
    return await _line_save(request, None)


@router.post("/lines/{port}")
async def line_update(request: Request, port: str, user: AdminUser) -> Response:
    return await _line_save(request, port)


def save_line_with_route(config: Any, line: dict, destination: str, original_port: str | None) -> dict:
    """Save a line and its inbound route as one change from the owner's point of view.

    They are two Config transactions, so if the route is refused the line is put
    back as it was (or removed again when it was new): a refused form changes nothing.
    """
    before = None
    old_route = None
    if original_port is not None:
        before = next((ln for ln in config.lines() if ln["port"] == original_port), None)
        old_route = next((r["destination"] for r in config.inbound_routes() if r["line"] == original_port), None)
    saved = config.save_line(line, original_port=original_port)
    if not destination:
        return saved
    try:
        config.set_inbound_route(saved["port"], destination)
    except Exception:
        if before is None:
            config.delete_line(saved["port"])
        else:
            config.save_line(before, original_port=saved["port"])
            if old_route:
                config.set_inbound_route(before["port"], old_route)
        raise
    return saved


async def _line_save(request: Request, original: str | None) -> Response:
    form = await request.form()
    line = {"name": _field(form, "name"), "port": _field(form, "port", 20).strip(),
            "number": _field(form, "number", 40).strip(), "enabled": _checked(form, "enabled")}
    destination = _field(form, "destination", 200).strip()
    problem = _port_not_on_board(request, line["port"], "fxo", original)
    if problem:
        return _lines_page(request, status_code=400, error=f"The line: {problem}",
                           form=dict(line, destination=destination), editing=original)
    try:
        await _apply(save_line_with_route, web(request).config, line, destination, original)
    except _config_error() as exc:
        return _lines_page(request, status_code=400, error=str(exc),
                           form=dict(line, destination=destination), editing=original)
    return RedirectResponse("/lines?done=" + ("saved" if original else "added"), status_code=303)


@router.post("/lines/{port}/delete")
async def line_delete(request: Request, port: str, user: AdminUser) -> Response:
    try:
        await _apply(web(request).config.delete_line, port)
    except _config_error() as exc:
        return _lines_page(request, status_code=400, error=str(exc))
    return RedirectResponse("/lines?done=deleted", status_code=303)


# --------------------------------------------------------------------------- settings

def _settings_page(request: Request, *, status_code: int = 200, error: str | None = None,
                   form: dict | None = None, done: str = "") -> Response:
    from dsp_ext.countries import PROFILES
    from firmware.config import TIMING_LIMITS
    state = web(request)
    countries = sorted((code, getattr(p, "name", code)) for code, p in PROFILES.items())
    return render(request, "settings.html", status_code=status_code, title="Settings",
                  form=form or state.config.settings(), countries=countries, timings=TIMING_LIMITS,
                  error=error, flash=DONE_MESSAGES.get(done))


@router.get("/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return _settings_page(request, done=done)


@router.post("/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    from firmware.config import TIMING_LIMITS
    form = await request.form()
    changes: dict[str, Any] = {k: _field(form, k, 100).strip()
                               for k in ("country", "access_code", "site_name", "timezone")}
    for key in TIMING_LIMITS:
        raw = _field(form, key, 20).strip()
        if raw:
            # A number goes as int; anything else goes as typed so Config explains what is wrong.
            changes[key] = int(raw) if raw.isdigit() else raw
    try:
        await _apply(lambda: web(request).config.update_settings(**changes))
    except _config_error() as exc:
        return _settings_page(request, status_code=400, error=str(exc),
                              form={**web(request).config.settings(), **changes})
    return RedirectResponse("/settings?done=saved", status_code=303)


# --------------------------------------------------------------------------- JSON API

async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Request body is not valid JSON.") from exc


async def _json_call(fn: Callable[[], Any], status_code: int = 200) -> JSONResponse:
    try:
        result = await run_in_threadpool(fn)
    except _config_error() as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(result if result is not None else {"ok": True}, status_code=status_code)


@router.get("/api/extensions")
async def api_extensions(request: Request, user: AdminUser) -> JSONResponse:
    return JSONResponse(web(request).config.extensions())


@router.post("/api/extensions")
async def api_extension_add(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(lambda: web(request).config.save_extension(body), 201)


@router.put("/api/extensions/{number}")
async def api_extension_update(request: Request, number: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(lambda: web(request).config.save_extension(body, original_number=number))


@router.delete("/api/extensions/{number}")
async def api_extension_delete(request: Request, number: str, user: AdminUser) -> JSONResponse:
    return await _json_call(lambda: web(request).config.delete_extension(number))


@router.get("/api/lines")
async def api_lines(request: Request, user: AdminUser) -> JSONResponse:
    state = web(request)
    return JSONResponse({"lines": state.config.lines(), "inbound_routes": state.config.inbound_routes()})


@router.post("/api/lines")
async def api_line_add(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(lambda: web(request).config.save_line(body), 201)


@router.put("/api/lines/{port}")
async def api_line_update(request: Request, port: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(lambda: web(request).config.save_line(body, original_port=port))


@router.delete("/api/lines/{port}")
async def api_line_delete(request: Request, port: str, user: AdminUser) -> JSONResponse:
    return await _json_call(lambda: web(request).config.delete_line(port))


@router.put("/api/lines/{port}/route")
async def api_line_route(request: Request, port: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("destination"), str):
        raise BadRequest('Send {"destination": "201"} (an extension number, several, or group:all).')
    return await _json_call(lambda: web(request).config.set_inbound_route(port, body["destination"]))


@router.get("/api/settings")
async def api_settings(request: Request, user: AdminUser) -> JSONResponse:
    return JSONResponse(web(request).config.settings())


@router.patch("/api/settings")
async def api_settings_update(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest('Send the settings to change as a JSON object, such as {"access_code": "9"}.')
    if "self" in body:    # would clash with the method's own parameter
        raise BadRequest("Unknown setting 'self'.")
    return await _json_call(lambda: web(request).config.update_settings(**body))
