"""A HAT board with no hardware: the real drivers over emulated SPI, GPIO and PCM, with the
simulator's phones and central office on the chips' line sides.

    board = emulated_hat_board("2fxs2fxo", country="US", seed=0)
    board.phone(1).off_hook(); board.co.remote("5550100").call(board.co.line_number(1))
    t = board.tick({...})

It offers what `SimBoard` offers to tests (`phone`, `line`, `co`, `fxs`, `fxo`,
`advance`, `post`, `frames`, `country`), so scenario tests can run on either.
`emulated_hat_board(fxs=4, fxo=2)` builds an ad-hoc board of that shape.
"""
from __future__ import annotations

import os
import queue
from collections.abc import Callable, Mapping
from concurrent.futures import Future

import numpy as np

from board import BoardDefinition, PortDefinition, load_board
from dsp_ext.levels import FRAME

from .emulators.gpiochip import EmulatedGpioChip
from .emulators.modem import EmulatedVoiceModem
from .emulators.pcm import EmulatedTdmLink
from .emulators.si3050 import Si3050Emulator
from .emulators.si3215 import Si3215Emulator
from .emulators.world import EmulatedWorld
from .gpio import GpiodLines
from .hat import HatBoard
from .modem import VoiceModemPort
from .port import Tick, pick_port
from .sim.board import Recording
from .sim.co import CentralOffice
from .sim.phone import VirtualPhone

__all__ = ["emulated_hat_board", "EmulatedHatBoard", "synthetic_definition"]


def synthetic_definition(fxs: int, fxo: int, pcm_format: str = "s16", modems: int = 0) -> BoardDefinition:
    """A board of any shape for emulation (chip-selects and slots in port order, shared reset/IRQ);
    `modems` voice-modem line ports come after the `fxo` DAA ones."""
    ports = [PortDefinition(f"fxs{i}", "si3215", cs=i - 1, timeslot=i - 1, irq=22) for i in range(1, fxs + 1)]
    ports += [PortDefinition(f"fxo{i}", "si3050", cs=fxs + i - 1, timeslot=fxs + i - 1, irq=23)
              for i in range(1, fxo + 1)]
    ports += [PortDefinition(f"fxo{fxo + i}", "modem", device="emulated") for i in range(1, modems + 1)]
    return BoardDefinition(id=f"emulated-{fxs}fxs{fxo}fxo{modems}modem" if modems else f"emulated-{fxs}fxs{fxo}fxo", name=f"Emulated {fxs}FXS/{fxo}FXO HAT",
                           hat_product="", spi_bus=0, spi_speed_hz=1_000_000, gpio_chip="/dev/gpiochip0",
                           reset=17, status_led=27, alsa_device="emulated", channels=max(1, fxs + fxo),
                           overlay="", pcm_format=pcm_format, ports=tuple(ports), source="<synthetic>")


