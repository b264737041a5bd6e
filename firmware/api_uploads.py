"""Uploaded files handed from the web to the engine (prompts, voicemail greetings).

An upload can be far bigger than an API frame, so the web streams it into the spool folder
(`<data dir>/spool`, the one folder the web process may write besides its own database) and
passes only the file's name. The store command that takes it reads it with `take_upload`, which
checks the name (no path, no traversal: 32 hex digits and `.upload`) and always removes the
file, used or refused.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from .api import ApiContext, ApiError

SPOOL_DIR = "spool"
UPLOAD_NAME_RE = re.compile(r"[0-9a-f]{32}\.upload")
STALE_AFTER_S = 3600.0


def spool_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SPOOL_DIR


def sweep_spool(spool: Path, now: float, max_age_s: float = STALE_AFTER_S) -> int:
    """Remove spooled uploads nobody took (the web stopped between spooling and asking)."""
    removed = 0
    for p in spool.glob("*.upload"):
        try:
            if now - p.stat().st_mtime > max_age_s:
                p.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def take_upload(ctx: ApiContext, name: str, max_bytes: int) -> bytes:
    """The bytes of spooled upload `name` (at most `max_bytes + 1` read: the caller says what is
    too big in its own words); the file is gone afterwards, and so are stale ones."""
    sweep_spool(spool_dir(ctx.data_dir), time.time())
    if not isinstance(name, str) or not UPLOAD_NAME_RE.fullmatch(name):
        raise ApiError("bad_request", "The upload reference is not one the web server made; upload the file again.")
    path = spool_dir(ctx.data_dir) / name
    try:
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ApiError("not_found", "The uploaded file is gone (upload it again).") from None
    finally:
        path.unlink(missing_ok=True)
