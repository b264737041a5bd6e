"""Shared test set-up: keep the C extension in step with its sources; spread the suite over the cores;
no test can hang the suite."""
import faulthandler
import fcntl
import importlib.machinery
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ensure_extensions_built() -> None:
    """Rebuild the C extensions (DSP core, fax, the tick module) when their sources are newer than the built files.

    Built exactly as `pip install -e .` builds them (setuptools' build_ext with the cffi modules of
    setup.py, abi3 file names), so the tests and the benchmarks load the code that ships, never a copy
    built another way. A copy with another suffix (an old `python -m dsp_ext.build`) would be imported
    first and is removed.
    """
    src = ROOT / "dsp_ext"
    inputs = [p for pattern in ("src/*.[ch]", "fax_src/*.[ch]", "tick_src/*.[ch]", "build.py", "fax_build.py")
              for p in src.glob(pattern)] + [ROOT / "setup.py"]
    newest = max(p.stat().st_mtime for p in inputs)
    with open(src / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("_dsp", "_fax"):
            for sfx in importlib.machinery.EXTENSION_SUFFIXES:
                if sfx != ".abi3.so" and (src / f"{name}{sfx}").exists():
                    (src / f"{name}{sfx}").unlink()
        built = [src / f"{name}.abi3.so" for name in ("_dsp", "_fax")] + [src / f"_tick{importlib.machinery.EXTENSION_SUFFIXES[0]}"]
        if all(p.exists() and p.stat().st_mtime >= newest for p in built):
            return
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


_ensure_extensions_built()


# ---- the suite on several cores (`make test`: pytest-xdist, -n JOBS --dist loadgroup) ----
#
# Tests are handed to the workers one by one, except:
# - the tests of a module with a module- or class-scoped fixture go to one worker together, so the
#   fixture (a compiled sanitizer harness, a ticking office, a rendered corpus) is built once;
# - tests that run real `linebox` processes in real time and wait on them with wall-clock bounds
#   (mark `realtime`, or a module in REAL_TIME_MODULES) run one after another on one worker, never
#   beside each other;
# - the real-time group and the arm64 root build (IMAGE_ROOT_BUILD: minutes of qemu-user) are the
#   longest units of work: they are handed out first, one to each worker (FirstThingsFirst below;
#   xdist by itself hands out the units with the most tests first), while the other workers take
#   everything else; then the tests marked `slow`, so that no long test starts last and runs alone.
# Every test keeps its files under tmp_path and binds ports the OS chooses (port 0).

REAL_TIME_GROUP = "realtime"
IMAGE_ROOT_BUILD = "tests/image/test_root_smoke.py::test_root_built_in_ci_runs_linebox"
REAL_TIME_MODULES = frozenset({
    "tests/engine/test_service.py",
    "tests/engine/test_service_stop_with_open_pages.py",
    "tests/engine/test_two_processes.py",
    "tests/engine/test_line_calibrate_live.py",
    "tests/engine/test_api_socket.py",
    "tests/engine/test_run_errors.py",
    "tests/fax/test_fax_send_cli.py",
    "tests/reports/test_service_thread.py",
    "tests/web/test_http_hardening.py",
    "tests/watchdog/test_media_watchdog.py",
})


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)        # pytest's own record of the item's fixtures
    if info is None:
        return False
    return any(d.scope in ("module", "class") for defs in info.name2fixturedefs.values() for d in defs)


def _hand_out_order(item: pytest.Item) -> int:
    group = item.get_closest_marker("xdist_group")
    if group is not None and group.args and group.args[0] == REAL_TIME_GROUP:
        return 0
    return 1 if item.get_closest_marker("slow") is not None else 2


