"""The suite cannot hang (tests/conftest.py "no hang possible"): a test stuck in Python fails at
its time limit with every thread's stack and the run goes on; a test stuck where that signal
cannot reach it (here: SIGALRM blocked, as in C code that never returns) ends the process with a
faulthandler dump shortly after. Both are shown on a small pytest run in a child process, with
limits of seconds instead of minutes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUCK_TESTS = '''
import signal
import threading
import time


def test_stuck_in_python():
    threading.Thread(target=threading.Event().wait, name="a-stuck-helper", daemon=True).start()
    time.sleep(120)


def test_after_the_stuck_one_the_run_goes_on():
    pass


def test_stuck_where_the_signal_cannot_reach():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(120)
'''


def run_stuck(tmp_path: Path, *tests: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the named tests of STUCK_TESTS under this suite's conftest, with a 3 s limit and a hard
    stop 2 s later (plugins the run does not need are left out: they only slow its start)."""
    (tmp_path / "test_stuck.py").write_text(STUCK_TESTS)
    env = {**os.environ, "LINEBOX_HARD_STOP_MARGIN_S": "2"}
    env.pop("PYTEST_XDIST_WORKER", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-c", os.devnull,
                           "--rootdir", str(tmp_path), "--timeout", "3", "-v", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio",
                           *[f"{tmp_path / 'test_stuck.py'}::{t}" for t in tests]],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def test_a_test_stuck_in_python_fails_at_its_limit_with_every_stack_and_the_run_goes_on(tmp_path: Path) -> None:
    done, _took = run_stuck(tmp_path, "test_stuck_in_python", "test_after_the_stuck_one_the_run_goes_on")
    out = done.stdout + done.stderr
    assert "test_stuck_in_python FAILED" in out, out
    assert "Timeout (>3.0s)" in out and "time.sleep(120)" in out, out
    assert "Stack of a-stuck-helper" in out, out          # the test's own place above, the other threads
    assert "test_after_the_stuck_one_the_run_goes_on PASSED" in out, out
    assert done.returncode == 1


def test_a_hang_the_time_limit_cannot_break_ends_the_process_with_a_dump(tmp_path: Path) -> None:
    done, took = run_stuck(tmp_path, "test_stuck_where_the_signal_cannot_reach")
    assert "Timeout (0:00:05)!" in done.stderr, done.stdout + done.stderr       # 3 s limit + 2 s margin
    assert "in test_stuck_where_the_signal_cannot_reach" in done.stderr           # where it hung
    assert done.returncode != 0 and "passed" not in done.stdout
    assert took < 100, f"the stuck run took {took:.0f} s"
