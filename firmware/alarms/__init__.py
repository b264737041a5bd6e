"""Alarms: what the owner must know about the box's own health, shown on the status page.

Start-up problems the engine handled by itself (a damaged store set aside, configuration
fallen back to its last good copy) and conditions that last (a full disk stopping
recordings) are collected here and served by the `system.alarms` engine API command.
"""
from __future__ import annotations

import threading
import time
from typing import Any

_lock = threading.Lock()
_active: dict[str, dict] = {}          # conditions raised at run time (key -> alarm)


def raise_alarm(key: str, message: str) -> None:
    """A lasting condition (e.g. "disk-full"); raising it again keeps its first time."""
    with _lock:
        if key not in _active:
            _active[key] = {"key": key, "message": message, "since": time.time()}


def clear_alarm(key: str) -> None:
    with _lock:
        _active.pop(key, None)


def engine_alarms(config: Any, records: Any) -> list[dict]:
    """Every alarm: start-up ones from the stores, then the active conditions."""
    out: list[dict] = []
    recovery = getattr(config, "recovery", None)
    if recovery:
        out.append({"key": "config", "message": f"Configuration problem at start-up: {recovery}", "since": None})
    damaged = getattr(records, "alarm", None)
    if damaged:
        out.append({"key": "records", "message": damaged, "since": None})
    with _lock:
        out += [dict(a) for a in _active.values()]
    return out
