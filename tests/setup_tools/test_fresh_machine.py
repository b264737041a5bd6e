"""The README's two commands on a fresh machine (issue 9, item 17).

The install itself is verified in a fresh debootstrap root (see README "Fresh machine"); here:
the script and the Makefile agree on what they promise, versions are pinned, and the first
start says "prompts are being generated" once instead of once per prompt."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _make_dry(*args: str) -> str:
    # Not the settings of a `make test` this suite may be running under (make passes them on in MAKEFLAGS).
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "JOBS", "PYTEST_ARGS", "PORT", "DATA")}
    done = subprocess.run(["make", "-n", "-W", "setup.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_takes_a_port_and_test_takes_pytest_args() -> None:
    assert "--port 8099" in _make_dry("run", "PORT=8099")
    assert "--port 8080" in _make_dry("run")
    assert "pytest -n 3 --dist loadgroup tests/web -x" in _make_dry("test", "PYTEST_ARGS=tests/web -x", "JOBS=3")


def test_make_test_runs_on_every_core_at_most_four_and_jobs_0_runs_in_one_process() -> None:
    cores = len(os.sched_getaffinity(0))
    jobs = re.search(r"pytest -n (\d+) --dist loadgroup tests;", _make_dry("test"))
    assert jobs, "make test does not run pytest-xdist"
    assert int(jobs.group(1)) == (0 if cores < 2 else min(cores, 4))
    assert "pytest -n 0 --dist loadgroup tests;" in _make_dry("test", "JOBS=0")


def test_linebox_sh_refuses_unknown_commands_and_settings_before_installing_anything() -> None:
    for args in (["install-everything"], ["run", "--port=1"], []):
        done = subprocess.run(["bash", str(ROOT / "linebox.sh"), *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, args
        assert "usage: ./linebox.sh run" in done.stderr
        assert "apt" not in done.stdout


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec \./linebox\.sh test\b", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    assert "./linebox.sh run" in readme and "./linebox.sh test" in readme


def test_every_python_dependency_is_pinned_and_the_install_uses_the_pins() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[name.lower().replace("_", "-")] = version
    setup = (ROOT / "setup.py").read_text()
    for name in re.findall(r'"([A-Za-z0-9_.-]+)(?:>=|==|~=|<)', setup):
        assert name.lower().replace("_", "-") in pins, f"{name} is not pinned in constraints.txt"
    makefile = (ROOT / "Makefile").read_text()
    installs = [ln for ln in makefile.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert installs and all("$(PIP_PINS)" in ln for ln in installs)


def test_the_test_packages_name_no_release_specific_compiler_runtime() -> None:
    # libclang-rt-14-dev exists on bookworm only; nothing in the suite uses clang (the sanitizer
    # build uses gcc's libasan/libubsan, which come with gcc).
    assert "clang" not in (ROOT / "Makefile").read_text()
    assert not any("clang" in p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name)


def test_version_flag() -> None:
    done = subprocess.run([sys.executable, "-m", "firmware.cli", "--version"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0
    assert re.fullmatch(r"linebox \S+\n", done.stdout)


def test_missing_prompts_at_first_start_are_reported_once(tmp_path: Path, caplog) -> None:
    from firmware.prompts import CATALOG, PromptLibrary, prompt_path, wav_bytes
    refs = sorted(CATALOG)
    assert len(refs) > 20
    present = prompt_path(tmp_path, refs[0], "en")
    present.parent.mkdir(parents=True, exist_ok=True)
    present.write_bytes(wav_bytes(np.zeros(800, dtype=np.int16)))
    lib = PromptLibrary(tmp_path)
    with caplog.at_level(logging.DEBUG, logger="linebox"):
        lib.load_now([(ref, "en") for ref in refs])
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(shown) == 1, [r.getMessage() for r in shown]
    assert f"{len(refs) - 1} voice prompts have no sound file yet" in shown[0].getMessage()
    assert lib.get(refs[0]) is not None
