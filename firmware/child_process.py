"""What a process the engine starts (web server, reports, prompts, backup, CSV check) does first."""
from __future__ import annotations

import contextlib
import os
import signal


def lower_priority(nice: int) -> None:
    """Run at a lower CPU priority than the engine's media loop (skipped where refused)."""
    with contextlib.suppress(OSError):
        os.nice(nice)


def exit_with_parent() -> None:
    """End when the engine that started us dies, even by kill -9 (Linux PR_SET_PDEATHSIG, SIGTERM);
    if it is already gone, end now."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)      # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        raise SystemExit(0)
