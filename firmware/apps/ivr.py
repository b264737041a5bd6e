"""Auto attendant: menus of prompts and keys that send callers on (inbound route "ivr:<menu>").

A caller hears the menu's greeting, then presses:
* an option key → its destination (extension, ring group, voicemail, sub-menu, directory,
  time condition, hang-up, or any app registered with `register_ivr_destination`);
* an extension number (when the menu allows direct dialling; `#` ends it early);
* `*` → the previous menu (unless `*` is an option), `0` → the menu's fallback (unless `0`
  is an option), so every menu has a way out.
Nothing pressed for `timeout_s` or an invalid key: "invalid" prompt and the greeting again,
up to `retries` times, then the fallback destination.

Digits are untrusted: they only ever select an option key or an existing extension of
the dial plan; no digits the caller presses become an outside number.

Also here: "timecondition:<id>" as an engine app (business hours choose the destination),
and the dial-by-name / dial-by-extension directory.
"""
from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..calls import Call
from ..channels import Channel, FxoChannel, FxsChannel
from ..clock import Timer
from ..dialplan import Route
from ..prompts import PromptLibrary, PromptPlayer, play_prompts, prompts_root
from . import AppSession
from .ivr_events import MenuEventLog, outcome_of
from .ivr_store import DESTINATIONS, menus
from .timeconditions import condition, conditions, destination_now

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.ivr")

INTERDIGIT_MS = 2500           # after a digit that may start an extension number
DIRECTORY_LETTERS = 3
MAX_MENU_DEPTH = 10
MAX_FALLBACKS = 3              # a silent caller sent round a menu loop: goodbye after this many
MAX_SESSION_MS = 15 * 60_000   # nobody stays in the attendant longer (a line left off hook)
SYSTEM_PROMPTS = ("ivr/invalid", "ivr/goodbye", "ivr/unavailable", "ivr/directory", "ivr/directory_none",
                  "ivr/directory_press", "ivr/enter_extension", *(f"digits/{d}" for d in range(10)))
KEYPAD = {c: d for d, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO",
                                  "7": "PQRS", "8": "TUV", "9": "WXYZ"}.items() for c in letters}


