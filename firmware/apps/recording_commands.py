"""Engine API commands of call recording and the conference room.

Recordings: the listing (each file with its call record), the disk status, the file of one
recording (for the web to serve read-only), deletion, and the recording policy. File names
must match the recording name pattern before they come near a path. The engine reads a new
policy through the config listener.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..api import ApiContext, ApiError, command
from ..api_refusals import refusals
from . import conference, recording_store

PAGE_SIZE = 200


def _root(ctx: ApiContext) -> Path | None:
    return recording_store.recordings_root(ctx.config)


@command("recordings.list")
def listing(ctx: ApiContext, call: str = "", q: str = "") -> list[dict]:
    """Recordings on disk, newest first, at most 200, each with its call record: [{name, start,
    seconds, bytes, call_id, src, dst, caller_name, direction, disposition, trigger}]. `call`
    keeps one call's; `q` searches numbers, caller name and call id."""
    files = recording_store.listing(_root(ctx))
    records = ctx.records
    ids = list(dict.fromkeys(f.call_id for f in files))[:1000]
    calls: dict[str, dict] = {}
    for call_id in ids:
        rec = records.get(call_id)
        if rec is not None:
            calls[call_id] = dict(rec)
    triggers: dict[str, str] = {}
    if files:
        try:
            for r in records.query("SELECT file, trigger FROM call_recordings"):
                triggers[r["file"]] = r["trigger"]
        except Exception:  # noqa: BLE001 - an older records database without the table: no triggers
            pass
    out = []
    q = q.strip().lower()[:60]
    for f in files:
        rec = calls.get(f.call_id, {})
        row = {"name": f.name, "start": f.start, "seconds": f.seconds, "bytes": f.bytes,
               "call_id": f.call_id, "src": rec.get("src") or f.src, "dst": rec.get("dst") or f.dst,
               "caller_name": rec.get("caller_id_name") or "", "direction": rec.get("direction") or "",
               "disposition": rec.get("disposition") or "", "trigger": triggers.get(f.name, "")}
        if call and f.call_id != call:
            continue
        if q and not any(q in str(row[k]).lower() for k in ("src", "dst", "caller_name", "call_id")):
            continue
        out.append(row)
    return out[:PAGE_SIZE]


@command("recordings.status")
def status(ctx: ApiContext) -> dict:
    """Disk status: {free_mb, disk_low (recording stopped for space), total_mb, settings}."""
    root = _root(ctx)
    s = recording_store.settings(ctx.config)
    free_mb = None
    if root is not None:
        probe = root if root.is_dir() else root.parent
        try:
            free_mb = shutil.disk_usage(probe).free >> 20
        except OSError:
            free_mb = None
    marked = root is not None and (root / recording_store.DISK_LOW_MARK).exists()
    low = marked or (free_mb is not None and free_mb < int(s["min_free_mb"]))
    total = sum(f.bytes for f in recording_store.listing(root)) if root is not None else 0
    return {"free_mb": free_mb, "disk_low": low, "total_mb": round(total / 1048576, 1), "settings": s}


@command("recordings.file")
def recording_file(ctx: ApiContext, file: str) -> str:
    """The path of recording `file` (its name, as in recordings.list; for the web to serve
    read-only); not_found when it is gone."""
    path = recording_store.find(_root(ctx), file)
    if path is None:
        raise ApiError("not_found", "No such recording (deleted, or removed by the retention limits).")
    return str(path)


@command("recordings.delete")
def delete(ctx: ApiContext, file: str) -> None:
    """Delete recording `file` (its name); not_found when it does not exist."""
    if not recording_store.delete(_root(ctx), file):
        raise ApiError("not_found", "That recording does not exist (already deleted?).")


@command("recordings.by_call")
def by_call(ctx: ApiContext, call_ids: list[str]) -> dict[str, list[str]]:
    """call id -> names of its recordings still on disk (at most 1000 ids; for the call history)."""
    return recording_store.recordings_by_call(ctx.records, _root(ctx), call_ids[:1000])


@command("recordings.settings")
def settings(ctx: ApiContext) -> dict:
    """The recording policy and what it can name: {"settings": {extensions, lines, groups,
    on_demand, retention_days, max_total_mb, min_free_mb}, "extensions", "lines", "groups"}."""
    config = ctx.config
    return {"settings": recording_store.settings(config), "extensions": config.extensions(),
            "lines": config.lines(), "groups": sorted(recording_store.group_numbers(config))}


@command("recordings.save_settings")
def save_settings(ctx: ApiContext, settings: dict) -> dict:
    """Change the recording policy (fields as in recordings.settings); returns it as saved."""
    with refusals():
        return recording_store.save_settings(ctx.config, settings)


@command("conference.room")
def room(ctx: ApiContext) -> dict:
    """The conference room: {"number", "pin"} plus its feature "code" and "capacity" (parties)."""
    return conference.room_settings(ctx.config) | {"code": conference.ROOM_CODE,
                                                    "capacity": conference.ROOM_CAPACITY}


@command("conference.save_room")
def save_room(ctx: ApiContext, number: str, pin: str) -> dict:
    """Set the room's own number (2-6 digits or empty) and PIN (4-8 digits or empty)."""
    with refusals():
        return conference.save_room_settings(ctx.config, number, pin)
