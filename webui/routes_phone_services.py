"""Phone services pages: forwards/DND per extension, ring and page groups, internal messages,
personal address book and speed dial.

Who may change what: an administrator any extension's settings and address book; every other
user only those of the extension linked to their account. Ring/page groups: administrators.
Everything is read and written through engine API commands (forward.*, groups.*, messages.*,
addressbook.*: firmware/apps/phone_services_commands.py): the engine is their one writer.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .accounts import User
from .engine_calls import attempt, call
from .guards import AdminUser, AnyUser, csrf_guard, web
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])

FIELD_MAX = 100


def _field(form: Any, name: str) -> str:
    return str(form.get(name, "") or "")[:FIELD_MAX]


async def _extensions(request: Request) -> list[dict]:
    return [dict(e) for e in await call(request, "config.extensions")]


async def _target_extension(request: Request, user: User, asked: str | None) -> str | None:
    """The extension `user` works on: their own, or (administrators) the one asked for."""
    if user.role == "admin":
        numbers = [e["number"] for e in await _extensions(request)]
        if asked in numbers:
            return asked
        return user.extension if user.extension in numbers else (numbers[0] if numbers else None)
    return user.extension or None


# ---------------------------------------------------------------- forwards / DND

async def _services_page(request: Request, user: User, ext: str | None, error: str | None = None,
                         status_code: int = 200, form: dict | None = None) -> Response:
    current = await call(request, "forward.get", extension=ext or "")
    values = form or (current["prefs"] if ext else {})
    return render(request, "phone_services.html", status_code=status_code, title="Call forwarding & DND",
                  ext=ext, prefs=values, error=error, extensions=await _extensions(request),
                  codes=current["codes"])


@router.get("/phone/services")
async def services_page(request: Request, user: AnyUser, ext: str | None = None) -> Response:
    return await _services_page(request, user, await _target_extension(request, user, ext))


@router.post("/phone/services")
async def services_save(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = await _target_extension(request, user, _field(form, "ext"))
    if ext is None:
        return await _services_page(request, user, None, "No extension is linked to your account.", 400)
    changes: dict[str, Any] = {
        "dnd": form.get("dnd") == "on",
        "call_waiting": form.get("call_waiting") == "on",
        "fwd_always": _field(form, "fwd_always"),
        "fwd_busy": _field(form, "fwd_busy"),
        "fwd_noanswer": _field(form, "fwd_noanswer"),
    }
    if user.role == "admin":
        changes["pickup_group"] = _field(form, "pickup_group")
    _, error = await attempt(request, "forward.save", extension=ext, changes=changes)
    if error:
        current = (await call(request, "forward.get", extension=ext))["prefs"]
        return await _services_page(request, user, ext, error, 400, form={**current, **changes})
    return RedirectResponse(f"/phone/services?ext={ext}&saved=1", status_code=303)


# ---------------------------------------------------------------- ring / page groups

async def _groups_page(request: Request, error: str | None = None, form: dict | None = None,
                       status_code: int = 200) -> Response:
    groups = await call(request, "groups.list")
    return render(request, "phone_groups.html", status_code=status_code, title="Ring & page groups",
                  groups=groups, error=error, extensions=await _extensions(request),
                  form=form or {"kind": "ring", "strategy": "ringall", "ring_s": 20})


@router.get("/phone/groups")
async def groups_page(request: Request, user: AdminUser, edit: str | None = None) -> Response:
    found = [g for g in await call(request, "groups.list") if g["number"] == edit]
    return await _groups_page(request, form={**found[0], "original": found[0]["number"]} if found else None)


@router.post("/phone/groups")
async def groups_save(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    group = {"number": _field(form, "number").strip(), "name": _field(form, "name"),
             "kind": _field(form, "kind") or "ring", "strategy": _field(form, "strategy") or "ringall",
             "members": [str(m)[:10] for m in form.getlist("members")][:64] or _field(form, "members_text"),
             "ring_s": _field(form, "ring_s") or "20"}
    original = _field(form, "original") or None
    _, error = await attempt(request, "groups.save", group=group, original=original)
    if error:
        return await _groups_page(request, error, {**group, "original": original or ""}, 400)
    return RedirectResponse("/phone/groups?saved=1", status_code=303)


@router.post("/phone/groups/{number}/delete")
async def groups_delete(request: Request, number: str, user: AdminUser) -> Response:
    await call(request, "groups.delete", number=number[:10])
    return RedirectResponse("/phone/groups", status_code=303)


# ---------------------------------------------------------------- messages

async def _messages_page(request: Request, user: User, error: str | None = None, status_code: int = 200,
                         draft: dict | None = None) -> Response:
    mine = await call(request, "messages.open", user=user.username, sent_limit=20)
    users = [u.username for u in web(request).accounts.all() if u.username != user.username]
    return render(request, "phone_messages.html", status_code=status_code, title="Messages",
                  inbox=mine["inbox"], sent=mine["sent"], users=users, error=error, draft=draft or {})


@router.get("/phone/messages")
async def messages_page(request: Request, user: AnyUser) -> Response:
    return await _messages_page(request, user)


@router.post("/phone/messages")
async def messages_send(request: Request, user: AnyUser) -> Response:
    state = web(request)
    form = await request.form()
    to = str(form.get("to", ""))[:64]
    body = str(form.get("body", ""))[:2000]
    if state.accounts.get(to) is None:
        return await _messages_page(request, user, "Choose who the message is for.", 400, {"to": to, "body": body})
    _, error = await attempt(request, "messages.send", sender=user.username, recipient=to, body=body,
                             at=state.clock())
    if error:
        return await _messages_page(request, user, error, 400, {"to": to, "body": body})
    return RedirectResponse("/phone/messages?sent=1", status_code=303)


# ---------------------------------------------------------------- address book / speed dial

async def _book_page(request: Request, user: User, ext: str | None, error: str | None = None,
                     status_code: int = 200, form: dict | None = None) -> Response:
    book = await call(request, "addressbook.list", extension=ext or "")
    return render(request, "phone_addressbook.html", status_code=status_code, title="Address book",
                  ext=ext, book=book["entries"] if ext else [], error=error, form=form or {},
                  extensions=await _extensions(request), code=book["code"])


@router.get("/phone/addressbook")
async def book_page(request: Request, user: AnyUser, ext: str | None = None) -> Response:
    return await _book_page(request, user, await _target_extension(request, user, ext))


@router.post("/phone/addressbook")
async def book_add(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = await _target_extension(request, user, _field(form, "ext"))
    entry = {"name": _field(form, "name"), "number": _field(form, "number"), "speed": _field(form, "speed")}
    if ext is None:
        return await _book_page(request, user, None, "No extension is linked to your account.", 400, entry)
    _, error = await attempt(request, "addressbook.add", extension=ext, entry=entry)
    if error:
        return await _book_page(request, user, ext, error, 400, entry)
    return RedirectResponse(f"/phone/addressbook?ext={ext}", status_code=303)


@router.post("/phone/addressbook/delete")
async def book_delete(request: Request, user: AnyUser) -> Response:
    form = await request.form()
    ext = await _target_extension(request, user, _field(form, "ext"))
    try:
        index = int(_field(form, "index"))
    except ValueError:
        return await _book_page(request, user, ext, "No such entry.", 400)
    if ext is None:
        return await _book_page(request, user, ext, "No extension is linked to your account.", 400)
    _, error = await attempt(request, "addressbook.delete", extension=ext, index=index)
    if error:
        return await _book_page(request, user, ext, error, 400)
    return RedirectResponse(f"/phone/addressbook?ext={ext}", status_code=303)
