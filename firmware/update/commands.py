"""Engine API commands of updates (administrators, through the web's Update page).

The web streams an uploaded bundle into the spool folder and passes its name; verifying it and
writing the inactive slot run here on the store thread. Only on the Linebox SD image (A/B slots);
elsewhere the commands say so.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ..api import ApiContext, ApiError, command
from ..api_uploads import UPLOAD_NAME_RE, spool_dir, sweep_spool
from . import site
from .bundle import BundleRefused
from .decision import UpdateState, may_install_now
from .updater import Updater

QUIET_STATES = frozenset({"idle", "fault", "disabled", "unplugged", "no-line", "down"})

log = logging.getLogger("linebox.update")
MAX_BUNDLE_BYTES = 3 * 1024 * 1024 * 1024
NOT_AB = ("This Linebox does not run from the Linebox SD image (no A/B boot slots), so it cannot "
          "install update bundles; update it the way it was installed.")


def _state_path(ctx: ApiContext) -> Path:
    return Path(ctx.data_dir) / "update" / "state.json"


def _updater(ctx: ApiContext) -> Updater:
    env = site.boot_environment()
    if env is None:
        raise ApiError("unavailable", NOT_AB)

    def backup() -> None:
        from ..backup import StoreLayout, create_archive
        create_archive(StoreLayout.of(ctx.config, ctx.records), label="before-update")
    return Updater(env, _state_path(ctx), site.keys_dir(), site.board(), backup=backup)


@command("update.status")
def update_status(ctx: ApiContext) -> dict:
    """The update state (phase, release, slot, reason of a roll-back) and whether this is an A/B image."""
    env = site.boot_environment()
    state = asdict(UpdateState.load(_state_path(ctx)))
    return {**state, "ab_image": env is not None, "active_slot": env.active_slot() if env else None,
            "board": site.board(), "max_bytes": MAX_BUNDLE_BYTES,
            "staging": {**JOB.outcome, "busy": JOB.busy()}}


class StagingJob:
    """One bundle being verified and written at a time, on its own thread: writing a root slot
    takes minutes and must not hold the store thread (every other store write waits on it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.outcome: dict = {}

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, ctx: ApiContext, updater: Updater, bundle: Path) -> None:
        def run() -> None:
            try:
                staged = updater.stage(bundle)
                self.outcome = {"ok": True, "message": f"Release {staged.release} was verified and written to "
                                                       f"slot {updater.state.target}; install it when ready."}
            except BundleRefused as exc:
                self.outcome = {"ok": False, "message": str(exc)}
            except Exception as exc:  # noqa: BLE001 - the owner sees it; the log has the details
                log.exception("update: staging failed")
                self.outcome = {"ok": False, "message": f"The update could not be written ({exc}); the running "
                                                        "system was not changed."}
            finally:
                bundle.unlink(missing_ok=True)
            ctx.publish("update.staged", self.outcome)
        self.outcome = {"ok": None, "message": "Checking the bundle and writing the inactive slot..."}
        self.thread = threading.Thread(target=run, name="update-stage", daemon=True)
        self.thread.start()


JOB = StagingJob()


@command("update.stage")
def update_stage(ctx: ApiContext, upload: str) -> dict:
    """Start verifying an uploaded bundle (spooled upload name) and writing it to the inactive
    slot, on its own thread; `update.status` then says how it went ("staging")."""
    updater = _updater(ctx)
    spool = spool_dir(ctx.data_dir)
    sweep_spool(spool, time.time())
    if not UPLOAD_NAME_RE.fullmatch(upload or ""):
        raise ApiError("bad_request", "The upload reference is not one the web server made; upload the file again.")
    path = spool / upload
    with JOB.lock:
        try:
            if not path.is_file():
                raise ApiError("not_found", "The uploaded bundle is gone (upload it again).")
            if path.stat().st_size > MAX_BUNDLE_BYTES:
                raise ApiError("too_large", "The bundle is larger than any Linebox update.")
            if JOB.busy():
                raise ApiError("conflict", "Another bundle is being written; wait for it to finish.")
            incoming = _state_path(ctx).parent / "incoming.bundle"
            incoming.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, incoming)
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
        JOB.start(ctx, updater, incoming)
    return {"started": True}


@command("update.install")
def update_install(ctx: ApiContext, now: bool = False, window: str = "") -> dict:
    """Reboot once into the staged release when no call is up (and now, or inside `window`)."""
    updater = _updater(ctx)
    # ports not at rest, from the engine's published port states (no wait on the media thread)
    calls = sum(1 for p in ctx.control.snapshot() if p.state not in QUIET_STATES)
    import datetime as dt
    try:
        ok, why = may_install_now(calls, dt.datetime.now(), window or None, owner_now=now)
    except ValueError as exc:
        raise ApiError("bad_request", str(exc)) from None
    if not ok:
        raise ApiError("conflict", why[0].upper() + why[1:] + ".")
    try:
        updater.install()
    except RuntimeError as exc:
        raise ApiError("conflict", f"Nothing to install ({exc}); upload a bundle first.") from None
    return {"rebooting": True}
