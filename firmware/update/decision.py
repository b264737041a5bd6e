"""The update's decisions as plain functions of plain state (tested against a simulated boot).

Phases (UpdateState.phase, kept in DATA/update/state.json, replaced atomically):

    idle ──stage──> staged ──install window──> trying ──healthy──> committed
                                                  └──unhealthy / did not start──> rolled_back
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import atomic_write
from .slots import BootInfo, SlotLayout

REQUIRED_CHECKS = ("engine", "web", "selftest")
WINDOW_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


@dataclass
class UpdateState:
    phase: str = "idle"                 # idle | staged | trying | committed | rolled_back
    release: str = ""
    target: str = ""                    # the slot being tried ("A" / "B")
    previous: str = ""                  # the slot that ran before
    reason: str = ""                    # why it rolled back, for the owner
    history: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> UpdateState:
        try:
            doc = json.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(path), json.dumps(asdict(self), indent=1).encode())


@dataclass(frozen=True)
class HealthReport:
    checks: dict[str, tuple[bool, str]]        # name -> (passed, detail)

    @property
    def ok(self) -> bool:
        return all(self.checks.get(n, (False, ""))[0] for n in REQUIRED_CHECKS)

    def failures(self) -> str:
        bad = [f"{n}: {self.checks[n][1]}" if n in self.checks else f"{n}: not run" for n in REQUIRED_CHECKS
               if not self.checks.get(n, (False, ""))[0]]
        return "; ".join(bad)


@dataclass(frozen=True)
class Action:
    kind: str        # nothing | check_health | commit | rollback | fell_back
    reason: str = ""


def after_boot(state: UpdateState, booted: BootInfo, layout: SlotLayout, health: HealthReport | None) -> Action:
    """What the boot-time check does (linebox-update-check.service, after the engine and web)."""
    if state.phase != "trying":
        return Action("nothing")
    slot = layout.slot_of_boot(booted.partition)
    if slot != state.target:
        return Action("fell_back", f"release {state.release} did not start (the board came back on slot "
                                   f"{slot or '?'}: a crash, the watchdog or a power cut during its first boot)")
    if health is None:
        return Action("check_health")
    if health.ok:
        return Action("commit", f"release {state.release} passed its health check")
    return Action("rollback", f"release {state.release} failed its health check ({health.failures()})")


def in_window(now: dt.time, window: str) -> bool:
    m = WINDOW_RE.fullmatch(window)
    if not m:
        raise ValueError(f"{window!r} is not a time window like 02:00-04:30")
    start = dt.time(int(m.group(1)), int(m.group(2)))
    end = dt.time(int(m.group(3)), int(m.group(4)))
    return start <= now < end if start <= end else (now >= start or now < end)


def may_install_now(active_calls: int, now: dt.datetime, window: str | None, *, owner_now: bool) -> tuple[bool, str]:
    """(may the staged update reboot into its slot now?, why not). Calls are never cut: the owner's
    "install now" and the owner's time window both wait for every call to end."""
    if active_calls > 0:
        return False, f"waiting: {active_calls} call(s) or phone(s) in use; the update installs when they end"
    if owner_now:
        return True, ""
    if window and in_window(now.time(), window):
        return True, ""
    return False, (f"waiting for the install window {window}" if window else
                   "waiting for the owner to choose 'install now' or an install window")


def release_being_tried(data_dir: Path) -> bool:
    """Is the running release only being tried (booted with tryboot, its health check not passed)?
    Stores then keep their schema: a rollback must find the data as the old release left it."""
    return UpdateState.load(Path(data_dir) / "update" / "state.json").phase == "trying"


def keep_schemas_while_tried(data_dir: Path) -> bool:
    """The engine's start: while this release is only being tried, every SQLite store under
    `data_dir` keeps its schema until the commit's `update.migrate` (firmware/sqlite_files.py).
    Returns whether the release is being tried."""
    from ..sqlite_files import hold_schemas
    tried = release_being_tried(data_dir)
    hold_schemas(data_dir, tried)
    return tried