class IvrService:
    """Per-engine IVR state on the media thread: menus, time conditions, prompt samples."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.library = PromptLibrary(prompts_root(engine.config))
        self.menus: dict[str, dict] = {}
        self.conditions: dict[str, dict] = {}
        self.timezone = "UTC"
        self.menu_log = MenuEventLog(engine.records, engine.clock.now)
        self._read_config()
        self.library.load_now(self._prompt_keys())      # start-up: reading files is fine here
        engine.media_listeners.append(self.reload)

    def _read_config(self) -> None:
        cfg = self.engine.config
        try:
            self.menus = {m["id"]: m for m in menus(cfg)}
            self.conditions = {c["id"]: c for c in conditions(cfg)}
            self.timezone = str(cfg.settings().get("timezone") or "UTC")
        except (AttributeError, KeyError, ValueError) as exc:
            log.error("IVR configuration unreadable: %s", exc)

    def _prompt_keys(self) -> list[tuple[str, str]]:
        keys = []
        langs = {m.get("language", "en") for m in self.menus.values()} | {"en"}
        for lang in langs:
            keys += [(ref, lang) for ref in SYSTEM_PROMPTS]
        for m in self.menus.values():
            if m.get("greeting"):
                keys.append((m["greeting"], m.get("language", "en")))
        return keys

    def reload(self) -> None:
        """Config changed (media thread): re-read menus (memory) and load new prompts off the tick."""
        self._read_config()
        self.library.want(self._prompt_keys())

    def refresh_prompt(self, ref: str) -> None:
        """An uploaded prompt was replaced: load it again (off the tick)."""
        self.library.forget(ref)
        self.library.want([k for k in self._prompt_keys() if k[0] == ref], reload=True)

    def prompt(self, ref: str, language: str = "en") -> np.ndarray | None:
        return self.library.get(ref, language) if ref else None

    def digits(self, number: str, language: str) -> list[np.ndarray | None]:
        return [self.prompt(f"digits/{d}", language) for d in number if d.isdigit()]

    def open_destination(self, cond_id: str) -> str | None:
        cond = self.conditions.get(cond_id)
        if cond is None:
            return None
        return destination_now(cond, self.engine.clock.now(), self.timezone)


_SERVICES: weakref.WeakKeyDictionary[Any, IvrService] = weakref.WeakKeyDictionary()


def service_of(engine: Engine) -> IvrService | None:
    return _SERVICES.get(engine)


class IvrSession(AppSession):
    """One caller in the auto attendant."""

    name = "ivr"

    def __init__(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None):
        svc = service_of(engine)
        assert svc is not None, "the IVR is not running on this engine"
        self.svc = svc
        self.stack: list[str] = []
        self.menu: dict = {}
        self.mode = "start"
        self.tries = 0
        self.entry = ""
        self.player: PromptPlayer | None = None
        self._wait: Timer | None = None
        self._matches: list[tuple[str, str]] = []
        self._match_index = 0
        self.handed_off = False
        self.fallbacks = 0
        self._visited = False      # entered at least one menu: this session has a menu path
        self._chose = False        # picked at least one option (for "self-service" vs "abandoned")
        self._exited = False
        super().__init__(engine, ch, arg, call)

    # ---- playing and waiting
    @property
    def language(self) -> str:
        return self.menu.get("language", "en")

    def say(self, *refs_or_samples: str | np.ndarray | None, then: Callable[[], None] | None = None) -> None:
        parts = [self.svc.prompt(p, self.language) if isinstance(p, str) else p for p in refs_or_samples]
        done = (lambda: None if self.finished else then()) if then else None
        self.player = play_prompts(self.ch, parts, done)

    def _arm(self, ms: int, fn: Callable[[], None]) -> None:
        self._disarm()
        self._wait = self.after(ms, lambda: None if self.finished else fn())

    def _disarm(self) -> None:
        if self._wait is not None:
            self._wait.cancel()
            self._wait = None

    def _stop_prompt(self) -> None:
        if self.player is not None:
            self.player.interrupt()
            if self.ch.source is self.player:
                self.ch.silence()
            self.player = None

    # ---- menus
    def start(self) -> None:
        self.after(MAX_SESSION_MS, self.goodbye)
        self.enter_menu(self.arg, push=False)

    def enter_menu(self, menu_id: str, push: bool = True) -> None:
        menu = self.svc.menus.get(menu_id)
        if menu is None:
            log.warning("IVR menu %r does not exist; caller hung up politely", menu_id[:30])
            self.goodbye()
            return
        if push and self.menu:
            self.stack.append(self.menu["id"])
            del self.stack[:-MAX_MENU_DEPTH]
        self.menu = menu
        self._visited = True
        self.tries = 0
        self.prompt_menu()

    def prompt_menu(self) -> None:
        self.mode = "menu"
        self.entry = ""
        self.say(self.menu.get("greeting", ""), then=self._greeting_done)
        self._disarm()

    def _greeting_done(self) -> None:
        if self.mode == "menu" and not self.entry:
            self._arm(self.menu.get("timeout_s", 5) * 1000, self._menu_timeout)

    def _menu_timeout(self) -> None:
        if self.entry:
            self._entry_complete()
            return
        self._retry(invalid=False)

    def _retry(self, invalid: bool) -> None:
        self._step("invalid" if invalid else "timeout")
        self.tries += 1
        self.entry = ""
        if self.tries > self.menu.get("retries", 3):
            self.fallbacks += 1
            fallback = self.menu.get("fallback") or "hangup:"
            self.go("hangup:" if self.fallbacks > MAX_FALLBACKS and fallback.startswith("ivr:") else fallback)
            return
        if invalid:
            self.mode = "menu"
            self.say("ivr/invalid", self.menu.get("greeting", ""), then=self._greeting_done)
            self._disarm()
        else:
            self.prompt_menu()

    def goodbye(self) -> None:
        self.mode = "goodbye"
        self._disarm()
        self.say("ivr/goodbye", then=self.leave)

    # ---- digits
    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.finished:
            return
        self._stop_prompt()
        if self.mode == "menu":
            self._menu_digit(digit)
        elif self.mode == "dir-name":
            self._directory_letter(digit)
        elif self.mode == "dir-pick":
            self._directory_pick(digit)
        elif self.mode == "dir-ext":
            self._ext_entry_digit(digit)

    def _menu_digit(self, digit: str) -> None:
        options: dict[str, str] = self.menu.get("options", {})
        plan = self.engine.plan
        if not self.entry:
            if digit in options and not (self.menu.get("direct_dial", True) and self._starts_extension(digit)):
                self._step(digit, options[digit])
                self.go(options[digit])
                return
            if digit == "*" and "*" not in options:
                self._step("*", "back:")
                self.back()
                return
            if digit == "0" and "0" not in options and not self._starts_extension("0"):
                self._step("0", self.menu.get("fallback") or "hangup:")
                self.go(self.menu.get("fallback") or "hangup:")
                return
        if digit == "#":
            self._entry_complete()
            return
        self.entry += digit
        if not self.menu.get("direct_dial", True) or not self._starts_extension(self.entry):
            self._entry_complete()
            return
        ext = plan.extensions.get(self.entry)
        longer = any(n != self.entry and n.startswith(self.entry) for n in plan.extensions)
        if ext is not None and not longer:
            self._entry_complete()
            return
        self._arm(INTERDIGIT_MS, self._entry_complete)

    def _starts_extension(self, digits: str) -> bool:
        return any(n.startswith(digits) for n, e in self.engine.plan.extensions.items() if e.enabled)

    def _entry_complete(self) -> None:
        entry, self.entry = self.entry, ""
        self._disarm()
        options = self.menu.get("options", {})
        ext = self.engine.plan.extensions.get(entry)
        if ext is not None and ext.enabled and self.menu.get("direct_dial", True):
            self._step(entry, f"extension:{entry}")
            self.go(f"extension:{entry}")
        elif len(entry) == 1 and entry in options:
            self._step(entry, options[entry])
            self.go(options[entry])
        else:
            self._retry(invalid=True)

    def back(self) -> None:
        if self.stack:
            parent = self.stack.pop()
            self.enter_menu(parent, push=False)
        else:
            self.prompt_menu()

    # ---- the menu path (Call.menu_path and table menu_events; see ivr_events.py)
    def _step(self, key: str, destination: str = "") -> None:
        if not self._visited or self.mode != "menu" and key not in ("invalid", "timeout"):
            return
        if destination and destination.partition(":")[0] not in ("back", "repeat"):
            self._chose = True
        self.svc.menu_log.step(self.call, str(self.menu.get("id", "")), key, destination)

    def _exit(self, outcome: str, destination: str = "") -> None:
        if self._exited or not self._visited:
            return
        self._exited = True
        self.svc.menu_log.exit(self.call, str(self.menu.get("id", "")), outcome, destination)

    # ---- destinations
    def go(self, dest: str) -> None:
        """Send the caller to `dest` ("kind:value"), as configured by the owner."""
        self._disarm()
        self._stop_prompt()
        kind, _, value = dest.partition(":")
        if kind == "ivr":
            self.enter_menu(value)
        elif kind == "repeat":
            self.tries = 0
            self.prompt_menu()
        elif kind == "back":
            self.back()
        elif kind == "hangup":
            self.goodbye()
        elif kind == "directory":
            self.start_directory(value)
        elif kind == "timecondition":
            target = self.svc.open_destination(value)
            if target is None or target.startswith("timecondition:"):
                self.goodbye()
            else:
                self.go(target)
        elif kind == "extension":
            self.ring_extension(value)
        else:
            self.hand_off(kind, value)

    def ring_extension(self, number: str) -> None:
        eng = self.engine
        target = eng.channel_for_extension(number)
        free = (target is not None and target.usable and target.handler is None and not target.off_hook
                and target is not self.ch)
        redirect = eng.redirect_destination(number) if target is not self.ch else None
        divert = None if free or redirect else eng.unanswered_destination(number, "busy")
        if not (free or redirect or divert):
            self.mode = "menu"
            self.tries = 0
            self.say("ivr/unavailable", self.menu.get("greeting", ""), then=self._greeting_done)
            return
        ch = self.ch
        self._exit("agent", f"extension:{number}")
        self.end_session()
        if isinstance(ch, FxsChannel):
            eng.place_call(ch, Route("extension", number), number)
            return
        assert isinstance(ch, FxoChannel)
        call = Call(eng, ch, "inbound", self.call.src, number, line=ch.name,
                    cid_number=self.call.cid_number, cid_name=self.call.cid_name)
        call.menu_path = list(self.call.menu_path)
        call.waiting_for_cid = True
        ch.set_state("in-call", peer="ivr", caller_id=self.call.cid_number, detail=number)
        ch.play_tone("ringback")              # the caller hears ringing until someone answers
        eng.ring_inbound(call)

    def hand_off(self, kind: str, value: str) -> None:
        eng = self.engine
        if kind == "group":
            ch = self.ch
            if not isinstance(ch, FxoChannel):
                self.goodbye()
                return
            self._exit("agent", f"group:{value}")
            self.end_session()
            call = Call(eng, ch, "inbound", self.call.src, value, line=ch.name,
                        cid_number=self.call.cid_number, cid_name=self.call.cid_name)
            call.menu_path = list(self.call.menu_path)
            call.waiting_for_cid = True
            ch.play_tone("ringback")
            eng.ring_inbound(call)
            return
        if kind == "outside":
            self._exit("agent", f"outside:{value}")
            self._to_outside(value)
            return
        factory = eng.apps.get(kind)
        if kind not in DESTINATIONS or factory is None:
            log.warning("IVR destination %s:%s has no app running; goodbye", kind, value[:20])
            self.goodbye()
            return
        # The next app takes the caller and this call's record (and its menu path) with it.
        self._exit(outcome_of(f"{kind}:{value}"), f"{kind}:{value}")
        self.handed_off = True
        self._release_channel()
        if isinstance(self.ch, FxoChannel):
            self.ch.handler = self.call      # as the engine leaves a line it hands to an app
        factory(eng, self.ch, value, self.call)

    def _to_outside(self, number: str) -> None:
        """Owner-configured outside number: still only through the outbound-permissions gate."""
        from .permissions import Origin
        ch = self.ch
        origin = Origin(extension=getattr(ch, "extension", None), channel=ch.name, via="ivr",
                        outside_party=isinstance(ch, FxoChannel))
        self.end_session()
        self.engine.dial_outside(ch, number, origin)

    def _release_channel(self) -> None:
        self._disarm()
        self._stop_prompt()
        self.finished = True
        for t in self._timers:
            t.cancel()
        if self.ch.handler is self:
            self.ch.handler = None
        self.ch.silence()

    def end_session(self) -> None:
        """This session's record ends; the channel goes on to whatever comes next."""
        self._release_channel()
        self.call.end("answered")

    # ---- directory
    def start_directory(self, how: str) -> None:
        self.entry = ""
        if how == "extension":
            self.mode = "dir-ext"
            self.say("ivr/enter_extension")
            self._arm(self.menu.get("timeout_s", 5) * 1000 + 3000, self._ext_entry_done)
        else:
            self.mode = "dir-name"
            self.say("ivr/directory")
            self._arm(self.menu.get("timeout_s", 5) * 1000 + 3000, self._directory_lookup)

    def _ext_entry_digit(self, digit: str) -> None:
        if digit == "*":
            self.prompt_menu()
            return
        if digit == "#":
            self._ext_entry_done()
            return
        self.entry = (self.entry + digit)[:10]
        self._arm(INTERDIGIT_MS, self._ext_entry_done)

    def _ext_entry_done(self) -> None:
        entry, self.entry = self.entry, ""
        ext = self.engine.plan.extensions.get(entry)
        if ext is not None and ext.enabled:
            self.go(f"extension:{entry}")
        else:
            self._retry(invalid=True)

    def _directory_letter(self, digit: str) -> None:
        if digit == "*":
            self.prompt_menu()
            return
        if digit == "#" or not digit.isdigit():
            self._directory_lookup()
            return
        self.entry += digit
        if len(self.entry) >= DIRECTORY_LETTERS:
            self._directory_lookup()
        else:
            self._arm(INTERDIGIT_MS + 2000, self._directory_lookup)

    def _directory_lookup(self) -> None:
        self._disarm()
        keys, self.entry = self.entry, ""
        self._matches = directory_matches(self.engine, keys) if keys else []
        self._match_index = 0
        if not self._matches:
            self.mode = "menu"
            self.say("ivr/directory_none", self.menu.get("greeting", ""), then=self._greeting_done)
            return
        self._offer_match()

    def _offer_match(self) -> None:
        number, _name = self._matches[self._match_index]
        self.mode = "dir-pick"
        self.say(*self.svc.digits(number, self.language), "ivr/directory_press",
                 then=lambda: self._arm(self.menu.get("timeout_s", 5) * 1000, self._directory_pick_timeout))

    def _directory_pick_timeout(self) -> None:
        self._retry(invalid=False)

    def _directory_pick(self, digit: str) -> None:
        self._disarm()
        if digit == "1":
            self.go(f"extension:{self._matches[self._match_index][0]}")
        elif digit == "2" and self._match_index + 1 < len(self._matches):
            self._match_index += 1
            self._offer_match()
        elif digit == "*" or digit == "2":
            self.prompt_menu()
        else:
            self.say("ivr/invalid", then=self._offer_match)

    # ---- endings
    def finish(self) -> None:
        self._disarm()
        if self.handed_off:
            self.finished = True
            return
        if not self.finished:
            self._exit("self-service" if self._chose else "abandoned")
        super().finish()


