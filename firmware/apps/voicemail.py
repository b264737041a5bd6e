"""Voicemail: leaving messages, the owner's menu, message-waiting indication, voicemail to e-mail.

Reached by:
* an extension that is busy or does not answer (the engine's unanswered-call
  policy: "voicemail:<ext>/<busy|unavailable>"), an inbound route or IVR choice
  "voicemail:<ext>" (caller path: greeting → beep → record, `#` or hang-up ends);
* `*97` (own mailbox) and `*98` (any mailbox: number, then PIN) from a phone,
  or `*` during a mailbox's greeting (owner path).

Everything that touches the disk (greetings, messages, PIN checks, config
writes) runs on the voicemail writer thread (`VoicemailWriter`); results come
back to the media thread through the engine's control queue. Escapes: in every
menu `0` goes to the operator extension (or says goodbye when none is set) and
`*` goes back / leaves; `#` ends an entry or a recording. Nothing here ever
seizes a line except "call back", which dials the normal way from an office
phone (the outbound-permissions gate decides) and is refused to outside callers.
"""
from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_ext.levels import FRAME, RATE

from ..calls import Call
from ..channels import Channel, FxoChannel, FxsChannel
from ..clock import Timer
from ..config import ConfigError, register_destination_kind
from ..dialplan import Route
from ..mailer import Attachment, Mail, Mailer, header_text
from . import AppSession
from .voicemail_io import Recording, VoicemailWriter
from .voicemail_prompts import PromptCache
from .voicemail_store import (
    EXTENSION_RE,
    PIN_MAX,
    Message,
    VoicemailStore,
    all_mailbox_configs,
    check_pin,
    pin_problem,
    save_mailbox,
    settings,
)

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.voicemail")

OWN_MAILBOX_CODE = "*97"
ANY_MAILBOX_CODE = "*98"
MIN_MESSAGE_S = 1.0            # shorter than this: a hang-up after the beep, not a message
KEY_TAIL_S = 0.3               # dropped from a message ended by a key: the key's DTMF tone
MAX_GREETING_S = 60
DIGIT_TIMEOUT_MS = 5000        # end of a PIN / mailbox number without #
MENU_TIMEOUT_MS = 8000         # menu repeated after this silence, goodbye after MENU_TRIES
MENU_TRIES = 3
SESSION_PIN_TRIES = 3          # wrong PINs in one call before it is ended
LOCK_AFTER = 3                 # consecutive wrong PINs (any call) that lock the mailbox
LOCK_BASE_S = 60.0             # first lock-out; doubles with each further one
LOCK_MAX_S = 3600.0
MWI_RETRY_MS = 5000            # phone busy when the indication changed: try again later
MWI_GAP_S = 2.0                # quiet between two FSK messages to one phone (receivers need it)


@dataclass
class PinGuard:
    """Wrong-PIN bookkeeping of one mailbox (engine clock; in memory, the media thread's)."""
    failures: int = 0
    lockouts: int = 0
    locked_until: float = 0.0


_SERVICES: weakref.WeakKeyDictionary[Any, VoicemailService] = weakref.WeakKeyDictionary()


def _logged(fn: Callable[[], None]) -> None:
    # Results run as control commands, whose exceptions only reach an unread Future: log them.
    try:
        fn()
    except Exception:
        log.exception("voicemail step failed")


def service_of(engine: Engine) -> VoicemailService | None:
    return _SERVICES.get(engine)


def _prompts_root(config: Any) -> Path | None:
    path = getattr(config, "path", None)
    return Path(path).parent / "prompts" if path is not None else None


def voicemail_root(config: Any) -> Path | None:
    path = getattr(config, "path", None)
    return Path(path).parent / "voicemail" if path is not None else None


