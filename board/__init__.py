"""Board definitions: which chip sits on which chip-select and timeslot, which GPIO does what.

A board file is TOML (see `board/README.md`). `load_board("2fxs2fxo")` reads a
shipped board from `board/boards/`, `load_board(path)` any file. Every
mistake is reported as one `BoardFileError` line naming the file and field.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BoardDefinition", "PortDefinition", "BoardFileError", "load_board", "list_boards",
           "parse_board", "BOARDS_DIR", "CHIPS"]

BOARDS_DIR = Path(__file__).resolve().parent / "boards"
CHIPS = {"si3215": "fxs", "si3210": "fxs", "si3050": "fxo", "modem": "fxo"}
BCM_PINS = range(0, 28)                      # the 40-pin header's GPIO numbers
SPI_CHIP_SELECTS = range(0, 8)


class BoardFileError(ValueError):
    pass


@dataclass(frozen=True)
class PortDefinition:
    name: str
    chip: str
    cs: int | None = None                    # SPI chip-select (SPI chips)
    timeslot: int | None = None              # TDM channel (SPI chips)
    irq: int | None = None                   # interrupt GPIO, active low (optional: polled without)
    led: int | None = None                   # port LED GPIO (optional)
    device: str | None = None                # serial device (modems)
    gain_step_db: float | None = None        # modems: dB per +VGR/+VGT unit (None: the driver's default)

    @property
    def kind(self) -> str:
        return CHIPS[self.chip]


@dataclass(frozen=True)
class BoardDefinition:
    id: str
    name: str
    hat_product: str
    spi_bus: int
    spi_speed_hz: int
    gpio_chip: str
    reset: int | None
    status_led: int | None
    alsa_device: str
    channels: int
    overlay: str
    pcm_format: str = "s16"                  # TDM slots: "s16" 16-bit linear, "ulaw"/"alaw" 8-bit G.711
    ports: tuple[PortDefinition, ...] = field(default_factory=tuple)
    source: str = "<string>"

    def port(self, name: str) -> PortDefinition:
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(name)


def list_boards() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.toml"))


def load_board(name_or_path: str | Path) -> BoardDefinition:
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = BOARDS_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise BoardFileError(f"unknown board {name_or_path!r}; shipped boards: {', '.join(list_boards())}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BoardFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_board(text, str(path))


def parse_board(text: str, source: str = "<string>") -> BoardDefinition:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardFileError(f"{source}: not valid TOML: {exc}") from exc
    return _Checker(source).board(doc)


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, msg: str) -> BoardFileError:
        return BoardFileError(f"{self.source}: {where}: {msg}")

    def get(self, table: dict, key: str, typ, where: str, default=...):
        if key not in table:
            if default is ...:
                raise self.fail(where, f"missing required key {key!r}")
            return default
        val = table[key]
        if typ is int and (isinstance(val, bool) or not isinstance(val, int)):
            raise self.fail(where, f"{key} must be an integer, got {val!r}")
        if typ is str and (not isinstance(val, str) or not val.strip()):
            raise self.fail(where, f"{key} must be a non-empty string, got {val!r}")
        return val

    def board(self, doc: dict) -> BoardDefinition:
        unknown = set(doc) - {"board", "audio", "gpio", "port"}
        if unknown:
            raise self.fail("top level", f"unknown table(s) {', '.join(sorted(unknown))}")
        b = doc.get("board")
        if not isinstance(b, dict):
            raise self.fail("[board]", "missing table")
        bid = self.get(b, "id", str, "[board]")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", bid):
            raise self.fail("[board]", f"id must be lower-case letters, digits and '-', got {bid!r}")
        audio = doc.get("audio", {})
        gpio = doc.get("gpio", {})
        channels = self.get(audio, "channels", int, "[audio]")
        if not 1 <= channels <= 32:
            raise self.fail("[audio]", f"channels must be 1..32, got {channels}")
        pcm_format = self.get(audio, "format", str, "[audio]", "s16")
        if pcm_format not in ("s16", "ulaw", "alaw"):
            raise self.fail("[audio]", f"format must be s16, ulaw or alaw, got {pcm_format!r}")
        pins: dict[int, str] = {}
        reset = self.pin(gpio, "reset", "[gpio]", pins, shared=True)
        status = self.pin(gpio, "status_led", "[gpio]", pins)
        raw_ports = doc.get("port")
        if not isinstance(raw_ports, list) or not raw_ports:
            raise self.fail("[[port]]", "a board needs at least one [[port]]")
        ports, names, css, slots = [], set(), {}, {}
        counters = {"fxs": 0, "fxo": 0}
        for i, p in enumerate(raw_ports, 1):
            where = f"port #{i}"
            name = self.get(p, "name", str, where)
            where = f"port {name}"
            chip = self.get(p, "chip", str, where).lower()
            if chip not in CHIPS:
                raise self.fail(where, f"unknown chip {chip!r}; supported: {', '.join(sorted(CHIPS))}")
            kind = CHIPS[chip]
            counters[kind] += 1
            if name in names:
                raise self.fail(where, "port name used twice")
            if not re.fullmatch(rf"{kind}\d+", name):
                raise self.fail(where, f"a {chip} port must be named {kind}1, {kind}2, ...")
            names.add(name)
            unknown = set(p) - {"name", "chip", "cs", "timeslot", "irq", "led", "device"} - (
                {"gain_step_db"} if chip == "modem" else set())
            if unknown:
                raise self.fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
            if chip == "modem":
                device = self.get(p, "device", str, where)
                step = p.get("gain_step_db")
                if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)
                                         or not 0.01 <= step <= 6):
                    raise self.fail(where, f"gain_step_db must be a number of dB from 0.01 to 6 (what one "
                                           f"+VGR/+VGT unit is worth on this modem), got {step!r}")
                ports.append(PortDefinition(name, chip, device=device, led=self.pin(p, "led", where, pins),
                                            gain_step_db=float(step) if step is not None else None))
                continue
            cs = self.get(p, "cs", int, where)
            if cs not in SPI_CHIP_SELECTS:
                raise self.fail(where, f"cs must be 0..{SPI_CHIP_SELECTS[-1]}, got {cs}")
            if cs in css:
                raise self.fail(where, f"cs {cs} is already used by {css[cs]}")
            css[cs] = name
            slot = self.get(p, "timeslot", int, where)
            if not 0 <= slot < channels:
                raise self.fail(where, f"timeslot {slot} is outside the {channels} audio channels (0..{channels - 1})")
            if slot in slots:
                raise self.fail(where, f"timeslot {slot} is already used by {slots[slot]}")
            slots[slot] = name
            irq = self.pin(p, "irq", where, pins, shared=True)
            led = self.pin(p, "led", where, pins)
            ports.append(PortDefinition(name, chip, cs, slot, irq, led))
        return BoardDefinition(
            id=bid, name=self.get(b, "name", str, "[board]"),
            hat_product=self.get(b, "hat_product", str, "[board]"),
            spi_bus=self.get(b, "spi_bus", int, "[board]", 0),
            spi_speed_hz=self.get(b, "spi_speed_hz", int, "[board]", 1_000_000),
            gpio_chip=self.get(gpio, "chip", str, "[gpio]", "/dev/gpiochip0"),
            reset=reset, status_led=status,
            alsa_device=self.get(audio, "alsa_device", str, "[audio]"), channels=channels,
            overlay=self.get(b, "overlay", str, "[board]"), pcm_format=pcm_format, ports=tuple(ports),
            source=self.source)

    def pin(self, table: dict, key: str, where: str, used: dict[int, str], shared: bool = False) -> int | None:
        if key not in table:
            return None
        pin = self.get(table, key, int, where)
        if pin not in BCM_PINS:
            raise self.fail(where, f"{key} GPIO {pin} is not on the 40-pin header (0..27)")
        if pin in (7, 8, 9, 10, 11, 18, 19, 20, 21, 24, 25):
            raise self.fail(where, f"{key} GPIO {pin} is taken by SPI0 (chip-selects 7, 8, 24, 25) or PCM (18-21)")
        label = f"{key}@{where}"
        prev = used.get(pin)
        if prev is not None and not (shared and prev.split("@")[0] == key):
            raise self.fail(where, f"{key} GPIO {pin} is already used as {prev.replace('@', ' of ')}")
        used[pin] = label
        return pin
