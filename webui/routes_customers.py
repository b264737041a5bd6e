"""Customers and knowledge-base pages.

/customers (every role: agents look customers up and add or correct them during calls; merge,
CSV import and export for administrators and supervisors): search, edit form, duplicate merge,
CSV import with the validation report by row (all or nothing), CSV export (formula-looking
cells neutralised by the engine). /knowledge: every role searches and reads articles (suggested
by disposition); administrators and supervisors write them; administrators edit the disposition
codes. Everything goes through the engine API (customers.*, kb.*, dispositions.*:
firmware/customers/commands.py, firmware/knowledge/commands.py).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call, spool_upload
from .guards import AdminUser, AnyUser, MonitorUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

DONE = {"saved": "Saved.", "merged": "Merged.", "deleted": "Deleted.", "codes": "Disposition codes saved."}
IMPORT_MAX_BYTES = 16 << 20
IMPORT_WAIT_S = 8.0


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _contact_from_form(form: Any) -> dict:
    numbers = [n.strip() for n in _field(form, "numbers", 1000).replace(",", "\n").splitlines() if n.strip()]
    tags = [t.strip() for t in _field(form, "tags", 1000).split(",") if t.strip()]
    contact: dict[str, Any] = {"name": _field(form, "name"), "company": _field(form, "company"),
                               "numbers": numbers, "tags": tags, "address": _field(form, "address", 2000),
                               "notes": _field(form, "notes", 4000)}
    cid = _int(_field(form, "id", 12))
    if cid is not None:
        contact["id"] = cid
    return contact


async def _customers_page(request: Request, *, q: str = "", edit: int | None = None, status_code: int = 200,
                          error: str | None = None, done: str = "", typed: dict | None = None,
                          report: dict | None = None, number: str = "") -> Response:
    results = await call(request, "customers.search", q=q, limit=50)
    current = typed
    if current is None and edit is not None:
        current, err = await _get_contact(request, edit)
        error = error or err
    if current is None:
        current = {"name": "", "company": "", "numbers": [number] if number else [], "tags": [], "address": "",
                   "notes": ""}
    count = await call(request, "customers.count")
    history = None
    if current.get("id") and typed is None:
        history, _ = await attempt(request, "customers.history", id=current["id"], limit=20)
    return render(request, "customers.html", status_code=status_code, title="Customers", results=results, q=q,
                  current=current, count=count, history=history, error=error, flash=DONE.get(done), report=report)


async def _get_contact(request: Request, cid: int) -> tuple[dict | None, str | None]:
    try:
        return await call(request, "customers.get", id=cid), None
    except Exception as exc:  # noqa: BLE001 - shown on the page: the contact may have been merged meanwhile
        return None, getattr(exc, "message", "That contact is gone (merged or deleted).")


@router.get("/customers")
async def customers_page(request: Request, user: AnyUser, q: str = "", edit: str = "", done: str = "",
                         number: str = "") -> Response:
    return await _customers_page(request, q=q[:100], edit=_int(edit[:12]), done=done, number=number[:40])


@router.post("/customers/save")
async def customers_save(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    contact = _contact_from_form(form)
    saved, error = await attempt(request, "customers.save", contact=contact)
    if error:
        return await _customers_page(request, status_code=400, error=error, typed=contact)
    return RedirectResponse(f"/customers?edit={saved['id']}&done=saved", status_code=303)


@router.post("/customers/merge")
async def customers_merge(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    keep, drop = _int(_field(form, "keep", 12)), _int(_field(form, "drop", 12))
    if keep is None or drop is None:
        return await _customers_page(request, status_code=400,
                                     error="Give the numbers (#) of the contact to keep and of its duplicate.")
    merged, error = await attempt(request, "customers.merge", keep=keep, drop=drop)
    if error:
        return await _customers_page(request, status_code=400, error=error)
    return RedirectResponse(f"/customers?edit={merged['id']}&done=merged", status_code=303)


@router.post("/customers/import")
async def customers_import(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return await _customers_page(request, status_code=400, error="Choose a CSV file to import.")
    spooled = await spool_upload(request, upload, IMPORT_MAX_BYTES)
    out = await call(request, "customers.import_csv", upload=spooled)
    deadline = time.monotonic() + IMPORT_WAIT_S
    while out["state"] in ("checking", "writing") and time.monotonic() < deadline:
        await asyncio.sleep(0.1 if out["state"] == "writing" else 0.3)   # each status request writes a chunk
        out = await call(request, "customers.import_status", job=out["job"])
    return await _import_result(request, out)


@router.get("/customers/import/{job}")
async def customers_import_status(request: Request, job: str, user: MonitorUser) -> Response:
    out, error = await attempt(request, "customers.import_status", job=job[:40])
    if error:
        return await _customers_page(request, status_code=400, error=error)
    return await _import_result(request, out)


async def _import_result(request: Request, out: dict) -> Response:
    status = 400 if out["state"] == "refused" else 200
    return await _customers_page(request, status_code=status, report=out)


@router.get("/customers/export.csv")
async def customers_export(request: Request, user: MonitorUser) -> Response:
    text = await call(request, "customers.export_csv")
    stamp = time.strftime("%Y%m%d", time.gmtime())
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.csv"'})


# ---------------------------------------------------------------- knowledge base

def _article_from_form(form: Any) -> dict:
    art: dict[str, Any] = {"title": _field(form, "title"), "body": _field(form, "body", 20000),
                           "tags": [t.strip() for t in _field(form, "tags", 600).split(",") if t.strip()],
                           "dispositions": form.getlist("dispositions")[:30]}
    aid = _int(_field(form, "id", 12))
    if aid is not None:
        art["id"] = aid
    return art


async def _knowledge_page(request: Request, *, q: str = "", disposition: str = "", view: int | None = None,
                          status_code: int = 200, error: str | None = None, done: str = "",
                          typed: dict | None = None) -> Response:
    codes = await call(request, "dispositions.list")
    articles = await call(request, "kb.search", q=q, disposition=disposition, limit=50)
    current = typed
    if current is None and view is not None:
        current, err = await _get_article(request, view)
        error = error or err
    return render(request, "knowledge.html", status_code=status_code, title="Knowledge base", articles=articles,
                  q=q, disposition=disposition, codes=codes, current=current, error=error, flash=DONE.get(done),
                  codes_text="\n".join(f"{c['code']} | {c['label']} | {' '.join(str(k) for k in c['kb'])}"
                                       for c in codes))


async def _get_article(request: Request, aid: int) -> tuple[dict | None, str | None]:
    try:
        return await call(request, "kb.get", id=aid), None
    except Exception as exc:  # noqa: BLE001 - shown on the page
        return None, getattr(exc, "message", "That article is gone.")


@router.get("/knowledge")
async def knowledge_page(request: Request, user: AnyUser, q: str = "", disposition: str = "", view: str = "",
                         done: str = "") -> Response:
    return await _knowledge_page(request, q=q[:100], disposition=disposition[:40], view=_int(view[:12]), done=done)


@router.post("/knowledge/save")
async def knowledge_save(request: Request, user: MonitorUser) -> Response:
    form = await request.form()
    art = _article_from_form(form)
    saved, error = await attempt(request, "kb.save", article=art, by=user.username)
    if error:
        return await _knowledge_page(request, status_code=400, error=error, typed=art)
    return RedirectResponse(f"/knowledge?view={saved['id']}&done=saved", status_code=303)


@router.post("/knowledge/codes")
async def knowledge_codes(request: Request, user: AdminUser) -> Response:
    """The disposition codes, one a line: `code | label | article numbers`."""
    form = await request.form()
    codes = []
    for line in _field(form, "codes", 10000).splitlines()[:100]:
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        kb = [int(x) for x in (parts[2].replace(",", " ").split() if len(parts) > 2 else []) if x.isdigit()]
        codes.append({"code": parts[0], "label": parts[1] if len(parts) > 1 else parts[0], "kb": kb})
    _, error = await attempt(request, "dispositions.save", codes=codes)
    if error:
        return await _knowledge_page(request, status_code=400, error=error)
    return RedirectResponse("/knowledge?done=codes", status_code=303)
