"""Wallboard figures: today's answered, abandoned and service level per queue, with colour bands,
and the faxes that called the queue (taken to a fax box: not callers, so in none of the others).

The figures come from `firmware.reports` (the same KPI functions as every report: one formula),
read from the records read-only; the live part (who waits, agents' states) is `queue.status`.

Service-level target per queue (config table `cc_wallboard_targets`): {queue, target (0-1),
threshold_s}; without one, 80 % within 20 s. Bands: green at or above the target, amber within
`AMBER_MARGIN` below it, red further below; grey when no call was counted yet.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..config import ConfigError

TARGETS = "cc_wallboard_targets"
DEFAULT_TARGET = 0.8
DEFAULT_THRESHOLD_S = 20
AMBER_MARGIN = 0.1


def band(value: float | None, target: float) -> str:
    if value is None:
        return "none"
    if value >= target:
        return "green"
    if value >= target - AMBER_MARGIN:
        return "amber"
    return "red"


def load_targets(config: Any) -> dict[str, dict]:
    if not hasattr(config, "table"):
        return {}
    return {str(r["queue"]): {"target": float(r["target"]), "threshold_s": int(r["threshold_s"])}
            for r in config.table(TARGETS).all() if "queue" in r}


def save_target(config: Any, queue: str, target: float, threshold_s: int) -> dict:
    from tinydb import Query

    from . import model
    if model.queue(config, queue) is None:
        raise ConfigError(f"There is no queue {queue[:10]!r}.")
    if not 0 < target <= 1:
        raise ConfigError("The service-level target is a share between 0 and 1 (0.8 = 80 %).")
    if not 1 <= threshold_s <= 600:
        raise ConfigError("The service-level threshold is 1 to 600 seconds.")
    row = {"queue": queue, "target": float(target), "threshold_s": int(threshold_s)}
    config.table(TARGETS).upsert(row, Query().queue == queue)
    return row


def today(config: Any, now: float) -> str:
    from ..reports import site_from_config
    tz = ZoneInfo(site_from_config(config).timezone)
    return dt.datetime.fromtimestamp(now, tz).date().isoformat()


def figures(config: Any, data_dir: Path, day: str, queues: list[str]) -> dict[str, dict]:
    """Per queue: answered, abandoned, service level (against its own threshold), target, band."""
    from ..reports import KpiParams, make_request, report_from_store, site_from_config
    site = site_from_config(config)
    targets = load_targets(config)
    out: dict[str, dict] = {}
    by_threshold: dict[int, list[str]] = {}
    for q in queues:
        by_threshold.setdefault(targets.get(q, {}).get("threshold_s", DEFAULT_THRESHOLD_S), []).append(q)
    records_db = Path(data_dir) / "records.db"
    for threshold, qs in by_threshold.items():
        rows: dict[str, dict] = {}
        if records_db.exists():
            req = make_request(day, day, "queue", site, KpiParams(sl_threshold_s=threshold))
            doc = report_from_store(data_dir, req)
            rows = {str(r["key"]): r["kpis"] for r in doc["rows"]}
        for q in qs:
            k = rows.get(q, {})
            target = targets.get(q, {}).get("target", DEFAULT_TARGET)
            sl = k.get("service_level")
            out[q] = {"answered": int(k.get("answered") or 0), "abandoned": int(k.get("abandoned") or 0),
                      "service_level": sl, "target": target, "threshold_s": threshold,
                      "band": band(sl, target), "longest_wait_today_s": k.get("longest_wait_s"),
                      "faxes": int(k.get("faxes") or 0)}
    return out
