"""Installer-applied line gains: per line port, the transmit and receive gain its line interface
applies (the DAA's own gain stages: Si3050 registers 38/39, the simulated DAA likewise; a voice
modem's V.253 +VGR/+VGT, within the values the modem says it takes). What each port can do, per
direction and in which steps, is `port.gain_limits()`.

Stored in the configuration, table `line_gains`, one document per port:
{"port": "fxo1", "rx_db": 3, "tx_db": -2, "source": "suggested" | "installer", "date": ISO}.
No document means 0 dB both ways (the factory setting). `line.apply_gains` writes it on the
store thread; the engine's config reload (media thread) hands it to the port with
`apply_line_gains`, which is also what brings it back after a restart.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.linecal")

TABLE = "line_gains"
SOURCES = ("suggested", "installer")


@dataclass(frozen=True)
class LineGains:
    port: str
    rx_db: int = 0          # from the line, toward us
    tx_db: int = 0          # toward the line


def check_gain(value: Any, what: str, low: int, high: int) -> int:
    """`value` as whole dB within low..high; ValueError saying what was wrong and what to do."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a whole number of dB from {low} to {high}, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what} must be a whole number of dB ({low} to {high}); {value:g} is not: "
                             "round it to the nearest dB")
        value = int(value)
    if isinstance(value, str):
        text = value.strip().replace("+", "", 1)
        if not text.lstrip("-").isdigit():
            raise ValueError(f"{what} must be a whole number of dB from {low} to {high}, got {value[:12]!r}")
        value = int(text)
    if not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number of dB from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{what} {value:+d} dB is outside what this line interface can do ({low:+d} to {high:+d} dB)")
    return value


def load_gains(config: Any) -> dict[str, LineGains]:
    """The stored gains per port. A damaged entry (hand-edited config) is logged and left out:
    that port runs at 0 dB rather than at a value nobody chose."""
    table = getattr(config, "table", None)
    if table is None:
        return {}
    out: dict[str, LineGains] = {}
    for doc in table(TABLE):
        port = doc.get("port")
        try:
            if not isinstance(port, str):
                raise ValueError("no port")
            out[port] = LineGains(port, check_gain(doc.get("rx_db"), "receive gain", -12, 12),
                                  check_gain(doc.get("tx_db"), "transmit gain", -12, 12))
        except ValueError as exc:
            log.error("config %s: entry %r is damaged (%s); that line runs at 0 dB: apply its gains again",
                      TABLE, dict(doc), exc)
    return out


def save_gains(config: Any, port: str, rx_db: int, tx_db: int, source: str, date: str) -> dict:
    """Store `port`'s gains (store thread: the config's one writer); 0/0 removes the entry."""
    from tinydb import Query
    table = config.table(TABLE)
    doc = {"port": port, "rx_db": rx_db, "tx_db": tx_db, "source": source, "date": date}
    with config.transaction():                   # one commit, one reload
        table.remove(Query().port == port)
        if rx_db or tx_db:
            table.insert(doc)
    return doc


def apply_line_gains(engine: Engine) -> None:
    """Give every line port the gains stored for it (media thread: it writes chip registers)."""
    stored = load_gains(engine.config)
    for ch in engine.fxo:
        port = ch.port
        want = stored.get(ch.name, LineGains(ch.name))
        if (port.tx_gain_db, port.rx_gain_db) == (want.tx_db, want.rx_db):
            continue
        if port.gain_range_db is None:
            log.error("%s: gains %+d/%+d dB are stored but this line interface has no gain control",
                      ch.name, want.rx_db, want.tx_db)
            continue
        try:
            port.set_gains(want.tx_db, want.rx_db)
            log.info("%s: receive gain %+d dB, transmit gain %+d dB", ch.name, want.rx_db, want.tx_db)
        except (ValueError, OSError) as exc:
            log.error("%s: could not set its gains: %s", ch.name, exc)
