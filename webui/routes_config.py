"""PBX configuration pages for administrators: extensions, lines (with inbound route), settings.

Every read and write is an engine API command (`config.*`, firmware/config_commands.py).
All validation is the engine's: a refused change comes back as `bad_request` with Config's
message, shown next to the form with the user's input kept.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .engine_calls import attempt, call, port_names
from .guards import AdminUser, BadRequest, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE_MESSAGES = {"added": "Saved.", "saved": "Saved.", "deleted": "Deleted."}
DEFAULT_FXS = ("fxs1", "fxs2", "fxs3", "fxs4")
DEFAULT_FXO = ("fxo1", "fxo2")


def _known_ports(request: Request, kind: str) -> list[str]:
    ports = port_names(request, kind)
    return ports or list(DEFAULT_FXS if kind == "fxs" else DEFAULT_FXO)


def _port_not_on_board(request: Request, port: str | None, kind: str, keep: str | None) -> str | None:
    """Why `port` cannot be used here: the running board has no such port (Config itself
    accepts any well-formed name, so a typo such as fxs9 was saved and silently never rang).
    `keep` is the port the entry already has: a config moved to a smaller board stays editable."""
    if not port:
        return None
    name = port.strip().lower()
    present = port_names(request, kind)
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

async def _extensions_page(request: Request, *, status_code: int = 200, error: str | None = None,
                           form: dict | None = None, editing: str | None = None, done: str = "") -> Response:
    routes = (await call(request, "config.lines"))["inbound_routes"]
    return render(request, "extensions.html", status_code=status_code, title="Extensions",
                  extensions=await call(request, "config.extensions"), error=error, editing=editing,
                  form=form or {"number": "", "name": "", "port": "", "enabled": True},
                  fxs_ports=_known_ports(request, "fxs"), routes=routes,
                  flash=DONE_MESSAGES.get(done))


def _extension_from_form(form: Any) -> dict[str, Any]:
    return {"number": _field(form, "number", 20).strip(), "name": _field(form, "name", 200),
            "port": _field(form, "port", 20).strip() or None, "enabled": _checked(form, "enabled")}


@router.get("/extensions")
async def extensions_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _extensions_page(request, done=done)


@router.get("/extensions/{number}/edit")
async def extension_edit(request: Request, number: str, user: AdminUser) -> Response:
    ext = await call(request, "config.extension", number=number[:20])
    if ext is None:
        return await _extensions_page(request, status_code=404,
                                error=f"Extension {number[:10]} does not exist (it may have been deleted).")
    return await _extensions_page(request, form=ext, editing=ext["number"])


@router.post("/extensions")
async def extension_add(request: Request, user: AdminUser) -> Response:
    return await _extension_save(request, None)


@router.post("/extensions/{number}")
async def extension_update(request: Request, number: str, user: AdminUser) -> Response:
    return await _extension_save(request, number)


async def _extension_save(request: Request, original: str | None) -> Response:
    form = await request.form()
    ext = _extension_from_form(form)
    current = await call(request, "config.extension", number=original[:20]) if original else None
    problem = _port_not_on_board(request, ext["port"], "fxs", current and current.get("port"))
    if problem:
        return await _extensions_page(request, status_code=400, error=f"Extension {ext['number'][:10]}: {problem}",
                                form=ext, editing=original)
    _, error = await attempt(request, "config.save_extension", extension=ext, original_number=original)
    if error:
        return await _extensions_page(request, status_code=400, error=error, form=ext, editing=original)
    return RedirectResponse("/extensions?done=" + ("saved" if original else "added"), status_code=303)


@router.post("/extensions/{number}/delete")
async def extension_delete(request: Request, number: str, user: AdminUser) -> Response:
    _, error = await attempt(request, "config.delete_extension", number=number)
    if error:
        return await _extensions_page(request, status_code=400, error=error)
    return RedirectResponse("/extensions?done=deleted", status_code=303)


# --------------------------------------------------------------------------- lines

async def _lines_page(request: Request, *, status_code: int = 200, error: str | None = None,
                      form: dict | None = None, editing: str | None = None, done: str = "") -> Response:
    current = await call(request, "config.lines")
    routes = {r["line"]: r["destination"] for r in current["inbound_routes"]}
    lines = [dict(ln, destination=routes.get(ln["port"], "")) for ln in current["lines"]]
    return render(request, "lines.html", status_code=status_code, title="Lines", lines=lines,
                  error=error, editing=editing,
                  form=form or {"name": "", "port": "", "number": "", "enabled": True, "destination": ""},
                  fxo_ports=_known_ports(request, "fxo"), extensions=await call(request, "config.extensions"),
                  flash=DONE_MESSAGES.get(done), **await _destination_context(request, lines, form))


async def _destination_context(request: Request, lines: list[dict], form: dict | None) -> dict:
    """The destination picker's choices and plain names for line routes (engine: destinations.*)."""
    kinds = (await call(request, "destinations.list", purpose="line"))["kinds"]
    groups = [{"label": k["label"], "kind": k["kind"], "items": [(t["value"], t["name"]) for t in k["targets"]]}
              for k in kinds]
    wanted = sorted({ln["destination"] for ln in lines if ln.get("destination")}
                    | ({form["destination"]} if form and form.get("destination") else set()))
    names = await call(request, "destinations.names", destinations=wanted) if wanted else {}
    return {"choices": groups, "label": lambda d: names.get(d, d)}


@router.get("/lines")
async def lines_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _lines_page(request, done=done)


