"""Fax detection on inbound lines: a calling fax (CNG) is taken to a fax box whoever has the call.

A line routed to a fax box (`fax:<box>`) answers every call as a fax. Most offices instead share
one line between voice and fax; for those the owner names a **fax box per line** (table
`fax_detect`: {"line": "fxo1", "box": "201"}), as Yeastar's and Grandstream's "fax detection" on
an inbound route. On such a line, every inbound call is **watched** from the moment the line is
answered until a person takes it or it ends (`watch_call`; `Channel.fax_watched` keeps the media
loop's fax-tone detector on through every change of handler). While it is watched, the calling
fax's tone (CNG, 1100 Hz) diverts the call to the fax app, whatever machine has it: a menu, a
greeting, voicemail, a queue (music on hold, announcements, agents' phones ringing), or the
extensions ringing. This is one listener (`on_line_tone`, in the engine's `line_tone_listeners`),
not code in each app: the handler that has the call only lets go (`ChannelHandler.hand_over`),
and a handler with a person on the call (a phone or an agent answered) keeps it: there a fax
machine on the phone talks through (pass-through, calls.py).

The box: voicemail's own mailbox box while voicemail has the call, else the line's fax box, else
the service's `detect_box`. Voicemail and menus on lines without a box still listen (apps turn the
detector on for lines they answer), and a CNG there goes to voicemail's box or the default box.

Ringing extensions: an analog line carries no audio before it is answered, so hearing a fax while
phones ring means answering the line first (`Call.listen_while_ringing`): the caller is answered
(and, on a metered line, charged) from the first ring, hearing our ringback instead of the
exchange's; if nobody answers within `LISTEN_MAX_MS` the line is released as unanswered. Lines
without a fax box are untouched: the exchange rings, nothing is answered early. Speech, DTMF and
music do not look like CNG (a steady 1100 Hz, 0.5 s on, 3 s off); this is tested with espeak-ng
speech, DTMF and the music on hold.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["LISTEN_MAX_MS", "detect_boxes", "set_detect_box", "box_for_line", "on_inbound_ringing",
           "watch_call", "on_call_event", "on_line_tone", "calling_fax_box"]

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


def calling_fax_box(engine: Any, ch: Any) -> str | None:
    """The fax box for a calling fax heard on line `ch`, or None to leave the call be: voicemail's
    own box while voicemail has the call, else the line's fax box, else the service's default."""
    from .service import service_of
    svc = service_of(engine)
    if svc is None:
        return None
    handler = ch.handler
    own = getattr(handler, "box", None) if getattr(handler, "name", "") == "voicemail" else None
    return own or svc.line_boxes.get(ch.name) or svc.detect_box


def watch_call(engine: Any, call: Any) -> None:
    """Keep line `call.a`'s fax-tone detector on for this inbound call (its line has a fax box)."""
    from ..channels import FxoChannel
    from .service import service_of
    line = call.a
    svc = service_of(engine)
    if svc is None or call.direction != "inbound" or call.ended or not isinstance(line, FxoChannel):
        return
    if line.name in svc.line_boxes or svc.detect_box:
        line.fax_watched = True


def _unwatch(call: Any) -> None:
    call.a.fax_watched = False           # a line carries one call at a time


def on_call_event(engine: Any, call: Any, event: str) -> None:
    """engine.call_listeners: an inbound call a machine answers (a route to an app) is watched from
    then; every watch ends with its call."""
    from ..channels import FxoChannel
    if not isinstance(call.a, FxoChannel) or call.direction != "inbound":
        return
    if event == "answered" and call.b is None:
        watch_call(engine, call)
    elif event == "ended" or event == "answered":      # ended, or a phone answered: a person has it
        _unwatch(call)


def on_line_tone(engine: Any, ch: Any, tone: str, kind: str, at: float) -> bool:
    """engine.line_tone_listeners: a calling fax's CNG on an inbound line diverts its call to the
    fax app, unless a person has it. True when the tone was taken."""
    from ..channels import FxoChannel
    if tone != "CNG" or kind != "start" or not isinstance(ch, FxoChannel):
        return False
    handler = ch.handler
    factory = engine.apps.get("fax")
    if handler is None or factory is None or getattr(handler, "name", "") == "fax":
        return False
    call = getattr(handler, "call", handler)
    if getattr(call, "direction", None) != "inbound" or getattr(call, "a", None) is not ch or call.ended:
        return False
    box = calling_fax_box(engine, ch)
    if not box:
        return False
    call = handler.hand_over()
    if call is None:
        return False                     # a person has the call: pass-through (calls.py)
    ch.silence()
    ch.handler = None
    if call.answered:
        factory(engine, ch, box, call)
    else:
        call.hand_to_app(factory, box)   # the phones were ringing: the line was answered to listen
    _unwatch(call)
    return True


def on_inbound_ringing(engine: Any, call: Any) -> None:
    """An inbound call started ringing phones (engine.inbound_ringing_listeners, media thread): on a
    line with a fax box, answer the line to listen (ringback to the caller) and watch the call."""
    line = call.a
    box = box_for_line(engine, getattr(line, "name", ""))
    if not box or engine.apps.get("fax") is None or not call.ringing:
        return
    call.listen_while_ringing(LISTEN_MAX_MS)
    watch_call(engine, call)
