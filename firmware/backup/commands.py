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
    list_archives,
)
from .jobs import BackupBusy, BackupFailed, jobs_of, run_worker
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
    """Start writing a backup archive of the configuration, databases and media files; answers at
    once with the job (`backup.job` to follow it; events `backup.progress`, then `backup.created`
    with the archive's name or `backup.failed` with the reason)."""
    layout = _layout(ctx)
    if hasattr(ctx.records, "flush"):
        ctx.records.flush()
    try:
        job = jobs_of(ctx.data_dir).start(layout, ctx.publish)
    except BackupBusy as busy:
        raise ApiError("conflict", f"A backup is already being made (job {busy.args[0]}); wait for it to "
                                   "finish, then download it from the list.") from None
    except OSError as exc:
        raise ApiError("unavailable", f"The backup could not be started ({exc.strerror or exc}); "
                                      "try again in a moment.") from None
    return job.snapshot()


@command("backup.job", on="read")
def backup_job(ctx: ApiContext, job: int = 0) -> dict:
    """A backup job's state: running (with `percent`, `done_bytes`, `total_bytes`), done (with the
    archive's `name`) or failed (with the `error` to show). `job` 0: the latest job (state `none`
    when there was none since the engine started)."""
    jobs = jobs_of(ctx.data_dir)
    found = jobs.latest() if job == 0 else jobs.get(job)
    if found is None:
        if job == 0:
            return {"job": 0, "state": "none"}
        raise ApiError("not_found", f"There is no backup job {job} (jobs are forgotten when the engine "
                                    "restarts); the archives made are listed on the Backup page.")
    out = found.snapshot()
    if found.path is not None and found.path.is_file():
        out["archive"] = _describe(found.path)
    return out


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
            # the state before, written by the worker child (hashing and compressing take nothing
            # from this process); the restore goes on only once it exists
            before = run_worker(layout, label="before-restore")
            done = apply_restore(layout, staged, ctx.config, ctx.records)
        except BackupRefused as exc:
            raise ApiError("bad_request", str(exc)) from None
        except BackupFailed as exc:
            raise ApiError("unavailable", f"Nothing was restored: the archive of the current state could not be "
                                          f"kept first. {exc}") from None
        finally:
            staged.discard()
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    ctx.publish("backup.restored", {"created": staged.created, **done})
    return {"created": staged.created, "saved_before": before.name, **done}
