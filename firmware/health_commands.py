"""`metrics.read`: the media loop's health figures (see `firmware.media_health`).

Runs on the store thread and only reads counters the media loop keeps in memory, so a
scraper polling /metrics costs the tick nothing."""
from __future__ import annotations

from .api import ApiContext, ApiError, command


@command("metrics.read", on="store")
def metrics_read(ctx: ApiContext, window_s: float = 60.0, detail: bool = False) -> dict:
    """Tick work histogram and percentiles over the last `window_s` seconds, late ticks,
    frames lost, active calls, GC collections of the engine process. `detail`: also the media
    thread's CPU time and each stage of the tick (mean / p99 / max; for benchmarks and
    diagnosis, a little more work for the store thread)."""
    health = getattr(ctx.control, "health", None)
    if health is None:
        raise ApiError("unavailable", "the media loop is not running")
    if not 0.01 <= window_s <= 600:
        raise ApiError("bad_request", "window_s must be between 0.01 and 600")
    return health.read(window_s, detail)


@command("api.ping", on="store")
def api_ping(ctx: ApiContext) -> dict:
    """A round trip through the store thread (what a web page waits for at least)."""
    return {"ok": True}
