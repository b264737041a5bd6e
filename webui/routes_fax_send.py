"""Sending faxes from the web: upload a document (PDF, PNG, JPEG, TIFF), see its pages as the fax
machine will print them, send; the outbox lists every job with its state, attempts and the reason
in words, each attempt's transcript on the job's page, with cancel and retry.

Everyone sends from the extension their account is linked to (its outbound permissions decide
which numbers they may fax) and sees their own jobs; administrators choose the extension and see
every job. Every action is an engine API command (`fax.*`, firmware/fax/send_commands.py); the
upload is streamed into the spool folder first, as for prompts.
"""
from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from firmware.api import ApiError

from .accounts import User
from .engine_calls import call, refusal_status, spool_upload
from .guards import AnyUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

MAX_UPLOAD_BYTES = 20 * 1024 * 1024        # firmware.fax.outbox_queue.MAX_UPLOAD_BYTES
DONE = {"queued": "The fax is queued; it goes out as soon as a line is free.",
        "cancelled": "The fax was cancelled.", "retry": "The fax is queued again.",
        "discarded": "The document was discarded."}


def _owner(user: User) -> str:
    return "" if user.role == "admin" else user.username


async def _extensions(request: Request, user: User) -> list[dict]:
    exts = await call(request, "config.extensions")
    if user.role == "admin":
        return exts
    return [e for e in exts if e["number"] == user.extension]


async def _page(request: Request, user: User, *, status_code: int = 200, error: str | None = None,
                done: str = "", form: dict | None = None) -> Response:
    jobs = (await call(request, "fax.outbox", owner=_owner(user), limit=100))["jobs"]
    return render(request, "fax_send.html", status_code=status_code, title="Send a fax", error=error,
                  flash=DONE.get(done), jobs=jobs, extensions=await _extensions(request, user),
                  form=form or {}, max_mb=MAX_UPLOAD_BYTES // (1024 * 1024), show_owner=user.role == "admin")


@router.get("/fax/send")
async def fax_send_page(request: Request, user: AnyUser, done: str = "") -> Response:
    return await _page(request, user, done=done)


@router.post("/fax/send")
async def fax_prepare(request: Request, user: AnyUser) -> Response:
    form = await request.form()

    def text(name: str, limit: int) -> str:
        value = form.get(name, "")
        return value.strip()[:limit] if isinstance(value, str) else ""
    fields = {"to": text("to", 40), "subject": text("subject", 120), "note": text("note", 2000),
              "from_ext": text("from_ext", 10), "cover": form.get("cover") == "on", "lpi": text("lpi", 3)}
    allowed = [e["number"] for e in await _extensions(request, user)]
    box = fields["from_ext"] if user.role == "admin" else (user.extension or "")
    if box not in allowed:
        msg = ("Choose the extension the fax is sent from." if user.role == "admin" else
               "Your account is not linked to an extension, so it cannot send faxes. Ask the administrator to link one.")
        return await _page(request, user, status_code=400, error=msg, form=fields)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return await _page(request, user, status_code=400, error="Choose the document to fax (PDF, PNG, JPEG or TIFF).",
                           form=fields)
    spooled = await spool_upload(request, upload, MAX_UPLOAD_BYTES)
    name = next((e.get("name") for e in await _extensions(request, user) if e["number"] == box), "") or ""
    try:
        draft = await call(request, "fax.prepare", upload=spooled, owner=user.username, box=box, to=fields["to"],
                           lpi=98 if fields["lpi"] == "98" else 196, cover=fields["cover"],
                           subject=fields["subject"], note=fields["note"],
                           sender_name=f"{name} ({box})" if name else f"Extension {box}")
    except ApiError as exc:
        if exc.code not in ("bad_request", "too_large"):
            raise
        return await _page(request, user, status_code=refusal_status(exc), error=exc.message, form=fields)
    return RedirectResponse(f"/fax/send/draft/{draft['draft']}", status_code=303)


@router.get("/fax/send/draft/{draft}")
async def fax_draft_page(request: Request, draft: str, user: AnyUser) -> Response:
    d = await call(request, "fax.draft", draft=draft[:40], owner=user.username)
    return render(request, "fax_draft.html", title="Send a fax: preview", d=d)


@router.get("/fax/send/draft/{draft}/page/{page}.png")
async def fax_draft_png(request: Request, draft: str, page: int, user: AnyUser) -> Response:
    out = await call(request, "fax.preview", draft=draft[:40], page=page, owner=user.username)
    return Response(base64.b64decode(out["png"]), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/fax/send/draft/{draft}/send")
async def fax_send(request: Request, draft: str, user: AnyUser) -> Response:
    form = await request.form()
    try:
        await call(request, "fax.send", draft=draft[:40], owner=user.username, notify_ok=form.get("notify_ok") == "on")
    except ApiError as exc:
        if exc.code not in ("bad_request", "forbidden", "conflict"):
            raise
        d = await call(request, "fax.draft", draft=draft[:40], owner=user.username)
        return render(request, "fax_draft.html", status_code=refusal_status(exc), title="Send a fax: preview", d=d,
                      error=exc.message)
    return RedirectResponse("/fax/send?done=queued", status_code=303)


@router.post("/fax/send/draft/{draft}/discard")
async def fax_discard(request: Request, draft: str, user: AnyUser) -> Response:
    await call(request, "fax.discard", draft=draft[:40], owner=user.username)
    return RedirectResponse("/fax/send?done=discarded", status_code=303)


@router.get("/fax/send/job/{job}")
async def fax_job_page(request: Request, job: int, user: AnyUser) -> Response:
    j = await call(request, "fax.job", job=job, owner=_owner(user))
    return render(request, "fax_job.html", title=f"Fax job {job}", j=j, show_owner=user.role == "admin")


@router.get("/fax/send/job/{job}/page/{page}.png")
async def fax_job_png(request: Request, job: int, page: int, user: AnyUser) -> Response:
    out = await call(request, "fax.preview", job=job, page=page, owner=_owner(user))
    return Response(base64.b64decode(out["png"]), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/fax/send/job/{job}/{action}")
async def fax_job_action(request: Request, job: int, action: str, user: AnyUser) -> Response:
    if action not in ("cancel", "retry"):
        return Response("Unknown action.", status_code=404, media_type="text/plain")
    try:
        await call(request, f"fax.{action}", job=job, owner=_owner(user))
    except ApiError as exc:
        if exc.code != "conflict":
            raise
        return await _page(request, user, status_code=409, error=exc.message)
    return RedirectResponse(f"/fax/send?done={'cancelled' if action == 'cancel' else 'retry'}", status_code=303)
