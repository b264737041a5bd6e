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

Every figure is counted per call and attributed to the 15-minute cell of the call's exit, so it
adds up over any period: the engine's reports thread keeps them in `menu_cells` of reports.db
(`count_menu_cells`, with the queue cells), and a report reads those cells before the watermark
plus the raw rows after it (`menu_figures_from_store`). Counting a year of raw rows instead takes
seconds (measured: 2 s of CPU for 200,000 attendant calls).
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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


MAX_SESSION_S = 16 * 60        # the attendant lets nobody stay longer (ivr.MAX_SESSION_MS), plus a margin
CELL_S = 900
MENU_CELLS_DDL = """
CREATE TABLE IF NOT EXISTS menu_cells (
    bucket INTEGER NOT NULL, menu TEXT NOT NULL, key TEXT NOT NULL, destination TEXT NOT NULL,
    outcome TEXT NOT NULL, calls INTEGER NOT NULL,
    PRIMARY KEY (bucket, menu, key, destination, outcome)) WITHOUT ROWID;
"""
Key = tuple[int, str, str, str, str]        # (exit cell, menu, key, destination, outcome)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def read_menu_rows(conn: sqlite3.Connection, since: float, until: float) -> list[tuple]:
    """menu_events rows (ts, call_id, menu, key, destination, outcome) with since <= ts < until."""
    if not has_table(conn, "menu_events"):
        return []
    return conn.execute("SELECT ts, call_id, menu, key, destination, outcome FROM menu_events "
                        "WHERE ts >= ? AND ts < ? ORDER BY id", (since, until)).fetchall()


def menu_counts(rows: list[tuple], since: float, until: float) -> Counter:
    """Calls per (exit cell, menu, key, destination, outcome) for the calls that left the attendant in
    [since, until): one exit entry per call (key ''), one step entry per (call, menu, key) (outcome '',
    the destination the key last led to). `rows` must start MAX_SESSION_S before `since`."""
    exits: dict[str, tuple[float, str, str, str]] = {}
    for ts, call_id, menu, _key, dest, outcome in rows:
        if outcome and since <= ts < until:
            exits[call_id] = (ts, menu, dest, outcome)
    counts: Counter = Counter()
    for ts, menu, dest, outcome in exits.values():
        counts[(int(ts - ts % CELL_S), menu, "", dest, outcome)] += 1
    steps: dict[tuple[str, str, str], str] = {}
    for _ts, call_id, menu, key, dest, outcome in rows:
        if not outcome and call_id in exits:
            steps[(call_id, menu, key)] = dest
    for (call_id, menu, key), dest in steps.items():
        ts = exits[call_id][0]
        counts[(int(ts - ts % CELL_S), menu, key, dest, "")] += 1
    return counts


def figures(counts: Counter | dict) -> dict:
    """The menu figures (with formulas) from per-cell counts (any period's cells, summed)."""
    outcomes: Counter = Counter()
    options: dict[tuple[str, str], list] = {}
    for (_b, menu, key, dest, outcome), n in counts.items():
        if outcome:
            outcomes[outcome] += n
        else:
            o = options.setdefault((menu, key), [dest, 0])
            o[0] = max(o[0], dest)
            o[1] += n
    calls = sum(outcomes.values())
    agent, queue = outcomes.get("agent", 0), outcomes.get("queue", 0)
    total = {"menu_calls": calls, "self_service": outcomes.get("self-service", 0), "sent_to_agent": agent + queue,
             "sent_to_queue": queue, "messages": outcomes.get("message", 0),
             "abandoned_in_menu": outcomes.get("abandoned", 0)}
    total["self_service_rate"] = _ratio(total["self_service"], calls)
    total["sent_to_agent_rate"] = _ratio(total["sent_to_agent"], calls)
    rows = [{"menu": m, "key": k, "destination": d, "calls": n} for (m, k), (d, n) in sorted(options.items())]
    return {"kpi_definitions": [k.__dict__.copy() for k in MENU_KPIS], "total": total, "options": rows,
            "available": True, "note": ""}


def empty_figures(note: str = "") -> dict:
    doc = figures(Counter())
    doc.update(available=False, note=note)
    return doc


def menu_figures(conn: sqlite3.Connection, since: float, until: float) -> dict:
    """The menu figures of [since, until) counted from records.db's raw rows (a read-only connection)."""
    if not has_table(conn, "menu_events"):
        return empty_figures("This store has no attendant events yet (older firmware).")
    return figures(menu_counts(read_menu_rows(conn, since - MAX_SESSION_S, until), since, until))


def count_menu_cells(db: sqlite3.Connection, src: sqlite3.Connection, since: float, until: float) -> None:
    """The reports thread: add the menu counts of [since, until) to reports.db's menu_cells."""
    counts = menu_counts(read_menu_rows(src, since - MAX_SESSION_S, until), since, until)
    db.executemany("INSERT INTO menu_cells VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, menu, key, destination, "
                   "outcome) DO UPDATE SET calls = calls + excluded.calls", [(*k, n) for k, n in counts.items()])


def menu_figures_from_store(reports_db: Path, records_db: Path, since: float, until: float) -> dict:
    """From reports.db's menu_cells before its watermark and the raw rows after it (or all raw rows
    when reports.db cannot answer: missing, older, or a period off 15-minute boundaries)."""
    from .events import open_readonly
    counts: Counter = Counter()
    raw_since = since
    if reports_db.exists() and not since % CELL_S and not until % CELL_S:
        conn = open_readonly(reports_db)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
            if row is not None and has_table(conn, "menu_cells"):
                wm = json.loads(row[0])
                hi = min(until, wm)
                for k0, k1, k2, k3, k4, n in conn.execute(
                        "SELECT 0, menu, key, MAX(destination), outcome, SUM(calls) FROM menu_cells "
                        "WHERE bucket >= ? AND bucket < ? GROUP BY menu, key, outcome", (since, hi)):
                    counts[(k0, k1, k2, k3, k4)] += n
                raw_since = max(since, hi)
        except sqlite3.OperationalError:
            counts, raw_since = Counter(), since
        finally:
            conn.close()
    src = open_readonly(records_db)
    try:
        if not has_table(src, "menu_events"):
            return empty_figures("This store has no attendant events yet (older firmware).")
        if raw_since < until:
            counts.update(menu_counts(read_menu_rows(src, raw_since - MAX_SESSION_S, until), raw_since, until))
    finally:
        src.close()
    return figures(counts)


__all__ = ["MENU_KPIS", "count_menu_cells", "empty_figures", "figures", "menu_counts", "menu_figures",
           "menu_figures_from_store"]
