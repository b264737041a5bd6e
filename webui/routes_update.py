"""Update page (administrators): the update state, upload a signed bundle, install it.

The bundle is streamed from the request body straight into the spool folder (bundle_upload.py) and
handed to `update.stage` (firmware/update/commands.py), which verifies it and writes the inactive slot on its own thread;
the page shows the outcome (a refusal says why; the running system is never changed by one).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from firmware.api import ApiError

from .bundle_upload import UploadRefused, spool_bundle
from .engine_calls import NO_ANSWER, attempt, call
from .guards import AdminUser, csrf_guard, web
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


# Not under `router`: its CSRF guard would read the whole form first. The bundle is streamed
# straight into the spool and the token checked on the way (webui/bundle_upload.py).
upload_router = APIRouter()


@upload_router.post("/update/upload")
async def update_upload(request: Request, user: AdminUser) -> Response:
    state = await call(request, "update.status")
    try:
        spooled = await spool_bundle(request, int(state["max_bytes"]))
    except UploadRefused as exc:
        return await _page(request, status_code=exc.status, error=exc.message)
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


# Install now: the engine first writes the before-update archive of the data (a niced worker; minutes
# on a card full of recordings, ~10 s under the boot test's emulation), then arms tryboot and
# reboots. The page waits for that answer, not the usual 10 s: the boot test saw the box reboot
# into the new release while the page, timed out, said the engine did not answer.
INSTALL_ANSWER_S = 15 * 60


@router.post("/update/install")
async def update_install(request: Request, user: AdminUser) -> Response:
    try:
        await web(request).api.call("update.install", now=True, answer_within=INSTALL_ANSWER_S)
        error = None
    except TimeoutError:
        error = NO_ANSWER
    except ApiError as exc:
        if exc.code == "bad_request":
            error = exc.message
        elif exc.code in ("unavailable", "conflict"):
            error = exc.message
        else:
            raise
    if error:
        return await _page(request, status_code=409, error=error)
    return render(request, "message.html", title="Restarting", message="Linebox restarts into the new release "
                  "and checks it; if anything is wrong it comes back on the current one by itself.", link="/update")
