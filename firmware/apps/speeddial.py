"""Personal address book and speed dial.

Each extension has an address book (config table `address_book`, one document per
extension): entries with a name, a number as dialled from the phone ("202", or the access code
and an outside number) and an optional speed-dial code 0-99. On the phone, `*74<code>` (end
with # or wait) dials the entry; an outside number goes through the outside-line gate exactly
as if it had been dialled by hand.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..calls import Call, Parked
from ..channels import Channel, FxsChannel
from ..config import ConfigError

if TYPE_CHECKING:
    from ..engine import Engine

TABLE = "address_book"
SPEED_CODE = "*74"
NAME_MAX = 40
ENTRIES_MAX = 200
NUMBER_RE = re.compile(r"[0-9]{1,24}")
SPEED_RE = re.compile(r"[0-9]{1,2}")


def load_book(config: Any, extension: str) -> list[dict]:
    from tinydb import Query
    if not hasattr(config, "table"):
        return []
    docs = config.table(TABLE).search(Query().extension == extension)
    entries = docs[0].get("entries", []) if docs else []
    return [e for e in entries if isinstance(e, dict)]


def validate_entry(entry: dict, others: list[dict]) -> dict:
    name = str(entry.get("name", "")).strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise ConfigError(f"Name: 1 to {NAME_MAX} printable characters.")
    number = re.sub(r"[\s\-().]", "", str(entry.get("number", "")))
    if not NUMBER_RE.fullmatch(number):
        raise ConfigError("Number: digits only as dialled from the phone (access code first for an "
                          "outside number), at most 24.")
    speed = str(entry.get("speed", "") or "").strip()
    if speed and not SPEED_RE.fullmatch(speed):
        raise ConfigError("Speed-dial code: 0 to 99, or empty.")
    if speed:
        speed = str(int(speed))
        if any(o.get("speed") == speed for o in others):
            raise ConfigError(f"Speed-dial code {speed} is already used in this address book.")
    return {"name": name, "number": number, "speed": speed}


def save_book(config: Any, extension: str, entries: list[dict]) -> None:
    from tinydb import Query
    if config.extension(extension) is None:
        raise ConfigError(f"Extension {extension[:10]!r} does not exist.")
    if len(entries) > ENTRIES_MAX:
        raise ConfigError(f"An address book holds at most {ENTRIES_MAX} entries.")
    checked: list[dict] = []
    for e in entries:
        checked.append(validate_entry(e, checked))
    config.table(TABLE).upsert({"extension": extension, "entries": checked}, Query().extension == extension)


def add_entry(config: Any, extension: str, entry: dict) -> None:
    save_book(config, extension, [*load_book(config, extension), entry])


def delete_entry(config: Any, extension: str, index: int) -> None:
    book = load_book(config, extension)
    if not 0 <= index < len(book):
        raise ConfigError("No such address-book entry.")
    del book[index]
    save_book(config, extension, book)


class SpeedDial:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.codes: dict[str, dict[str, str]] = {}    # extension -> speed code -> number
        self.reload()

    def reload(self) -> None:
        codes: dict[str, dict[str, str]] = {}
        if hasattr(self.engine.config, "table"):
            for doc in self.engine.config.table(TABLE).all():
                ext = str(doc.get("extension", ""))
                codes[ext] = {str(e["speed"]): str(e["number"]) for e in doc.get("entries", [])
                              if isinstance(e, dict) and e.get("speed") and NUMBER_RE.fullmatch(str(e.get("number")))}
        self.codes = codes

    def app(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
        if not isinstance(ch, FxsChannel):
            return
        code = arg.rstrip("#")
        number = self.codes.get(ch.extension or "", {}).get(str(int(code)) if code.isdigit() else "")
        if number is None:
            engine._record_failed(ch, f"{SPEED_CODE}{code[:4]}", "failed")
            Parked(engine, ch, "congestion")
            return
        # As if dialled by hand: the dial plan, and the outside-line gate for outside numbers.
        engine.place_call(ch, engine.plan.resolve(number, final=True), number)


def register(engine: Engine) -> SpeedDial:
    svc = SpeedDial(engine)
    engine.media_listeners.append(svc.reload)
    engine.register_app("speed-dial", svc.app, code=SPEED_CODE, takes_arg=True)
    return svc
