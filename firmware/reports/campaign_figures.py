"""Outbound-campaign figures: attempts, contacts, answering machines, silent hang-ups, contact
rate and talk time of a period, in total, per campaign and per agent, each defined once with its
formula (shown by the web and the CLI, written in the CSV and XLSX).

They are counted from the durable queue event log (records.db `queue_events`, read-only), where
the campaign dialler writes one CAMPAIGNDIAL per number dialled and one CAMPAIGNRESULT per
outcome (contract in firmware/callcenter/events.py): data1 campaign, data2 number, data3 result,
data4 talk s, data5 the number's status afterwards. An event counts in the period its time falls in.

Each answered attempt counts in exactly one outcome figure: contacts (answered), answering
machines (machine, machine_agent, message_left), silent hang-ups (hung_up) or hung up before the
verdict (unknown); the rest of the attempts were not answered (busy, no answer, failed). Messages
left are a part of the machines, not an outcome of their own.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

MACHINE_RESULTS = ("machine", "machine_agent", "message_left")


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    formula: str
    unit: str                 # "count" | "ratio" | "seconds"


FIGURES: tuple[Figure, ...] = (
    Figure("cmp_attempts", "Campaign attempts", "numbers dialled by a campaign (CAMPAIGNDIAL), every try counted; "
           "a call-rate deferral is not an attempt", "count"),
    Figure("cmp_contacts", "Campaign contacts", "attempts answered by a person (result answered)", "count"),
    Figure("cmp_machines", "Answering machines", "attempts answered by a machine (result machine, machine_agent "
           "or message_left)", "count"),
    Figure("cmp_messages", "Messages left", "attempts where the recorded message was left after the beep "
           "(result message_left)", "count"),
    Figure("cmp_hung_up", "Silent hang-ups", "attempts answered and hung up before a word (result hung_up)",
           "count"),
    Figure("cmp_unknown", "Hung up before the verdict", "attempts answered where the agent hung up before the "
           "answering-machine detector's verdict (result unknown): not a contact, tried again", "count"),
    Figure("cmp_contact_rate", "Contact rate", "campaign contacts ÷ campaign attempts", "ratio"),
    Figure("cmp_talk_s", "Campaign talk time", "Σ seconds agents were on answered campaign calls (from the answer "
           "to the hang-up; results answered and machine_agent)", "seconds"),
)


def _blank() -> dict[str, int]:
    return {"attempts": 0, "contacts": 0, "machines": 0, "messages": 0, "hung_up": 0, "unknown": 0, "talk_s": 0}


def _add(acc: dict[str, int], event: str, result: str, talk: str) -> None:
    if event == "CAMPAIGNDIAL":
        acc["attempts"] += 1
        return
    if result == "answered":
        acc["contacts"] += 1
    elif result in MACHINE_RESULTS:
        acc["machines"] += 1
    elif result == "hung_up":
        acc["hung_up"] += 1
    elif result == "unknown":            # the agent dropped it before the detector decided
        acc["unknown"] += 1
    if result == "message_left":
        acc["messages"] += 1
    try:
        acc["talk_s"] += max(0, int(float(talk or 0)))
    except ValueError:
        pass


def _rate(acc: dict[str, int]) -> float | None:
    return acc["contacts"] / acc["attempts"] if acc["attempts"] else None


def figures_of(rows: list[dict]) -> dict:
    """{"total": {figure: value}, "by_campaign": [...], "by_agent": [...]} from queue_events rows
    (event, agent, data1..data4) of campaign verbs."""
    total = _blank()
    by_campaign: dict[str, dict[str, int]] = {}
    by_agent: dict[str, dict[str, int]] = {}
    for r in rows:
        event = r["event"]
        if event not in ("CAMPAIGNDIAL", "CAMPAIGNRESULT"):
            continue
        result, talk = (r.get("data3", ""), r.get("data4", "")) if event == "CAMPAIGNRESULT" else ("", "")
        for acc in (total, by_campaign.setdefault(r.get("data1") or "?", _blank()),
                    by_agent.setdefault(r.get("agent") or "NONE", _blank())):
            _add(acc, event, result, talk)

    def row(key: str, label: str, acc: dict[str, int]) -> dict:
        return {key: label, **acc, "contact_rate": _rate(acc)}

    return {"total": {"cmp_attempts": total["attempts"], "cmp_contacts": total["contacts"],
                      "cmp_machines": total["machines"], "cmp_messages": total["messages"],
                      "cmp_hung_up": total["hung_up"], "cmp_unknown": total["unknown"],
                      "cmp_contact_rate": _rate(total),
                      "cmp_talk_s": total["talk_s"]},
            "by_campaign": [row("campaign", k, v) for k, v in sorted(by_campaign.items())],
            "by_agent": [row("agent", k, v) for k, v in sorted(by_agent.items()) if k != "NONE"]}


def read_rows(records_db: Path, since: float, until: float) -> list[dict]:
    """The period's campaign events, read-only (no file or no table: none)."""
    if not Path(records_db).exists():
        return []
    db = sqlite3.connect(f"file:{records_db}?mode=ro", uri=True, timeout=5.0)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT event, agent, data1, data2, data3, data4, data5 FROM queue_events "
                          "WHERE event IN ('CAMPAIGNDIAL', 'CAMPAIGNRESULT') AND ts >= ? AND ts < ? ORDER BY ts, id",
                          (since, until)).fetchall()
    except sqlite3.OperationalError:           # a database without the table yet
        return []
    finally:
        db.close()
    return [dict(r) for r in rows]


def campaign_report(records_db: Path, since: float, until: float) -> dict:
    """{"figures": [{name, label, formula, unit, value}], "by_campaign", "by_agent", "since", "until"}."""
    got = figures_of(read_rows(records_db, since, until))
    return {"since": since, "until": until,
            "figures": [{"name": f.name, "label": f.label, "formula": f.formula, "unit": f.unit,
                         "value": got["total"][f.name]} for f in FIGURES],
            "by_campaign": got["by_campaign"], "by_agent": got["by_agent"]}

