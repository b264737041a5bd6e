"""The suite's own scheduling (tests/conftest.py): under `make test` (`-n JOBS --dist loadgroup`) a test
marked `xdist_group` is named `<nodeid>@<group>` on its worker, and that suffix is what keeps a group on
one worker: the real-time tests one after another, a module fixture built once. pytest 9.2 with
pytest-xdist 3.8 silently drops it (pytest-xdist issue #1386): the real-time tests then ran beside each
other. constraints.txt pins a pytest that keeps it; this test fails if a pin moves back."""
from __future__ import annotations

import os

import pytest


@pytest.mark.xdist_group("suite-scheduling")
def test_grouped_tests_stay_on_one_worker(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getoption("loadgroup", False):
        pytest.skip("not run by `make test` (pytest-xdist with --dist loadgroup)")
    assert request.node.nodeid.endswith("@suite-scheduling"), (
        f"{request.node.nodeid}: --dist loadgroup groups nothing with pytest {pytest.__version__} "
        "(pytest-xdist issue #1386): see constraints.txt's pin of pytest")
