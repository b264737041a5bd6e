"""Emulated FXS/FXO rigs: real drivers over an emulated SPI bus, chips with simulator phones/lines."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from drivers.emulators.si3050 import Si3050Emulator
from drivers.emulators.si3215 import Si3215Emulator
from drivers.emulators.world import EmulatedWorld
from drivers.si3050 import Si3050Port
from drivers.si3215 import Si3215Port
from drivers.sim import CentralOffice, VirtualPhone
from drivers.spi import EmulatedSpiBus


@dataclass
class FxsRig:
    world: EmulatedWorld
    bus: EmulatedSpiBus
    chip: Si3215Emulator
    phone: VirtualPhone
    port: Si3215Port
    events: list = field(default_factory=list)

    def frames(self, n: int) -> list:
        """Run n frames; returns [(frame_index, event)] for the events of these frames."""
        out = []
        for _ in range(n):
            self.world.advance_ms(10)
            for ev in self.port.poll():
                out.append((self.world.frames, ev))
        self.events.extend(out)
        return out


def _make_fxs_rig(timeslot: int = 1, country: str = "US", init: bool = True) -> FxsRig:
    world = EmulatedWorld(channels=4)
    phone = VirtualPhone("phone1")
    chip = Si3215Emulator(phone)
    world.slics.append(chip)
    bus = EmulatedSpiBus(world.advance_ms)
    bus.attach(0, chip)
    port = Si3215Port("fxs1", bus, cs=0, timeslot=timeslot, country=country)
    if init:
        port.init()
    return FxsRig(world, bus, chip, phone, port)


@pytest.fixture
def make_fxs_rig():
    return _make_fxs_rig


@pytest.fixture
def fxs() -> FxsRig:
    return _make_fxs_rig()


@dataclass
class FxoRig:
    world: EmulatedWorld
    bus: EmulatedSpiBus
    chip: Si3050Emulator
    co: CentralOffice
    port: Si3050Port
    events: list = field(default_factory=list)

    def frames(self, n: int) -> list:
        out = []
        for _ in range(n):
            self.world.advance_ms(10)
            for ev in self.port.poll():
                out.append((self.world.frames, ev))
        self.events.extend(out)
        return out

    def rx(self) -> np.ndarray:
        return self.world.tdm.up[:, self.port.timeslot].copy()


def _make_fxo_rig(country: str = "US", timeslot: int = 2) -> FxoRig:
    co = CentralOffice(country=country, seed=0, noise_dbm0=None)
    co.add_line()
    world = EmulatedWorld(channels=4, co=co)
    chip = Si3050Emulator(line_index=1)
    world.daas.append(chip)
    bus = EmulatedSpiBus(world.advance_ms)
    bus.attach(1, chip)
    port = Si3050Port("fxo1", bus, cs=1, timeslot=timeslot, country=country)
    port.init()
    return FxoRig(world, bus, chip, co, port)


@pytest.fixture
def make_fxo_rig():
    return _make_fxo_rig


@pytest.fixture
def fxo() -> FxoRig:
    return _make_fxo_rig()
