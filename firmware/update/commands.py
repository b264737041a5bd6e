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
from .decision import WINDOW_RE, UpdateState, may_install_now
from .fetch import FetchRefused, check_url, fetch_bundle
from .slots import TrybootUnavailable
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
        # Written by the niced backup worker child, like backup.create: hashing and compressing a
        # card full of recordings take nothing from the engine's interpreter. The install waits
        # for it: data migrations run forward only, after this archive exists.
        from ..backup import BackupFailed, StoreLayout, run_worker
        if hasattr(ctx.records, "flush"):
            ctx.records.flush()                      # the calls up to now are in the archive
        try:
            run_worker(StoreLayout.of(ctx.config, ctx.records), label="before-update")
        except BackupFailed as exc:
            raise ApiError("unavailable", f"The update was not installed: the archive of the current data "
                                          f"could not be kept first. {exc}") from None
    return Updater(env, _state_path(ctx), site.keys_dir(), site.board(), backup=backup)


@command("update.status")
def update_status(ctx: ApiContext) -> dict:
    """The update state (phase, release, slot, reason of a roll-back) and whether this is an A/B image."""
    env = site.boot_environment()
    state = asdict(UpdateState.load(_state_path(ctx)))
    return {**state, "ab_image": env is not None, "active_slot": env.active_slot() if env else None,
            "board": site.board(), "max_bytes": MAX_BUNDLE_BYTES,
            "staging": {**JOB.outcome, "busy": JOB.busy()}, "policy": read_policy(ctx)}


class StagingJob:
    """One bundle being verified and written at a time, on its own thread: writing a root slot
    takes minutes and must not hold the store thread (every other store write waits on it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.outcome: dict = {}

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, ctx: ApiContext, updater: Updater, bundle: Path, url: str | None = None) -> None:
        def run() -> None:
            try:
                if url is not None:
                    self.outcome = {"ok": None, "message": f"Downloading {url[:120]} ..."}
                    fetch_bundle(url, bundle, max_bytes=MAX_BUNDLE_BYTES, cafile=site.update_cafile())
                    self.outcome = {"ok": None, "message": "Checking the bundle and writing the inactive slot..."}
                staged = updater.stage(bundle)
                self.outcome = {"ok": True, "message": f"Release {staged.release} was verified and written to "
                                                       f"slot {updater.state.target}; install it when ready."}
            except (BundleRefused, FetchRefused) as exc:
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
POLICY_TABLE = "update_policy"
DEFAULT_POLICY = {"url": "", "window": "", "auto_install": False}


def read_policy(ctx: ApiContext) -> dict:
    doc = ctx.config.table(POLICY_TABLE).get(doc_id=1) or {}
    return {**DEFAULT_POLICY, **{k: v for k, v in dict(doc).items() if k in DEFAULT_POLICY}}


def check_window(start: str, end: str) -> str:
    """"HH:MM-HH:MM" from the page's two times, or "" for none; ApiError says what is wrong."""
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        return ""
    window = f"{start}-{end}"
    if not start or not end or not WINDOW_RE.fullmatch(window):
        raise ApiError("bad_request", "The install window needs a start and an end time like 02:00 and 04:30 "
                                      "(24-hour clock), or neither.")
    if start == end:
        raise ApiError("bad_request", "The install window starts and ends at the same time; make it at least a "
                                      "minute long (e.g. 02:00 to 04:00).")
    return window


@command("update.policy", on="store")
def update_policy(ctx: ApiContext) -> dict:
    """Where bundles are fetched from, the daily install window and whether to install by itself."""
    return read_policy(ctx)


