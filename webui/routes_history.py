"""Call history: search by number or name, filter by disposition and dates, page through."""
from __future__ import annotations

import datetime as dt
from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from firmware.api import ApiError

from .engine_calls import call
from .guards import MonitorUser, csrf_guard, web
from .rendering import render, site_timezone

router = APIRouter(dependencies=[Depends(csrf_guard)])

PAGE_SIZE = 25
# `CallRecords` dispositions and how the page names them (None = the call is still up).
DISPOSITIONS = {"answered": "Answered", "no_answer": "No answer", "busy": "Busy", "failed": "Failed",
                "denied": "Denied"}


class HistoryQueryError(ValueError):
    pass


def _day_start(text: str, label: str, tz: tzinfo, days_after: int = 0) -> float | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text) + dt.timedelta(days=days_after)
    except (ValueError, OverflowError) as exc:
        raise HistoryQueryError(f"{label}: use a date like 2026-01-31.") from exc
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()   # midnight at the site


def parse_query(q: str, disposition: str, date_from: str, date_to: str, page: str,
                tz: tzinfo = dt.UTC) -> dict[str, Any]:
    """The `CallRecords.search` arguments for these form values (or a clear error)."""
    if disposition and disposition not in DISPOSITIONS:
        raise HistoryQueryError(f"Result must be one of: {', '.join(DISPOSITIONS)}.")
    since = _day_start(date_from, "From", tz)
    until = _day_start(date_to, "To", tz, days_after=1)      # "to" includes that whole day
    if since is not None and until is not None and until <= since:
        raise HistoryQueryError("The 'To' date is before the 'From' date.")
    try:
        page_no = max(1, min(int(page or 1), 100_000))
    except ValueError as exc:
        raise HistoryQueryError("Page must be a number.") from exc
    return {"q": q.strip()[:64], "disposition": disposition or None, "since": since, "until": until,
            "limit": PAGE_SIZE, "offset": (page_no - 1) * PAGE_SIZE, "page": page_no}


# outside calls' answer supervision (firmware/answer.py) stores short codes; the page says them in words
ANSWER_REASONS = {"machine": "answering machine", "human": "answered by a person", "silent": "silent answer",
                  "sit": "number not in service (special information tones)", "congestion": "congestion tone",
                  "busy": "busy tone"}


async def _search(request: Request, args: dict[str, Any]) -> tuple[list[dict], bool]:
    records = web(request).records
    search_args = {k: v for k, v in args.items() if k != "page"}
    search_args["limit"] = PAGE_SIZE + 1      # one extra row says whether a next page exists
    rows = await run_in_threadpool(lambda: records.search(**search_args))
    rows = [dict(r) for r in rows]
    reasons = getattr(records, "reasons", None)     # why a call was denied or cut short
    if reasons is not None and rows:
        why = await run_in_threadpool(lambda: reasons(r["call_id"] for r in rows))
        for r in rows:
            r["reason"] = why.get(r["call_id"])
            r["reason_text"] = ANSWER_REASONS.get(r["reason"] or "", r["reason"])
    if rows:                                        # recordings of these calls (recordings pages)
        linked = await call(request, "recordings.by_call", call_ids=[r["call_id"] for r in rows])
        for r in rows:
            r["recordings"] = linked.get(r["call_id"], [])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@router.get("/history")
async def history_page(request: Request, user: MonitorUser, q: str = "", disposition: str = "",
                       date_from: str = "", date_to: str = "", page: str = "1") -> Response:
    form = {"q": q, "disposition": disposition, "date_from": date_from, "date_to": date_to}
    try:
        args = parse_query(q, disposition, date_from, date_to, page, site_timezone(request))
    except HistoryQueryError as exc:
        return render(request, "history.html", status_code=400, title="Call history", rows=[], form=form,
                      error=str(exc), page=1, has_next=False, dispositions=DISPOSITIONS, filtered=True)
    rows, has_next = await _search(request, args)
    filtered = any(form.values()) or args["page"] > 1
    return render(request, "history.html", title="Call history", rows=rows, form=form, error=None,
                  page=args["page"], has_next=has_next, dispositions=DISPOSITIONS, filtered=filtered,
                  names=await _party_names(request))


async def _party_names(request: Request) -> dict:
    """Lines and extensions by name, not raw ids (engine API destinations.party_names)."""
    try:
        return await call(request, "destinations.party_names")
    except ApiError:
        return {}


@router.get("/api/history")
async def history_json(request: Request, user: MonitorUser, q: str = "", disposition: str = "",
                       date_from: str = "", date_to: str = "", page: str = "1") -> JSONResponse:
    try:
        args = parse_query(q, disposition, date_from, date_to, page, site_timezone(request))
    except HistoryQueryError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    rows, has_next = await _search(request, args)
    return JSONResponse({"calls": rows, "page": args["page"], "has_next": has_next})
