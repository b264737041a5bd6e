"""GPIO lines for the HAT: chip reset (out), chip interrupt (in), status LEDs (out).

libgpiod v2 (`gpiod`) is the way on every Pi including the Pi 5; `RPi.GPIO` is a
fallback for images that only have that (it does not work on the Pi 5). Levels
here are physical: 0 = low, 1 = high (resets and interrupts are active low;
the board code says so where it uses them).

`GpiodLines` takes the gpiod module as a parameter so tests can hand it the
emulated chip in `drivers.emulators.gpiochip`, which has the same API surface.
"""
from __future__ import annotations

import importlib
import os
from typing import Protocol

__all__ = ["GpioLines", "GpiodLines", "RpiGpioLines", "open_gpio", "GpioError"]


class GpioError(RuntimeError):
    pass


class GpioLines(Protocol):
    def setup_output(self, pin: int, level: int) -> None: ...
    def setup_input(self, pin: int) -> None: ...
    def set(self, pin: int, level: int) -> None: ...
    def get(self, pin: int) -> int: ...
    def close(self) -> None: ...


class GpiodLines:
    def __init__(self, chip_path: str = "/dev/gpiochip0", api=None, consumer: str = "linebox") -> None:
        self.gpiod = api if api is not None else importlib.import_module("gpiod")
        self.chip_path, self.consumer = chip_path, consumer
        self._requests: dict[int, object] = {}

    def _request(self, pin: int, settings) -> None:
        if pin in self._requests:
            raise GpioError(f"GPIO {pin} requested twice")
        try:
            self._requests[pin] = self.gpiod.request_lines(self.chip_path, consumer=self.consumer,
                                                           config={pin: settings})
        except OSError as exc:
            raise GpioError(f"cannot request GPIO {pin} on {self.chip_path}: {exc.strerror or exc}") from exc

    def setup_output(self, pin: int, level: int) -> None:
        from gpiod.line import Direction, Value
        self._request(pin, self.gpiod.LineSettings(direction=Direction.OUTPUT,
                                                   output_value=Value.ACTIVE if level else Value.INACTIVE))

    def setup_input(self, pin: int) -> None:
        from gpiod.line import Bias, Direction
        self._request(pin, self.gpiod.LineSettings(direction=Direction.INPUT, bias=Bias.PULL_UP))

    def set(self, pin: int, level: int) -> None:
        from gpiod.line import Value
        self._requests[pin].set_value(pin, Value.ACTIVE if level else Value.INACTIVE)

    def get(self, pin: int) -> int:
        from gpiod.line import Value
        return 1 if self._requests[pin].get_value(pin) == Value.ACTIVE else 0

    def close(self) -> None:
        for req in self._requests.values():
            req.release()
        self._requests.clear()


class RpiGpioLines:
    """Fallback through RPi.GPIO (BCM numbering)."""

    def __init__(self, api=None) -> None:
        self.GPIO = api if api is not None else importlib.import_module("RPi.GPIO")
        self.GPIO.setwarnings(False)
        self.GPIO.setmode(self.GPIO.BCM)
        self._pins: list[int] = []

    def setup_output(self, pin: int, level: int) -> None:
        self.GPIO.setup(pin, self.GPIO.OUT, initial=self.GPIO.HIGH if level else self.GPIO.LOW)
        self._pins.append(pin)

    def setup_input(self, pin: int) -> None:
        self.GPIO.setup(pin, self.GPIO.IN, pull_up_down=self.GPIO.PUD_UP)
        self._pins.append(pin)

    def set(self, pin: int, level: int) -> None:
        self.GPIO.output(pin, self.GPIO.HIGH if level else self.GPIO.LOW)

    def get(self, pin: int) -> int:
        return 1 if self.GPIO.input(pin) else 0

    def close(self) -> None:
        if self._pins:
            self.GPIO.cleanup(list(self._pins))
        self._pins.clear()


def open_gpio(chip_path: str = "/dev/gpiochip0") -> GpioLines:
    """libgpiod when the chip device exists and the module imports, else RPi.GPIO, else a clear error."""
    why = []
    if os.path.exists(chip_path):
        try:
            return GpiodLines(chip_path)
        except ImportError as exc:
            why.append(f"gpiod: {exc}")
    else:
        why.append(f"{chip_path} does not exist")
    try:
        return RpiGpioLines()
    except (ImportError, RuntimeError) as exc:
        why.append(f"RPi.GPIO: {exc}")
    raise GpioError("no usable GPIO: " + "; ".join(why) + " (install python3-libgpiod / the gpiod wheel)")
