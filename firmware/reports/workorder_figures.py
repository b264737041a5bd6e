"""Work-order figures (issue 12, feature 1): submitted, reviewed, dispatched, resolved and the
on-time rate of a period, each defined once with its formula (shown by the web and the CLI).

They are counted from the work orders' own life-cycle times (`DATA/workorders.db`, written by
firmware.workorders; read here read-only). A period is [since, until) in epoch seconds.

* A work order is counted in each figure whose event falls in the period (one submitted in
  March and resolved in April counts as submitted in March and resolved in April).
* A reopened work order (a repeat contact inside the first-contact-resolution window) loses its
  resolution time; it counts as resolved again when it is resolved again, at that later time.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    formula: str
    unit: str                 # "count" | "ratio"


FIGURES: tuple[Figure, ...] = (
    Figure("wo_submitted", "Work orders submitted", "work orders whose submission time is in the period", "count"),
    Figure("wo_reviewed", "Work orders reviewed", "work orders whose review time is in the period", "count"),
    Figure("wo_dispatched", "Work orders dispatched",
           "work orders whose (latest) dispatch time is in the period", "count"),
    Figure("wo_resolved", "Work orders resolved", "work orders whose (latest) resolution time is in the period",
           "count"),
    Figure("wo_on_time_rate", "Work orders resolved on time",
           "resolved in the period at or before their due time ÷ resolved in the period that had a due time",
           "ratio"),
)


def figures_of(rows: list[dict], since: float, until: float) -> dict[str, float | int | None]:
    """The figures from work-order rows ({submitted_at, reviewed_at, dispatched_at, resolved_at, due})."""
    def within(t: float | None) -> bool:
        return t is not None and since <= t < until

    resolved = [r for r in rows if within(r.get("resolved_at"))]
    with_due = [r for r in resolved if r.get("due") is not None]
    on_time = [r for r in with_due if r["resolved_at"] <= r["due"]]
    return {"wo_submitted": sum(1 for r in rows if within(r.get("submitted_at"))),
            "wo_reviewed": sum(1 for r in rows if within(r.get("reviewed_at"))),
            "wo_dispatched": sum(1 for r in rows if within(r.get("dispatched_at"))),
            "wo_resolved": len(resolved),
            "wo_on_time_rate": len(on_time) / len(with_due) if with_due else None}


def read_rows(db_path: Path, since: float, until: float) -> list[dict]:
    """Work orders with any life-cycle time in [since, until), read-only (no file: none)."""
    if not Path(db_path).exists():
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT submitted_at, reviewed_at, dispatched_at, resolved_at, due FROM work_orders WHERE "
            "(submitted_at >= ? AND submitted_at < ?) OR (reviewed_at >= ? AND reviewed_at < ?) OR "
            "(dispatched_at >= ? AND dispatched_at < ?) OR (resolved_at >= ? AND resolved_at < ?)",
            (since, until) * 4).fetchall()
    except sqlite3.OperationalError:           # a database without the table yet
        return []
    finally:
        db.close()
    return [dict(r) for r in rows]


def workorder_report(data_dir: Path, since: float, until: float) -> dict:
    """{"figures": [{name, label, formula, unit, value}], "since", "until"}."""
    values = figures_of(read_rows(Path(data_dir) / "workorders.db", since, until), since, until)
    return {"since": since, "until": until,
            "figures": [{"name": f.name, "label": f.label, "formula": f.formula, "unit": f.unit,
                         "value": values[f.name]} for f in FIGURES]}