@router.get("/lines/{port}/edit")
async def line_edit(request: Request, port: str, user: AdminUser) -> Response:
    current = await call(request, "config.lines")
    line = next((ln for ln in current["lines"] if ln["port"] == port), None)
    if line is None:
        return await _lines_page(request, status_code=404, error=f"There is no line on port {port[:10]!r}.")
    routes = {r["line"]: r["destination"] for r in current["inbound_routes"]}
    return await _lines_page(request, form=dict(line, destination=routes.get(port, "")), editing=port)


@router.post("/lines")
async def line_add(request: Request, user: AdminUser) -> Response:
    return await _line_save(request, None)


@router.post("/lines/{port}")
async def line_update(request: Request, port: str, user: AdminUser) -> Response:
    return await _line_save(request, port)


async def _line_save(request: Request, original: str | None) -> Response:
    form = await request.form()
    line = {"name": _field(form, "name"), "port": _field(form, "port", 20).strip(),
            "number": _field(form, "number", 40).strip(), "enabled": _checked(form, "enabled")}
    destination = _field(form, "destination", 200).strip()
    problem = _port_not_on_board(request, line["port"], "fxo", original)
    if problem:
        return await _lines_page(request, status_code=400, error=f"The line: {problem}",
                           form=dict(line, destination=destination), editing=original)
    _, error = await attempt(request, "config.save_line", line=line, original_port=original,
                             destination=destination or None)
    if error:
        return await _lines_page(request, status_code=400, error=error,
                                 form=dict(line, destination=destination), editing=original)
    return RedirectResponse("/lines?done=" + ("saved" if original else "added"), status_code=303)


@router.post("/lines/{port}/delete")
async def line_delete(request: Request, port: str, user: AdminUser) -> Response:
    _, error = await attempt(request, "config.delete_line", port=port)
    if error:
        return await _lines_page(request, status_code=400, error=error)
    return RedirectResponse("/lines?done=deleted", status_code=303)


# --------------------------------------------------------------------------- settings

async def _settings_page(request: Request, *, status_code: int = 200, error: str | None = None,
                         form: dict | None = None, done: str = "") -> Response:
    offer = await call(request, "config.settings_form")
    return render(request, "settings.html", status_code=status_code, title="Settings",
                  form=form or offer["settings"], countries=offer["countries"], timings=offer["timing_limits"],
                  error=error, flash=DONE_MESSAGES.get(done))


@router.get("/settings")
async def settings_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _settings_page(request, done=done)


@router.post("/settings")
async def settings_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    offer = await call(request, "config.settings_form")
    changes: dict[str, Any] = {k: _field(form, k, 100).strip()
                               for k in ("country", "access_code", "site_name", "timezone")}
    for key in offer["timing_limits"]:
        raw = _field(form, key, 20).strip()
        if raw:
            # A number goes as int; anything else goes as typed so Config explains what is wrong.
            changes[key] = int(raw) if raw.isdigit() else raw
    _, error = await attempt(request, "config.update_settings", changes=changes)
    if error:
        return await _settings_page(request, status_code=400, error=error,
                                    form={**offer["settings"], **changes})
    return RedirectResponse("/settings?done=saved", status_code=303)


# --------------------------------------------------------------------------- JSON API

async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Request body is not valid JSON.") from exc


async def _json_call(request: Request, name: str, status_code: int = 200, **args: Any) -> JSONResponse:
    result, error = await attempt(request, name, **args)
    if error:
        return JSONResponse({"error": error}, status_code=400)
    return JSONResponse(result if result is not None else {"ok": True}, status_code=status_code)


@router.get("/api/extensions")
async def api_extensions(request: Request, user: AdminUser) -> JSONResponse:
    return JSONResponse(await call(request, "config.extensions"))


@router.post("/api/extensions")
async def api_extension_add(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(request, "config.save_extension", 201, extension=body)


@router.put("/api/extensions/{number}")
async def api_extension_update(request: Request, number: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(request, "config.save_extension", extension=body, original_number=number)


@router.delete("/api/extensions/{number}")
async def api_extension_delete(request: Request, number: str, user: AdminUser) -> JSONResponse:
    return await _json_call(request, "config.delete_extension", number=number)


@router.get("/api/lines")
async def api_lines(request: Request, user: AdminUser) -> JSONResponse:
    return JSONResponse(await call(request, "config.lines"))


@router.post("/api/lines")
async def api_line_add(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(request, "config.save_line", 201, line=body)


@router.put("/api/lines/{port}")
async def api_line_update(request: Request, port: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    return await _json_call(request, "config.save_line", line=body, original_port=port)


@router.delete("/api/lines/{port}")
async def api_line_delete(request: Request, port: str, user: AdminUser) -> JSONResponse:
    return await _json_call(request, "config.delete_line", port=port)


@router.put("/api/lines/{port}/route")
async def api_line_route(request: Request, port: str, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("destination"), str):
        raise BadRequest('Send {"destination": "201"} (an extension number, several, or group:all).')
    return await _json_call(request, "config.set_inbound_route", port=port, destination=body["destination"])


@router.get("/api/settings")
async def api_settings(request: Request, user: AdminUser) -> JSONResponse:
    return JSONResponse(await call(request, "config.settings"))


@router.patch("/api/settings")
async def api_settings_update(request: Request, user: AdminUser) -> JSONResponse:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest('Send the settings to change as a JSON object, such as {"access_code": "9"}.')
    if "self" in body:    # would clash with the method's own parameter
        raise BadRequest("Unknown setting 'self'.")
    return await _json_call(request, "config.update_settings", changes=body)
