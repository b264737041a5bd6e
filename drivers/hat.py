"""A Linebox HAT as a `Board`: chips on SPI, reset/interrupt/LED lines on GPIO, audio on one TDM stream.

    board = HatBoard(load_board("2fxs2fxo"), SpidevBus(0), open_gpio(), AlsaTdmStream(dev, 4))
    board.start()                # reset pulse, bring up every chip; a chip that fails faults its port only
    t = board.tick({"fxs1": frame})

`tick` moves one 10 ms period through the PCM stream (blocking on hardware),
then lets every port read its chip: events come out in the same frame.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import numpy as np

from board import BoardDefinition

from .gpio import GpioLines
from .port import Board, EventType, FxsPort, Port, PortEvent, Tick
from .si3050 import Si3050Port
from .si3215 import ChipInitError, Si3215Port
from .spi import ChipNotAnswering, SpiBus

__all__ = ["HatBoard"]

log = logging.getLogger("linebox.hat")
RESET_LOW_MS = 10
RESET_SETTLE_MS = 50
FRAME = 80


class HatBoard(Board):
    def __init__(self, definition: BoardDefinition, bus: SpiBus, gpio: GpioLines, pcm, country: str = "US",
                 open_modem: Callable[[str], object] | None = None) -> None:
        self.definition = definition
        self.name = definition.id
        self.bus, self.gpio, self.pcm = bus, gpio, pcm
        self.country = country
        ports: list[Port] = []
        self.slots: dict[str, int] = {}
        self.leds: dict[str, int] = {}
        for pd in definition.ports:
            irq = self._irq_reader(pd.irq)
            if pd.chip in ("si3215", "si3210"):
                ports.append(Si3215Port(pd.name, bus, pd.cs, pd.timeslot, country, irq,
                                        pcm_format=definition.pcm_format))
            elif pd.chip == "si3050":
                ports.append(Si3050Port(pd.name, bus, pd.cs, pd.timeslot, country, irq,
                                        pcm_format=definition.pcm_format))
            else:                                   # modem
                if open_modem is None:
                    import serial

                    from .modem import VoiceModemPort
                    step = {} if pd.gain_step_db is None else {"gain_step_db": pd.gain_step_db}
                    ports.append(VoiceModemPort(pd.name, serial.Serial(pd.device, 115200, timeout=0),
                                                bus.sleep_ms, country, **step))
                else:
                    ports.append(open_modem(pd.device, pd.name))
            if pd.timeslot is not None:
                self.slots[pd.name] = pd.timeslot
            if pd.led is not None:
                self.leds[pd.name] = pd.led
        super().__init__(ports)
        self._pending: list[PortEvent] = []
        self.started = False

    def _irq_reader(self, pin: int | None) -> Callable[[], bool] | None:
        if pin is None:
            return None
        return lambda: self.gpio.get(pin) == 0          # INT is active low (open drain, shared)

    def start(self) -> None:
        d = self.definition
        if d.reset is not None:
            self.gpio.setup_output(d.reset, 0)          # hold every chip in reset ...
            self.bus.sleep_ms(RESET_LOW_MS)
            self.gpio.set(d.reset, 1)                   # ... and release them together
            self.bus.sleep_ms(RESET_SETTLE_MS)
        for pin in sorted({p.irq for p in d.ports if p.irq is not None}):
            self.gpio.setup_input(pin)
        for pin in self.leds.values():
            self.gpio.setup_output(pin, 0)
        if d.status_led is not None:
            self.gpio.setup_output(d.status_led, 1)
        for port in self.ports:
            try:
                port.init()
                log.info("%s: %s", port.name, _summary(port))
            except (ChipNotAnswering, ChipInitError, OSError, RuntimeError) as exc:
                reason = str(exc)
                log.error("%s out of service: %s", port.name, reason)
                if hasattr(port, "mark_failed"):
                    self._pending.extend(port.mark_failed(reason))
                else:
                    port.fault = reason
                    self._pending.append(PortEvent(port.name, EventType.FAULT, reason))
        self.pcm.open()
        self.started = True

    def stop(self) -> None:
        for port in self.ports:
            try:
                if isinstance(port, FxsPort):
                    port.set_ringing(False)
                elif port.is_off_hook:
                    port.set_off_hook(False)
            except (ChipNotAnswering, OSError):
                pass
        self.pcm.close()
        self.gpio.close()

    @property
    def realtime(self) -> bool:
        return True

    def tick(self, tx: Mapping[str, np.ndarray] | None = None) -> Tick:
        if not self.started:
            self.start()
        tx = tx or {}
        law = self.definition.pcm_format
        frame = np.zeros((FRAME, self.pcm.channels), dtype=np.int16 if law == "s16" else np.uint8)
        if law != "s16":
            frame[:] = _SILENCE_CODE[law]
        for name, samples in tx.items():
            slot = self.slots.get(name)
            if slot is not None and samples is not None:
                frame[:, slot] = samples if law == "s16" else _compress(samples, law)
        t0 = time.perf_counter()
        captured = self.pcm.exchange(frame)
        self.last_wait = time.perf_counter() - t0      # mostly the blocking wait for the period
        if law != "s16":
            captured = _expand(captured.reshape(-1), law).reshape(captured.shape)
        rx: dict[str, np.ndarray] = {}
        events, self._pending = self._pending, []
        for port in self.ports:
            slot = self.slots.get(port.name)
            if slot is None:
                rx[port.name] = port.exchange_audio(tx.get(port.name))
            else:
                rx[port.name] = captured[:, slot].copy() if port.fault is None else np.zeros(FRAME, np.int16)
            events.extend(port.poll())
        self._update_leds()
        return Tick(rx, events)

    def _update_leds(self) -> None:
        for port in self.ports:
            pin = self.leds.get(port.name)
            if pin is None:
                continue
            busy = port.off_hook if isinstance(port, FxsPort) else port.is_off_hook
            self.gpio.set(pin, 1 if (busy or port.fault) else 0)

    @property
    def frames_lost(self) -> int:
        """Audio periods lost to ALSA xruns (the media loop's health figures)."""
        return int(getattr(self.pcm, "xruns", 0))

    def describe(self) -> dict:
        return {**super().describe(), "board_name": self.definition.name, "xruns": getattr(self.pcm, "xruns", 0)}


_SILENCE_CODE = {"ulaw": 0xFF, "alaw": 0xD5}


def _compress(x: np.ndarray, law: str) -> np.ndarray:
    from dsp_ext.g711 import alaw_encode, ulaw_encode
    return ulaw_encode(x) if law == "ulaw" else alaw_encode(x)


def _expand(codes: np.ndarray, law: str) -> np.ndarray:
    from dsp_ext.g711 import alaw_decode, ulaw_decode
    return ulaw_decode(codes) if law == "ulaw" else alaw_decode(codes)


def _summary(port: Port) -> str:
    d = port.describe()
    return ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("name", "kind", "fault"))
