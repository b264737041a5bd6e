"""Engine API commands of work orders (all on the store thread: one writer).

Each transition is published as a "workorder" event; a dispatch notifies the person (internal
message, and e-mail when their user has an address) or the department's e-mail address from
the owner's work-order settings (`workorders.settings`); see `notify.py`."""
from __future__ import annotations

import time
from typing import Any

from ..api import ApiContext, ApiError, command
from ..caller_numbers import normalise, region_of
from . import orders_for
from .notify import notify_dispatch
from .orders import NotFound, WorkOrderError
from .settings import load as load_settings
from .settings import save as save_settings


def _region(ctx: ApiContext) -> str:
    settings = ctx.config.settings() or {}
    return region_of(str(settings.get("customer_region") or settings.get("country") or "US"))


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError("not_found", str(exc))
    return ApiError("bad_request", str(exc))


@command("workorders.create")
def workorders_create(ctx: ApiContext, title: str, description: str = "", contact_id: int | None = None,
                      number: str = "", call_id: str = "", recording: str | None = None, fax: str | None = None,
                      disposition: str = "", created_by: str = "") -> dict:
    """Submit a work order (state "submitted"), linked to a customer, a call, a recording or a
    fax. Returns the work order (as workorders.get)."""
    n = normalise(number, _region(ctx)) if number else None
    book = orders_for(ctx.data_dir)
    try:
        oid = book.create(title=title, description=description, contact_id=contact_id,
                          number=n.raw if n else "", e164=n.e164 if n else None, call_id=call_id,
                          recording=recording, fax=fax, disposition=disposition, created_by=created_by)
        order = book.get(oid)
    except (WorkOrderError, NotFound) as e:
        raise _refused(e) from None
    ctx.publish("workorder", {"id": oid, "state": order["state"]})
    return order


@command("workorders.get")
def workorders_get(ctx: ApiContext, id: int) -> dict:
    """Work order `id` with its history [{at, from_state, to_state, by, note}], follow-ups and
    `overdue`."""
    try:
        return orders_for(ctx.data_dir).get(id)
    except NotFound as e:
        raise _refused(e) from None


@command("workorders.list")
def workorders_list(ctx: ApiContext, filters: dict[str, Any] | None = None) -> list[dict]:
    """Work orders, newest first. `filters`: {state ("open" or a state), assignee, department,
    contact_id, overdue: true, q (title/description/number), limit (1-500)}."""
    f = dict(filters or {})
    allowed = {"state", "assignee", "department", "contact_id", "overdue", "q", "limit"}
    unknown = set(f) - allowed
    if unknown:
        raise ApiError("bad_request", f"Unknown filter(s) {', '.join(sorted(unknown))[:80]}; use "
                                      f"{', '.join(sorted(allowed))}.")
    try:
        return orders_for(ctx.data_dir).list(
            state=str(f.get("state") or ""), assignee=str(f.get("assignee") or "")[:80],
            department=str(f.get("department") or "")[:80],
            contact_id=f.get("contact_id") if isinstance(f.get("contact_id"), int) else None,
            overdue=bool(f.get("overdue")), q=str(f.get("q") or "")[:100], limit=int(f.get("limit") or 100))
    except (WorkOrderError, ValueError, TypeError) as e:
        raise _refused(WorkOrderError(str(e))) from None


@command("workorders.update")
def workorders_update(ctx: ApiContext, id: int, changes: dict[str, Any]) -> dict:
    """Change a work order's title, description, recording, fax or contact_id."""
    try:
        order = orders_for(ctx.data_dir).update(id, changes)
    except (WorkOrderError, NotFound) as e:
        raise _refused(e) from None
    ctx.publish("workorder", {"id": id, "state": order["state"]})
    return order


@command("workorders.transition")
def workorders_transition(ctx: ApiContext, id: int, to: str, by: str = "", note: str = "", assignee: str = "",
                          department: str = "", due: float | None = None) -> dict:
    """Move work order `id` to state `to` (submitted → reviewed → dispatched → in_progress →
    resolved → closed; dispatch needs a person or department and a due time). Resolving opens a
    follow-up call task. Returns the work order."""
    book = orders_for(ctx.data_dir)
    try:
        order = book.transition(id, to, by=by, note=note, assignee=assignee, department=department, due=due)
    except (WorkOrderError, NotFound) as e:
        raise _refused(e) from None
    ctx.publish("workorder", {"id": id, "state": order["state"]})
    if to == "dispatched":
        order["notified"] = notify_dispatch(ctx, order)
    return order


@command("workorders.followups")
def workorders_followups(ctx: ApiContext, state: str = "open", limit: int = 100) -> list[dict]:
    """Follow-up call tasks (after a resolution): [{id, order_id, title, number, created, state}]."""
    if state not in ("open", "done", "cancelled"):
        raise ApiError("bad_request", "state is one of open, done, cancelled.")
    return orders_for(ctx.data_dir).followups(state, limit)


@command("workorders.followup_done")
def workorders_followup_done(ctx: ApiContext, id: int, by: str, satisfied: bool | None = None,
                             note: str = "") -> dict:
    """Record the follow-up call's outcome (was the customer satisfied?)."""
    try:
        return orders_for(ctx.data_dir).complete_followup(id, by=by, satisfied=satisfied, note=note,
                                                          now=time.time())
    except (WorkOrderError, NotFound) as e:
        raise _refused(e) from None


@command("workorders.settings")
def workorders_settings(ctx: ApiContext) -> dict:
    """The owner's work-order settings: {fcr_window_days, departments: [{name, email}]}."""
    return load_settings(ctx.config)


@command("workorders.save_settings")
def workorders_save_settings(ctx: ApiContext, fcr_window_days: float, departments: list[dict[str, Any]]) -> dict:
    """Set the first-contact-resolution window (days; a repeat contact within it reopens a
    resolved work order) and the departments ({name, email}) work orders are dispatched to."""
    try:
        return save_settings(ctx.config, fcr_window_days, departments)
    except WorkOrderError as e:
        raise _refused(e) from None
