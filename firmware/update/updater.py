"""The update flow over a BootEnvironment and the state file: stage, install, check after boot."""
from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

from .bundle import BundleRefused, VerifiedBundle, install_to_slot, verify_bundle
from .decision import Action, HealthReport, UpdateState, after_boot
from .slots import BootEnvironment, TrybootUnavailable

log = logging.getLogger("linebox.update")


class Updater:
    def __init__(self, boot: BootEnvironment, state_path: Path, keys_dir: Path, board: str,
                 backup: Callable[[], object] | None = None,
                 migrate: Callable[[], list[str]] | None = None) -> None:
        self.boot = boot
        self.state_path = Path(state_path)
        self.keys_dir = Path(keys_dir)
        self.board = board
        self.backup = backup                 # takes a data backup before a new release runs
        self.migrate = migrate               # runs the committed release's data migrations (forward only)

    @property
    def state(self) -> UpdateState:
        return UpdateState.load(self.state_path)

    def stage(self, bundle_path: Path) -> VerifiedBundle:
        """Verify the bundle and write it to the inactive slot (the running one is never written)."""
        state = self.state
        if state.phase == "trying":
            raise BundleRefused("The update was refused: another update is being tried; wait for it to finish.")
        bundle = verify_bundle(bundle_path, self.keys_dir, self.board)
        slot = self.boot.inactive_slot()
        targets = self.boot.targets(slot)
        install_to_slot(bundle, targets)
        if self.boot.point_boot_at_root is not None:
            try:
                self.boot.point_boot_at_root(targets["boot"], slot, self.boot.layout)
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                raise BundleRefused(f"The update was refused: its boot image could not be pointed at slot {slot}'s "
                                    f"root ({exc}); the running system was not changed.") from None
        UpdateState("staged", bundle.release, slot, self.boot.active_slot(),
                    history=[*state.history[-9:], f"staged {bundle.release} in slot {slot}"]).save(self.state_path)
        return bundle

    def install(self) -> None:
        """Reboot once into the staged slot (tryboot); the caller checked `may_install_now`."""
        state = self.state
        if state.phase != "staged":
            raise RuntimeError("no staged update to install")
        why = self.boot.tryboot_unavailable(self.board)
        if why is not None:                  # before the backup and autoboot.txt: nothing changes
            raise TrybootUnavailable(f"The update was not installed: {why}. The running release and its slot "
                                     f"were not changed; the new release stays staged.")
        if self.backup is not None:
            self.backup()                    # data migrations run forward only, after this backup
        self.boot.arm_tryboot(state.target)
        state.phase = "trying"
        state.history.append(f"trying {state.release} in slot {state.target}")
        state.save(self.state_path)
        self.boot.reboot(True)

    def check_after_boot(self, run_health: Callable[[], HealthReport]) -> str:
        """On every boot: commit the tried slot if healthy, else go back. Returns the outcome."""
        state = self.state
        booted = self.boot.booted()
        action = after_boot(state, booted, self.boot.layout, None)
        if action.kind == "check_health":
            action = after_boot(state, booted, self.boot.layout, run_health())
        if action.kind == "commit":
            self.boot.commit(state.target)
            state.phase = "committed"
            state.history.append(action.reason)
            state.save(self.state_path)          # committed first: a cut during migration keeps the slot
            if self.migrate is not None:
                for line in self.migrate():
                    state.history.append(f"data migrated to {line}")
            action = Action("commit", "")
        elif action.kind in ("rollback", "fell_back"):
            state.phase, state.reason = "rolled_back", action.reason
        elif action.kind == "nothing" and state.phase != "trying" and self.migrate is not None:
            for line in self.migrate():          # still pending after a cut, or a card flashed anew
                state.history.append(f"data migrated to {line}")
                state.save(self.state_path)
        if action.kind != "nothing":
            if action.reason:
                state.history.append(action.reason)
            state.save(self.state_path)
            log.warning("update: %s", action.reason or "committed; data migrated")
        if action.kind == "rollback":
            self.boot.reboot(False)          # the firmware starts [all] again: the previous slot
        return action.kind
