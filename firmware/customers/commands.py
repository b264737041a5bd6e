"""Engine API commands of the customer book: the screen pop, contacts, CSV import/export,
disposition codes and the interactions recorded at wrap-up.

All but the pop run on the store thread (`on="store"`): the writes because the store has one
writer. The pop runs on the engine API's reader thread (`on="read"`) with its own read-only
connections (WAL), so it never queues behind the store thread: a 50,000-row import, whose
import command waits up to 0.15 s for a small file's check and whose status requests write
chunks, made the pop wait up to 273 ms when it shared that thread (see bench/screen_pop.py). Caller ID is untrusted: it is normalised, bounded and only used as a
bound SQL parameter; the raw text is returned as it came (the web escapes it)."""
from __future__ import annotations

import time
from typing import Any

from ..api import ApiContext, ApiError, command
from ..api_uploads import take_upload
from ..caller_numbers import normalise, region_of
from ..workorders import orders_for, orders_reader_for, workorder_settings
from . import book_for, csv_io, reader_for
from .book import CustomerError, NotFound


def region(ctx: ApiContext) -> str:
    """The site's region for number parsing: the setting `customer_region`, else the country."""
    settings = ctx.config.settings() or {}
    return region_of(str(settings.get("customer_region") or settings.get("country") or "US"))


def fcr_window_s(ctx: ApiContext) -> float:
    """The first-contact-resolution window of the owner's work-order settings, in seconds."""
    return workorder_settings(ctx.config)["fcr_window_days"] * 86400


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError("not_found", str(exc))
    return ApiError("bad_request", str(exc))


@command("customers.pop", on="read")
def customers_pop(ctx: ApiContext, number: str, call_id: str = "") -> dict:
    """The screen pop for a caller: {raw, e164, match ("e164" | "last_digits" | null), contact
    ({id, name, company, tags, numbers, address, notes} or null), interactions (last 5, newest
    first: {at, agent, disposition, notes, resolved, recording, call_id}), work_orders (open ones:
    {id, title, state, due, overdue})}."""
    n = normalise(number, region(ctx))
    book = reader_for(ctx.data_dir)            # its own read-only connection: never waits for the store thread
    cid, how = book.match(n)
    contact = None
    if cid is not None:
        c = book.get(cid)
        contact = {k: c[k] for k in ("id", "name", "company", "tags", "numbers", "address", "notes")}
    now = time.time()
    return {"raw": n.raw, "e164": n.e164, "match": how, "contact": contact, "call_id": call_id[:80],
            "interactions": book.recent_interactions(cid, n),
            "work_orders": orders_reader_for(ctx.data_dir).open_for(cid, n.e164, now)}


@command("customers.save")
def customers_save(ctx: ApiContext, contact: dict[str, Any]) -> dict:
    """Add a contact (no `id`) or replace contact `id`: {name, company, tags: [..], numbers: [..],
    address, notes}. Returns {"id"}."""
    try:
        return {"id": book_for(ctx.data_dir).save(contact, region(ctx))}
    except (CustomerError, NotFound) as e:
        raise _refused(e) from None


@command("customers.get")
def customers_get(ctx: ApiContext, id: int) -> dict:
    """Contact `id`: {id, name, company, tags, numbers, address, notes, updated}."""
    try:
        return book_for(ctx.data_dir).get(id)
    except NotFound as e:
        raise _refused(e) from None


@command("customers.history")
def customers_history(ctx: ApiContext, id: int, limit: int = 20) -> dict:
    """A contact's past interactions (newest first, at most `limit`, 1-100) and work orders
    (open and closed, newest first): {"interactions": [...], "work_orders": [...]}."""
    book = book_for(ctx.data_dir)
    try:
        book.get(id)
    except NotFound as e:
        raise _refused(e) from None
    rows = book.contact_interactions(id, max(1, min(limit, 100)))
    orders = orders_for(ctx.data_dir).list(contact_id=id, limit=50)
    return {"interactions": rows,
            "work_orders": [{"id": o["id"], "title": o["title"], "state": o["state"], "due": o["due"],
                             "overdue": o["overdue"]} for o in orders]}


@command("customers.search")
def customers_search(ctx: ApiContext, q: str = "", limit: int = 50) -> list[dict]:
    """Contacts whose name, company, tags or notes contain `q` or whose number matches it (E.164
    or last digits); by name, at most `limit` (1-200)."""
    try:
        return book_for(ctx.data_dir).search(q, limit, region(ctx))
    except CustomerError as e:
        raise _refused(e) from None


@command("customers.delete")
def customers_delete(ctx: ApiContext, id: int) -> None:
    """Remove contact `id` (its past interactions are kept, unlinked)."""
    try:
        book_for(ctx.data_dir).delete(id)
    except NotFound as e:
        raise _refused(e) from None


