"""Child processes for the crash tests: write storage in a loop until killed.

    python3 crash_children.py config PATH FIRST_ROUND [FUNC before|after NTH]
    python3 crash_children.py records PATH FIRST_ROUND

After each *committed* write the child prints the round number on stdout, so
the parent knows the last state that must survive a SIGKILL.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def kill_at(func: str, when: str, nth: int) -> None:
    """Crash injection: SIGKILL ourselves just before/after the nth call of os.<func>."""
    import os
    import signal
    real = getattr(os, func)
    calls = 0

    def hooked(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(os, func, hooked)


def config_rounds(path: Path, first: int, inject: list[str]) -> None:
    from firmware.config import Config
    cfg = Config(path)
    if inject:
        kill_at(inject[0], inject[1], int(inject[2]))
    for i in range(first, first + 1_000_000):
        cfg.update_settings(site_name=f"round {i}")
        print(i, flush=True)


def records_rounds(path: Path, first: int, inject: list[str]) -> None:
    from firmware.records import CallRecords
    rec = CallRecords(path)
    for i in range(first, first + 1_000_000):
        rec.call_started(f"c{i}", start=float(i), src="201", dst=f"9555{i:04d}", direction="outbound",
                         line="fxo1", caller_id_name=f"round {i}")
        rec.call_answered(f"c{i}", at=i + 0.5)
        rec.call_ended(f"c{i}", at=i + 0.9, disposition="answered")
        rec.flush()
        print(i, flush=True)


if __name__ == "__main__":
    kind, path, first = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    {"config": config_rounds, "records": records_rounds}[kind](path, first, sys.argv[4:])
