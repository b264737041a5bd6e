"""Conference: channels mixed together (the meet-me room, and the three-way call of transfer.py).

* `Conference(engine)`: a set of channels sharing one `ConferenceMixer`; `add(ch)` makes
  the channel hear everyone else, `remove(ch)`, `close()`. Transfer's three-way uses it.
* The room: `*60` on a phone, or an inbound line routed to "conference:room", joins the
  shared room (optional PIN, entered with the keypad and #). Up to `ROOM_CAPACITY`
  parties, phones and outside callers alike; rising beeps when someone joins, falling
  when someone leaves. A room number (like an extension) can be set too.
"""
from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ..calls import Call
from ..channels import Channel
from ..config import ConfigError, register_destination_kind
from . import AppSession
from .conference_mixer import JOIN_CUE, LEAVE_CUE, ConferenceFull, ConferenceMixer

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.conference")

ROOM_CODE = "*60"
ROOM_CAPACITY = 12
PIN_TRIES = 3                     # per call; then the caller hears busy / the line is let go
PIN_WAIT_MS = 10000
LOCK_AFTER = 10                   # wrong PINs (all callers together) within LOCK_WINDOW_S lock the room
LOCK_WINDOW_S = 15 * 60
LOCK_S = 15 * 60                  # brute force by DTMF: at 3 tries a call, the room stays locked this long
TABLE = "conference"


class _PartySource:
    """Media source of one member: mixes the whole room on the first call of each tick."""

    __slots__ = ("room", "slot")

    def __init__(self, room: Conference, slot: int):
        self.room, self.slot = room, slot

    def frame(self) -> np.ndarray | None:
        return self.room.frame_for(self.slot)


class Conference:
    def __init__(self, engine: Engine, capacity: int = ROOM_CAPACITY, cues: bool = True):
        self.engine = engine
        self.mixer = ConferenceMixer(capacity)
        self.cues = cues
        self.members: dict[Channel, _PartySource] = {}
        self._mixed_frame = -1

    def add(self, ch: Channel) -> None:
        """`ch` hears the room from now on (raises `ConferenceFull`)."""
        if ch in self.members:
            ch.source = self.members[ch]
            return
        src = _PartySource(self, self.mixer.join())
        self.members[ch] = src
        ch.source = src
        if self.cues and len(self.members) > 1:
            self.mixer.cue(JOIN_CUE)

    def remove(self, ch: Channel) -> None:
        src = self.members.pop(ch, None)
        if src is None:
            return
        self.mixer.leave(src.slot)
        if ch.source is src:
            ch.source = None
        if self.cues and self.members:
            self.mixer.cue(LEAVE_CUE)

    def source_for(self, ch: Channel) -> _PartySource | None:
        return self.members.get(ch)

    def close(self) -> None:
        for ch in list(self.members):
            src = self.members.pop(ch)
            self.mixer.leave(src.slot)
            if ch.source is src:
                ch.source = None

    def __len__(self) -> int:
        return len(self.members)

    def frame_for(self, slot: int) -> np.ndarray:
        frame = self.engine.clock.frame
        if frame != self._mixed_frame:
            self._mixed_frame = frame
            mixer = self.mixer
            for ch, src in self.members.items():
                # ch.rx is this tick's capture (None when on hook or not captured: silence).
                mixer.put(src.slot, ch.rx)
            mixer.mix()
        return self.mixer.output(slot)


# ---- the meet-me room ---------------------------------------------------------------------------

_rooms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def room_of(engine: Engine) -> Conference:
    room = _rooms.get(engine)
    if room is None:
        room = _rooms[engine] = Conference(engine, ROOM_CAPACITY)
    return room


