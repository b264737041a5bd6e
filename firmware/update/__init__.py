"""Safe updates: signed bundles, A/B slots with the Raspberry Pi's tryboot, health check, commit
or roll back by itself (issue 14). See image/README.md "Updates" for the design and why tryboot.

Public face:
* `verify_bundle(path, keys, board)` -> VerifiedBundle, `BundleRefused` (bundle.py)
* `BootEnvironment`, `SlotLayout` (slots.py): which slot runs, write the other, tryboot, commit;
  `TrybootUnavailable`: an install refused where the kernel cannot ask the firmware for tryboot
* `UpdateState`, `after_boot`, `may_install_now`, `release_being_tried`,
  `keep_schemas_while_tried` (decision.py): the decisions,
  as plain functions
* `simulated_call_selftest` (selftest.py): the health check's call on the built-in simulator
"""
from __future__ import annotations

from .bundle import BundleRefused, VerifiedBundle, install_to_slot, verify_bundle
from .decision import (
    Action,
    HealthReport,
    UpdateState,
    after_boot,
    keep_schemas_while_tried,
    may_install_now,
    release_being_tried,
)
from .slots import BootEnvironment, BootInfo, SlotLayout, TrybootUnavailable

__all__ = ["Action", "BootEnvironment", "BootInfo", "BundleRefused", "HealthReport", "SlotLayout", "TrybootUnavailable", "UpdateState",
           "VerifiedBundle", "after_boot", "install_to_slot", "keep_schemas_while_tried", "may_install_now", "release_being_tried",
           "verify_bundle"]
