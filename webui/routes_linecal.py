"""Line calibration pages (administrators): start a calibration, watch it, read the line's profile
with a picture of its echo path.

Everything goes through the engine API (`web(request).api`): `line.calibrate` (the engine asks
the outbound permission gate before calling any number), `line.calibration_status`,
`line.calibration_finish` (the analysis runs on the engine's store thread), `line.profile(s)`.
The picture of the impulse response is SVG drawn here, from the stored taps.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from .guards import AdminUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

PORT_RE = re.compile(r"fxo\d{1,2}")
INBOUND_WAIT_S = 120
RUNNING = ("seizing", "dial_tone", "echo_probe", "dialling", "waiting_ring", "listening")
PHASE_TEXT = {"seizing": "Taking the line", "dial_tone": "Listening to the dial tone",
              "echo_probe": "Measuring the echo path (a short hiss on the line)", "dialling": "Dialling",
              "waiting_ring": "Waiting for your call: ring the line now, stay silent when it answers, "
                              "hang up after a few seconds",
              "listening": "Listening to the call (ringback, answer, disconnect)", "captured": "Analysing",
              "failed": "Failed"}


def _api_error(exc: Exception) -> str | None:
    from firmware.api import ApiError
    return exc.message if isinstance(exc, ApiError) else None


def _refusal(exc: Exception) -> str:
    """The engine's refusal in words (to show on the page); anything else goes on up."""
    msg = _api_error(exc)
    if msg is None:
        raise exc
    return msg


async def _lines(request: Request) -> list[dict]:
    lines = (await web(request).api.call("config.lines"))["lines"]
    return [ln for ln in lines if PORT_RE.fullmatch(str(ln.get("port", "")))]


def _field(form: Any, name: str, limit: int = 40) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _index(request: Request, error: str | None = None, values: dict | None = None,
                 status_code: int = 200) -> Response:
    try:
        profiles = await web(request).api.call("line.profiles")
        gains = await web(request).api.call("line.gains")
    except Exception as exc:                   # the engine is away: show the form anyway
        profiles, gains = {}, {}
        error = error or _api_error(exc) or "the engine did not answer; try again"
    return render(request, "line_calibration.html", status_code=status_code, title="Line calibration",
                  lines=await _lines(request), profiles=profiles, gains=gains,
                  extensions=await web(request).api.call("config.extensions"),
                  v=values or {"listen_s": "25"}, error=error)


@router.get("/line-calibration")
async def calibration_page(request: Request, user: AdminUser) -> Response:
    return await _index(request)