@command("customers.merge")
def customers_merge(ctx: ApiContext, keep: int, drop: int) -> dict:
    """Merge duplicate `drop` into `keep` (numbers, tags and notes joined, interactions moved);
    returns the merged contact."""
    try:
        return book_for(ctx.data_dir).merge(keep, drop)
    except (CustomerError, NotFound) as e:
        raise _refused(e) from None


@command("customers.count")
def customers_count(ctx: ApiContext) -> int:
    """How many contacts the book holds."""
    return book_for(ctx.data_dir).count()


IMPORT_WAIT_S = 0.15                 # the store thread waits at most this for a small file
_JOBS: dict[str, csv_io.ImportJob] = {}


@command("customers.import_csv")
def customers_import_csv(ctx: ApiContext, upload: str) -> dict:
    """Import the spooled CSV `upload` (see firmware/customers/csv_io.py), all or nothing:
    {job, state ("done" | "refused" | "checking"), rows_checked, imported, message, bad_rows,
    errors: [{row, message}]}. A file checked within 0.15 s is answered at once; a bigger one says
    "checking" or "writing": ask `customers.import_status(job)` until it is done or refused
    (each ask writes the next chunks; the contacts appear all at once at the end)."""
    data = take_upload(ctx, upload, csv_io.MAX_BYTES)
    job = csv_io.ImportJob(data, book_for(ctx.data_dir), region(ctx))
    for old in [k for k, j in _JOBS.items() if j.checked.is_set() and j.contacts is None][:-20]:   # finished ones
        _JOBS.pop(old, None)
    _JOBS[job.id] = job
    job.checked.wait(IMPORT_WAIT_S)
    return job.finish()


@command("customers.import_status")
def customers_import_status(ctx: ApiContext, job: str) -> dict:
    """The state of import `job` (as customers.import_csv answers); once the whole file is
    checked, each call writes the next chunks (about 0.05 s of work) until it is done."""
    found = _JOBS.get(job)
    if found is None or found.book is not book_for(ctx.data_dir):
        raise ApiError("not_found", "There is no such import (the box may have restarted); upload the file again.")
    return found.finish()


@command("customers.export_csv")
def customers_export_csv(ctx: ApiContext) -> str:
    """Every contact as CSV text (formula-looking cells neutralised with a leading apostrophe)."""
    return csv_io.export(book_for(ctx.data_dir).all_contacts())


@command("customers.alarms")
def customers_alarms(ctx: ApiContext) -> list[str]:
    """What opening the customer book and work orders had to do (a damaged file set aside)."""
    alarms = [book_for(ctx.data_dir).alarm, orders_for(ctx.data_dir).alarm]
    return [a for a in alarms if a]


# ---------------------------------------------------------------- dispositions

@command("dispositions.list")
def dispositions_list(ctx: ApiContext) -> list[dict]:
    """The owner's disposition codes in order: [{code, label, kb: [article ids]}]."""
    return book_for(ctx.data_dir).dispositions()


@command("dispositions.save")
def dispositions_save(ctx: ApiContext, codes: list[dict[str, Any]]) -> list[dict]:
    """Replace the disposition codes with `codes` ([{code, label, kb}], in the order shown)."""
    try:
        return book_for(ctx.data_dir).save_dispositions(codes)
    except CustomerError as e:
        raise _refused(e) from None


# ---------------------------------------------------------------- interactions

@command("interactions.record")
def interactions_record(ctx: ApiContext, call_id: str, number: str, agent: str, queue: str = "",
                        disposition: str = "", notes: str = "", resolved: bool = False,
                        recording: str | None = None, work_order_id: int | None = None,
                        at: float | None = None) -> dict:
    """Record a call's wrap-up (the agent desktop calls this at the end of wrap-up). A repeat
    contact within the first-contact-resolution window reopens the customer's resolved work
    orders. Returns {"id", "contact_id", "reopened": [work order ids]}."""
    n = normalise(number, region(ctx))
    when = time.time() if at is None else float(at)
    if not 0 < when < 4102444800:                     # NaN, infinity, before 1970 or after 2099
        raise ApiError("bad_request", "at must be a time in seconds since 1970.")
    orders = orders_for(ctx.data_dir)
    if work_order_id is not None:
        try:
            orders.get(work_order_id)
        except LookupError as e:
            raise ApiError("not_found", str(e)) from None
    try:
        iid, contact_id = book_for(ctx.data_dir).record_interaction(
            at=when, call_id=call_id, number=n, agent=agent, queue=queue, disposition=disposition, notes=notes,
            resolved=resolved, recording=recording, work_order_id=work_order_id)
    except CustomerError as e:
        raise _refused(e) from None
    reopened = orders.reopen_for_repeat_contact(contact_id, n.e164, fcr_window_s(ctx), when, by=agent,
                                                call_id=call_id, exclude=work_order_id)
    for oid in reopened:
        ctx.publish("workorder", {"id": oid, "state": "in_progress", "reopened": True})
    ctx.publish("interaction", {"id": iid, "call_id": call_id[:80], "agent": agent[:80], "disposition": disposition[:40]})
    return {"id": iid, "contact_id": contact_id, "reopened": reopened}
