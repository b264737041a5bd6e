"""Report periods in the site's timezone: 15/30/60-minute intervals, days, ISO weeks, months,
years. A bucket is named by the epoch second it starts at, so the two 01:00 hours of a night
when clocks go back are two buckets, the missing 02:00 of a spring-forward night is none, and a
day is 23, 24 or 25 hours long as the wall clock says."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE_GRAINS = {"15min": 900, "30min": 1800, "60min": 3600}
GRAINS = ("15min", "30min", "60min", "day", "week", "month", "year")


def timezone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {str(name)[:40]!r}; use a name such as Europe/London") from None


def check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"unknown interval {grain!r}; use one of {', '.join(GRAINS)}")
    return grain


def _midnight(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()


def bucket_start(ts: float, grain: str, tz: ZoneInfo) -> float:
    if grain in MINUTE_GRAINS:
        size = MINUTE_GRAINS[grain]
        local = dt.datetime.fromtimestamp(ts, tz)
        offset = local.utcoffset().total_seconds()           # this instant's own offset (DST-aware)
        return ts - ((ts + offset) % size)
    day = dt.datetime.fromtimestamp(ts, tz).date()
    if grain == "day":
        return _midnight(day, tz)
    if grain == "week":
        return _midnight(day - dt.timedelta(days=day.weekday()), tz)
    if grain == "month":
        return _midnight(day.replace(day=1), tz)
    if grain == "year":
        return _midnight(day.replace(month=1, day=1), tz)
    raise ValueError(check_grain(grain))


def next_bucket(start: float, grain: str, tz: ZoneInfo) -> float:
    if grain in MINUTE_GRAINS:
        return bucket_start(start + MINUTE_GRAINS[grain], grain, tz)
    day = dt.datetime.fromtimestamp(start, tz).date()
    if grain == "day":
        return _midnight(day + dt.timedelta(days=1), tz)
    if grain == "week":
        return _midnight(day + dt.timedelta(days=7), tz)
    if grain == "month":
        return _midnight((day.replace(day=28) + dt.timedelta(days=4)).replace(day=1), tz)
    return _midnight(day.replace(year=day.year + 1, month=1, day=1), tz)


def buckets(since: float, until: float, grain: str, tz: ZoneInfo) -> Iterator[float]:
    b = bucket_start(since, grain, tz)
    while b < until:
        yield b
        b = next_bucket(b, grain, tz)


def label(start: float, grain: str, tz: ZoneInfo) -> str:
    local = dt.datetime.fromtimestamp(start, tz)
    if grain in MINUTE_GRAINS:
        return local.isoformat(timespec="minutes")          # with its offset: 01:00-04:00 vs 01:00-05:00
    if grain == "day":
        return local.date().isoformat()
    if grain == "week":
        y, w, _ = local.isocalendar()
        return f"{y}-W{w:02d}"
    if grain == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%Y")


def split_span(start: float, end: float, grain: str, tz: ZoneInfo) -> Iterator[tuple[float, float]]:
    """(bucket, seconds of [start, end) inside it) for every bucket the span touches."""
    if end <= start:
        return
    b = bucket_start(start, grain, tz)
    while b < end:
        nb = next_bucket(b, grain, tz)
        part = min(end, nb) - max(start, b)
        if part > 0:
            yield b, part
        b = nb


def day_range(date_from: str, date_to: str, tz: ZoneInfo) -> tuple[float, float]:
    """[local midnight of date_from, local midnight after date_to): dates as YYYY-MM-DD."""
    try:
        d0 = dt.date.fromisoformat(date_from)
        d1 = dt.date.fromisoformat(date_to or date_from)
    except (TypeError, ValueError):
        raise ValueError(f"dates must look like 2026-01-31 (got {str(date_from)[:20]!r}, "
                         f"{str(date_to)[:20]!r})") from None
    if d1 < d0:
        raise ValueError(f"the period ends ({d1}) before it starts ({d0}); swap the dates")
    if (d1 - d0).days > 3700:
        raise ValueError("the period is longer than ten years; choose a shorter one")
    return _midnight(d0, tz), _midnight(d1 + dt.timedelta(days=1), tz)