def name_keys(name: str) -> str:
    """A name as keypad digits ("Alice" -> "25423"); characters without a key are skipped."""
    return "".join(KEYPAD.get(c, "") for c in name.upper())


def directory_matches(engine: Engine, keys: str) -> list[tuple[str, str]]:
    """Extensions whose name (any word of it) starts with `keys` on the keypad, by name."""
    out = []
    for ext in engine.plan.extensions.values():
        if not ext.enabled or not ext.name:
            continue
        words = ext.name.split()
        if any(name_keys(w).startswith(keys) for w in words):
            out.append((ext.number, ext.name))
    return sorted(out, key=lambda m: (m[1].lower(), m[0]))


class TimeConditionRoute(AppSession):
    """Inbound route "timecondition:<id>": pass the caller to the open or the closed destination."""

    name = "timecondition"

    def start(self) -> None:
        svc = service_of(self.engine)
        target = svc.open_destination(self.arg) if svc is not None else None
        kind, _, value = (target or "").partition(":")
        if target is None or kind == "timecondition":
            self.leave()
            return
        self._release()
        if kind == "ivr":
            IvrSession(self.engine, self.ch, value, self.call)
        else:
            _DirectRoute(self.engine, self.ch, target, self.call)

    def _release(self) -> None:
        self.finished = True
        if self.ch.handler is self:
            self.ch.handler = None


