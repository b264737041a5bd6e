"""Outbound campaigns pages (admin and supervisors): create a campaign, upload its number list
(CSV, all or nothing: a refusal lists the bad rows and nothing changes), start or pause it, the
do-not-call list, and the results page with a CSV export (formulas neutralised by the engine).
Everything goes through the engine API (`campaign.*`, `dnc.*`)."""
from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .guards import MonitorUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

MAX_UPLOAD = 8 * 1024 * 1024
DONE = {"saved": "Saved.", "imported": "Number list imported.", "started": "Dialling started.",
        "paused": "Paused.", "dnc": "Do-not-call list updated."}


def _api_error() -> type[Exception]:
    from firmware.api import ApiError
    return ApiError


def _f(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _call(request: Request, name: str, **args: Any) -> Any:
    return await web(request).api.call(name, **args)


async def _list_page(request: Request, status_code: int = 200, error: str | None = None,
                     form: dict | None = None) -> Response:
    campaigns = (await _call(request, "campaign.list"))["campaigns"]
    agents = (await _call(request, "agent.list"))["agents"]
    dnc = (await _call(request, "dnc.list"))["numbers"]
    done = DONE.get(request.query_params.get("done", ""))
    return render(request, "campaigns.html", status_code=status_code, title="Campaigns", campaigns=campaigns,
                  agents=agents, dnc=dnc, error=error, done=done, form=form or {})


@router.get("/campaigns")
async def campaigns_page(request: Request, user: MonitorUser) -> Response:
    return await _list_page(request)


@router.post("/campaigns/save")
async def campaign_save(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    days = [int(d) for d in form.getlist("days") if isinstance(d, str) and d.isdigit()]
    doc = {"id": _f(form, "id", 30), "name": _f(form, "name", 60), "mode": _f(form, "mode", 20),
           "agents": [a for a in form.getlist("agents") if isinstance(a, str)][:100],
           "caller_extension": _f(form, "caller_extension", 10),
           "hours": {"from": _f(form, "from", 5), "to": _f(form, "to", 5), "days": days},
           "max_attempts": _f(form, "max_attempts", 4) or 3, "retry_after_s": _f(form, "retry_after_s", 8) or 3600,
           "ring_s": _f(form, "ring_s", 4) or 30, "machine_action": _f(form, "machine_action", 10) or "hangup",
           "machine_message": _f(form, "machine_message", 60)}
    try:
        await _call(request, "campaign.save", campaign=doc)
    except _api_error() as exc:
        return await _list_page(request, 400, exc.message, form=doc)
    return RedirectResponse("/campaigns?done=saved", status_code=303)


@router.post("/campaigns/{cid}/import")
async def campaign_import(request: Request, cid: str, user: MonitorUser) -> Response:
    form = await request.form()
    upload = form.get("file")
    data = await upload.read(MAX_UPLOAD + 1) if hasattr(upload, "read") else b""
    if len(data) > MAX_UPLOAD:
        return await _list_page(request, 400, "The file is larger than 8 MB; split the list.")
    try:
        await _call(request, "campaign.import", campaign=cid[:30], csv_b64=base64.b64encode(data).decode())
    except _api_error() as exc:
        return await _list_page(request, 400, exc.message)
    return RedirectResponse("/campaigns?done=imported", status_code=303)


@router.post("/campaigns/{cid}/{action}")
async def campaign_action(request: Request, cid: str, action: str, user: MonitorUser) -> Response:
    names = {"start": ("campaign.start", "started"), "pause": ("campaign.pause", "paused")}
    if action not in names:
        return await _list_page(request, 404, "Unknown action; use start or pause.")
    try:
        await _call(request, names[action][0], campaign=cid[:30])
    except _api_error() as exc:
        return await _list_page(request, 400, exc.message)
    return RedirectResponse(f"/campaigns?done={names[action][1]}", status_code=303)


@router.post("/dnc/add")
async def dnc_add(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    numbers = [n for n in _f(form, "numbers", 20000).replace(",", "\n").splitlines() if n.strip()]
    try:
        await _call(request, "dnc.add", numbers=numbers, note=_f(form, "note", 200))
    except _api_error() as exc:
        return await _list_page(request, 400, exc.message)
    return RedirectResponse("/campaigns?done=dnc#dnc", status_code=303)


@router.post("/dnc/remove")
async def dnc_remove(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    await _call(request, "dnc.remove", number=_f(form, "number", 30))
    return RedirectResponse("/campaigns?done=dnc#dnc", status_code=303)


@router.get("/campaigns/{cid}")
async def results_page(request: Request, cid: str, user: MonitorUser, status: str = "") -> Response:
    try:
        res = await _call(request, "campaign.results", campaign=cid[:30], status=status[:20] or None, limit=1000)
    except _api_error() as exc:
        return render(request, "message.html", status_code=404, title="Campaign", message=exc.message)
    return render(request, "campaign_results.html", title=f"Campaign {res['campaign']['name']}", res=res,
                  status=status)


@router.get("/campaigns/{cid}/export.csv")
async def export(request: Request, cid: str, user: MonitorUser) -> Response:
    try:
        out = await _call(request, "campaign.export", campaign=cid[:30])
    except _api_error() as exc:
        return Response(exc.message, status_code=404, media_type="text/plain")
    return Response(out["csv"], media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{out["filename"]}"'})