class VoicemailService:
    """Per-engine voicemail state, on the media thread: mailbox settings, message counts,
    PIN lock-outs and the message-waiting state last sent to each phone."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.store = VoicemailStore(root)
        self.writer = VoicemailWriter(lambda fn: engine.control.call(lambda _eng: _logged(fn)))
        self.mailer = Mailer(lambda: settings(engine.config))
        self.prompts = PromptCache(_prompts_root(engine.config), "zh" if engine.country == "CN" else "en")
        self.boxes: dict[str, dict] = {}
        self.settings: dict = {}
        self.guards: dict[str, PinGuard] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self.mwi_sent: dict[str, bool] = {}
        self._mwi_retry: dict[str, Timer] = {}
        self._mwi_quiet_until: dict[str, float] = {}
        self.reload()
        # start-up, not the tick: reading the disk is fine here
        dropped = self.store.drop_unfinished(MIN_MESSAGE_S)
        if dropped:
            log.warning("removed %d voicemail message(s) cut off before %.0f s of audio (crash or power cut): %s",
                        len(dropped), MIN_MESSAGE_S, ", ".join(dropped[:10]))
        for ext in self.boxes:
            self.counts[ext] = self.store.counts(ext)
        engine.media_listeners.append(self.reload)
        engine.dial_tone_policies.append(self._dial_tone)
        engine.add_unanswered_policy(self._unanswered, 100)
        if hasattr(engine, "shutdown_listeners"):
            engine.shutdown_listeners.append(self.close)
        engine.timers.after_ms(1000, self.update_all_mwi)

    def close(self, timeout: float = 5.0) -> None:
        """Service stopping: messages being left are finished and written out (not cut at the
        last sync), then the writer is given `timeout` seconds to get everything to disk."""
        for ch in self.engine.channels.values():
            if isinstance(ch.handler, LeaveMessage):
                ch.handler.finish()
        if not self.writer.flush(timeout):
            log.warning("voicemail writer still busy at shutdown; the last second of a message may be lost")

    # ---- configuration (config reads are in memory; called when the config changes)
    def reload(self) -> None:
        try:
            self.boxes = all_mailbox_configs(self.engine.config)
            self.settings = settings(self.engine.config)
        except (AttributeError, ValueError) as exc:
            log.error("voicemail configuration unreadable: %s", exc)
            return
        for ext in self.boxes:
            self.counts.setdefault(ext, (0, 0))

    def has_mailbox(self, ext: str) -> bool:
        box = self.boxes.get(ext)
        return bool(box and box.get("enabled"))

    def _unanswered(self, engine: Engine, extension: str, reason: str) -> str | None:
        return f"voicemail:{extension}/{reason}" if self.has_mailbox(extension) else None

    def _dial_tone(self, engine: Engine, ch: FxsChannel) -> str | None:
        ext = ch.extension
        if ext and self.has_mailbox(ext) and self.counts.get(ext, (0, 0))[0] > 0:
            return "stutter_dial"
        return None

    # ---- counts and message-waiting indication
    def refresh(self, ext: str) -> None:
        """Re-count `ext`'s messages on the writer thread, then update its indication."""
        if not EXTENSION_RE.fullmatch(ext or ""):
            return
        self.writer.submit(lambda: self.store.counts(ext), lambda c: self.set_counts(ext, c))

    def set_counts(self, ext: str, counts: tuple[int, int] | None) -> None:
        if counts is None:             # the mailbox directory could not be read (logged)
            return
        self.counts[ext] = counts
        self.update_mwi(ext)

    def update_all_mwi(self) -> None:
        for ext in list(self.boxes):
            if self.counts.get(ext, (0, 0))[0] > 0 or ext in self.mwi_sent:
                self.update_mwi(ext)

    def update_mwi(self, ext: str) -> None:
        want = self.has_mailbox(ext) and self.counts.get(ext, (0, 0))[0] > 0
        ch = self.engine.channel_for_extension(ext)
        if ch is None or self.mwi_sent.get(ext) is want:
            return
        pending = self._mwi_retry.pop(ext, None)
        if pending is not None:
            pending.cancel()
        now = self.engine.clock.now()
        quiet = self._mwi_quiet_until.get(ext, 0.0)
        if now < quiet:
            # Straight after the last message the phone's receiver is not listening yet.
            self._mwi_retry[ext] = self.engine.timers.after_ms(int((quiet - now) * 1000) + 10,
                                                               lambda: self.update_mwi(ext))
            return
        if ch.handler is not None or ch.off_hook or ch.ringing or ch.source is not None or not ch.usable:
            # The phone is in use: on-hook FSK now would collide; its dial tone already tells.
            self._mwi_retry[ext] = self.engine.timers.after_ms(MWI_RETRY_MS, lambda: self.update_mwi(ext))
            return
        self.mwi_sent[ext] = want
        lamp = getattr(ch.port, "set_message_waiting_lamp", None)
        if lamp is not None:
            lamp(want)
        std = self.engine.profile.cid_standard
        if std == "dtmf":
            return                       # DTMF caller-ID countries have no FSK MWI; stutter tone only
        from dsp_ext.callerid import encode_mwi
        fsk = encode_mwi(want, std)
        self._mwi_quiet_until[ext] = now + len(fsk) / RATE + MWI_GAP_S
        ch.port.set_onhook_transmission(True)

        def done() -> None:
            if ch.source is sent:
                ch.source = None
        ch.play(fsk, done)
        sent = ch.source

        def transmission_off() -> None:
            # Also when the phone was lifted mid-way (its dial tone replaced the FSK).
            if not ch.ringing:
                ch.port.set_onhook_transmission(False)
        self.engine.timers.after_ms(len(fsk) * 1000 // RATE + 100, transmission_off)

    # ---- PINs and lock-out
    def guard(self, ext: str) -> PinGuard:
        return self.guards.setdefault(ext, PinGuard())

    def locked(self, ext: str) -> bool:
        return self.engine.clock.now() < self.guard(ext).locked_until

    def pin_result(self, ext: str, ok: bool) -> None:
        g = self.guard(ext)
        if ok:
            g.failures = g.lockouts = 0
            return
        g.failures += 1
        if g.failures >= LOCK_AFTER:
            g.failures = 0
            g.lockouts += 1
            seconds = min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (g.lockouts - 1))
            g.locked_until = self.engine.clock.now() + seconds
            log.warning("mailbox %s locked for %d s after repeated wrong PINs", ext, seconds)

    def unlock(self, ext: str) -> None:
        self.guards.pop(ext, None)

    # ---- a message was recorded
    def message_recorded(self, ext: str, message_id: str, caller: str) -> None:
        self.refresh(ext)
        box = self.boxes.get(ext) or {}
        email = box.get("email")
        if not email or not self.settings.get("smtp_host"):
            return
        wav = self.store.box(ext) / "new" / f"{message_id}.wav"
        subject = f"Voicemail for {ext} from {header_text(caller, 80) or 'unknown caller'}"
        body = (f"A new voice message for mailbox {ext}.\nCaller: {header_text(caller, 120) or 'unknown'}\n"
                "The recording is attached (WAV, 8 kHz).\n")
        self.mailer.send(Mail(to=email, subject=subject, body=body,
                              attachments=[Attachment(f"voicemail-{ext}-{message_id}.wav", "audio/wav", wav)]))


