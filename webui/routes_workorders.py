"""Work-order pages: /workorders (list with filters, a new order, follow-up calls to make, the
figures of the last 30 days for administrators and supervisors) and /workorders/{id} (detail,
history, transitions).

Who may move an order: administrators and supervisors any allowed step (review, dispatch with
a person or department and a due time, close); agents only start and resolve the orders
dispatched to them. The engine enforces the life cycle itself (workorders.transition refuses
a step the state does not allow); due times are typed in the site's timezone.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call
from .guards import AdminUser, AnyUser, csrf_guard
from .rendering import render, site_timezone

router = APIRouter(dependencies=[Depends(csrf_guard)])

STATES = ("submitted", "reviewed", "dispatched", "in_progress", "resolved", "closed")
NEXT = {"submitted": ("reviewed", "closed"), "reviewed": ("dispatched", "closed"),
        "dispatched": ("in_progress", "dispatched", "resolved"), "in_progress": ("resolved", "dispatched"),
        "resolved": ("closed", "in_progress"), "closed": ()}
AGENT_STEPS = ("in_progress", "resolved")
DONE = {"created": "Work order submitted.", "moved": "Work order updated.", "followup": "Follow-up recorded.",
        "settings": "Work-order settings saved."}


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def may_move(user: Any, order: dict, to: str) -> bool:
    if user.role in ("admin", "supervisor"):
        return True
    return to in AGENT_STEPS and order.get("assignee") == user.username


async def _list_page(request: Request, user: Any, *, state: str = "open", q: str = "", overdue: bool = False,
                     status_code: int = 200, error: str | None = None, done: str = "") -> Response:
    filters: dict[str, Any] = {"state": state if state in (*STATES, "open") else "", "q": q, "limit": 200}
    if overdue:
        filters["overdue"] = True
    orders = await call(request, "workorders.list", filters=filters)
    followups = await call(request, "workorders.followups", state="open", limit=100)
    survey_calls = await call(request, "survey_call.list", done_limit=20)
    figures = None
    if user.role in ("admin", "supervisor"):
        today = dt.datetime.now(site_timezone(request)).date()
        figures = await call(request, "reports.workorders", since=str(today - dt.timedelta(days=29)),
                             until=str(today))
    settings = await call(request, "workorders.settings") if user.role == "admin" else None
    return render(request, "workorders.html", status_code=status_code, title="Work orders", orders=orders,
                  followups=followups, survey_calls=survey_calls, figures=figures, settings=settings,
                  departments_text="\n".join(f"{d['name']} | {d['email']}" for d in (settings or {}).get("departments", [])), state=state, q=q, overdue=overdue, states=STATES,
                  error=error, flash=DONE.get(done))


@router.get("/workorders")
async def workorders_page(request: Request, user: AnyUser, state: str = "open", q: str = "", overdue: str = "",
                          done: str = "") -> Response:
    return await _list_page(request, user, state=state[:20], q=q[:100], overdue=overdue == "1", done=done)


@router.post("/workorders/create")
async def workorders_create(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    cid = _field(form, "contact_id", 12)
    created, error = await attempt(request, "workorders.create", title=_field(form, "title"),
                                   description=_field(form, "description", 4000), number=_field(form, "number", 40),
                                   contact_id=int(cid) if cid.isdigit() else None,
                                   call_id=_field(form, "call_id", 80), created_by=user.username)
    if error:
        return await _list_page(request, user, status_code=400, error=error)
    return RedirectResponse(f"/workorders/{created['id']}?done=created", status_code=303)


@router.post("/workorders/settings")
async def workorders_settings(request: Request, user: AdminUser) -> Response:
    """The FCR window and the departments, one a line: `name | e-mail`."""
    form = await request.form()
    departments = []
    for line in _field(form, "departments", 10000).splitlines()[:60]:
        if line.strip():
            name, _, address = line.partition("|")
            departments.append({"name": name.strip(), "email": address.strip()})
    try:
        window = float(_field(form, "fcr_window_days", 10) or "7")
    except ValueError:
        return await _list_page(request, user, status_code=400,
                                error="The first-contact-resolution window is a number of days, such as 7.")
    _, error = await attempt(request, "workorders.save_settings", fcr_window_days=window, departments=departments)
    if error:
        return await _list_page(request, user, status_code=400, error=error)
    return RedirectResponse("/workorders?done=settings", status_code=303)


@router.post("/workorders/followups/{fid}")
async def followup_done(request: Request, fid: int, user: AnyUser) -> Response:
    form = await request.form()
    answer = _field(form, "satisfied", 5)
    satisfied = True if answer == "yes" else False if answer == "no" else None
    _, error = await attempt(request, "workorders.followup_done", id=fid, by=user.username, satisfied=satisfied,
                             note=_field(form, "note", 1000))
    if error:
        return await _list_page(request, user, status_code=400, error=error)
    return RedirectResponse("/workorders?done=followup", status_code=303)


async def _detail(request: Request, user: Any, oid: int, *, status_code: int = 200, error: str | None = None,
                  done: str = "") -> Response:
    order, err = await attempt(request, "workorders.get", id=oid)
    if order is None:
        return await _list_page(request, user, status_code=404, error=err or f"There is no work order {oid}.")
    steps = [s for s in NEXT[order["state"]] if may_move(user, order, s)]
    survey = await call(request, "survey_call.list", call_id=order["call_id"]) if order.get("call_id") else None
    return render(request, "workorder.html", status_code=status_code, title=f"Work order {oid}", order=order,
                  steps=steps, error=error, flash=DONE.get(done), survey=survey)


@router.get("/workorders/{oid}")
async def workorder_page(request: Request, oid: int, user: AnyUser, done: str = "") -> Response:
    return await _detail(request, user, oid, done=done)


def _due(text: str, request: Request) -> float | None:
    """'2026-03-01T14:30' in the site's timezone → epoch seconds."""
    if not text:
        return None
    try:
        local = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("The due time looks like 2026-03-01 14:30; correct it.") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=site_timezone(request))
    return local.timestamp()


@router.post("/workorders/{oid}/transition")
async def workorder_transition(request: Request, oid: int, user: AnyUser) -> Response:
    form = await request.form()
    to = _field(form, "to", 20)
    order, err = await attempt(request, "workorders.get", id=oid)
    if order is None:
        return await _list_page(request, user, status_code=404, error=err or f"There is no work order {oid}.")
    if not may_move(user, order, to):
        return await _detail(request, user, oid, status_code=403,
                             error="Agents may only start and resolve work orders dispatched to them; ask a "
                                   "supervisor for this step.")
    try:
        due = _due(_field(form, "due", 30), request)
    except ValueError as exc:
        return await _detail(request, user, oid, status_code=400, error=str(exc))
    _, error = await attempt(request, "workorders.transition", id=oid, to=to, by=user.username,
                             note=_field(form, "note", 4000), assignee=_field(form, "assignee", 80),
                             department=_field(form, "department", 80), due=due)
    if error:
        return await _detail(request, user, oid, status_code=400, error=error)
    return RedirectResponse(f"/workorders/{oid}?done=moved", status_code=303)
