"""Reports pages (supervisors and admins): KPIs with their formulas and charts, CSV/XLSX export,
the staffing calculator and the arrivals forecast. The same code as `linebox report`; the
engine's records.db and reports.db are read read-only (beside `records.path`)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from firmware.reports.export import to_csv, to_xlsx
from firmware.reports.kpis import SL_VARIANTS, KpiParams
from firmware.reports.report import GROUPS
from firmware.reports.source import make_request, report_from_store, site_from_data_dir

from .guards import MonitorUser, csrf_guard, web
from .rendering import render, site_timezone

router = APIRouter(dependencies=[Depends(csrf_guard)])
CHART_KPIS = ("offered", "answered", "abandoned")


def _data_dir(request: Request) -> Path:
    return Path(web(request).records.path).parent


def _int(text: str, default: int, label: str) -> int:
    if text in ("", None):
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{label} must be a whole number") from None


def _float(text: str, default: float | None, label: str) -> float | None:
    if text in ("", None):
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{label} must be a number") from None


def _form(request: Request) -> dict[str, str]:
    q = request.query_params
    today = dt.datetime.now(site_timezone(request)).date().isoformat()
    return {"date_from": q.get("date_from", today)[:10], "date_to": q.get("date_to", "")[:10],
            "by": q.get("by", "60min"), "sl_variant": q.get("sl_variant", "offered"),
            "sl_threshold_s": q.get("sl_threshold_s", "20"), "short_abandon_s": q.get("short_abandon_s", "5"),
            "fcr_window_days": q.get("fcr_window_days", "7")}


async def _report(request: Request, form: dict[str, str]) -> dict:
    params = KpiParams(_int(form["sl_threshold_s"], 20, "Service-level threshold"),
                       _int(form["short_abandon_s"], 5, "Short abandon"), form["sl_variant"],
                       _float(form["fcr_window_days"], 7.0, "FCR window") or 7.0)
    site = await run_in_threadpool(site_from_data_dir, _data_dir(request))
    req = make_request(form["date_from"], form["date_to"] or form["date_from"], form["by"], site, params)
    return await run_in_threadpool(report_from_store, _data_dir(request), req)


def _chart_data(doc: dict) -> dict[str, Any]:
    return {"labels": [r["label"] for r in doc["rows"]],
            "keys": [r["key"] if isinstance(r["key"], int | float) else i for i, r in enumerate(doc["rows"])],
            "time": doc["group_by"] in ("15min", "30min", "60min", "day", "week", "month", "year"),
            "series": {k: [r["kpis"][k] for r in doc["rows"]] for k in (*CHART_KPIS, "service_level")}}


DONE_NOTICES = {"callback": "Callback scheduled: the next free agent is connected first, then the number is "
                            "dialled. Failures end on the list of callbacks to make."}


@router.get("/reports")
async def reports_page(request: Request, user: MonitorUser) -> Response:
    return await _reports_page(request, _form(request))


async def _reports_page(request: Request, form: dict[str, str], action_error: str | None = None) -> Response:
    try:
        doc = await _report(request, form)
        error = None
    except ValueError as exc:
        doc, error = None, str(exc)
    notice = DONE_NOTICES.get(request.query_params.get("done", ""))
    return render(request, "reports.html", title="Reports", form=form, doc=doc, error=error or action_error,
                  groups=GROUPS, variants=SL_VARIANTS, chart=_chart_data(doc) if doc else None, notice=notice,
                  export_query=urlencode(form), status_code=400 if error or action_error else 200)


def _api_error() -> type[Exception]:
    from firmware.api import ApiError
    return ApiError


def _field(form: Any, name: str, limit: int) -> str:
    v = form.get(name, "")
    return v[:limit] if isinstance(v, str) else ""


@router.post("/reports/callback")
async def reports_callback(request: Request, user: MonitorUser) -> Response:
    """One-click callback from the abandoned-call list (or again from the failed list): the engine's
    `callback.schedule` (agent first, then the line; the queue's outbound permissions apply)."""
    form = await request.form()
    back = {k: _field(form, f"back_{k}", 40) for k in ("date_from", "date_to", "by", "sl_variant",
                                                         "sl_threshold_s", "short_abandon_s", "fcr_window_days")}
    report_form = {**_form(request), **{k: v for k, v in back.items() if v}}
    try:
        await web(request).api.call("callback.schedule", queue=_field(form, "queue", 10),
                                    number=_field(form, "number", 40), call_id=_field(form, "call_id", 64))
    except _api_error() as exc:
        if _field(form, "from_list", 1):
            return await _callbacks_page(request, error=exc.message)
        return await _reports_page(request, report_form, action_error=exc.message)
    if _field(form, "from_list", 1):
        return RedirectResponse("/reports/callbacks?done=callback", status_code=303)
    return RedirectResponse(f"/reports?{urlencode(report_form)}&done=callback#abandoned", status_code=303)


@router.get("/reports/callbacks")
async def callbacks_page(request: Request, user: MonitorUser) -> Response:
    return await _callbacks_page(request)


async def _callbacks_page(request: Request, error: str | None = None) -> Response:
    """Callbacks that failed every attempt: a list for a person (call back again, or mark done)."""
    show_done = request.query_params.get("show") == "done"
    items = (await web(request).api.call("callback.list", include_done=show_done))["callbacks"]
    tz = site_timezone(request)
    for c in items:
        c["time"] = dt.datetime.fromtimestamp(c["ts"], tz).isoformat(timespec="minutes")
        c["done_time"] = dt.datetime.fromtimestamp(c["done"], tz).isoformat(timespec="minutes") if c["done"] else ""
    notice = {"done": "Marked done: the callback left the list.", **DONE_NOTICES}.get(
        request.query_params.get("done", ""))
    return render(request, "reports_callbacks.html", title="Callbacks to make", items=items, show_done=show_done,
                  error=error, notice=notice, status_code=400 if error else 200)


@router.post("/reports/callbacks/{item_id}/done")
async def callback_done(request: Request, item_id: str, user: MonitorUser) -> Response:
    if not item_id.isdigit() or len(item_id) > 12:
        return await _callbacks_page(request, error="That is not a callback of the list; reload the page.")
    try:
        await web(request).api.call("callback.done", id=int(item_id))
    except _api_error() as exc:
        return await _callbacks_page(request, error=exc.message)
    return RedirectResponse("/reports/callbacks?done=done", status_code=303)


@router.get("/reports/export.{fmt}")
async def reports_export(request: Request, user: MonitorUser, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        return Response("Export as .csv or .xlsx.", status_code=404, media_type="text/plain")
    form = _form(request)
    try:
        doc = await _report(request, form)
    except ValueError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    name = f"linebox-report-{form['date_from']}-{form['by']}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(to_csv(doc), media_type="text/csv; charset=utf-8", headers=headers)
    data = await run_in_threadpool(to_xlsx, doc)
    return Response(data, headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.get("/reports/staffing")
async def staffing_page(request: Request, user: MonitorUser) -> Response:
    from firmware.reports.staffing import SimulationRequest, StaffingRequest, recommend, simulate
    q = request.query_params
    form = {k: q.get(k, d) for k, d in (("calls", "100"), ("interval_min", "30"), ("aht_s", "180"),
                                         ("target_sl", "0.8"), ("target_s", "20"), ("max_occupancy", "0.85"),
                                         ("shrinkage", "0.3"), ("model", "erlang-c"), ("patience_s", ""),
                                         ("wrap_s", "0"), ("ring_s", "0"), ("strategy", "leastrecent"))}
    result = sim = error = None
    if "calls" in q:
        try:
            req = StaffingRequest(_float(form["calls"], None, "Calls"), _float(form["interval_min"], None, "Interval"),
                                  _float(form["aht_s"], None, "AHT"), _float(form["target_sl"], None, "Target"),
                                  _float(form["target_s"], None, "Answer within"),
                                  _float(form["max_occupancy"], 1.0, "Maximum occupancy"),
                                  _float(form["shrinkage"], 0.0, "Shrinkage"), form["model"],
                                  _float(form["patience_s"], None, "Patience"))
            result = await run_in_threadpool(recommend, req)
            wrap = _float(form["wrap_s"], 0.0, "Wrap-up") or 0.0
            if wrap >= req.aht_s:
                raise ValueError("Wrap-up must be shorter than the AHT (AHT = talk + wrap-up).")
            sim = await run_in_threadpool(simulate, SimulationRequest(
                req.calls, req.interval_min, req.aht_s - wrap, result["agents"], req.target_s, wrap,
                _float(form["ring_s"], 0.0, "Ring time") or 0.0,
                req.patience_s if req.model == "erlang-a" else None, form["strategy"], 50.0))
        except (ValueError, TypeError) as exc:
            error = str(exc) if not isinstance(exc, TypeError) else "Fill in every figure."
    return render(request, "reports_staffing.html", title="Staffing calculator", form=form, result=result,
                  sim=sim, error=error, status_code=400 if error else 200)


@router.get("/reports/forecast")
async def forecast_page(request: Request, user: MonitorUser) -> Response:
    from firmware.reports.forecast import add_staffing, forecast_from_store
    q = request.query_params
    form = {"weeks": q.get("weeks", "8"), "interval_min": q.get("interval_min", "60"),
            "horizon_days": q.get("horizon_days", "7"), "aht_s": q.get("aht_s", "180")}
    doc = error = None
    try:
        site = await run_in_threadpool(site_from_data_dir, _data_dir(request))
        doc = await run_in_threadpool(forecast_from_store, _data_dir(request), site.timezone,
                                      _int(form["weeks"], 8, "Weeks"), _int(form["horizon_days"], 7, "Days ahead"),
                                      _int(form["interval_min"], 60, "Interval"))
        add_staffing(doc, _float(form["aht_s"], 180.0, "AHT") or 180.0)
    except ValueError as exc:
        error = str(exc)
    chart = None
    if doc:
        hist, fc = doc["history_by_day"], doc["forecast_by_day"]
        chart = {"labels": [r["day"] for r in hist + fc],
                 "actual": [r["arrivals"] for r in hist] + [None] * len(fc),
                 "forecast": [None] * len(hist) + [r["arrivals"] for r in fc]}
    return render(request, "reports_forecast.html", title="Forecast", form=form, doc=doc, chart=chart,
                  error=error, status_code=400 if error else 200)