# --------------------------------------------------------------------------- sessions

class VoicemailSession(AppSession):
    """What the caller and owner paths share: prompts, digit entry, menus, escapes."""

    name = "voicemail"

    def __init__(self, engine: Engine, ch: Channel, arg: str = "", call: Call | None = None):
        svc = service_of(engine)
        assert svc is not None, "voicemail is not running on this engine"
        self.svc = svc
        self.mode = "start"
        self._entry = ""
        self._entry_done: Callable[[str], None] | None = None
        self._entry_timer: Timer | None = None
        self._menu: dict[str, Callable[[], None]] = {}
        self._menu_prompt: np.ndarray | None = None
        self._menu_tries = 0
        self._menu_timer: Timer | None = None
        super().__init__(engine, ch, arg, call)

    # ---- playing
    def say(self, *parts: np.ndarray, then: Callable[[], None] | None = None) -> None:
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.ch.play(samples, (lambda: None if self.finished else then()) if then else None)

    def goodbye(self) -> None:
        self.mode = "goodbye"
        self.say(self.svc.prompts["goodbye"], then=self.leave)

    # ---- digit entry (mailbox number, PIN)
    def collect(self, prompt: str, done: Callable[[str], None], mode: str) -> None:
        self.mode = mode
        self._entry = ""
        self._entry_done = done
        self.say(self.svc.prompts[prompt])
        self._arm_entry()

    def _arm_entry(self) -> None:
        if self._entry_timer is not None:
            self._entry_timer.cancel()
        self._entry_timer = self.after(DIGIT_TIMEOUT_MS + 3000 * (not self._entry), self._entry_end)

    def _entry_end(self) -> None:
        if self._entry_done is None or self.finished:
            return
        done, self._entry_done = self._entry_done, None
        if self._entry_timer is not None:
            self._entry_timer.cancel()
        done(self._entry)

    def _entry_digit(self, digit: str) -> None:
        self.ch.silence()
        if digit == "*":                       # escape from any entry: leave
            self._entry_done = None
            self.goodbye()
        elif digit == "#":
            self._entry_end()
        else:
            self._entry += digit
            if len(self._entry) >= max(PIN_MAX, 6) + 1:
                self._entry_end()
            else:
                self._arm_entry()

    # ---- menus
    def menu(self, prompt: np.ndarray, choices: dict[str, Callable[[], None]], mode: str,
             intro: np.ndarray | None = None) -> None:
        self.mode = mode
        self._menu = {"0": self.to_operator, **choices}
        self._menu_prompt = prompt
        self._menu_tries = 0
        self.say(*(p for p in (intro, prompt) if p is not None))
        self._arm_menu()

    def _arm_menu(self) -> None:
        if self._menu_timer is not None:
            self._menu_timer.cancel()
        self._menu_timer = self.after(MENU_TIMEOUT_MS, self._menu_timeout)

    def _menu_timeout(self) -> None:
        if self.finished or not self._menu:
            return
        self._menu_tries += 1
        if self._menu_tries >= MENU_TRIES:
            self._menu = {}
            self.goodbye()
            return
        if self._menu_prompt is not None:
            self.say(self._menu_prompt)
        self._arm_menu()

    def _menu_digit(self, digit: str) -> None:
        action = self._menu.get(digit)
        if action is None:
            self.say(self.svc.prompts["invalid"])
            self._arm_menu()
            return
        if self._menu_timer is not None:
            self._menu_timer.cancel()
        self._menu = {}
        self.ch.silence()
        action()

    def on_digit(self, ch: Channel, digit: str) -> None:
        if self.finished:
            return
        if self._entry_done is not None:
            self._entry_digit(digit)
        elif self._menu:
            self._menu_digit(digit)
        else:
            self.digit(digit)

    def digit(self, digit: str) -> None:
        """Digits outside entries and menus (greeting, recording); subclasses decide."""

    # ---- leaving for somewhere else
    def end_session(self) -> None:
        """Stop this session (its record ends) but leave the channel to whoever takes it next."""
        if self._menu_timer is not None:
            self._menu_timer.cancel()
        self._menu = {}
        self._entry_done = None
        self.finish()
        if self.ch.handler is self:
            self.ch.handler = None
        self.ch.silence()

    def to_operator(self) -> None:
        """`0`: ring the operator extension (never an outside number); goodbye when there is none."""
        op = self.svc.settings.get("operator") or ""
        target = self.engine.channel_for_extension(op) if op else None
        if target is None or target is self.ch:
            self.goodbye()
            return
        ch, eng = self.ch, self.engine
        self.end_session()
        if isinstance(ch, FxsChannel):
            eng.place_call(ch, Route("extension", op), op)
            return
        assert isinstance(ch, FxoChannel)
        if not target.usable or target.handler is not None or target.off_hook:
            self._busy_goodbye(ch)
            return
        call = Call(eng, ch, "inbound", self.call.src, op, line=ch.name,
                    cid_number=self.call.cid_number, cid_name=self.call.cid_name)
        call.ring_extension(target)

    def _busy_goodbye(self, line: FxoChannel) -> None:
        line.handler = None
        line.release()
        line.set_state("idle")

    def caller_id(self) -> tuple[str, str]:
        call = self.call
        if isinstance(self.ch, FxoChannel):
            return call.cid_number or "", call.cid_name or ""
        return getattr(self.ch, "extension", None) or "", getattr(self.ch, "ext_name", "") or ""

    def finish(self) -> None:
        if self._menu_timer is not None:
            self._menu_timer.cancel()
        super().finish()