class _DirectRoute(IvrSession):
    """A session with no menu of its own: goes to one destination (time condition results)."""

    def __init__(self, engine: Engine, ch: Channel, dest: str, call: Call):
        self._dest = dest
        super().__init__(engine, ch, "", call)

    def start(self) -> None:
        self.go(self._dest)


def _timecondition_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> Any:
    return TimeConditionRoute(engine, ch, arg, call)


def _ivr_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> Any:
    return IvrSession(engine, ch, arg or "main", call)


def register(engine: Engine) -> IvrService | None:
    if not hasattr(engine.config, "table"):
        log.info("IVR off: the configuration has no tables")
        return None
    svc = IvrService(engine)
    _SERVICES[engine] = svc
    engine.register_app("ivr", _ivr_app)
    engine.register_app("timecondition", _timecondition_app)
    return svc


def condition_exists(cfg: Any, cond_id: str) -> bool:
    return condition(cfg, cond_id) is not None


def start_prompt_generation(engine: Engine, data_dir: Any) -> None:
    """Service start-up: make `DATA/prompts` the default prompt set and speak whatever of it is
    missing (first run) on a background thread; the IVR then loads the new files off the tick."""
    from ..prompts import prompts_root as root_of
    from ..prompts import set_default_root, start_default_generation
    root = root_of(data_dir)
    assert root is not None
    set_default_root(root)

    def generated(n: int) -> None:
        svc = service_of(engine)
        if n and svc is not None:
            engine.control.call(lambda _eng: svc.reload())
    stop = threading.Event()
    engine.shutdown_listeners.append(stop.set)     # no espeak-ng left running after shutdown
    start_default_generation(root, generated, stop)
