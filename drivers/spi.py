"""SPI buses the chip drivers talk through: the Pi's spidev, or emulated chips.

A bus moves bytes to the chip on one chip-select and back (full duplex, one
transaction per call). It also owns the notion of waiting: a driver that must
give a chip time (DC-DC power-up, calibration) calls `bus.sleep_ms`, which is
a real sleep on hardware and advances the emulated world on an emulated bus,
so init sequences run in simulated time in tests.

A chip that stops answering leaves MISO floating: reads come back all 0xFF
(pulled up) or all 0x00 (pulled down). `ChipNotAnswering` is what the drivers
raise when they see that; the board marks that one port failed.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["SpiBus", "SpidevBus", "EmulatedSpiBus", "SpiDevice", "ChipNotAnswering", "floating"]


class ChipNotAnswering(RuntimeError):
    """The chip on a chip-select returned nothing but a floating bus."""


def floating(values: bytes | list[int]) -> bool:
    """True when every byte read is 0xFF or every byte is 0x00: nobody drove MISO."""
    vals = list(values)
    return bool(vals) and (all(v == 0xFF for v in vals) or all(v == 0x00 for v in vals))


class SpiBus(Protocol):
    def transfer(self, cs: int, data: bytes) -> bytes: ...
    def sleep_ms(self, ms: float) -> None: ...


class SpidevBus:
    """/dev/spidevB.C through the `spidev` module; one handle per chip-select, opened on first use."""

    def __init__(self, bus: int = 0, speed_hz: int = 1_000_000, mode: int = 3) -> None:
        self.bus, self.speed_hz, self.mode = bus, speed_hz, mode
        self._devs: dict[int, object] = {}

    def _dev(self, cs: int):
        dev = self._devs.get(cs)
        if dev is None:
            import spidev  # only on the Pi; the emulated bus never imports it
            dev = spidev.SpiDev()
            try:
                dev.open(self.bus, cs)
            except (FileNotFoundError, PermissionError) as exc:
                raise ChipNotAnswering(f"cannot open /dev/spidev{self.bus}.{cs}: {exc.strerror}; "
                                       "is the board's dtoverlay in /boot/firmware/config.txt?") from exc
            # ProSLIC and DAA both sample on the rising edge with an idle-high clock (mode 3)
            dev.mode = self.mode
            dev.max_speed_hz = self.speed_hz
            self._devs[cs] = dev
        return dev

    def transfer(self, cs: int, data: bytes) -> bytes:
        return bytes(self._dev(cs).xfer2(list(data)))

    def sleep_ms(self, ms: float) -> None:
        time.sleep(ms / 1000.0)

    def close(self) -> None:
        for dev in self._devs.values():
            dev.close()
        self._devs.clear()


class SpiDevice(Protocol):
    """What an emulated chip offers the emulated bus."""
    def spi_transfer(self, data: bytes) -> bytes: ...


class EmulatedSpiBus:
    """Routes chip-selects to emulated chips. `advance_ms` is called for every `sleep_ms`."""

    def __init__(self, advance_ms: Callable[[float], None] | None = None) -> None:
        self.devices: dict[int, SpiDevice] = {}
        self.transactions = 0
        self._advance = advance_ms
        self._floating: dict[int, int] = {}      # cs -> byte the dead bus reads as

    def attach(self, cs: int, device: SpiDevice) -> None:
        if cs in self.devices:
            raise ValueError(f"chip-select {cs} already has a device")
        self.devices[cs] = device

    def disconnect(self, cs: int, reads_as: int = 0xFF) -> None:
        """Simulate a chip that stops answering (broken trace, dead chip): MISO floats."""
        self._floating[cs] = reads_as

    def reconnect(self, cs: int) -> None:
        self._floating.pop(cs, None)

    def transfer(self, cs: int, data: bytes) -> bytes:
        self.transactions += 1
        dev = self.devices.get(cs)
        if dev is None or cs in self._floating:
            return bytes([self._floating.get(cs, 0xFF)] * len(data))
        return dev.spi_transfer(bytes(data))

    def sleep_ms(self, ms: float) -> None:
        if self._advance is not None:
            self._advance(ms)
