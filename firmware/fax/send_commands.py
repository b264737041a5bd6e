"""Engine API commands for sending faxes (the web's /fax/send page and `linebox fax send`).

    fax.prepare  {upload, owner, box, to, lpi, cover, subject, note, sender_name}  -> {draft, state}
    fax.draft    {draft, owner}     rendering | ready (pages) | failed (error, in words)
    fax.preview  {page, draft | job, owner}                -> {png: base64}
    fax.discard  {draft, owner}
    fax.send     {draft, owner, notify, notify_ok}          -> the queued job
    fax.outbox   {owner, limit}     fax.job {job, owner}    (with every attempt's transcript)
    fax.cancel   {job, owner}       fax.retry {job, owner}

`owner` is the user the web (or CLI) acts for: a job or draft of someone else is "not found";
an empty owner (an administrator) sees every one. `box` is the sender's extension: its class of
service decides which numbers may be faxed (the outbound gate, asked here and again when the
line is seized). All of these run on the store thread; rendering runs on the render thread.
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from ..api_uploads import take_upload
from .outbox_queue import MAX_UPLOAD_BYTES, FaxOutbox, OutboxError, check_number, outbox_for
from .service import fax_root


def _outbox(ctx: ApiContext) -> FaxOutbox:
    root = fax_root(ctx.config)
    box = outbox_for(root) if root is not None else None
    if box is None:
        raise ApiError("unavailable", "Fax sending is not running (the engine has no data folder).")
    return box


def _owner(owner: str) -> str | None:
    return owner or None


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except OutboxError as exc:
        raise ApiError(exc.code, exc.message) from None


def _extension(ctx: ApiContext, box: str) -> str:
    if not box.isdigit() or len(box) > 10 or ctx.config.extension(box) is None:
        raise ApiError("bad_request", f"extension {box[:10]!r}: a fax is sent from an existing extension "
                                      "(its class of service decides which numbers it may call)")
    return box


@command("fax.prepare", on="store")
def fax_prepare(ctx: ApiContext, upload: str, owner: str, box: str, to: str, lpi: int = 196, cover: bool = False,
                subject: str = "", note: str = "", sender_name: str = "") -> dict:
    """Take a spooled upload (PDF, PNG, JPEG or TIFF) to fax to `to` from extension `box`, and start
    rendering it; poll `fax.draft` for the preview."""
    out = _outbox(ctx)
    _extension(ctx, box)
    _run(check_number, to)
    data = take_upload(ctx, upload, MAX_UPLOAD_BYTES)
    token = _run(out.prepare, data, owner=owner, box=box, to=to, lpi=lpi, cover=cover, subject=subject, note=note,
                 sender_name=sender_name)
    return {"draft": token, "state": "rendering"}


@command("fax.draft", on="store")
def fax_draft(ctx: ApiContext, draft: str, owner: str = "") -> dict:
    """A draft's state: rendering, ready (with its page count) or failed (with the reason)."""
    return _run(_outbox(ctx).draft, draft, _owner(owner))


@command("fax.discard", on="store")
def fax_discard(ctx: ApiContext, draft: str, owner: str = "") -> dict:
    """Throw a draft away (its rendered pages and previews) without sending it."""
    _run(_outbox(ctx).discard, draft, _owner(owner))
    return {"ok": True}


@command("fax.preview", on="store")
def fax_preview(ctx: ApiContext, page: int, job: int | None = None, draft: str | None = None, owner: str = "") -> dict:
    """Thumbnail of page `page` (1-based) of a draft or a job, as base64 PNG."""
    if (job is None) == (draft is None):
        raise ApiError("bad_request", "give either job or draft")
    return {"png": _run(_outbox(ctx).page_png, job, draft, page, _owner(owner))}


@command("fax.send", on="store")
def fax_send(ctx: ApiContext, draft: str, owner: str = "", notify: str = "", notify_ok: bool = False) -> dict:
    """Queue a rendered draft. The number passes the outbound gate for the draft's extension now, and
    again when a line is seized. `notify`: e-mail for the result (default: the extension's mailbox
    address); failures are always mailed there, successes only with `notify_ok`."""
    from ..apps.permissions import Origin
    from ..mailer import MailError, check_address
    out = _outbox(ctx)
    d = _run(out.draft, draft, _owner(owner))
    if notify:
        try:
            notify = check_address(notify, "The e-mail address for the result")
        except MailError as exc:
            raise ApiError("bad_request", str(exc)) from None
    else:
        box = d["box"]
        notify = ctx.on_media(lambda eng: out.svc.box_email(box)).result(timeout=5)

    def authorise(box: str, number: str) -> Any:
        return ctx.on_media(lambda eng: eng.authorise_outside(Origin(extension=box, via="fax"), number)).result(
            timeout=5)
    job = _run(out.submit, draft, owner=_owner(owner), notify=notify, notify_ok=notify_ok, authorise=authorise)
    return job.as_json()


@command("fax.outbox", on="store")
def fax_outbox(ctx: ApiContext, owner: str = "", limit: int = 100) -> dict:
    """Send jobs, newest first (an owner's own, or everyone's for an empty owner)."""
    if not 1 <= limit <= 1000:
        raise ApiError("bad_request", "limit: give 1 to 1000")
    return {"jobs": [j.as_json() for j in _outbox(ctx).store.list(_owner(owner), limit)]}


@command("fax.job", on="store")
def fax_job(ctx: ApiContext, job: int, owner: str = "") -> dict:
    """One send job with every attempt (line, result in words, pages, rate, ECM, transcript)."""
    out = _outbox(ctx)
    j = _run(out.get, job, _owner(owner))
    return {**j.as_json(), "attempt_list": out.store.attempts(j.id)}


@command("fax.cancel", on="store")
def fax_cancel(ctx: ApiContext, job: int, owner: str = "") -> dict:
    """Cancel a queued fax, or hang up one being sent."""
    return _run(_outbox(ctx).cancel, job, _owner(owner)).as_json()


@command("fax.retry", on="store")
def fax_retry(ctx: ApiContext, job: int, owner: str = "") -> dict:
    """Queue a failed or cancelled fax again (with a fresh set of attempts)."""
    return _run(_outbox(ctx).retry, job, _owner(owner)).as_json()
