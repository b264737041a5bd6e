"""An emulated GPIO chip with libgpiod v2's Python API surface (`request_lines`, `LineRequest`).

The kernel's gpio-sim module would be the real thing, but it needs root and a
kernel module; this stands in with the same calls, using gpiod's own
`LineSettings`/`Value`/`Direction` types. Lines are wired to emulated chips:
outputs call a sink (e.g. a chip's RESET pin), inputs read a source (e.g. a
chip's INT pin). Requesting a line twice fails with EBUSY like the kernel.
"""
from __future__ import annotations

import errno
from collections.abc import Callable

import gpiod
from gpiod.line import Direction, Value

__all__ = ["EmulatedGpioChip"]


class EmulatedGpioChip:
    LineSettings = gpiod.LineSettings            # so it can stand in for the gpiod module

    def __init__(self, path: str = "/dev/gpiochip0", num_lines: int = 54) -> None:
        self.path = path
        self.num_lines = num_lines
        self.levels: dict[int, int] = {}          # physical level of every driven output
        self.sinks: dict[int, Callable[[int], None]] = {}
        self.sources: dict[int, Callable[[], int]] = {}
        self.owners: dict[int, str] = {}
        self.history: list[tuple[int, int]] = []  # (pin, level) of every output change

    def wire_output(self, pin: int, sink: Callable[[int], None]) -> None:
        prev = self.sinks.get(pin)
        self.sinks[pin] = sink if prev is None else (lambda level, a=prev, b=sink: (a(level), b(level)))

    def wire_input(self, pin: int, source: Callable[[], int]) -> None:
        prev = self.sources.get(pin)
        # open-drain interrupt lines shared by several chips: low if any pulls low
        self.sources[pin] = source if prev is None else (lambda a=prev, b=source: a() & b())

    def request_lines(self, path: str, config: dict, consumer: str | None = None, **_ignored):
        if path != self.path:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        pins = []
        for key, settings in config.items():
            for pin in (key if isinstance(key, tuple | list) else (key,)):
                if not 0 <= pin < self.num_lines:
                    raise OSError(errno.EINVAL, f"offset {pin} out of range")
                if pin in self.owners:
                    raise OSError(errno.EBUSY, "Device or resource busy")
                pins.append((pin, settings or gpiod.LineSettings()))
        req = _EmulatedLineRequest(self, consumer or "?", dict(pins))
        for pin, settings in pins:
            self.owners[pin] = consumer or "?"
            if settings.direction == Direction.OUTPUT:
                req.set_value(pin, settings.output_value)
        return req

    def _drive(self, pin: int, level: int) -> None:
        if self.levels.get(pin) != level:
            self.levels[pin] = level
            self.history.append((pin, level))
            if pin in self.sinks:
                self.sinks[pin](level)


class _EmulatedLineRequest:
    def __init__(self, chip: EmulatedGpioChip, consumer: str, settings: dict) -> None:
        self.chip, self.consumer, self.settings = chip, consumer, settings
        self.released = False

    def _check(self, pin: int):
        if self.released:
            raise gpiod.RequestReleasedError()
        if pin not in self.settings:
            raise ValueError(f"line {pin} is not part of this request")
        return self.settings[pin]

    def set_value(self, pin: int, value: Value) -> None:
        s = self._check(pin)
        if s.direction != Direction.OUTPUT:
            raise OSError(errno.EPERM, "line is an input")
        active = value == Value.ACTIVE
        self.chip._drive(pin, int(active != bool(s.active_low)))

    def get_value(self, pin: int) -> Value:
        s = self._check(pin)
        if s.direction == Direction.OUTPUT:
            level = self.chip.levels.get(pin, 0)
        else:
            src = self.chip.sources.get(pin)
            level = src() if src else 1          # pulled up when nothing drives it
        return Value.ACTIVE if bool(level) != bool(s.active_low) else Value.INACTIVE

    def release(self) -> None:
        if not self.released:
            for pin in self.settings:
                self.chip.owners.pop(pin, None)
            self.released = True
