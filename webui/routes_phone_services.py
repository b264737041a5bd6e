"""Phone services pages: forwards/DND per extension, ring and page groups, internal messages,
personal address book and speed dial.

Who may change what: an administrator any extension's settings and address book; every other
user only those of the extension linked to their account. Ring/page groups: administrators.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from firmware.apps import forward, ringgroups, speeddial
from firmware.apps.messages import MessageError, MessageStore
from firmware.config import ConfigError

from .accounts import User
from .guards import AdminUser, AnyUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

_STORES: dict[Path, MessageStore] = {}
FIELD_MAX = 100


def message_store(request: Request) -> MessageStore:
    path = Path(web(request).data_dir) / "messages.sqlite"
    store = _STORES.get(path)
    if store is None:
        store = _STORES[path] = MessageStore(path)
    return store


def _field(form: Any, name: str) -> str:
    return str(form.get(name, "") or "")[:FIELD_MAX]


def _extensions(request: Request) -> list[dict]:
    return [dict(e) for e in web(request).config.extensions()]


def _target_extension(request: Request, user: User, asked: str | None) -> str | None:
    """The extension `user` works on: their own, or (administrators) the one asked for."""
    if user.role == "admin":
        numbers = [e["number"] for e in _extensions(request)]
        if asked in numbers:
            return asked
        return user.extension if user.extension in numbers else (numbers[0] if numbers else None)
    return user.extension or None


# ---------------------------------------------------------------- forwards / DND

def _services_page(request: Request, user: User, ext: str | None, error: str | None = None,
                   status_code: int = 200, form: dict | None = None) -> Response:
    prefs = forward.prefs_of(web(request).config, ext) if ext else None
    values = form or (vars(prefs) if prefs is not None else {})
    return render(request, "phone_services.html", status_code=status_code, title="Call forwarding & DND",
                  ext=ext, prefs=values, error=error, extensions=_extensions(request),
                  codes=forward.CODES)


@router.get("/phone/services")
async def services_page(request: Request, user: AnyUser, ext: str | None = None) -> Response:
    return _services_page(request, user, _target_extension(request, user, ext))


@router.post("/phone/services")
async def services_save(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = _target_extension(request, user, _field(form, "ext"))
    if ext is None:
        return _services_page(request, user, None, "No extension is linked to your account.", 400)
    changes: dict[str, Any] = {
        "dnd": form.get("dnd") == "on",
        "call_waiting": form.get("call_waiting") == "on",
        "fwd_always": _field(form, "fwd_always"),
        "fwd_busy": _field(form, "fwd_busy"),
        "fwd_noanswer": _field(form, "fwd_noanswer"),
    }
    if user.role == "admin":
        changes["pickup_group"] = _field(form, "pickup_group")
    try:
        await run_in_threadpool(forward.save, web(request).config, ext, **changes)
    except ConfigError as exc:
        return _services_page(request, user, ext, str(exc), 400,
                              form={**vars(forward.prefs_of(web(request).config, ext)), **changes})
    return RedirectResponse(f"/phone/services?ext={ext}&saved=1", status_code=303)


# ---------------------------------------------------------------- ring / page groups

def _groups_page(request: Request, error: str | None = None, form: dict | None = None,
                 status_code: int = 200) -> Response:
    groups = ringgroups.load_groups(web(request).config)
    return render(request, "phone_groups.html", status_code=status_code, title="Ring & page groups",
                  groups=groups, error=error, extensions=_extensions(request),
                  form=form or {"kind": "ring", "strategy": "ringall", "ring_s": 20})


@router.get("/phone/groups")
async def groups_page(request: Request, user: AdminUser, edit: str | None = None) -> Response:
    found = [g for g in ringgroups.load_groups(web(request).config) if g["number"] == edit]
    return _groups_page(request, form={**found[0], "original": found[0]["number"]} if found else None)


@router.post("/phone/groups")
async def groups_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    group = {"number": _field(form, "number").strip(), "name": _field(form, "name"),
             "kind": _field(form, "kind") or "ring", "strategy": _field(form, "strategy") or "ringall",
             "members": [str(m)[:10] for m in form.getlist("members")][:64] or _field(form, "members_text"),
             "ring_s": _field(form, "ring_s") or "20"}
    original = _field(form, "original") or None
    try:
        await run_in_threadpool(ringgroups.save_group, web(request).config, group, original)
    except ConfigError as exc:
        return _groups_page(request, str(exc), {**group, "original": original or ""}, 400)
    return RedirectResponse("/phone/groups?saved=1", status_code=303)


@router.post("/phone/groups/{number}/delete")
async def groups_delete(request: Request, number: str, user: AdminUser) -> Response:
    await run_in_threadpool(ringgroups.delete_group, web(request).config, number[:10])
    return RedirectResponse("/phone/groups", status_code=303)


# ---------------------------------------------------------------- messages

def _messages_page(request: Request, user: User, error: str | None = None, status_code: int = 200,
                   draft: dict | None = None) -> Response:
    store = message_store(request)
    inbox = store.inbox(user.username)
    store.mark_read(user.username)
    users = [u.username for u in web(request).accounts.all() if u.username != user.username]
    return render(request, "phone_messages.html", status_code=status_code, title="Messages",
                  inbox=inbox, sent=store.sent(user.username, 20), users=users, error=error,
                  draft=draft or {})


@router.get("/phone/messages")
async def messages_page(request: Request, user: AnyUser) -> Response:
    return _messages_page(request, user)


@router.post("/phone/messages")
async def messages_send(request: Request, user: AnyUser) -> Response:
    from firmware.control import StatusUpdate
    state = web(request)
    form = await request.form()
    to = str(form.get("to", ""))[:64]
    body = str(form.get("body", ""))[:2000]
    if state.accounts.get(to) is None:
        return _messages_page(request, user, "Choose who the message is for.", 400, {"to": to, "body": body})
    try:
        msg = message_store(request).send(user.username, to, body, state.clock())
    except MessageError as exc:
        return _messages_page(request, user, str(exc), 400, {"to": to, "body": body})
    state.control.publish(StatusUpdate("message", payload=msg))
    return RedirectResponse("/phone/messages?sent=1", status_code=303)


# ---------------------------------------------------------------- address book / speed dial

def _book_page(request: Request, user: User, ext: str | None, error: str | None = None,
               status_code: int = 200, form: dict | None = None) -> Response:
    book = speeddial.load_book(web(request).config, ext) if ext else []
    return render(request, "phone_addressbook.html", status_code=status_code, title="Address book",
                  ext=ext, book=book, error=error, form=form or {}, extensions=_extensions(request),
                  code=speeddial.SPEED_CODE)


@router.get("/phone/addressbook")
async def book_page(request: Request, user: AnyUser, ext: str | None = None) -> Response:
    return _book_page(request, user, _target_extension(request, user, ext))


@router.post("/phone/addressbook")
async def book_add(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = _target_extension(request, user, _field(form, "ext"))
    entry = {"name": _field(form, "name"), "number": _field(form, "number"), "speed": _field(form, "speed")}
    if ext is None:
        return _book_page(request, user, None, "No extension is linked to your account.", 400, entry)
    try:
        await run_in_threadpool(speeddial.add_entry, web(request).config, ext, entry)
    except ConfigError as exc:
        return _book_page(request, user, ext, str(exc), 400, entry)
    return RedirectResponse(f"/phone/addressbook?ext={ext}", status_code=303)


@router.post("/phone/addressbook/delete")
async def book_delete(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = _target_extension(request, user, _field(form, "ext"))
    try:
        index = int(_field(form, "index"))
        if ext is None:
            raise ConfigError("No extension is linked to your account.")
        await run_in_threadpool(speeddial.delete_entry, web(request).config, ext, index)
    except (ConfigError, ValueError) as exc:
        return _book_page(request, user, ext, str(exc) if isinstance(exc, ConfigError) else "No such entry.", 400)
    return RedirectResponse(f"/phone/addressbook?ext={ext}", status_code=303)
