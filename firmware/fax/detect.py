"""Fax detection on inbound lines: which fax box takes a fax that calls a line routed to people.

A line routed to a fax box (`fax:<box>`) answers every call as a fax. Most offices instead share
one line between voice and fax; for those the owner names a **fax box per line** (table
`fax_detect`: {"line": "fxo1", "box": "201"}), as Yeastar's and Grandstream's "fax detection" on
an inbound route. Then, on that line:

- while a **menu, greeting or other app** has the call, the calling fax's tone (CNG, 1100 Hz)
  hands the call to the fax app, into that box (`detected_fax_box`; a voicemail greeting keeps
  sending to its own mailbox's box);
- while the call **rings extensions**, Linebox answers the line at once, gives the caller ringback
  and listens for CNG while the phones ring (`Call.listen_while_ringing`). CNG: the phones stop and
  the fax is received into the box. A phone answering: an ordinary call (and a fax machine on that
  phone still works: pass-through).

The choice, written down: an analog line carries no audio before it is answered, so hearing a fax
while phones ring means answering the line first. The caller is therefore answered (and, on a
metered line, charged) from the first ring, hearing our ringback instead of the exchange's; if
nobody answers within `LISTEN_MAX_MS` the line is released as unanswered. Lines without a fax box
are untouched: the exchange rings, nothing is answered early. Speech and DTMF do not look like CNG
(a steady 1100 Hz, 0.5 s on, 3 s off); this is tested with espeak-ng speech and DTMF callers.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["LISTEN_MAX_MS", "detect_boxes", "set_detect_box", "box_for_line", "on_inbound_ringing"]

TABLE = "fax_detect"
LISTEN_MAX_MS = 120_000       # a caller nobody answers hears ringback this long, then the line is freed
_PORT = re.compile(r"fxo[0-9]{1,2}")
_BOX = re.compile(r"[0-9]{2,10}")


def detect_boxes(config: Any) -> dict[str, str]:
    """{line port: fax box} for the lines with fax detection on (read in memory; any thread)."""
    out: dict[str, str] = {}
    for doc in config.table(TABLE).all():
        line, box = doc.get("line"), doc.get("box")
        if isinstance(line, str) and isinstance(box, str) and _PORT.fullmatch(line) and _BOX.fullmatch(box):
            out[line] = box
    return out


def set_detect_box(config: Any, line: str, box: str) -> None:
    """Turn fax detection on line `line` on into fax box `box` (an extension), or off with box "".
    Raises ValueError with what was wrong and what to do; nothing is written then."""
    from ..config import ConfigError
    line = (line or "").strip()
    box = (box or "").strip()
    if not _PORT.fullmatch(line) or not any(row["port"] == line for row in config.lines()):
        raise ConfigError(f"There is no line {line[:12]!r}. Choose one of the lines on the Lines page.")
    if box and (not _BOX.fullmatch(box) or config.extension(box) is None):
        raise ConfigError(f"Fax box {box[:12]!r} is not an extension. Give the number of an existing "
                          "extension (its user gets the faxes), or leave it empty to turn fax detection off.")
    table = config.table(TABLE)
    from tinydb import Query
    if box:
        table.upsert({"line": line, "box": box}, Query().line == line)
    else:
        table.remove(Query().line == line)


def box_for_line(engine: Any, line: str) -> str | None:
    """The fax box of line `line` (media thread: the fax service's in-memory copy)."""
    from .service import service_of
    svc = service_of(engine)
    return None if svc is None else svc.line_boxes.get(line)


def on_inbound_ringing(engine: Any, call: Any) -> None:
    """An inbound call started ringing phones (engine.inbound_ringing_listeners, media thread)."""
    line = call.a
    box = box_for_line(engine, getattr(line, "name", ""))
    factory = engine.apps.get("fax")
    if not box or factory is None or not call.ringing:
        return

    def calling_fax() -> None:
        if not call.ended and not call.answered:
            call.divert_to_app(factory, box)
    call.listen_while_ringing(calling_fax, LISTEN_MAX_MS)