class EmulatedHatBoard(HatBoard):
    def __init__(self, definition: BoardDefinition, country: str = "US", seed: int = 0, echo: bool = True,
                 noise_dbm0: float | None = -70.0, autostart: bool = True, modem_options: dict | None = None) -> None:
        """`modem_options`: keyword arguments for each voice modem's emulator (`gain_range`,
        `gain_step_db`, `range_reply`, `model`)."""
        from .spi import EmulatedSpiBus
        self.co = CentralOffice(country=country, seed=seed, echo=echo, noise_dbm0=noise_dbm0)
        self.world = EmulatedWorld(definition.channels, co=self.co, fmt=definition.pcm_format)
        self.gpiochip = EmulatedGpioChip(definition.gpio_chip)
        bus = EmulatedSpiBus(self.world.advance_ms)
        self.chips: dict[str, Si3215Emulator | Si3050Emulator | EmulatedVoiceModem] = {}
        self.phones: dict[str, VirtualPhone] = {}
        self._ptys: list[tuple[int, int, object]] = []       # (master, slave, serial) of each modem
        modem_ports: dict[str, VoiceModemPort] = {}
        for pd in definition.ports:
            if pd.chip == "modem":
                modem_ports[pd.name] = self._modem(pd, bus, country, modem_options or {})
                continue
            if pd.chip in ("si3215", "si3210"):
                phone = VirtualPhone(pd.name)
                chip = Si3215Emulator(phone, si3215=pd.chip == "si3215")
                self.world.slics.append(chip)
                self.phones[pd.name] = phone
            elif pd.chip == "si3050":
                line = self.co.add_line()
                chip = Si3050Emulator(line_index=line.index)
                self.world.daas.append(chip)
            else:
                raise ValueError(f"{pd.name}: the emulated HAT has no {pd.chip} emulator")
            bus.attach(pd.cs, chip)
            self.chips[pd.name] = chip
            if definition.reset is not None:
                self.gpiochip.wire_output(definition.reset, chip.set_reset_pin)
            if pd.irq is not None:
                self.gpiochip.wire_input(pd.irq, lambda c=chip: c.irq_pin)
        super().__init__(definition, bus, GpiodLines(definition.gpio_chip, api=self.gpiochip),
                         EmulatedTdmLink(self.world), country=country,
                         open_modem=lambda _device, name: modem_ports[name])
        self._fxs = [p for p in self.ports if p.name.startswith("fxs")]
        self._fxo = [p for p in self.ports if p.name.startswith("fxo")]
        self.frames = 0
        self._posted: queue.SimpleQueue = queue.SimpleQueue()
        if autostart:
            self.start()

    def _modem(self, pd, bus, country: str, options: dict) -> VoiceModemPort:
        """A voice modem on a line of the exchange, its driver over a real pty (pyserial)."""
        import serial
        master, slave = os.openpty()
        line = self.co.add_line()
        chip = EmulatedVoiceModem(master, line_index=line.index, **options)
        self.world.daas.append(chip)                  # stepped with the lines, like a DAA
        self.chips[pd.name] = chip
        ser = serial.Serial(os.ttyname(slave), 115200, timeout=0)
        self._ptys.append((master, slave, ser))
        step = {} if pd.gain_step_db is None else {"gain_step_db": pd.gain_step_db}
        return VoiceModemPort(pd.name, ser, bus.sleep_ms, country,
                              **({"gain_step_db": chip.gain_step_db} | step))

    def stop(self) -> None:
        super().stop()
        for master, slave, ser in self._ptys:
            ser.close()
            os.close(master)
            os.close(slave)
        self._ptys.clear()

    @property
    def realtime(self) -> bool:
        return False

    # --- what SimBoard offers tests -------------------------------------------------------------
    def phone(self, i_or_port: int | str) -> VirtualPhone:
        return self.phones[pick_port(self._fxs, "fxs", i_or_port).name]

    def fxs(self, i_or_port: int | str):
        return pick_port(self._fxs, "fxs", i_or_port)

    def fxo(self, i_or_port: int | str):
        return pick_port(self._fxo, "fxo", i_or_port)

    def line(self, i_or_port: int | str):
        return self.co.line(self.chips[pick_port(self._fxo, "fxo", i_or_port).name].line_index)

    def chip(self, port: str):
        return self.chips[port]


    def post(self, fn: Callable, *args, **kwargs) -> Future:
        fut: Future = Future()
        self._posted.put((fut, fn, args, kwargs))
        return fut

    def tick(self, tx: Mapping[str, np.ndarray] | None = None) -> Tick:
        while not self._posted.empty():
            fut, fn, args, kwargs = self._posted.get_nowait()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args, **kwargs))
                except Exception as exc:       # handed to the caller through the Future
                    fut.set_exception(exc)
        for name, frame in (tx or {}).items():
            if name not in self.by_name:
                raise ValueError(f"tx for unknown port {name!r}")
            if frame is not None and (getattr(frame, "dtype", None) != np.int16 or frame.shape != (FRAME,)):
                raise ValueError(f"tx for {name} must be int16[{FRAME}]")
        t = super().tick(tx)
        self.frames += 1
        return t

    def advance(self, ms: int, tx: Mapping[str, np.ndarray] | None = None) -> Recording:
        n = -(-int(ms) // 10)
        padded = {name: np.pad(np.asarray(sig, dtype=np.int16), (0, max(0, n * FRAME - len(sig))))
                  for name, sig in (tx or {}).items()}
        rx = {p.name: np.empty(n * FRAME, dtype=np.int16) for p in self.ports}
        events = []
        for k in range(n):
            t = self.tick({name: sig[k * FRAME:(k + 1) * FRAME] for name, sig in padded.items()})
            for name, frame in t.rx.items():
                rx[name][k * FRAME:(k + 1) * FRAME] = frame
            events.extend((self.frames, e) for e in t.events)
        return Recording(rx, events)

    def describe(self) -> dict:
        return {**super().describe(), "frames": self.frames, "co": self.co.describe()}


def emulated_hat_board(definition: str | BoardDefinition | None = "2fxs2fxo", country: str = "US", seed: int = 0,
                       fxs: int | None = None, fxo: int | None = None, pcm_format: str = "s16",
                       modems: int = 0, **options) -> EmulatedHatBoard:
    """An emulated HAT. `definition`: a shipped board id, a BoardDefinition, or None with fxs=/fxo=
    (and `modems` voice-modem lines after the DAA ones)."""
    if fxs is not None or fxo is not None or modems:
        definition = synthetic_definition(fxs or 0, fxo or 0, pcm_format, modems)
    elif isinstance(definition, str):
        definition = load_board(definition)
    options.pop("realtime", None)
    return EmulatedHatBoard(definition, country=country, seed=seed, **options)
