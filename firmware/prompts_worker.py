"""`python -m firmware.prompts_worker ROOT`: the first run's default prompts, spoken in a process
of their own.

Generating them (espeak-ng and sox for every prompt in every language, reading and trimming each
file) took CPU and the interpreter lock from the engine's media loop for minutes after the first
start: frames were lost while the phones already worked. Here it runs niced, in another
interpreter; the engine only waits for it on a thread (`firmware.prompts.start_default_generation`)
and reloads the IVR when it is done. Prints the number of prompts made; SIGTERM ends it after the
prompt in progress.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from .child_process import exit_with_parent, lower_priority

WORKER_NICE = 10


class _StopFlag:
    """A stop request that a signal handler may set any number of times: no lock."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False

    def set(self) -> None:
        self.requested = True

    def is_set(self) -> bool:
        return self.requested


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m firmware.prompts_worker PROMPTS_ROOT", file=sys.stderr)
        return 2
    lower_priority(WORKER_NICE)
    stop = _StopFlag()
    # The engine decides when this ends: SIGTERM from it (or, through PR_SET_PDEATHSIG, its death,
    # even by kill -9) stops after the prompt in progress; a Ctrl-C meant for `linebox run` is its.
    # The handler only sets a flag: threading.Event.set() takes a lock, and a second SIGTERM (the
    # engine's terminate(), then the parent-death signal) arriving inside the first handler's set()
    # deadlocked this process for good, holding `linebox run`'s output open (seen under load).
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    from .prompts import generate_defaults
    made = generate_defaults(Path(args[0]), stop=stop)
    try:
        print(made, flush=True)
    except OSError:                              # the engine stopped listening (it is shutting down)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
