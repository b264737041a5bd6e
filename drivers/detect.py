"""Which HAT is on this Pi? The HAT EEPROM first, then the chips' ID registers over SPI.

    board = detect_board(log)       # a HatBoard (not started yet), or None -> run the simulated board

1. The Pi firmware copies a HAT's EEPROM into the device tree: the product
   string in `/proc/device-tree/hat/product` names the board file to use.
2. No EEPROM (or an unknown product): every shipped board definition is tried,
   biggest first, by reading the ID registers of the chip it expects on each
   chip-select; the first board whose chips all answer wins.
3. Nothing answers: None, with a log line saying the simulated board is used.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from board import BoardDefinition, BoardFileError, list_boards, load_board

from .si3050 import Si3050Port
from .si3215 import Si3215Port
from .spi import ChipNotAnswering, SpiBus

__all__ = ["detect_board", "read_hat_product", "probe_chips", "open_spi_bus", "build_hat_board", "HAT_DIR"]

HAT_DIR = Path("/proc/device-tree/hat")
_log = logging.getLogger("linebox.detect")


def read_hat_product(hat_dir: Path = HAT_DIR) -> str | None:
    try:
        raw = (Path(hat_dir) / "product").read_bytes()
    except OSError:
        return None
    text = raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return text or None


def probe_chips(definition: BoardDefinition, bus: SpiBus) -> dict[str, str]:
    """port name -> chip description for every SPI port; raises ChipNotAnswering on the first missing one."""
    found = {}
    for pd in definition.ports:
        if pd.cs is None:
            continue
        if pd.kind == "fxs":
            part, rev = Si3215Port(pd.name, bus, pd.cs, pd.timeslot or 0).identify()
            found[pd.name] = f"{part} rev {rev}"
        else:
            found[pd.name] = f"Si3050 rev {Si3050Port(pd.name, bus, pd.cs, pd.timeslot or 0).identify()}"
    return found


def open_spi_bus(definition: BoardDefinition) -> SpiBus:
    from .spi import SpidevBus
    return SpidevBus(definition.spi_bus, definition.spi_speed_hz)


def build_hat_board(definition: BoardDefinition, bus: SpiBus, country: str):
    from .alsa_pcm import AlsaTdmStream
    from .gpio import open_gpio
    from .hat import HatBoard
    return HatBoard(definition, bus, open_gpio(definition.gpio_chip),
                    AlsaTdmStream(definition.alsa_device, definition.channels, fmt=definition.pcm_format),
                    country=country)


def detect_board(log: logging.Logger | None = None, country: str = "US", hat_dir: Path | str = HAT_DIR,
                 definitions: list[BoardDefinition] | None = None,
                 open_bus: Callable[[BoardDefinition], SpiBus] = open_spi_bus,
                 build: Callable[[BoardDefinition, SpiBus, str], object] = build_hat_board):
    log = log or _log
    if definitions is None:
        definitions = []
        for bid in list_boards():
            try:
                definitions.append(load_board(bid))
            except BoardFileError as exc:
                log.error("skipping a broken board file: %s", exc)
    product = read_hat_product(Path(hat_dir))
    if product:
        for d in definitions:
            if d.hat_product == product:
                log.info("HAT EEPROM says %r: using board %s (%s)", product, d.id, d.name)
                return build(d, open_bus(d), country)
        log.warning("HAT EEPROM says %r but no board file matches it; probing the chips instead", product)
    for d in sorted(definitions, key=lambda d: -len(d.ports)):
        try:
            bus = open_bus(d)
            found = probe_chips(d, bus)
        except ChipNotAnswering as exc:
            log.debug("not a %s: %s", d.id, exc)
            continue
        log.info("found %s by probing SPI: %s", d.name, ", ".join(f"{k}={v}" for k, v in found.items()))
        return build(d, bus, country)
    log.info("no Linebox HAT found (no HAT EEPROM, no chips answering on SPI): running on the simulated board")
    return None