@command("update.policy.set", on="store")
def update_policy_set(ctx: ApiContext, url: str = "", window_start: str = "", window_end: str = "",
                      auto_install: bool = False) -> dict:
    """Save the update URL (https:// only, or empty), the install window and the auto-install toggle."""
    url = (url or "").strip()
    if url:
        try:
            url = check_url(url)
        except FetchRefused as exc:
            raise ApiError("bad_request", str(exc)) from None
    window = check_window(window_start, window_end)
    if auto_install and not window:
        raise ApiError("bad_request", "Automatic installation needs an install window (for example 02:00 to "
                                      "04:00), so the restart never comes in office hours.")
    from tinydb.table import Document
    policy = {"url": url, "window": window, "auto_install": bool(auto_install)}
    ctx.config.table(POLICY_TABLE).upsert(Document(policy, doc_id=1))
    ctx.publish("update.policy", policy)
    return policy


@command("update.fetch", on="store")
def update_fetch(ctx: ApiContext) -> dict:
    """Download the bundle from the owner's update URL, verify it and write the inactive slot, on the
    staging thread; `update.status` then says how it went."""
    updater = _updater(ctx)
    url = read_policy(ctx)["url"]
    if not url:
        raise ApiError("bad_request", "Set the update URL first (Update page, 'Update source').")
    with JOB.lock:
        if JOB.busy():
            raise ApiError("conflict", "Another bundle is being written; wait for it to finish.")
        incoming = _state_path(ctx).parent / "incoming.bundle"
        incoming.parent.mkdir(parents=True, exist_ok=True)
        JOB.start(ctx, updater, incoming, url=url)
    return {"started": True}


def _calls_up(ctx: ApiContext) -> int:
    """Ports not at rest, from the engine's published port states (no wait on the media thread)."""
    return sum(1 for p in ctx.control.snapshot() if p.state not in QUIET_STATES)


@command("update.auto", on="store")
def update_auto(ctx: ApiContext) -> dict:
    """Run every few minutes (linebox-update-auto.timer): install a staged release by itself when the
    owner turned automatic installation on, the clock is inside the window and no call is up."""
    policy = read_policy(ctx)
    env = site.boot_environment()
    if env is None or not policy["auto_install"]:
        return {"installing": False, "why": "automatic installation is off"}
    state = UpdateState.load(_state_path(ctx))
    if state.phase != "staged":
        return {"installing": False, "why": "no staged release"}
    import datetime as dt
    ok, why = may_install_now(_calls_up(ctx), dt.datetime.now(), policy["window"], owner_now=False)
    if not ok:
        return {"installing": False, "why": why}
    try:
        _updater(ctx).install()
    except TrybootUnavailable as exc:
        return {"installing": False, "why": str(exc)}
    return {"installing": True, "why": f"release {state.release} inside the window {policy['window']}"}


@command("update.migrate", on="store")
def update_migrate(ctx: ApiContext) -> dict:
    """Run this release's pending data migrations, forward only (`linebox update check` calls it once
    the tried slot is committed, never before: a rollback must find the data as the old release left it)."""
    from ..sqlite_files import migrate_held
    from .migrations import code_schema, run_forward
    state = UpdateState.load(_state_path(ctx))
    if state.phase == "trying":
        raise ApiError("conflict", "This release is still being tried; its data migrations run after it is "
                                   "committed.")
    done = run_forward(Path(ctx.data_dir))
    done += migrate_held(Path(ctx.data_dir))         # every store opened unmigrated while tried
    if done:
        ctx.publish("update.migrated", {"done": done})
    return {"done": done, "schema": code_schema()}


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
    calls = _calls_up(ctx)
    import datetime as dt
    try:
        ok, why = may_install_now(calls, dt.datetime.now(), window or None, owner_now=now)
    except ValueError as exc:
        raise ApiError("bad_request", str(exc)) from None
    if not ok:
        raise ApiError("conflict", why[0].upper() + why[1:] + ".")
    try:
        updater.install()
    except TrybootUnavailable as exc:
        raise ApiError("unavailable", str(exc)) from None
    except RuntimeError as exc:
        raise ApiError("conflict", f"Nothing to install ({exc}); upload a bundle first.") from None
    return {"rebooting": True}