class PinGuard:
    """Wrong PINs counted across calls: guessing by calling again and again locks the room."""

    def __init__(self) -> None:
        self.failures: list[float] = []
        self.locked_until = 0.0

    def locked(self, now: float) -> bool:
        return now < self.locked_until

    def failed(self, now: float) -> None:
        self.failures = [t for t in self.failures if now - t < LOCK_WINDOW_S] + [now]
        if len(self.failures) >= LOCK_AFTER:
            self.locked_until = now + LOCK_S
            self.failures.clear()
            log.warning("conference: %d wrong PINs within %d min; room PIN entry locked for %d min",
                        LOCK_AFTER, LOCK_WINDOW_S // 60, LOCK_S // 60)


_guards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pin_guard(engine: Engine) -> PinGuard:
    guard = _guards.get(engine)
    if guard is None:
        guard = _guards[engine] = PinGuard()
    return guard


def room_settings(config) -> dict:
    """{"number": "", "pin": ""}: the room's own number (optional) and PIN (optional)."""
    table = getattr(config, "table", None)
    if table is None:
        return {"number": "", "pin": ""}
    docs = list(table(TABLE))
    doc = docs[0] if docs else {}
    return {"number": str(doc.get("number") or ""), "pin": str(doc.get("pin") or "")}


def save_room_settings(config, number: str, pin: str) -> dict:
    """Validate and store the room settings; raises `ConfigError` with a message for the owner."""
    number, pin = (number or "").strip(), (pin or "").strip()
    if number and not (number.isdigit() and 2 <= len(number) <= 6):
        raise ConfigError("The room number must be 2 to 6 digits (or empty for the feature code only).")
    if number and number in {str(e.get("number")) for e in config.extensions()}:
        raise ConfigError(f"{number} is already an extension; choose another room number.")
    access = str(config.settings().get("access_code", "9") or "")
    if number and access and number.startswith(access):
        raise ConfigError(f"The room number must not start with the outside-line access code {access}.")
    from .recording_store import group_numbers
    if number and number in group_numbers(config):
        raise ConfigError(f"{number} is already a ring group; choose another room number.")
    if pin and not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise ConfigError("The PIN must be 4 to 8 digits (or empty for no PIN).")
    table = config.table(TABLE)
    table.truncate()
    table.insert({"number": number, "pin": pin})
    return {"number": number, "pin": pin}


class RoomSession(AppSession):
    """One party in the meet-me room: PIN first if one is set, then the mix until hang-up."""

    name = "conference"

    def start(self) -> None:
        self.pin = _settings.get(self.engine, {}).get("pin", "")
        self.entered = ""
        self.tries = 0
        self.joined = False
        self._pin_timer = None
        if self.pin and pin_guard(self.engine).locked(self.engine.clock.now()):
            log.info("conference: PIN entry locked; %s turned away", self.ch.name)
            self.leave()
            return
        if self.pin:
            self.ch.play_tone("dial")            # "enter the PIN": dial tone until the first key
            self.ch.set_state("in-call", peer="conference (PIN)")
            self._pin_timer = self.after(PIN_WAIT_MS, self._pin_timeout)
        else:
            self._join()

    def _join(self) -> None:
        room = room_of(self.engine)
        try:
            room.add(self.ch)
        except ConferenceFull:
            log.info("conference full: %s turned away", self.ch.name)
            self.leave()
            return
        self.joined = True
        self.ch.listen_dtmf = False              # keys pressed in the room are just audio
        self.ch.set_state("in-call", peer=f"conference ({len(room)})")

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.joined or self.finished:
            return
        ch.silence()
        if digit != "#":
            self.entered = (self.entered + digit)[-16:]
            return
        if self.entered == self.pin:
            if self._pin_timer:
                self._pin_timer.cancel()
            self._join()
            return
        self.tries += 1
        self.entered = ""
        guard = pin_guard(self.engine)
        guard.failed(self.engine.clock.now())
        if guard.locked(self.engine.clock.now()):
            self.leave()
            return
        log.info("conference: wrong PIN on %s (try %d)", ch.name, self.tries)
        if self.tries >= PIN_TRIES:
            self.leave()
        else:
            ch.play_tone("congestion")            # wrong: a short error tone, then the PIN prompt again
            self.after(700, self._prompt_again)
            if self._pin_timer:
                self._pin_timer.cancel()
            self._pin_timer = self.after(PIN_WAIT_MS, self._pin_timeout)    # a fresh wait per try

    def _prompt_again(self) -> None:
        if not self.joined and not self.finished and not self.entered:   # not once keys are coming
            self.ch.play_tone("dial")

    def _pin_timeout(self) -> None:
        if not self.joined and not self.finished:
            self.leave()

    def finish(self) -> None:
        if self.joined:
            self.joined = False
            room_of(self.engine).remove(self.ch)
        super().finish()


def _room_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> RoomSession:
    return RoomSession(engine, ch, arg, call)


def _destination_problem(config, value: str) -> str | None:
    return None if value in ("", "room", "main") else "the conference destination is 'conference:room'"


register_destination_kind("conference", _destination_problem)


_settings: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()    # engine -> room settings


def apply_room_number(engine: Engine) -> None:
    """Config changed: keep the room settings (read here, not when a caller joins); the room's
    own number (if set) dials like an extension."""
    _settings[engine] = room_settings(engine.config)
    number = _settings[engine].get("number", "")
    engine.register_app("conference-number", _room_app, code=number or None)


def register(engine: Engine) -> None:
    engine.register_app("conference", _room_app, code=ROOM_CODE)
    apply_room_number(engine)
    if hasattr(engine.config, "add_listener"):
        engine.config.add_listener(lambda *_a, **_k: engine.control.call(apply_room_number))
