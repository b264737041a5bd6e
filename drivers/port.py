"""The one port abstraction the engine sees, whatever board is underneath.

A `Board` owns ports and the audio stream. The media loop calls `Board.tick`
once per 10 ms frame: it hands over the frame each port must play (tx) and
gets back the frame each port captured (rx) plus the port events of that frame.
On hardware `tick` blocks on the ALSA period; on the simulated board it
advances the simulated world by one frame and returns at once. Ports never
call back into the engine: events only flow out of `tick`, commands only flow
in through the port methods, both on the media thread.

Hook debouncing, flash and pulse-dial classification and ring-signal
debouncing are the port's job (they are timing on raw signals), so every event
here is already clean. Everything with a policy (ring cadence, caller-ID
timing, what a flash means) is the engine's job, clocked by frames.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from dsp_ext.levels import FRAME, RATE

__all__ = ["FRAME", "RATE", "PortKind", "EventType", "PortEvent", "Port", "FxsPort", "FxoPort", "GainsNotAdjustable",
           "Board", "Tick", "pick_port", "silence"]


class PortKind(StrEnum):
    FXS = "fxs"     # we power a phone
    FXO = "fxo"     # we are a phone on the phone company's line


class EventType(StrEnum):
    # FXS (phone side)
    OFF_HOOK = "off_hook"
    ON_HOOK = "on_hook"               # held on hook longer than the flash window
    FLASH = "flash"                   # on hook for a flash-length break
    PULSE_DIGIT = "pulse_digit"       # data: the digit ("0".."9") from rotary/pulse dialling
    # FXO (line side)
    RING_ON = "ring_on"               # ringing voltage appeared (debounced)
    RING_OFF = "ring_off"             # ringing voltage gone
    POLARITY_REVERSAL = "polarity_reversal"
    LOOP_DROP = "loop_drop"           # loop current dropped while we were off hook: far end gone
    LINE_IN_USE = "line_in_use"       # a parallel phone took the line (voltage drop while we are on hook)
    LINE_FREE = "line_free"
    LINE_DOWN = "line_down"           # no line voltage: cable unplugged / line dead
    LINE_UP = "line_up"
    # both
    FAULT = "fault"                   # data: reason. The port is out of service until RECOVERED
    RECOVERED = "recovered"


@dataclass(frozen=True)
class PortEvent:
    port: str
    type: EventType
    data: object = None


@dataclass
class Tick:
    rx: dict[str, np.ndarray]                      # port name -> int16[FRAME]
    events: list[PortEvent] = field(default_factory=list)


def pick_port(ports: list, kind: str, key: int | str):
    """The port a test or the CLI means by 1-based index or by name ("fxs2")."""
    if isinstance(key, str) and key.startswith(kind) and key[len(kind):].isdigit():
        key = int(key[len(kind):])
    if isinstance(key, int) and not isinstance(key, bool) and 1 <= key <= len(ports):
        return ports[key - 1]
    raise ValueError(f"no {kind} port {key!r}: use 1..{len(ports)} or '{kind}1'..'{kind}{len(ports)}'")


def silence() -> np.ndarray:
    return np.zeros(FRAME, dtype=np.int16)


class Port(abc.ABC):
    """One analog port. `name` is stable and unique on the board ("fxs1", "fxo2")."""

    kind: PortKind

    def __init__(self, name: str):
        self.name = name
        self.fault: str | None = None     # reason while out of service

    @property
    def usable(self) -> bool:
        return self.fault is None

    def describe(self) -> dict:
        """What an installer wants to see about this port (chip, revision, state)."""
        return {"name": self.name, "kind": str(self.kind), "fault": self.fault}


class FxsPort(Port):
    kind = PortKind.FXS

    @property
    @abc.abstractmethod
    def off_hook(self) -> bool: ...

    @abc.abstractmethod
    def set_ringing(self, on: bool) -> None:
        """Ringing voltage on/off. The engine times the cadence."""

    @abc.abstractmethod
    def set_onhook_transmission(self, on: bool) -> None:
        """Pass audio to an on-hook phone (caller ID / MWI FSK)."""

    @abc.abstractmethod
    def set_reverse_polarity(self, on: bool) -> None: ...

    def set_message_waiting_lamp(self, on: bool) -> None:   # optional, high-voltage neon MWI
        pass


class GainsNotAdjustable(ValueError):
    """The port's hardware has no gain control (its audio level is fixed)."""


class FxoPort(Port):
    kind = PortKind.FXO
    # Whole-dB range of the line interface's own transmit/receive gain stages (None: fixed level).
    gain_range_db: tuple[int, int] | None = None
    tx_gain_db: int = 0         # toward the line
    rx_gain_db: int = 0         # from the line, toward us

    def gain_limits(self) -> dict:
        """What the installer may set, per direction: {"rx_range_db": (low, high) | None,
        "tx_range_db": ..., "step_db": dB per step, "how": a sentence on how this interface does it}."""
        r = self.gain_range_db
        how = "" if r is None else f"line interface gain stages: whole dB, {r[0]:+d} to {r[1]:+d} dB each way"
        return {"rx_range_db": r, "tx_range_db": r, "step_db": 1.0, "how": how}

    def set_gains(self, tx_db: int, rx_db: int) -> None:
        """Set the line interface's transmit (toward the line) and receive gains, whole dB within
        `gain_range_db`. Media thread (it writes the chip's registers)."""
        raise GainsNotAdjustable(f"{self.name}: this line interface has no gain control")

    @property
    @abc.abstractmethod
    def is_off_hook(self) -> bool: ...

    @abc.abstractmethod
    def set_off_hook(self, off: bool) -> None:
        """Seize (True) or release (False) the line. Flash = engine-timed on-hook break."""

    @property
    def line_voltage(self) -> float | None:
        """Tip-ring voltage if the hardware can measure it."""
        return None


class Board(abc.ABC):
    """A set of ports and their audio stream."""

    name: str = "board"

    def __init__(self, ports: list[Port]):
        self.ports = ports
        self.by_name = {p.name: p for p in ports}

    @property
    def fxs_ports(self) -> list[FxsPort]:
        return [p for p in self.ports if isinstance(p, FxsPort)]

    @property
    def fxo_ports(self) -> list[FxoPort]:
        return [p for p in self.ports if isinstance(p, FxoPort)]

    def start(self) -> None:  # noqa: B027 - optional hook: most boards have nothing to start
        """Bring the hardware up (reset chips, open the PCM stream)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Release the hardware: ports on hook / open, streams closed."""

    @property
    def realtime(self) -> bool:
        """True when tick() is paced by hardware (or wall clock); False for simulated time."""
        return True

    @abc.abstractmethod
    def tick(self, tx: Mapping[str, np.ndarray]) -> Tick:
        """Play one frame per port (missing = silence), return the next captured frame per port."""

    def describe(self) -> dict:
        return {"board": self.name, "ports": [p.describe() for p in self.ports]}
