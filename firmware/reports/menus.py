"""Menu figures: what callers did in the auto attendant (table `menu_events` of records.db).

The rows are written by the IVR (contract in firmware/apps/ivr_events.py): one per step (a key,
an extension dialled, a timeout, an invalid key) and one exit row per call with its outcome
(agent, queue, message, self-service, abandoned). A call counts in the period of its exit row.

Figures, each defined once with its formula (shown by the page, the CLI and the exports):

    menu_calls          calls that left the attendant in the period (exit rows)
    self_service        calls whose outcome is self-service
    sent_to_agent       calls sent to a person or a queue (outcome agent + queue)
    self_service_rate   self_service ÷ menu_calls
    sent_to_agent_rate  sent_to_agent ÷ menu_calls
    messages            calls sent to voicemail
    abandoned_in_menu   calls that ended in the attendant without choosing an option

and per (menu, key): how many calls pressed it (a call pressing the same key twice counts once),
with where the key led. Reports by interval or queue do not split these figures: they are for
the whole period. An Asterisk queue_log has no attendant events, so a report read from one has
no menu figures (it says so).

SQL reads go through the `menu_events_ts` index, grouped in SQLite: a year of a busy office
(hundreds of thousands of rows) is a single indexed range scan.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .events import has_table


@dataclass(frozen=True)
class MenuKpi:
    name: str
    label: str
    formula: str
    unit: str            # count | ratio


MENU_KPIS = (
    MenuKpi("menu_calls", "Calls in the attendant", "calls that left the auto attendant (one exit per call)",
            "count"),
    MenuKpi("self_service", "Self-service completed", "calls that ended in the attendant after choosing an "
            "option, or went on to an app that is not a person", "count"),
    MenuKpi("sent_to_agent", "Sent to an agent or queue", "calls sent to an extension, ring group, outside "
            "number or call-center queue", "count"),
    MenuKpi("self_service_rate", "Self-service rate", "self-service completed ÷ calls in the attendant", "ratio"),
    MenuKpi("sent_to_agent_rate", "Sent-to-agent rate", "sent to an agent or queue ÷ calls in the attendant",
            "ratio"),
    MenuKpi("sent_to_queue", "Sent to a queue", "calls sent to a call-center queue (part of sent to an agent)",
            "count"),
    MenuKpi("messages", "Sent to voicemail", "calls sent to a voicemail box", "count"),
    MenuKpi("abandoned_in_menu", "Abandoned in the attendant", "calls that ended in the attendant without "
            "choosing an option (hung up, or sent away after the retries)", "count"),
)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def empty_figures(note: str = "") -> dict:
    return {"kpi_definitions": [k.__dict__.copy() for k in MENU_KPIS],
            "total": {k.name: (0 if k.unit == "count" else None) for k in MENU_KPIS},
            "options": [], "available": False, "note": note}


def menu_figures(conn: sqlite3.Connection, since: float, until: float) -> dict:
    """The menu figures of [since, until) from records.db (a read-only connection)."""
    if not has_table(conn, "menu_events"):
        return empty_figures("This store has no attendant events yet (older firmware).")
    outcomes = dict(conn.execute(
        "SELECT outcome, COUNT(*) FROM menu_events WHERE ts >= ? AND ts < ? AND outcome != '' GROUP BY outcome",
        (since, until)).fetchall())
    calls = sum(outcomes.values())
    agent, queue = outcomes.get("agent", 0), outcomes.get("queue", 0)
    total = {"menu_calls": calls, "self_service": outcomes.get("self-service", 0), "sent_to_agent": agent + queue,
             "sent_to_queue": queue, "messages": outcomes.get("message", 0),
             "abandoned_in_menu": outcomes.get("abandoned", 0)}
    total["self_service_rate"] = _ratio(total["self_service"], calls)
    total["sent_to_agent_rate"] = _ratio(total["sent_to_agent"], calls)
    options = [{"menu": menu, "key": key, "destination": dest or "", "calls": n}
               for menu, key, dest, n in conn.execute(
                   "SELECT menu, key, MAX(destination), COUNT(DISTINCT call_id) FROM menu_events "
                   "WHERE ts >= ? AND ts < ? AND outcome = '' GROUP BY menu, key ORDER BY menu, key",
                   (since, until))]
    return {"kpi_definitions": [k.__dict__.copy() for k in MENU_KPIS], "total": total, "options": options,
            "available": True, "note": ""}


__all__ = ["MENU_KPIS", "empty_figures", "menu_figures"]
