"""The fax service of one engine: its store, its fax thread, the `fax` app."""
from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsp_ext.fax import FaxReport, FaxTerminal

from ..sqlite_files import shared_store
from .session import FaxLink, FaxWorker
from .settings import FaxSettings, fax_settings
from .store import FaxStore

__all__ = ["FaxService", "register", "service_of"]

log = logging.getLogger("linebox.fax")

_SERVICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FaxService:
    def __init__(self, engine: Any, root: Path, ident: str = "") -> None:
        self.engine = engine
        # one store per file and process, closed with the engine (sqlite_files.close_under)
        self.store = shared_store(Path(root) / "faxes.db", lambda _path: FaxStore(root))
        self.fixed_ident = ident                    # a caller's own (tests); else the owner's setting
        self.ident = ident
        self.settings = FaxSettings()               # the owner's (settings.py), in memory for the media thread
        # Box for faxes detected (CNG) on calls a menu or greeting has, on lines without their own
        # (line_boxes: the `fax_detect` table, detect.py); None: such calls stay voice.
        self.detect_box: str | None = None
        self.line_boxes: dict[str, str] = {}
        self.box_mail: dict[str, list[str]] = {}     # boxes' own recipients (boxes.py)
        self.v21_cutoffs: dict[str, float] = {}      # installer's V.21 cut-off per line (line_tuning.py)
        self.reload()
        self.worker = FaxWorker(engine.control.call)
        from ..apps.voicemail_store import settings
        from ..mailer import Mailer
        self.mailer = Mailer(lambda: settings(engine.config))      # the voicemail / SMTP settings
        # A simulated board in simulated time: the tick waits for the fax thread (see session.py).
        self.lockstep = not getattr(engine.board, "realtime", True)

    def reload(self) -> None:
        """The lines' fax boxes, kept in memory for the media thread (called when the config changes)."""
        from .boxes import all_box_addresses
        from .detect import detect_boxes
        from .line_tuning import line_v21_cutoffs
        try:
            self.line_boxes = detect_boxes(self.engine.config)
            self.box_mail = all_box_addresses(self.engine.config)
            self.v21_cutoffs = line_v21_cutoffs(self.engine.config)
        except (AttributeError, TypeError, ValueError) as exc:
            log.error("fax detection settings unreadable: %s", exc)
        try:
            self.settings = fax_settings(self.engine.config)
        except (AttributeError, TypeError, ValueError) as exc:
            log.error("fax settings unreadable, using the defaults: %s", exc)
            self.settings = FaxSettings()
        self.ident = self.fixed_ident or self.settings.ident

    def box_recipients(self, box: str) -> list[str]:
        """Where box `box`'s faxes are mailed: its own list (boxes.py), else its mailbox's address."""
        own = self.box_mail.get(box)
        if own:
            return list(own)
        email = self.box_email(box)
        return [email] if email else []

    def box_email(self, box: str) -> str:
        """The fax box's e-mail address: its extension's mailbox address (cached by voicemail, in memory)."""
        from ..apps.voicemail import service_of as voicemail_of
        vm = voicemail_of(self.engine)
        return str((vm.boxes.get(box) or {}).get("email") or "") if vm is not None else ""

    def open_link(self, ch: Any, make_terminal: Callable[[], FaxTerminal], on_done: Callable[[FaxReport], Any],
                  on_finished: Callable[[Any], None]) -> FaxLink:
        return FaxLink(self.worker, ch, make_terminal, on_done, on_finished, lockstep=self.lockstep)


def _box_problem(cfg: Any, value: str) -> str | None:
    """A fax box is an extension's: its user's fax inbox."""
    if not value.isdigit() or len(value) > 10 or cfg.extension(value) is None:
        return f"fax box {value[:10]!r}: give the number of an existing extension (its user gets the faxes)"
    return None


def _register_destination() -> None:
    from ..config import register_destination_kind
    register_destination_kind("fax", _box_problem)


_register_destination()


def fax_root(config: Any) -> Path | None:
    path = getattr(config, "path", None)
    return Path(path).parent / "fax" if path is not None else None


def register(engine: Any) -> FaxService | None:
    from .receive import FaxReceive
    root = fax_root(engine.config)
    if root is None:
        log.info("fax off: the configuration has no data directory")
        return None
    from .detect import on_inbound_ringing
    svc = FaxService(engine, root)
    _SERVICES[engine] = svc
    engine.register_app("fax", FaxReceive)
    from .outbox_queue import FaxOutbox
    svc.outbox = FaxOutbox(engine, svc, root)       # sending: the outbox queue and its sender
    engine.media_listeners.append(svc.reload)
    engine.inbound_ringing_listeners.append(lambda call: on_inbound_ringing(engine, call))
    from .detect import on_call_event, on_line_tone
    # a calling fax, whoever has the call (detect.py)
    engine.call_listeners.append(lambda call, event: on_call_event(engine, call, event))
    engine.line_tone_listeners.append(lambda ch, tone, kind, at: on_line_tone(engine, ch, tone, kind, at))
    return svc


def service_of(engine: Any) -> FaxService | None:
    return _SERVICES.get(engine)
