"""Callbacks asked for by a person (a supervisor clicking "Call back" on the abandoned-call list),
through the same machinery as a caller's callback key: the number passes the outbound-permission
gate of the queue's callback extension (`callback_problem`), one active callback per number, an
entry in the queue that an agent takes first ("callback for …"), then the line is dialled, with
the queue's retries and back-off; failures end on the failed-callback list.

The entry's id is the abandoned call's id when one is given, so the queue events of the callback
(CALLBACKREQ, CALLBACKDIAL, CALLBACKANSWER / CALLBACKFAIL) belong to that call and the reports
show it as reached ("reached since") once the callback is answered.
"""
from __future__ import annotations

import re
from typing import Any

from .dispatcher import Entry
from .service import MAX_CALLBACK_DIGITS, Callback, QueueService, callback_problem

REFUSALS = {
    "queue/callback_refused": "The number {number} may not be called back: it must be 3 to {max} digits and "
                              "allowed by the outside-call permissions of the queue's callback extension. "
                              "Check the number, or the queue's 'callbacks dial as' extension and its permissions.",
    "queue/callback_exists": "A callback to {number} is already waiting or in progress; it will be dialled "
                             "when an agent is free.",
}
_CALL_ID = re.compile(r"^[A-Za-z0-9._#:-]{1,64}$")


class CallbackRefused(ValueError):
    """Why a callback was not scheduled (the message says what to do)."""


def clean_number(text: str) -> str:
    """The digits of a number as shown in a list ('+44 (0)20 …' is refused, not reinterpreted)."""
    return "".join(c for c in text if c not in " -().")


def schedule_callback(svc: QueueService, queue: str, number: str, call_id: str = "",
                      at: float | None = None) -> Callback:
    """Put a callback to `number` in `queue` now (or at epoch `at`); media thread."""
    q = svc.queues.get(queue)
    if q is None:
        raise CallbackRefused(f"There is no queue {queue[:10]!r}; choose one of {', '.join(sorted(svc.queues)) or 'none'}.")
    number = clean_number(number)
    if not number.isdigit() or not 3 <= len(number) <= MAX_CALLBACK_DIGITS:
        raise CallbackRefused(REFUSALS["queue/callback_refused"].format(number=repr(number[:24]),
                                                                       max=MAX_CALLBACK_DIGITS))
    problem = callback_problem(svc, q, number)
    if problem is not None:
        raise CallbackRefused(REFUSALS.get(problem, REFUSALS["queue/callback_refused"]).format(
            number=number, max=MAX_CALLBACK_DIGITS))
    now = svc.engine.clock.now()
    if at is not None and not now - 60 <= at <= now + 7 * 86400:
        raise CallbackRefused("The callback time must be within the next 7 days.")
    entry_id = call_id if call_id and _CALL_ID.match(call_id) else f"cb-{int(now * 1000):x}"
    if entry_id in svc.dispatcher.entries or entry_id in svc.callbacks:
        entry_id = f"{entry_id}-cb{len(svc.callbacks) + 1}"
    entry = svc.dispatcher.add(Entry(entry_id, queue, now))
    entry.kind = "callback"
    entry.not_before = at or 0.0
    position = svc.dispatcher.position(entry.id)
    svc.events.log("CALLBACKREQ", call_id=entry.id, queue=queue, data=[number, position, 0, "" if at is None else int(at)])
    cb = Callback(svc, entry, queue, number, position)
    svc.callbacks[entry.id] = cb
    svc.publish()
    svc.kick()
    return cb


def describe(cb: Any) -> dict:
    return {"id": cb.entry_id, "queue": cb.queue, "number": cb.number, "attempts": cb.attempts}
