"""The auto attendant's menu path: on the call object and, durably, in table `menu_events`.

Contract (read by reports, the agent desktop and anyone with records.db):

* `Call.menu_path` — a list the IVR appends to as the caller moves through menus, one dict per step:
  `{"menu": <menu id>, "key": <key pressed, digits of a dialled extension, "timeout" or "invalid">,
  "at": <epoch s>}`. The list travels with the caller: the call a queue or an extension gets
  carries the path that led there.
* table `menu_events` in records.db (migration 6), one row per step and one exit row per call:

      step  ts | call_id | menu | key | destination (the option's "kind:value", '' for timeout/invalid)
            | outcome ''
      exit  ts | call_id | menu (the last menu) | key '' | destination | outcome

  outcome is one of `OUTCOMES`:
    agent         sent to a person: an extension, a ring group, an outside number
    queue         sent to a call-center queue
    message       sent to voicemail
    self-service  the call ended in the attendant after the caller chose at least one option
                  (heard what they asked for, a goodbye option), or went on to another app
                  (conference, directory...) that is not a person
    abandoned     the caller hung up (or was sent away after the retries) without choosing an option

Rows are queued to the records writer thread (`CallRecords.insert`): the media tick never waits
for the disk. The table's columns are read once at start-up (`prepare`), never on the tick.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("linebox.ivr")

TABLE = "menu_events"
OUTCOMES = ("agent", "queue", "message", "self-service", "abandoned")
AGENT_KINDS = frozenset({"extension", "group", "ringgroup", "outside"})
FIELD_MAX = 80


def _field(value: Any) -> str:
    text = "" if value is None else str(value)
    return "".join(c for c in text if c.isprintable())[:FIELD_MAX]


def outcome_of(destination: str) -> str:
    """What leaving the attendant for `destination` ("kind:value") means for the menu figures."""
    kind = destination.partition(":")[0]
    if kind in AGENT_KINDS:
        return "agent"
    if kind == "queue":
        return "queue"
    if kind == "voicemail":
        return "message"
    return "self-service"


class MenuEventLog:
    """Appends steps to `call.menu_path` and queues the durable rows (media thread, no I/O)."""

    def __init__(self, records: Any, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._insert = getattr(records, "insert", None)
        prepare = getattr(records, "prepare", None)
        if prepare is not None:
            try:
                prepare(TABLE)
            except ValueError:
                log.warning("call records have no %s table: menu figures will not be recorded", TABLE)
                self._insert = None

    def step(self, call: Any, menu: str, key: str, destination: str = "") -> dict:
        entry = {"menu": _field(menu), "key": _field(key), "at": self.clock()}
        path = getattr(call, "menu_path", None)
        if path is not None:
            path.append(entry)
        self._write(entry["at"], call, menu, key, destination, "")
        return entry

    def exit(self, call: Any, menu: str, outcome: str, destination: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown menu outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
        self._write(self.clock(), call, menu, "", destination, outcome)

    def _write(self, ts: float, call: Any, menu: str, key: str, destination: str, outcome: str) -> None:
        if self._insert is None:
            return
        self._insert(TABLE, ts=ts, call_id=_field(getattr(call, "id", "")) or "NONE", menu=_field(menu),
                     key=_field(key), destination=_field(destination), outcome=outcome)
