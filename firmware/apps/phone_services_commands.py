"""Engine API commands of the phone services: forwarding / DND, ring and page groups, internal
messages, personal address book and speed dial.

The engine is the one writer of all of them (store thread): two web requests changing one
address book at once are applied one after the other, never interleaved, so nothing
acknowledged is lost. Who may change which extension is decided by the caller (the web
checks the user's role and linked extension before it calls).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from ..api import ApiContext, command
from ..api_refusals import refusals
from . import forward, ringgroups, speeddial
from .messages import MessageError, MessageStore

# ---------------------------------------------------------------- forwarding / DND


@command("forward.get")
def forward_get(ctx: ApiContext, extension: str) -> dict:
    """An extension's forwarding and DND preferences: {dnd, call_waiting, fwd_always, fwd_busy,
    fwd_noanswer, pickup_group}, plus the feature codes {code: [app, takes_digits]}."""
    return {"prefs": dataclasses.asdict(forward.prefs_of(ctx.config, extension)),
            "codes": {code: list(v) for code, v in forward.CODES.items()}}


@command("forward.save")
def forward_save(ctx: ApiContext, extension: str, changes: dict[str, Any]) -> dict:
    """Change some of an extension's preferences (fields as in forward.get); returns them all."""
    with refusals(TypeError):
        return dataclasses.asdict(forward.save(ctx.config, extension, **changes))


# ---------------------------------------------------------------- ring / page groups

@command("groups.list")
def groups_list(ctx: ApiContext) -> list[dict]:
    """Every ring and page group: [{number, name, kind, strategy, members, ring_s}]."""
    return ringgroups.load_groups(ctx.config)


@command("groups.save")
def groups_save(ctx: ApiContext, group: dict[str, Any], original: str | None = None) -> dict:
    """Add a group (`original` null) or change / renumber group `original`; returns it as saved."""
    with refusals():
        return ringgroups.save_group(ctx.config, group, original)


@command("groups.delete")
def groups_delete(ctx: ApiContext, number: str) -> None:
    """Delete group `number` (nothing happens when there is none)."""
    with refusals():
        ringgroups.delete_group(ctx.config, number[:10])


# ---------------------------------------------------------------- internal messages

_STORES: dict[Path, MessageStore] = {}
_STORES_LOCK = threading.Lock()


def _messages(ctx: ApiContext) -> MessageStore:
    path = Path(ctx.data_dir) / "messages.sqlite"
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is None:
            store = _STORES[path] = MessageStore(path)
        return store


@command("messages.open")
def messages_open(ctx: ApiContext, user: str, sent_limit: int = 20) -> dict:
    """A user's messages: {"inbox": [...], "sent": [...]} (newest first), each {id, at, from, to,
    body, read}; the inbox is marked read afterwards (the user has now seen it)."""
    store = _messages(ctx)
    inbox = store.inbox(user)
    store.mark_read(user)
    return {"inbox": inbox, "sent": store.sent(user, max(1, min(sent_limit, 100)))}


@command("messages.unread")
def messages_unread(ctx: ApiContext, user: str) -> int:
    """How many messages `user` has not read yet."""
    return _messages(ctx).unread(user)


@command("messages.send")
def messages_send(ctx: ApiContext, sender: str, recipient: str, body: str, at: float | None = None) -> dict:
    """Store a message from `sender` to `recipient` (user names; the caller checks both exist)
    and publish it as a "message" event. Returns it: {id, at, from, to, body, read}."""
    with refusals(MessageError):
        msg = _messages(ctx).send(sender, recipient, body, time.time() if at is None else at)
    ctx.publish("message", msg)
    return msg


# ---------------------------------------------------------------- address book / speed dial

@command("addressbook.list")
def addressbook_list(ctx: ApiContext, extension: str) -> dict:
    """An extension's address book: {"entries": [{name, number, speed}], "code": the speed-dial
    feature code}. Entries are addressed by their position (index) in this list."""
    return {"entries": speeddial.load_book(ctx.config, extension), "code": speeddial.SPEED_CODE}


@command("addressbook.add")
def addressbook_add(ctx: ApiContext, extension: str, entry: dict[str, Any]) -> dict:
    """Add {name, number, speed} to an extension's address book; returns the book."""
    with refusals():
        speeddial.add_entry(ctx.config, extension, entry)
    return addressbook_list(ctx, extension)


@command("addressbook.delete")
def addressbook_delete(ctx: ApiContext, extension: str, index: int) -> dict:
    """Delete entry `index` of an extension's address book; returns the book."""
    with refusals():
        speeddial.delete_entry(ctx.config, extension, index)
    return addressbook_list(ctx, extension)
