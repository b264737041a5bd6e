"""The engine's own scenario tests, run unchanged on the emulated HAT instead of the simulated board.

The emulated HAT is the real Si3215/Si3050 drivers over emulated SPI/GPIO/PCM
with the same VirtualPhones and CentralOffice on the chips' line sides, so a
scenario passing here shows the port abstraction holds. `Pbx` builds
`drivers.sim.SimBoard`; for these tests that name yields the emulated HAT.
"""
import pathlib
import sys

import pytest

import drivers.sim
from drivers.emulated_hat import EmulatedHatBoard, emulated_hat_board
from firmware.harness import Pbx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
import test_apps as apps  # noqa: E402
import test_internal_calls as internal  # noqa: E402
import test_lines as lines  # noqa: E402


def _hat_as_simboard(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
    return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=fxo, **options)


@pytest.fixture(autouse=True)
def on_emulated_hat(monkeypatch):
    monkeypatch.setattr(drivers.sim, "SimBoard", _hat_as_simboard)


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=1) as p:
        assert isinstance(p.board, EmulatedHatBoard)
        p.run(0.2)
        yield p


# every scenario of the engine's suites, under the same names
for _mod in (internal, lines, apps):
    for _name in dir(_mod):
        if _name.startswith("test_"):
            globals()[_name] = getattr(_mod, _name)