class LeaveMessage(VoicemailSession):
    """Caller path: greeting (the mailbox's own, else the default) → beep → record until # or hang-up."""

    name = "voicemail"

    def start(self) -> None:
        box, _, reason = self.arg.partition("/")
        self.box = box
        self.reason = reason if reason in ("busy", "unavailable") else "unavailable"
        self.recording: Recording | None = None
        self.message_id = ""
        if not self.svc.has_mailbox(box):
            self.say(self.svc.prompts["no_mailbox"], then=self.goodbye)
            return
        self.mode = "loading"
        store, reason = self.svc.store, self.reason
        self.svc.writer.submit(lambda: store.greeting(box, reason), self._greeting_loaded)

    def _greeting_loaded(self, samples: np.ndarray | None) -> None:
        if self.finished or self.mode != "loading":
            return
        self.mode = "greeting"
        if samples is None or not len(samples):
            samples = self.svc.prompts[f"greeting_{self.reason}"]
        self.say(samples, then=self._beep)

    def _beep(self) -> None:
        if self.finished or self.mode not in ("greeting", "loading"):
            return
        self.mode = "beep"
        self.say(self.svc.prompts.beep, then=self._record)

    def _record(self) -> None:
        if self.finished:
            return
        self.mode = "recording"
        svc, box = self.svc, self.box
        number, name = self.caller_id()
        now = self.engine.clock.now()
        self.message_id = mid = svc.store.new_message_id(now)
        self._caller = " ".join(p for p in (name, number) if p)
        # A line caller's hang-up shows as busy tone seconds later: hold that much back to drop it.
        hold = 400 if isinstance(self.ch, FxoChannel) else 30
        self.recording = svc.writer.recording(lambda: svc.store.begin_message(box, mid, number, name, now),
                                              hold_frames=hold)
        self.ch.taps.append(self._tap)
        self.after(int(svc.settings.get("max_message_s", 180)) * 1000, self._max_length)

    def _tap(self, rx: np.ndarray | None, tx: np.ndarray | None) -> None:
        if self.recording is not None:
            self.recording.write(rx if rx is not None else np.zeros(FRAME, dtype=np.int16))

    def _max_length(self) -> None:
        if self.mode == "recording":
            self._stop()
            self.say(self.svc.prompts["message_saved"], self.svc.prompts["goodbye"], then=self.leave)

    def _stop(self, drop_s: float = 0.0) -> bool:
        """End the recording without its last `drop_s` seconds; True when long enough to keep."""
        rec = self.recording
        if rec is None or rec.closed:
            return False
        if self._tap in self.ch.taps:
            self.ch.taps.remove(self._tap)
        self.mode = "recorded"
        keep = rec.seconds - drop_s >= MIN_MESSAGE_S
        svc, box, mid, caller = self.svc, self.box, self.message_id, self._caller
        if keep:
            rec.close(drop_s, then=lambda path: path is not None and svc.message_recorded(box, mid, caller))
        else:
            rec.close(rec.seconds)
            svc.writer.submit(lambda: svc.store.discard(box, mid))
        return keep

    def digit(self, digit: str) -> None:
        if self.mode in ("greeting", "loading"):
            if digit == "#":
                self.ch.silence()
                self._beep()
            elif digit == "*":
                # The owner calling in: log in to this mailbox (PIN asked as always).
                ch, eng, box, call = self.ch, self.engine, self.box, self.call
                self.mode = "handed-over"
                self.end_session_keep_call()
                MailboxOwner(eng, ch, f"login/{box}", call)
            elif digit == "0":
                self.to_operator()
        elif self.mode == "recording":
            if digit in "#*":
                self._stop(KEY_TAIL_S)
                self.say(self.svc.prompts["message_saved"], self.svc.prompts["goodbye"], then=self.leave)
            elif digit == "0":
                self._stop(KEY_TAIL_S)
                self.to_operator()

    def end_session_keep_call(self) -> None:
        """Hand the channel (and its call record) to another voicemail session."""
        self.finished = True
        for t in self._timers:
            t.cancel()
        if self._menu_timer is not None:
            self._menu_timer.cancel()
        self.ch.silence()

    def on_hangup(self, ch: Channel) -> None:
        self._stop()
        super().on_hangup(ch)

    def on_tone(self, ch: Channel, tone: str, kind: str, at: float) -> None:
        if isinstance(ch, FxoChannel) and kind == "start" and tone in ("busy", "congestion"):
            # The caller hung up when the tone began: drop the tone from the message.
            self._stop(max(0.0, self.engine.clock.now() - at) + 0.2)
        super().on_tone(ch, tone, kind, at)

    def finish(self) -> None:
        self._stop()
        super().finish()