@router.post("/line-calibration/start")
async def calibration_start(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    values = {k: _field(form, k) for k in ("port", "number", "as_extension", "listen_s", "inbound", "expect_tone")}
    port = values["port"]
    if port not in {ln["port"] for ln in await _lines(request)}:
        return await _index(request, "Choose one of the lines to calibrate.", values, 400)
    number = values["number"].replace(" ", "").replace("-", "")
    if number and not number.isdigit():
        return await _index(request, "The number to call must be digits only (or empty: dial tone and echo only).",
                            values, 400)
    try:
        listen_s = int(values["listen_s"] or "25")
    except ValueError:
        return await _index(request, "Listen time must be a whole number of seconds (5-120).", values, 400)
    inbound_wait_s = INBOUND_WAIT_S if values["inbound"] == "on" else 0
    try:
        await web(request).api.call("line.calibrate", port=port, number=number,
                                    as_extension=values["as_extension"], listen_s=listen_s,
                                    inbound_wait_s=inbound_wait_s, expect_tone=values["expect_tone"] or "busy")
    except Exception as exc:
        msg = _api_error(exc)
        if msg is None:
            raise
        return await _index(request, msg, values, 400)
    return RedirectResponse(f"/line-calibration/{port}/run", status_code=303)


@router.get("/line-calibration/{port}/run")
async def calibration_run(request: Request, port: str, user: AdminUser) -> Response:
    if not PORT_RE.fullmatch(port):
        return await _index(request, "No such line.", status_code=404)
    api = web(request).api
    try:
        status = await api.call("line.calibration_status", port=port)
    except Exception as exc:
        msg = _api_error(exc)
        if msg is None:
            raise
        return await _index(request, msg, status_code=404)
    if status["phase"] in RUNNING:
        return render(request, "line_calibration_run.html", title="Line calibration", port=port, status=status,
                      phase_text=PHASE_TEXT.get(status["phase"], status["phase"]))
    try:
        await api.call("line.calibration_finish", port=port)
    except Exception as exc:
        msg = _api_error(exc)
        if msg is None:
            raise
        return await _index(request, msg, status_code=409)
    return RedirectResponse(f"/line-calibration/{port}", status_code=303)


@router.get("/line-calibration/{port}")
async def calibration_profile(request: Request, port: str, user: AdminUser) -> Response:
    return await _profile_page(request, port)


@router.post("/line-calibration/{port}/gains")
async def calibration_gains(request: Request, port: str, user: AdminUser) -> Response:
    """Apply the suggested gains, set given ones, or reset to 0 dB (`line.apply_gains` /
    `line.reset_gains`, on the engine's store thread)."""
    if not PORT_RE.fullmatch(port):
        return await _index(request, "No such line.", status_code=404)
    form = await request.form()
    action = _field(form, "action", 10)
    values = {"rx_db": _field(form, "rx_db", 12), "tx_db": _field(form, "tx_db", 12)}
    api = web(request).api
    try:
        if action == "suggested":
            done = await api.call("line.apply_gains", port=port)
        elif action == "set":
            done = await api.call("line.apply_gains", port=port, rx_db=values["rx_db"] or "0",
                                  tx_db=values["tx_db"] or "0")
        elif action == "reset":
            done = await api.call("line.reset_gains", port=port)
        else:
            return await _profile_page(request, port, gain_error="Choose one of the gain buttons.", status_code=400)
    except Exception as exc:
        return await _profile_page(request, port, gain_error=_refusal(exc), values=values, status_code=400)
    run = done["running"]
    return await _profile_page(request, port, gain_done=f"Gains applied: receive {run['rx_db']:+d} dB, "
                                                        f"transmit {run['tx_db']:+d} dB.")


@router.post("/line-calibration/{port}/fax")
async def calibration_fax_tuning(request: Request, port: str, user: AdminUser) -> Response:
    """The line's V.21 carrier cut-off for fax (`fax.line_tuning_set`): a level in dBm0, or back to
    spandsp's default."""
    if not PORT_RE.fullmatch(port):
        return await _index(request, "No such line.", status_code=404)
    form = await request.form()
    value = "" if _field(form, "action", 10) == "default" else _field(form, "v21_cutoff_dbm0", 12)
    try:
        done = await web(request).api.call("fax.line_tuning_set", line=port, v21_cutoff_dbm0=value)
    except Exception as exc:
        return await _profile_page(request, port, fax_error=_refusal(exc), fax_value=value, status_code=400)
    got = done["v21_cutoff_dbm0"]
    return await _profile_page(request, port, fax_done=(
        f"Faxes on {port} now use a V.21 carrier cut-off of {got:g} dBm0." if got is not None
        else f"Faxes on {port} use the default V.21 carrier cut-off ({done['default_dbm0']:g} dBm0) again."))


async def _profile_page(request: Request, port: str, gain_error: str | None = None, gain_done: str | None = None,
                        values: dict | None = None, status_code: int = 200, fax_error: str | None = None,
                        fax_done: str | None = None, fax_value: str | None = None) -> Response:
    from firmware.linecal.picture import impulse_response_svg
    if not PORT_RE.fullmatch(port):
        return await _index(request, "No such line.", status_code=404)
    try:
        profile = await web(request).api.call("line.profile", port=port)
    except Exception as exc:
        msg = _api_error(exc)
        if msg is None:
            raise
        return await _index(request, msg, status_code=404)
    echo = profile.get("echo") or {}
    picture = None
    if isinstance(echo.get("ir"), list) and echo["ir"]:
        picture = Markup(impulse_response_svg(echo["ir"], float(echo["erl_db"]), float(echo["delay_ms"]),
                                              float(echo["tail_ms"]), title=f"{port}: echo path impulse response"))
    tones = [(label, profile.get(key)) for key, label in (("dial_tone", "Dial tone"), ("ringback", "Ringback"),
                                                          ("busy", "Busy"), ("congestion", "Congestion"),
                                                          ("disconnect", "Disconnect"))
             if profile.get(key) is not None]
    try:
        g = (await web(request).api.call("line.gains")).get(port)
    except Exception as exc:
        msg = _api_error(exc)
        if msg is None:
            raise
        g, gain_error = None, gain_error or msg
    gv = values or ({"rx_db": f"{g['running']['rx_db']:+d}", "tx_db": f"{g['running']['tx_db']:+d}"} if g
                    else {"rx_db": "0", "tx_db": "0"})
    tuning = await web(request).api.call("fax.line_tuning")
    mine = next((r["v21_cutoff_dbm0"] for r in tuning["lines"] if r["line"] == port), None)
    fax = {"value": mine, "default": tuning["default_dbm0"], "error": fax_error, "done": fax_done,
           "typed": fax_value if fax_value is not None else ("" if mine is None else f"{mine:g}")}
    return render(request, "line_profile.html", status_code=status_code, title=f"Line profile {port}", port=port,
                  p=profile, echo=echo, picture=picture, tones=tones, g=g, gv=gv, gain_error=gain_error,
                  gain_done=gain_done, fax=fax)
