"""Engine API commands of the alarms domain."""
from __future__ import annotations

from ..api import ApiContext, command
from . import engine_alarms


@command("system.alarms", on="store")
def system_alarms(ctx: ApiContext) -> list[dict]:
    """What the owner must know about the box's health: damaged stores set aside at start,
    configuration fallback, a full disk. Each: key, message, since (epoch seconds or null)."""
    return engine_alarms(ctx.config, ctx.records)
