"""SIGKILL a process in the middle of config writes, many times: the config always loads.

The child commits `site_name = "round i"` in a loop and prints each committed
round. After the kill a fresh `Config` must hold the last reported round or
the one in flight (never garbage, never an older state), with `version`
matching the content, and without needing the backup.

Two ways to kill: from outside at random moments, and from inside at every
step of a commit (just before/after each link, rename and fsync), so every
phase of the write is hit on every run, not only when timing is lucky.
"""
import logging
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.config import Config

CHILD = Path(__file__).with_name("crash_children.py")


@pytest.fixture
def seeded(tmp_path):
    path = tmp_path / "config.json"
    cfg = Config(path)
    # A config of realistic size (a few hundred entries), so a write takes a while and kills land inside it.
    cfg.seed_defaults([f"fxs{i}" for i in range(1, 121)], [f"fxo{i}" for i in range(1, 41)])
    cfg.update_settings(site_name="round 0")
    return path, cfg.version          # version of "round 0"


def _start(path: Path, first: int, *inject: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), "config", str(path), str(first), *inject],
                            stdout=subprocess.PIPE, text=True)


def _reap(child: subprocess.Popen, last: int) -> int:
    """Wait for the killed child; returns the last round it reported as committed."""
    assert child.stdout is not None
    last = max([last, *(int(x) for x in child.stdout.read().split())])
    child.stdout.close()
    assert child.wait() == -signal.SIGKILL
    return last


def _load_and_check(path: Path, last: int, base_version: int, caplog) -> int:
    """A fresh Config holds round `last` or `last + 1`, cleanly; returns the loaded round."""
    caplog.clear()
    cfg = Config(path)
    site = cfg.settings()["site_name"]
    assert site in (f"round {last}", f"round {last + 1}"), (site, last)
    loaded = int(site.split()[1])
    assert cfg.version == base_version + loaded, "version and content come from different writes"
    assert cfg.recovery is None and not any(r.levelno >= logging.WARNING for r in caplog.records), \
        f"config.json was damaged: {caplog.text}"
    assert len(cfg.extensions()) == 120 and len(cfg.lines()) == 40 and len(cfg.inbound_routes()) == 40
    names = [p.name for p in path.parent.iterdir()]
    assert not any(n.endswith(".tmp") for n in names), f"leftovers not cleaned: {names}"
    assert not any(".corrupt-" in n for n in names)
    return loaded


def test_sigkill_at_random_moments(seeded, caplog):
    path, base_version = seeded
    caplog.set_level(logging.INFO, logger="linebox.config")
    rng = random.Random(20261123)
    last = 0
    for _ in range(50):
        child = _start(path, last + 1)
        assert child.stdout is not None
        for _ in range(rng.randint(1, 4)):
            line = child.stdout.readline()
            assert line, f"child died on its own (rc {child.poll()})"
            last = int(line)
        for _ in range(rng.randrange(200_000)):   # random work (0-10 ms), so the kill lands anywhere in a round
            pass
        child.send_signal(signal.SIGKILL)
        last = _load_and_check(path, _reap(child, last), base_version, caplog)
    Config(path).update_settings(site_name="after the storm")    # still writable: the dead writers' lock is gone
    assert Config(path).settings()["site_name"] == "after the storm"


# One commit is: link config.json -> .bak temp, rename it to .bak, fsync dir, then atomic_write:
# write temp, fsync it, rename over config.json, fsync dir (two fsyncs and two renames per round).
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("func,nths", [("link", (1, 2)), ("replace", (1, 2, 3, 4)), ("fsync", (1, 2, 3, 4, 5, 6))])
def test_sigkill_at_every_step_of_a_commit(seeded, caplog, func, nths, when):
    path, base_version = seeded
    caplog.set_level(logging.INFO, logger="linebox.config")
    last = 0
    for nth in nths:
        child = _start(path, last + 1, func, when, str(nth))
        last = _load_and_check(path, _reap(child, last), base_version, caplog)


def test_kill_between_temp_write_and_rename_leaves_a_leftover_that_is_cleaned(seeded, caplog):
    """The injection really lands inside a write: before the rename the temp file exists."""
    path, base_version = seeded
    caplog.set_level(logging.INFO, logger="linebox.config")
    child = _start(path, 1, "replace", "before", "2")   # replace #1 is the backup, #2 the new config
    last = _reap(child, 0)
    assert last == 0
    assert [p.name for p in path.parent.glob(".config.json.*.tmp")], "the kill did not land inside the write"
    assert _load_and_check(path, last, base_version, caplog) == 0
    assert "interrupted before it was committed" in caplog.text
