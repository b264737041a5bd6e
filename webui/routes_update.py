"""Update page (administrators): the update state, upload a signed bundle, install it.

The bundle is streamed into the spool folder and handed to `update.stage`
(firmware/update/commands.py), which verifies it and writes the inactive slot on its own thread;
the page shows the outcome (a refusal says why; the running system is never changed by one).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from firmware.api import ApiError

from .engine_calls import attempt, call, spool_upload
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])


async def _page(request: Request, *, status_code: int = 200, error: str | None = None,
                form: dict | None = None) -> Response:
    state = await call(request, "update.status")
    policy = dict(state["policy"])
    start, _, end = policy["window"].partition("-")
    policy.update(window_start=start, window_end=end)
    if form is not None:                    # a refused form keeps what the owner typed
        policy.update(form)
    return render(request, "update.html", status_code=status_code, title="Update", state=state, error=error,
                  policy=policy)


@router.get("/update")
async def update_page(request: Request, user: AdminUser) -> Response:
    return await _page(request)


@router.post("/update/upload")
async def update_upload(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _page(request, status_code=400, error="Choose a Linebox update bundle to upload.")
    state = await call(request, "update.status")
    spooled = await spool_upload(request, upload, int(state["max_bytes"]))
    try:
        _, error = await attempt(request, "update.stage", upload=spooled)
    except ApiError as exc:
        if exc.code not in ("unavailable", "conflict", "too_large", "not_found"):
            raise
        error = exc.message
    if error:
        return await _page(request, status_code=400, error=error)
    return RedirectResponse("/update", status_code=303)


@router.post("/update/policy")
async def update_policy(request: Request, user: AdminUser) -> Response:
    """The update source URL, the daily install window and the auto-install toggle."""
    form = await request.form()
    fields = {"url": str(form.get("url") or ""), "window_start": str(form.get("window_start") or ""),
              "window_end": str(form.get("window_end") or ""), "auto_install": form.get("auto_install") == "on"}
    _, error = await attempt(request, "update.policy.set", **fields)
    if error:
        return await _page(request, status_code=400, error=error, form=fields)
    return RedirectResponse("/update", status_code=303)


@router.post("/update/fetch")
async def update_fetch(request: Request, user: AdminUser) -> Response:
    try:
        _, error = await attempt(request, "update.fetch")
    except ApiError as exc:
        if exc.code not in ("unavailable", "conflict"):
            raise
        error = exc.message
    if error:
        return await _page(request, status_code=400, error=error)
    return RedirectResponse("/update", status_code=303)


@router.post("/update/install")
async def update_install(request: Request, user: AdminUser) -> Response:
    try:
        _, error = await attempt(request, "update.install", now=True)
    except ApiError as exc:
        if exc.code not in ("unavailable", "conflict"):
            raise
        error = exc.message
    if error:
        return await _page(request, status_code=409, error=error)
    return render(request, "message.html", title="Restarting", message="Linebox restarts into the new release "
                  "and checks it; if anything is wrong it comes back on the current one by itself.", link="/update")
