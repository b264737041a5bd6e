"""Call recordings on disk: policy settings, file names, the listing and retention.

Everything here is plain file and config work, for the recording writer thread and
the web UI; nothing runs on the media tick.

File names: `YYYYmmdd-HHMMSS_<call id>_<n>_<from>-<to>.wav` (UTC). Caller ID and dialled
digits are untrusted, so <from>/<to> keep only digits, letters and + (at most 20 each);
the name is checked against `NAME_RE` wherever it comes back from a URL.
"""
from __future__ import annotations

import calendar
import logging
import os
import re
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError

log = logging.getLogger("linebox.recording")

TABLE = "recording"
NAME_RE = re.compile(r"(\d{8}-\d{6})_([0-9a-f]{1,16}-\d{1,9})_(\d{1,3})_([0-9A-Za-z+]{0,20})-([0-9A-Za-z+]{0,20})\.wav")
DISK_LOW_MARK = ".disk-low"        # present while the disk guard has recording stopped
DEFAULTS: dict[str, Any] = {"extensions": [], "lines": [], "groups": [], "on_demand": True,
                            "retention_days": 90, "max_total_mb": 2000, "min_free_mb": 200}


def recordings_root(config: Any) -> Path | None:
    path = getattr(config, "path", None)
    return Path(path).parent / "recordings" if path is not None else None


def settings(config: Any) -> dict:
    out = dict(DEFAULTS)
    table = getattr(config, "table", None)
    if table is not None:
        docs = list(table(TABLE))
        if docs:
            out.update({k: v for k, v in docs[0].items() if k in DEFAULTS})
    return out


def _number_list(raw: Any, what: str, known: set[str]) -> list[str]:
    items = raw if isinstance(raw, list) else str(raw or "").replace(",", " ").split()
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if item not in known:
            shown = item[:20]
            raise ConfigError(f"{what} {shown!r} does not exist; choose from: {', '.join(sorted(known)) or 'none'}.")
        if item not in out:
            out.append(item)
    return out


def _whole(raw: Any, what: str, low: int, high: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{what} must be a whole number from {low} to {high}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{what} must be from {low} to {high}.")
    return value


def group_numbers(config: Any) -> set[str]:
    """Ring-group numbers: the 'queues' a policy can name (calls to that number are recorded)."""
    try:
        from .ringgroups import load_groups
        return {str(g["number"]) for g in load_groups(config)}
    except Exception:                    # no ring groups installed: no queues to choose
        return set()


def save_settings(config: Any, raw: dict) -> dict:
    """Validate and store the recording policy; raises `ConfigError` (one line for the owner)."""
    extensions = {str(e["number"]) for e in config.extensions()}
    lines = {str(ln["port"]) for ln in config.lines()}
    new = {
        "extensions": _number_list(raw.get("extensions"), "Extension", extensions),
        "lines": _number_list(raw.get("lines"), "Line", lines),
        "groups": _number_list(raw.get("groups"), "Ring group", group_numbers(config)),
        "on_demand": bool(raw.get("on_demand")),
        "retention_days": _whole(raw.get("retention_days", 0), "Keep recordings (days)", 0, 3650),
        "max_total_mb": _whole(raw.get("max_total_mb", 0), "Maximum total size (MB)", 0, 1_000_000),
        "min_free_mb": _whole(raw.get("min_free_mb", 200), "Minimum free space (MB)", 10, 1_000_000),
    }
    table = config.table(TABLE)
    table.truncate()
    table.insert(new)
    return new


# ---- names

def clean_part(text: str | None) -> str:
    return "".join(c for c in (text or "") if c.isascii() and (c.isalnum() or c == "+"))[:20]


def file_name(start: float, call_id: str, n: int, src: str | None, dst: str | None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(start))
    call = "".join(c for c in call_id if c in "0123456789abcdef-")[:26]
    name = f"{stamp}_{call}_{n}_{clean_part(src)}-{clean_part(dst)}.wav"
    if not NAME_RE.fullmatch(name):          # cannot happen with an engine call id; never a path
        name = f"{stamp}_0-0_{n}_-.wav"
    return name


@dataclass
class RecordingFile:
    name: str
    path: Path
    start: float
    call_id: str
    src: str
    dst: str
    bytes: int
    seconds: float


def name_time(name: str) -> float | None:
    m = NAME_RE.fullmatch(name)
    if m is None:
        return None
    return float(calendar.timegm(time.strptime(m.group(1), "%Y%m%d-%H%M%S")))


def listing(root: Path | None) -> list[RecordingFile]:
    """Recordings in `root`, newest first (files whose names are not ours are left alone)."""
    out: list[RecordingFile] = []
    if root is None or not root.is_dir():
        return out
    for entry in os.scandir(root):
        m = NAME_RE.fullmatch(entry.name)
        if m is None or not entry.is_file():
            continue
        size = entry.stat().st_size
        out.append(RecordingFile(entry.name, Path(entry.path), name_time(entry.name) or 0.0, m.group(2),
                                 m.group(4), m.group(5), size, wav_seconds(Path(entry.path))))
    out.sort(key=lambda r: (r.start, r.name), reverse=True)
    return out


def wav_seconds(path: Path) -> float:
    """Length as the header says (what a player will play), 0 for a file without a valid one."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, OSError):
        return 0.0


def find(root: Path | None, name: str) -> Path | None:
    if root is None or not NAME_RE.fullmatch(name or ""):
        return None
    path = root / name
    return path if path.is_file() else None


def delete(root: Path | None, name: str) -> bool:
    path = find(root, name)
    if path is None:
        return False
    path.unlink(missing_ok=True)
    return True


def apply_retention(root: Path | None, now: float, days: int, max_total_mb: int,
                    keep: frozenset[str] = frozenset()) -> list[str]:
    """Delete recordings older than `days` (0: no age limit), then the oldest until the total is
    within `max_total_mb` (0: no size limit). Files in `keep` (being recorded) stay. Returns
    the names deleted."""
    files = sorted(listing(root), key=lambda r: (r.start, r.name))
    deleted: list[str] = []
    if days > 0:
        limit = now - days * 86400
        for r in files:
            if r.start < limit and r.name not in keep:
                r.path.unlink(missing_ok=True)
                deleted.append(r.name)
    files = [r for r in files if r.name not in deleted]
    if max_total_mb > 0:
        total = sum(r.bytes for r in files)
        budget = max_total_mb * 1024 * 1024
        for r in files:
            if total <= budget:
                break
            if r.name in keep:
                continue
            r.path.unlink(missing_ok=True)
            total -= r.bytes
            deleted.append(r.name)
    if deleted:
        log.info("recordings: retention deleted %d file(s)", len(deleted))
    return deleted


def recordings_by_call(records: Any, root: Path | None, call_ids: list[str]) -> dict[str, list[str]]:
    """call id -> names of its recordings still on disk (for the call history)."""
    ids = [str(c) for c in call_ids][:1000]
    if not ids or root is None or not hasattr(records, "query"):
        return {}
    try:
        rows = records.query(f"SELECT call_id, file FROM call_recordings WHERE call_id IN "
                             f"({', '.join('?' * len(ids))}) ORDER BY started", tuple(ids))
    except Exception:                  # a records database without the table: nothing linked
        return {}
    out: dict[str, list[str]] = {}
    for r in rows:
        if NAME_RE.fullmatch(r["file"]) and (root / r["file"]).is_file():
            out.setdefault(r["call_id"], []).append(r["file"])
    return out
