"""Time conditions: business hours and holidays choose where a call goes (table `timeconditions`).

    {"id": "hours", "name": "Business hours",
     "rules": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:30"}],   # Monday = 0
     "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
     "open": "ivr:main", "closed": "ivr:closed"}

Evaluated in the site's timezone (settings `timezone`) on the engine clock, so simulated
time in tests and the real clock on the appliance give the same answers. A rule whose end
is before its start runs past midnight (22:00-06:00). Holidays are closed all day.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from ..config import ConfigError

ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
TIME_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
MAX_RULES = 20
MAX_HOLIDAYS = 100
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def conditions(cfg: Any) -> list[dict]:
    return sorted((dict(d) for d in cfg.table("timeconditions").all()), key=lambda c: c.get("id", ""))


def condition(cfg: Any, cond_id: str) -> dict | None:
    for c in cfg.table("timeconditions").all():
        if c.get("id") == cond_id:
            return dict(c)
    return None


def _minutes(text: str) -> int:
    m = TIME_RE.fullmatch(text)
    assert m is not None
    return int(m[1]) * 60 + int(m[2])


def is_open(cond: dict, when: dt.datetime) -> bool:
    """Is `cond` open at local time `when`? (Holidays first, then the weekly rules.)"""
    day = when.date().isoformat()
    if any(h.get("date") == day for h in cond.get("holidays", [])):
        return False
    minute = when.hour * 60 + when.minute
    weekday = when.weekday()
    for rule in cond.get("rules", []):
        start, end = _minutes(rule["start"]), _minutes(rule["end"])
        days = rule.get("days", [])
        if start < end:
            if weekday in days and start <= minute < end:
                return True
        elif start > end:             # past midnight: the evening belongs to its day, the morning to the next
            if (weekday in days and minute >= start) or ((weekday - 1) % 7 in days and minute < end):
                return True
    return False


def local_time(epoch: float, timezone: str) -> dt.datetime:
    try:
        tz: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    return dt.datetime.fromtimestamp(epoch, tz)


def destination_now(cond: dict, epoch: float, timezone: str) -> str:
    return cond["open"] if is_open(cond, local_time(epoch, timezone)) else cond["closed"]


def clean_condition(cfg: Any, data: dict) -> dict:
    from .ivr_store import destination_problem
    cond_id = str(data.get("id", "")).strip()
    if not ID_RE.fullmatch(cond_id):
        raise ConfigError("A time condition id is 1 to 30 characters: lower-case letters, digits, - and _.")
    name = str(data.get("name", "")).strip() or cond_id
    if len(name) > 40 or not name.isprintable():
        raise ConfigError("The name must be 1 to 40 printable characters.")
    rules_in = data.get("rules") or []
    if not isinstance(rules_in, list) or len(rules_in) > MAX_RULES:
        raise ConfigError(f"At most {MAX_RULES} opening-hours rules.")
    rules = []
    for i, r in enumerate(rules_in, 1):
        if not isinstance(r, dict):
            raise ConfigError(f"Rule {i} is not a rule.")
        days = r.get("days") or []
        try:
            days = sorted({int(d) for d in days})
        except (TypeError, ValueError):
            days = [-1]
        if not days or any(not 0 <= d <= 6 for d in days):
            raise ConfigError(f"Rule {i}: tick at least one day.")
        start, end = str(r.get("start", "")).strip(), str(r.get("end", "")).strip()
        if not TIME_RE.fullmatch(start) or not TIME_RE.fullmatch(end) or start == end:
            raise ConfigError(f"Rule {i}: give opening and closing times as HH:MM (24 h), different from each other.")
        rules.append({"days": days, "start": start, "end": end})
    hol_in = data.get("holidays") or []
    if not isinstance(hol_in, list) or len(hol_in) > MAX_HOLIDAYS:
        raise ConfigError(f"At most {MAX_HOLIDAYS} holidays.")
    holidays = []
    for h in hol_in:
        date = str(h.get("date", "") if isinstance(h, dict) else h).strip()
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise ConfigError(f"Holiday {date[:20]!r} is not a date (YYYY-MM-DD).") from None
        hname = str(h.get("name", "") if isinstance(h, dict) else "").strip()[:40]
        holidays.append({"date": date, "name": hname if hname.isprintable() else ""})
    out = {"id": cond_id, "name": name, "rules": rules, "holidays": sorted(holidays, key=lambda h: h["date"])}
    for key, what in (("open", "When open"), ("closed", "When closed")):
        dest = str(data.get(key, "")).strip()
        if dest.startswith("timecondition:"):
            raise ConfigError(f"{what}: a time condition cannot lead to another time condition.")
        problem = destination_problem(cfg, dest)
        if problem:
            raise ConfigError(f"{what}: {problem}.")
        out[key] = dest
    return out


def save_condition(cfg: Any, data: dict, original_id: str | None = None) -> dict:
    from tinydb import Query
    with cfg.transaction():
        clean = clean_condition(cfg, data)
        exists = condition(cfg, clean["id"]) is not None
        if exists and original_id != clean["id"]:
            raise ConfigError(f"There is already a time condition {clean['id']!r}.")
        tbl = cfg.table("timeconditions")
        if original_id and original_id != clean["id"]:
            tbl.remove(Query().id == original_id)
        tbl.upsert(clean, Query().id == clean["id"])
        return clean


def delete_condition(cfg: Any, cond_id: str) -> None:
    from tinydb import Query

    from .ivr_store import references_to
    with cfg.transaction():
        if condition(cfg, cond_id) is None:
            raise ConfigError(f"There is no time condition {cond_id[:30]!r}.")
        used = references_to(cfg, f"timecondition:{cond_id}")
        if used:
            raise ConfigError(f"Time condition {cond_id!r} is still used by {', '.join(used[:5])}.")
        cfg.table("timeconditions").remove(Query().id == cond_id)
