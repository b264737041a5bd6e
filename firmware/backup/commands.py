"""Engine API commands of backup and restore (administrators, through the web's Backup page).

The web streams an uploaded archive into the spool folder (`firmware.api_uploads`) and passes
its name; everything else (checking, unpacking, putting in place) runs here on the store thread,
the one writer of every store.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

from ..api import ApiContext, ApiError, command
from ..api_uploads import UPLOAD_NAME_RE, spool_dir, sweep_spool
from .archive import (
    ARCHIVE_NAME_RE,
    MAX_ARCHIVE_BYTES,
    BackupRefused,
    StoreLayout,
    check_archive,
    create_archive,
    list_archives,
)
from .restore import apply_restore, check_contents, recover_interrupted

QUIET_STATES = frozenset({"idle", "fault", "disabled", "unplugged", "no-line", "down"})


def _layout(ctx: ApiContext) -> StoreLayout:
    if getattr(ctx.config, "path", None) is None or getattr(ctx.records, "path", None) is None:
        raise ApiError("unavailable", "This engine has no stores on disk, so there is nothing to back up.")
    return StoreLayout.of(ctx.config, ctx.records)


def _describe(p: Path) -> dict:
    st = p.stat()
    return {"name": p.name, "bytes": st.st_size, "created": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                          time.gmtime(st.st_mtime))}


@command("backup.list")
def backup_list(ctx: ApiContext) -> dict:
    """The backup archives kept on the appliance (newest first) and the restore upload limit."""
    layout = _layout(ctx)
    return {"archives": [_describe(p) for p in list_archives(layout.backups)], "max_bytes": MAX_ARCHIVE_BYTES}


@command("backup.create")
def backup_create(ctx: ApiContext) -> dict:
    """Write a backup archive of the configuration, databases and media files now."""
    layout = _layout(ctx)
    if hasattr(ctx.records, "flush"):
        ctx.records.flush()
    path = _create_in_child(layout)
    ctx.publish("backup.created", {"name": path.name})
    return _describe(path)


CREATE_TIMEOUT_S = 600


def _create_in_child(layout: StoreLayout) -> Path:
    """`create_archive(layout)` in `python -m firmware.backup.worker` (niced, its own interpreter:
    the hashing and compressing take nothing from the media loop); this thread only waits."""
    import json
    import subprocess
    import sys
    try:
        done = subprocess.run([sys.executable, "-m", "firmware.backup.worker", str(layout.root),
                               str(layout.records_path)], capture_output=True, timeout=CREATE_TIMEOUT_S,
                              cwd=str(Path(__file__).resolve().parents[2]), check=False)
    except subprocess.TimeoutExpired:
        raise ApiError("unavailable", f"The backup took longer than {CREATE_TIMEOUT_S // 60} minutes and was "
                                      "stopped; free some space (old recordings) and try again.") from None
    try:
        answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = {"error": (done.stderr.decode(errors="replace").strip().splitlines() or ["no answer"])[-1]}
    if "path" not in answer:
        raise ApiError("unavailable", f"The backup could not be written ({answer.get('error')}); "
                                      "check the free space on the storage card.")
    return Path(answer["path"])


@command("backup.file")
def backup_file(ctx: ApiContext, archive: str) -> str:
    """The path of kept archive `archive`, for the web to send as a download."""
    layout = _layout(ctx)
    if not ARCHIVE_NAME_RE.fullmatch(archive or ""):
        raise ApiError("bad_request", "That is not the name of a Linebox backup archive.")
    path = layout.backups / archive
    if not path.is_file():
        raise ApiError("not_found", "That backup archive is gone; make a new one.")
    return str(path)


@command("backup.restore")
def backup_restore(ctx: ApiContext, upload: str) -> dict:
    """Restore the uploaded archive (a spooled upload name): checked fully first, a backup of the
    current state is kept, then every store is replaced. Refused while a call is up."""
    layout = _layout(ctx)
    spool = spool_dir(ctx.data_dir)
    sweep_spool(spool, time.time())
    if not isinstance(upload, str) or not UPLOAD_NAME_RE.fullmatch(upload):
        raise ApiError("bad_request", "The upload reference is not one the web server made; upload the file again.")
    path = spool / upload
    try:
        if not path.is_file():
            raise ApiError("not_found", "The uploaded archive is gone (upload it again).")
        if path.stat().st_size > MAX_ARCHIVE_BYTES:
            raise ApiError("too_large", f"The archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB, "
                                        "the most a restore takes.")
        busy = [p.port for p in ctx.control.snapshot() if p.state not in QUIET_STATES]
        if busy:
            raise ApiError("conflict", f"A call is up on {', '.join(busy)}; restore when every phone and line "
                                       "is idle (nothing was changed).")
        recover_interrupted(layout)             # one restore at a time: anything left is from a cut
        try:
            staged = check_archive(path, layout.root)
        except BackupRefused as exc:
            raise ApiError("bad_request", str(exc)) from None
        try:
            check_contents(layout, staged)          # a bad archive is refused before anything is written
            before = create_archive(layout, label="before-restore")
            done = apply_restore(layout, staged, ctx.config, ctx.records)
        except BackupRefused as exc:
            raise ApiError("bad_request", str(exc)) from None
        finally:
            staged.discard()
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    ctx.publish("backup.restored", {"created": staged.created, **done})
    return {"created": staged.created, "saved_before": before.name, **done}