class MailboxOwner(VoicemailSession):
    """Owner path: which mailbox, PIN, then the menus (listen, greetings, PIN)."""

    name = "voicemail-main"

    def start(self) -> None:
        self.box = ""
        self.messages: list[Message] = []
        self.index = 0
        self.pin_tries = 0
        self._greeting_kind = ""
        self._greeting_frames: list[np.ndarray] = []
        self._new_pin = ""
        own = getattr(self.ch, "extension", None)
        kind, _, box = self.arg.partition("/")
        if kind == "login" and box:
            self._have_box(box)
        elif kind == "own" and own:
            self._have_box(own)
        else:
            self.collect("enter_mailbox", self._have_box, "mailbox")

    @property
    def own_phone(self) -> bool:
        return isinstance(self.ch, FxsChannel) and self.ch.extension == self.box

    def _have_box(self, box: str) -> None:
        box = box[:6]
        if not self.svc.has_mailbox(box):
            self.pin_tries += 1       # probing mailbox numbers costs tries too
            if self.pin_tries >= SESSION_PIN_TRIES:
                self.goodbye()
            else:
                self.say(self.svc.prompts["invalid"])
                self.collect("enter_mailbox", self._have_box, "mailbox")
            return
        self.box = box
        if not self.svc.boxes[box].get("pin_hash"):
            if self.own_phone:
                self._choose_pin()          # first use from the mailbox's own phone: set a PIN
            else:
                self.say(self.svc.prompts["no_mailbox"], then=self.goodbye)
            return
        self._ask_pin()

    def _ask_pin(self) -> None:
        if self.svc.locked(self.box):
            self.say(self.svc.prompts["locked"], then=self.goodbye)
            return
        self.collect("enter_pin", self._check_pin, "pin")

    def _check_pin(self, pin: str) -> None:
        if self.svc.locked(self.box):
            self.say(self.svc.prompts["locked"], then=self.goodbye)
            return
        if not pin:
            # Nothing keyed (timeout or a lone #): not a guess, so no lock-out count; the call's tries still.
            self.pin_tries += 1
            if self.pin_tries >= SESSION_PIN_TRIES:
                self.goodbye()
            else:
                self._ask_pin()
            return
        self.mode = "checking"
        stored = self.svc.boxes.get(self.box, {}).get("pin_hash")
        self.svc.writer.submit(lambda: check_pin(pin, stored), self._pin_checked)

    def _pin_checked(self, ok: bool) -> None:
        if self.finished or self.mode != "checking":
            return
        self.svc.pin_result(self.box, bool(ok))
        if ok:
            self.main_menu(intro=True)
            return
        self.pin_tries += 1
        if self.pin_tries >= SESSION_PIN_TRIES or self.svc.locked(self.box):
            self.say(self.svc.prompts["pin_refused"], then=self.goodbye)
            return
        self.say(self.svc.prompts["pin_refused"], then=self._ask_pin)

    # ---- main menu
    def main_menu(self, intro: bool = False) -> None:
        p = self.svc.prompts
        new, saved = self.svc.counts.get(self.box, (0, 0))
        self.menu(p["main_menu"], {"1": self.listen, "3": self.greetings_menu, "4": self._choose_pin,
                                   "*": self.goodbye, "#": self.goodbye}, "main",
                  intro=np.concatenate([p.count(new), p.saved_count(saved)]) if intro else None)

    # ---- listening
    def listen(self) -> None:
        self.mode = "loading"
        store, box = self.svc.store, self.box
        self.svc.writer.submit(lambda: store.messages(box, "new") + store.messages(box, "saved"),
                               self._listed)

    def _listed(self, messages: list[Message] | None) -> None:
        if self.finished or self.mode != "loading":
            return
        self.messages = messages or []
        self.index = 0
        self._play_current()

    def _play_current(self) -> None:
        if self.index >= len(self.messages):
            self.say(self.svc.prompts["no_more_messages"], then=self.main_menu)
            self.mode = "end-of-messages"
            return
        msg = self.messages[self.index]
        self.mode = "loading-message"
        store = self.svc.store
        self.svc.writer.submit(lambda: store.load_audio(msg), self._loaded)

    def _loaded(self, samples: np.ndarray | None) -> None:
        if self.finished or self.mode != "loading-message":
            return
        if samples is None:
            samples = np.zeros(RATE // 10, dtype=np.int16)     # vanished meanwhile (deleted on the web)
        self.message_menu(samples)

    def message_menu(self, samples: np.ndarray | None) -> None:
        p = self.svc.prompts
        self._message_audio = samples
        # As the spoken menu says (1 repeat, 2 next, 7 delete, 9 save); 5/6 as on many voicemail systems.
        choices = {"1": self._repeat, "5": self._repeat, "2": self._next, "6": self._next, "#": self._next,
                   "7": self._delete, "9": self._save, "8": self._call_back, "*": self.main_menu}
        self.menu(p["message_menu"], choices, "message", intro=samples)
        msg = self.messages[self.index]
        if msg.folder == "new":
            # Heard (at least the start of) it: no longer new. The web may still mark it otherwise.
            self._move(msg, "save")

    def _move(self, msg: Message, how: str) -> None:
        store, box, svc = self.svc.store, self.box, self.svc
        job = (lambda: store.save(box, msg.id)) if how == "save" else (lambda: store.delete(box, msg.id))
        msg.folder = "saved" if how == "save" else "deleted"
        svc.writer.submit(job, lambda _r: svc.refresh(box))

    def _repeat(self) -> None:
        self.message_menu(self._message_audio)

    def _next(self) -> None:
        self.index += 1
        self._play_current()

    def _delete(self) -> None:
        self._move(self.messages[self.index], "delete")
        self.say(self.svc.prompts["deleted"], then=self._next)
        self.mode = "deleted"

    def _save(self) -> None:
        msg = self.messages[self.index]
        if msg.folder == "new":
            self._move(msg, "save")
        self.say(self.svc.prompts["saved"], then=self._next)
        self.mode = "saved"

    def _call_back(self) -> None:
        """Dial the caller the normal way from this office phone (the outbound gate decides).
        From an outside line (remote access) there is no call back: no line-to-line path."""
        msg = self.messages[self.index]
        number = "".join(c for c in msg.caller_number if c.isdigit())[:20]
        ch, eng = self.ch, self.engine
        if not isinstance(ch, FxsChannel) or not number:
            self.say(self.svc.prompts["invalid"], then=lambda: self.message_menu(self._message_audio))
            return
        digits = number if number in eng.plan.extensions else eng.plan.access_code + number
        route = eng.plan.resolve(digits, final=True)
        if route.kind not in ("extension", "outside"):
            self.say(self.svc.prompts["invalid"], then=lambda: self.message_menu(self._message_audio))
            return
        self.end_session()
        eng.place_call(ch, route, digits)

    # ---- greetings
    def greetings_menu(self) -> None:
        self.menu(self.svc.prompts["greetings_menu"],
                  {"1": lambda: self._record_greeting("unavailable"), "2": lambda: self._record_greeting("busy"),
                   "3": lambda: self._erase_greetings(), "*": self.main_menu, "#": self.main_menu}, "greetings")

    def _record_greeting(self, kind: str) -> None:
        self._greeting_kind = kind
        self._greeting_frames = []
        self.mode = "greeting-beep"
        self.say(self.svc.prompts.beep, then=self._greeting_start)

    def _greeting_start(self) -> None:
        self.mode = "greeting-recording"
        self.ch.taps.append(self._greeting_tap)
        self.after(MAX_GREETING_S * 1000, self._greeting_stop)

    def _greeting_tap(self, rx: np.ndarray | None, tx: np.ndarray | None) -> None:
        self._greeting_frames.append(rx.copy() if rx is not None else np.zeros(FRAME, dtype=np.int16))

    def _greeting_stop(self, keep: bool = True) -> None:
        if self.mode != "greeting-recording":
            return
        if self._greeting_tap in self.ch.taps:
            self.ch.taps.remove(self._greeting_tap)
        frames = self._greeting_frames[:-30]          # drop the key press that ended it
        self._greeting_frames = []
        if keep and len(frames) * FRAME >= RATE:
            samples = np.concatenate(frames)
            store, box, kind = self.svc.store, self.box, self._greeting_kind
            self.svc.writer.submit(lambda: store.set_greeting(box, kind, samples))
            self.say(self.svc.prompts["saved"], then=self.greetings_menu)
        else:
            self.say(self.svc.prompts["invalid"], then=self.greetings_menu)
        self.mode = "greeting-done"

    def _erase_greetings(self) -> None:
        store, box = self.svc.store, self.box
        self.svc.writer.submit(lambda: [store.delete_greeting(box, k) for k in ("busy", "unavailable")])
        self.say(self.svc.prompts["deleted"], then=self.greetings_menu)
        self.mode = "greeting-done"

    def digit(self, digit: str) -> None:
        if self.mode == "greeting-recording":
            if digit == "#":
                self._greeting_stop(keep=True)
            elif digit == "*":
                self._greeting_stop(keep=False)
            elif digit == "0":
                self._greeting_stop(keep=False)
                self.to_operator()
        elif self.mode in ("goodbye",):
            return
        elif digit == "*" and self.mode in ("loading", "loading-message", "deleted", "saved", "end-of-messages",
                                            "greeting-beep", "greeting-done", "checking"):
            self.ch.silence()
            self.main_menu() if self.mode != "checking" else self.goodbye()
        elif digit == "0" and self.mode not in ("checking",):
            self.ch.silence()
            self.to_operator()

    # ---- PIN change
    def _choose_pin(self) -> None:
        self.collect("new_pin", self._pin_once, "new-pin")

    def _pin_once(self, pin: str) -> None:
        problem = pin_problem(pin, self.box)
        if problem:
            self.say(self.svc.prompts["pin_refused"], then=self._choose_pin)
            self.mode = "pin-refused"
            return
        self._new_pin = pin
        self.collect("repeat_pin", self._pin_twice, "repeat-pin")

    def _pin_twice(self, pin: str) -> None:
        if pin != self._new_pin:
            self.say(self.svc.prompts["pin_refused"], then=self._choose_pin)
            self.mode = "pin-refused"
            return
        self.mode = "saving-pin"
        config, box, new = self.engine.config, self.box, self._new_pin
        self._new_pin = ""

        def save() -> bool:
            try:
                save_mailbox(config, box, pin=new)
            except ConfigError as exc:
                log.warning("mailbox %s: PIN not changed: %s", box, exc)
                return False
            return True
        self.svc.writer.submit(save, self._pin_saved)

    def _pin_saved(self, ok: bool) -> None:
        if self.finished:
            return
        self.svc.reload()
        if ok:
            self.svc.unlock(self.box)
            self.say(self.svc.prompts["saved"], then=self.main_menu)
        else:
            self.say(self.svc.prompts["pin_refused"], then=self._choose_pin)
        self.mode = "pin-saved"


# --------------------------------------------------------------------------- wiring

def _leave_message(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> Any:
    return LeaveMessage(engine, ch, arg, call)


def _own_mailbox(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> Any:
    return MailboxOwner(engine, ch, "own", call)


def _any_mailbox(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> Any:
    return MailboxOwner(engine, ch, "", call)


def _destination_problem(config: Any, value: str) -> str | None:
    box = value.partition("/")[0]
    if not EXTENSION_RE.fullmatch(box) or config.extension(box) is None:
        return f"mailbox {box[:10]!r} is not an existing extension"
    return None


register_destination_kind("voicemail", _destination_problem)


def register(engine: Engine) -> VoicemailService | None:
    """Start voicemail on `engine` (its files live next to the configuration)."""
    root = voicemail_root(engine.config)
    if root is None or not hasattr(engine.config, "table"):
        log.info("voicemail off: the configuration has no data directory")
        return None
    svc = VoicemailService(engine, root)
    _SERVICES[engine] = svc
    engine.register_app("voicemail", _leave_message)
    engine.register_app("voicemail-main", _own_mailbox, code=OWN_MAILBOX_CODE)
    engine.register_app("voicemail-login", _any_mailbox, code=ANY_MAILBOX_CODE)
    return svc


def refresh_mailbox(engine: Engine, extension: str) -> None:
    """After the web UI changed a mailbox (run on the media thread via `control.call`)."""
    svc = service_of(engine)
    if svc is not None:
        svc.reload()
        svc.refresh(extension)