@pytest.hookimpl(tryfirst=True)        # before xdist turns the xdist_group marks into work units
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            pass
        elif item.get_closest_marker("realtime") is not None or _module_of(item) in REAL_TIME_MODULES:
            item.add_marker(pytest.mark.xdist_group(REAL_TIME_GROUP))
        elif _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(_module_of(item)))
        if item.get_closest_marker("timeout") is None and (
                _module_of(item) in LONG_TESTS or item.get_closest_marker("slow") is not None):
            item.add_marker(pytest.mark.timeout(LONG_TEST_LIMIT_S))
    if os.environ.get("PYTEST_XDIST_WORKER"):        # every worker sorts alike: collections must agree
        items.sort(key=_hand_out_order)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """`--dist loadgroup`, except that the real-time group and the root build are the first two work
    units handed out (xdist orders the units by their number of tests: a single long test would wait
    for every group)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FirstThingsFirst(LoadGroupScheduling):
        def _assign_work_unit(self, node) -> None:  # noqa: ANN001
            first = next((u for u in self.workqueue if u == REAL_TIME_GROUP or u.startswith(IMAGE_ROOT_BUILD)), None)
            if first is not None:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return FirstThingsFirst(config, log)


# ---- no hang possible ----
#
# Every test has a time limit (pytest-timeout; the default is `timeout` in pyproject.toml, a longer
# test says its own with @pytest.mark.timeout(seconds)). Past it the test fails with the stack of
# every thread and the suite goes on (the signal method: the test's own clean-up still runs).
# Should a test be stuck where that signal cannot reach (C code that never returns to Python), a
# second limit HARD_STOP_MARGIN_S later dumps every thread's stack (faulthandler, on the real
# stderr) and ends the process: under pytest-xdist the worker is reported crashed in that test and
# replaced, so a hang always ends, with the place it hung, long before CI's own limit.

HARD_STOP_MARGIN_S = float(os.environ.get("LINEBOX_HARD_STOP_MARGIN_S", "60"))
# The few tests that take tens of seconds on a quiet machine (and several times that on a busy
# one) get a longer limit than the default; so does every test marked `slow`. A test's own
# @pytest.mark.timeout wins over this list.
LONG_TEST_LIMIT_S = 900
LONG_TESTS = frozenset({
    "tests/web/test_fuzz_openapi.py",
    "tests/fax/test_fax_send_cli.py",
    "tests/web/test_live_resync_and_phone.py",
    "tests/powercut/test_power_cut_ext4.py",
})
_hang_dump_fd: int | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _hang_dump_fd
    if _hang_dump_fd is None:
        _hang_dump_fd = os.dup(2)           # the real stderr: the tests' output capture replaces fd 2


def time_limit_s(item: pytest.Item) -> float:
    """The test's pytest-timeout limit in seconds (0: none)."""
    mark = item.get_closest_marker("timeout")
    if mark is not None:
        value = mark.args[0] if mark.args else mark.kwargs.get("timeout", 0)
    else:
        try:
            value = item.config.getoption("timeout", None) or item.config.getini("timeout")
        except ValueError:                  # pytest-timeout is not installed
            value = 0
    return float(value or 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    limit = time_limit_s(item)
    if limit > 0 and _hang_dump_fd is not None:
        faulthandler.dump_traceback_later(limit + HARD_STOP_MARGIN_S, exit=True, file=_hang_dump_fd)
    try:
        yield
    finally:
        if limit > 0:
            faulthandler.cancel_dump_traceback_later()


class LockRival:
    """Another thread that wants the interpreter lock all the time, but only ever takes it when it
    is free: with a switch interval of 10 s it can only get it when the thread under test gives it
    away by itself (a C call that releases it, a numpy operation over a few hundred elements, a
    sleep or a blocking call). `turns` counts the times it got it. Each time the lock is released
    the rival may or may not win it: turns above 0 prove a release; 0 over many releases would be
    very unlikely."""

    def __init__(self) -> None:
        import threading
        self.turns = 0
        self._stop = threading.Event()
        self._old = sys.getswitchinterval()
        self._thread = threading.Thread(target=self._run, name="lock-rival", daemon=True)
        self._thread.start()
        sys.setswitchinterval(10.0)
        self.settle()

    def _run(self) -> None:
        import time
        while not self._stop.is_set():
            self.turns += 1
            time.sleep(0)           # let go at once

    @staticmethod
    def settle() -> None:
        import time
        time.sleep(0.01)            # (the rival's waits from now on use the long interval)

    def count(self, fn) -> int:
        """How many times the rival got the lock while `fn()` ran."""
        before = self.turns
        fn()
        return self.turns - before

    def close(self) -> None:
        sys.setswitchinterval(self._old)
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def lock_rival():
    rival = LockRival()
    try:
        yield rival
    finally:
        rival.close()
