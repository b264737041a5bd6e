"""Shared test set-up: keep the C extension in step with its sources; spread the suite over the cores."""
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
    """Rebuild the DSP and fax extensions when their sources are newer than the built files.

    Built exactly as `pip install -e .` builds them (setuptools' build_ext with the cffi modules of
    setup.py, abi3 file names), so the tests and the benchmarks load the code that ships, never a copy
    built another way. A copy with another suffix (an old `python -m dsp_ext.build`) would be imported
    first and is removed.
    """
    src = ROOT / "dsp_ext"
    inputs = [p for pattern in ("src/*.[ch]", "fax_src/*.[ch]", "build.py", "fax_build.py")
              for p in src.glob(pattern)] + [ROOT / "setup.py"]
    newest = max(p.stat().st_mtime for p in inputs)
    with open(src / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("_dsp", "_fax"):
            for sfx in importlib.machinery.EXTENSION_SUFFIXES:
                if sfx != ".abi3.so" and (src / f"{name}{sfx}").exists():
                    (src / f"{name}{sfx}").unlink()
        built = [src / f"{name}.abi3.so" for name in ("_dsp", "_fax")]
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
# - tests marked `slow` are handed out first, so that no long test starts last and runs alone.
# Every test keeps its files under tmp_path and binds ports the OS chooses (port 0).

REAL_TIME_GROUP = "realtime"
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


@pytest.hookimpl(tryfirst=True)        # before xdist turns the xdist_group marks into work units
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if item.get_closest_marker("realtime") is not None or _module_of(item) in REAL_TIME_MODULES:
            item.add_marker(pytest.mark.xdist_group(REAL_TIME_GROUP))
        elif _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(_module_of(item)))
    if os.environ.get("PYTEST_XDIST_WORKER"):        # every worker sorts alike: collections must agree
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
