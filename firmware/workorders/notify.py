"""Telling people about a dispatched work order: an internal message to the person it was
dispatched to (the web user of that name; `messages.*`), and an e-mail to the department's
address (the owner's work-order settings, `settings.py`) through the
mailer (firmware/mailer.py: queued, sent by its own thread, headers built safely).

Nothing here waits for a mail server: `Mailer.send` only queues."""
from __future__ import annotations

import datetime as dt
import logging

from ..api import ApiContext
from ..mailer import Mail, Mailer, MailError
from .settings import department_address

log = logging.getLogger("linebox.workorders")
_MAILERS: dict[int, Mailer] = {}


def mailer_for(ctx: ApiContext) -> Mailer:
    from ..apps.voicemail_store import settings  # the SMTP settings the owner set (voicemail page)
    config = ctx.config
    m = _MAILERS.get(id(config))
    if m is None:
        m = _MAILERS[id(config)] = Mailer(lambda: settings(config))
    return m


def _summary(order: dict) -> str:
    due = dt.datetime.fromtimestamp(order["due"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC") \
        if order.get("due") else "none"
    return (f"Work order {order['id']}: {order['title']}\nCustomer number: {order.get('number') or '-'}\n"
            f"Due: {due}\n\n{order.get('description') or ''}")


def notify_dispatch(ctx: ApiContext, order: dict) -> list[str]:
    """Notify about a dispatched order; returns what was done ("message:NAME", "email:ADDRESS")."""
    from ..apps.phone_services_commands import messages_send
    done: list[str] = []
    text = _summary(order)
    if order.get("assignee"):
        try:
            messages_send(ctx, sender="workorders", recipient=order["assignee"],
                          body=f"Dispatched to you. {text}"[:500])
            done.append(f"message:{order['assignee']}")
        except Exception as e:  # noqa: BLE001 - a message that cannot be stored must not undo the dispatch
            log.warning("work order %s: internal message not stored (%s)", order["id"], e)
    address = department_address(ctx.config, order.get("department") or "") if order.get("department") else ""
    if address:
        try:
            mailer_for(ctx).send(Mail(to=address, subject=f"Work order {order['id']}: {order['title']}", body=text))
            done.append(f"email:{address}")
        except (MailError, ValueError) as e:
            log.warning("work order %s: e-mail to %s not queued (%s)", order["id"], address, e)
    return done
