"""Scenario helpers: a fresh simulated Linebox per test, and phrases the scenarios share."""
import pytest

from firmware.harness import Pbx


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=1) as p:
        p.run(0.2)
        yield p
