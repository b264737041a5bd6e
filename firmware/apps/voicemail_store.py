"""Voicemail on disk and in the configuration: mailboxes, PINs, messages, greetings.

Files (under `<data dir>/voicemail/`, one directory per extension number):

    201/new/<id>.wav  <id>.json     messages not yet listened to
    201/saved/<id>.wav <id>.json    kept messages
    201/greeting-busy.wav           greetings recorded by phone or uploaded
    201/greeting-unavailable.wav

The directories *are* the index (no database to get out of step): moving a
message from new/ to saved/ is one rename. A message's WAV is a `GrowingFile`
written while the caller speaks, so a crash leaves a playable file; its JSON
(caller ID, time) is written atomically before the first sample. Message ids
are made from the time and a counter: caller ID (untrusted) never reaches a
file name. Greetings are replaced atomically (`AtomicFileWriter`).

Configuration: `config.table("voicemail")` holds one document per mailbox that
differs from the defaults ({"extension", "enabled", "pin_hash", "email"}), and
`config.table("voicemail_settings")` one document (operator extension, maximum
message length, SMTP server). Every function here may do disk I/O: the engine
calls them on its voicemail writer thread, the web UI in its thread pool.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsp_ext.levels import RATE

from ..atomic import AtomicFileWriter, atomic_write, fsync_dir
from ..config import ConfigError

EXTENSION_RE = re.compile(r"[0-9]{2,6}")
MESSAGE_ID_RE = re.compile(r"[0-9]{13}-[0-9]{1,6}")
FOLDERS = ("new", "saved")
GREETINGS = ("busy", "unavailable")
PIN_MIN, PIN_MAX = 4, 8
CALLER_TEXT_MAX = 64
WAV_HEADER_BYTES = 44
PIN_ITERATIONS = 50_000

DEFAULT_SETTINGS: dict[str, Any] = {
    "operator": "", "max_message_s": 180,
    "smtp_host": "", "smtp_port": 587, "smtp_security": "starttls", "smtp_user": "",
    "smtp_password": "", "smtp_from": "",
}
SMTP_SECURITY = ("starttls", "ssl", "none")
_EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")


# --------------------------------------------------------------------------- PINs

def pin_problem(pin: str, extension: str) -> str | None:
    """Why `pin` is refused for mailbox `extension`, or None. Short, guessable PINs are what
    a DTMF brute force tries first."""
    if not isinstance(pin, str) or not pin.isdigit() or not pin.isascii():
        return "A PIN is digits only."
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        return f"A PIN has {PIN_MIN} to {PIN_MAX} digits."
    if len(set(pin)) == 1:
        return "A PIN must not repeat one digit (like 1111)."
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {9}):
        return "A PIN must not be a run of digits (like 1234 or 4321)."
    if extension and extension in pin:
        return "A PIN must not be (or contain) the extension number."
    if len(pin) % 2 == 0 and pin[: len(pin) // 2] == pin[len(pin) // 2:]:
        return "A PIN must not be one half repeated (like 1212)."
    return None


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)
    return f"pbkdf2-sha256${PIN_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str | None) -> bool:
    if not stored or not pin:
        return False
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2-sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


# --------------------------------------------------------------------------- configuration

def check_extension(extension: Any) -> str:
    if not isinstance(extension, str) or not EXTENSION_RE.fullmatch(extension):
        raise ConfigError(f"Mailbox {str(extension)[:10]!r} is not an extension number (2 to 6 digits).")
    return extension


def mailbox_config(config: Any, extension: str) -> dict:
    """The mailbox's settings with defaults: every extension has one, off until the owner enables it
    (off, calls to a busy or unanswered extension behave as without voicemail)."""
    from tinydb import Query
    docs = config.table("voicemail").search(Query().extension == extension)
    doc = dict(docs[0]) if docs else {}
    return {"extension": extension, "enabled": False, "pin_hash": None, "email": "", **doc}


def all_mailbox_configs(config: Any) -> dict[str, dict]:
    stored = {d.get("extension"): dict(d) for d in config.table("voicemail").all()}
    out = {}
    for ext in config.extensions():
        n = ext["number"]
        out[n] = {"extension": n, "enabled": False, "pin_hash": None, "email": "", **stored.get(n, {})}
    return out


def save_mailbox(config: Any, extension: str, *, enabled: bool | None = None, pin: str | None = None,
                 email: str | None = None) -> dict:
    """Change a mailbox; validates everything before writing anything."""
    from tinydb import Query
    check_extension(extension)
    if config.extension(extension) is None:
        raise ConfigError(f"Extension {extension} does not exist.")
    changes: dict[str, Any] = {}
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise ConfigError("Mailbox enabled must be true or false.")
        changes["enabled"] = enabled
    if pin is not None:
        problem = pin_problem(pin, extension)
        if problem:
            raise ConfigError(f"Mailbox {extension}: {problem} Choose another PIN.")
        changes["pin_hash"] = hash_pin(pin)
    if email is not None:
        changes["email"] = check_email(email, f"Mailbox {extension}: the e-mail address", optional=True)
    doc = {**mailbox_config(config, extension), **changes}
    config.table("voicemail").upsert(doc, Query().extension == extension)
    return doc


def check_email(value: Any, what: str, *, optional: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be text.")
    value = value.strip()
    if not value and optional:
        return ""
    if len(value) > 254 or not _EMAIL_RE.fullmatch(value):
        raise ConfigError(f"{what} {value[:60]!r} is not an e-mail address like name@example.com.")
    return value


def settings(config: Any) -> dict:
    doc = config.table("voicemail_settings").get(doc_id=1)
    return {**DEFAULT_SETTINGS, **(dict(doc) if doc else {})}


def save_settings(config: Any, changes: dict) -> dict:
    """Voicemail/SMTP settings from the web form; the password is kept when left empty."""
    from tinydb.table import Document
    unknown = sorted(set(changes) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ConfigError(f"Unknown voicemail setting {unknown[0][:30]!r}.")
    clean = dict(settings(config))
    if "operator" in changes:
        op = str(changes["operator"] or "").strip()
        if op and (not EXTENSION_RE.fullmatch(op) or config.extension(op) is None):
            raise ConfigError(f"Operator {op[:10]!r} must be an existing extension (callers who press 0 go "
                              "there), or empty to say goodbye instead.")
        clean["operator"] = op
    if "max_message_s" in changes:
        try:
            n = int(changes["max_message_s"])
        except (TypeError, ValueError):
            raise ConfigError("Maximum message length must be a whole number of seconds.") from None
        if not 10 <= n <= 900:
            raise ConfigError("Maximum message length must be from 10 to 900 seconds.")
        clean["max_message_s"] = n
    if "smtp_host" in changes:
        host = str(changes["smtp_host"] or "").strip()
        if host and (len(host) > 253 or not _HOST_RE.fullmatch(host)):
            raise ConfigError(f"SMTP server {host[:60]!r} is not a host name or IP address.")
        clean["smtp_host"] = host
    if "smtp_port" in changes:
        try:
            port = int(changes["smtp_port"])
        except (TypeError, ValueError):
            raise ConfigError("SMTP port must be a number (587 for STARTTLS, 465 for SSL, 25).") from None
        if not 1 <= port <= 65535:
            raise ConfigError("SMTP port must be from 1 to 65535.")
        clean["smtp_port"] = port
    if "smtp_security" in changes:
        sec = str(changes["smtp_security"] or "")
        if sec not in SMTP_SECURITY:
            raise ConfigError(f"SMTP security must be one of: {', '.join(SMTP_SECURITY)}.")
        clean["smtp_security"] = sec
    if "smtp_user" in changes:
        user = str(changes["smtp_user"] or "").strip()
        if len(user) > 254 or not user.isprintable():
            raise ConfigError("SMTP user name: up to 254 printable characters.")
        clean["smtp_user"] = user
    if changes.get("smtp_password"):
        pw = str(changes["smtp_password"])
        if len(pw) > 256 or "\n" in pw or "\r" in pw:
            raise ConfigError("SMTP password: up to 256 characters, no line breaks.")
        clean["smtp_password"] = pw
    if "smtp_from" in changes:
        clean["smtp_from"] = check_email(changes["smtp_from"], "The sender (From) address", optional=True)
    if clean["smtp_host"] and not clean["smtp_from"]:
        raise ConfigError("Give a sender (From) address for voicemail e-mails, such as pbx@example.com.")
    config.table("voicemail_settings").upsert(Document(clean, doc_id=1))
    return clean


# --------------------------------------------------------------------------- caller text

def clean_caller_text(value: Any) -> str:
    """Caller ID is untrusted: printable characters only (no line breaks, no controls), bounded."""
    text = "".join(c for c in str(value or "") if c.isprintable())
    return text[:CALLER_TEXT_MAX]


# --------------------------------------------------------------------------- messages

def wav_header(data_len: int) -> bytes:
    """44-byte PCM header, 8 kHz mono 16-bit, for `data_len` bytes of samples."""
    return (b"RIFF" + (36 + data_len).to_bytes(4, "little") + b"WAVEfmt "
            + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
            + RATE.to_bytes(4, "little") + (RATE * 2).to_bytes(4, "little") + (2).to_bytes(2, "little")
            + (16).to_bytes(2, "little") + b"data" + data_len.to_bytes(4, "little"))


@dataclass
class Message:
    id: str
    folder: str
    mailbox: str
    caller_number: str
    caller_name: str
    received: float
    seconds: float
    wav: Path

    def as_dict(self) -> dict:
        return {"id": self.id, "folder": self.folder, "mailbox": self.mailbox,
                "caller_number": self.caller_number, "caller_name": self.caller_name,
                "received": self.received, "seconds": round(self.seconds, 1)}


class VoicemailStore:
    """The voicemail directory tree. Thread-safe in the sense that every change is one
    rename/unlink/atomic write; the engine's writer thread and the web can both use it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._seq = 0

    def box(self, extension: str) -> Path:
        return self.root / check_extension(extension)

    def _folder(self, extension: str, folder: str) -> Path:
        if folder not in FOLDERS:
            raise ValueError(f"folder {folder!r}")
        path = self.box(extension) / folder
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- recording a message
    def new_message_id(self, now: float) -> str:
        self._seq = (self._seq + 1) % 1_000_000
        return f"{int(now * 1000):013d}-{self._seq}"

    def begin_message(self, extension: str, message_id: str, caller_number: str, caller_name: str,
                      received: float) -> Path:
        """Writes the message's metadata; returns the WAV path to record into."""
        folder = self._folder(extension, "new")
        meta = {"id": message_id, "caller_number": clean_caller_text(caller_number),
                "caller_name": clean_caller_text(caller_name), "received": received}
        atomic_write(folder / f"{message_id}.json", json.dumps(meta).encode())
        return folder / f"{message_id}.wav"

    def discard(self, extension: str, message_id: str) -> None:
        for folder in FOLDERS:
            for suffix in (".wav", ".json"):
                with contextlib.suppress(FileNotFoundError):
                    (self.box(extension) / folder / f"{message_id}{suffix}").unlink()

    def drop_unfinished(self, min_seconds: float) -> list[str]:
        """Start-up, before anything records: remove messages a crash or power cut left with less
        than `min_seconds` of durable audio (a 0-second "new message" helps nobody), and
        metadata whose WAV never appeared. Returns "box/id" of what was removed."""
        dropped: list[str] = []
        if not self.root.is_dir():
            return dropped
        for box in sorted(p for p in self.root.iterdir() if p.is_dir() and EXTENSION_RE.fullmatch(p.name)):
            for folder in FOLDERS:
                path = box / folder
                if not path.is_dir():
                    continue
                ids = {p.stem for p in path.iterdir() if p.suffix in (".wav", ".json")
                       and MESSAGE_ID_RE.fullmatch(p.stem)}
                for mid in sorted(ids):
                    wav = path / f"{mid}.wav"
                    try:
                        short = not wav.exists() or _wav_seconds(wav) < min_seconds
                    except OSError:
                        short = True
                    if short:
                        self.discard(box.name, mid)
                        dropped.append(f"{box.name}/{mid}")
        return dropped

    # ---- listing
    def messages(self, extension: str, folder: str) -> list[Message]:
        path = self.box(extension) / folder
        if folder not in FOLDERS or not path.is_dir():
            return []
        out = []
        for wav in path.glob("*.wav"):
            mid = wav.stem
            if not MESSAGE_ID_RE.fullmatch(mid):
                continue
            try:
                meta = json.loads((path / f"{mid}.json").read_text())
            except (OSError, ValueError):
                meta = {}
            try:
                seconds = _wav_seconds(wav)
            except OSError:
                continue
            if seconds <= 0:           # being recorded, or cut off before any audio: not a message
                continue
            out.append(Message(mid, folder, extension, clean_caller_text(meta.get("caller_number")),
                               clean_caller_text(meta.get("caller_name")),
                               float(meta.get("received") or int(mid[:13]) / 1000), seconds, wav))
        out.sort(key=lambda m: (m.received, m.id))
        return out

    def counts(self, extension: str) -> tuple[int, int]:
        """(new, saved), counting only messages with audio (as `messages` lists them)."""
        return tuple(sum(1 for w in (self.box(extension) / f).glob("*.wav")
                         if MESSAGE_ID_RE.fullmatch(w.stem) and _has_audio(w))
                     if (self.box(extension) / f).is_dir() else 0 for f in FOLDERS)  # type: ignore[return-value]

    def find(self, extension: str, message_id: str) -> Message | None:
        if not MESSAGE_ID_RE.fullmatch(message_id or ""):
            return None
        for folder in FOLDERS:
            for m in self.messages(extension, folder):
                if m.id == message_id:
                    return m
        return None

    def load_audio(self, message: Message) -> np.ndarray:
        return read_pcm(message.wav)

    # ---- changes
    def save(self, extension: str, message_id: str) -> bool:
        """new -> saved (listened to / marked read)."""
        src = self.box(extension) / "new"
        if not (src / f"{message_id}.wav").exists():
            return False
        dst = self._folder(extension, "saved")
        with contextlib.suppress(FileNotFoundError):
            os.replace(src / f"{message_id}.json", dst / f"{message_id}.json")
        os.replace(src / f"{message_id}.wav", dst / f"{message_id}.wav")
        fsync_dir(src)
        fsync_dir(dst)
        return True

    def delete(self, extension: str, message_id: str) -> bool:
        if not MESSAGE_ID_RE.fullmatch(message_id or ""):
            return False
        found = False
        for folder in FOLDERS:
            for suffix in (".wav", ".json"):
                p = self.box(extension) / folder / f"{message_id}{suffix}"
                try:
                    p.unlink()
                    found = found or suffix == ".wav"
                except FileNotFoundError:
                    pass
            if (self.box(extension) / folder).is_dir():
                fsync_dir(self.box(extension) / folder)
        return found

    # ---- greetings
    def greeting_path(self, extension: str, kind: str) -> Path:
        if kind not in GREETINGS:
            raise ValueError(f"greeting {kind!r}")
        return self.box(extension) / f"greeting-{kind}.wav"

    def greeting(self, extension: str, kind: str) -> np.ndarray | None:
        path = self.greeting_path(extension, kind)
        try:
            return read_pcm(path)
        except (OSError, wave.Error, EOFError):
            return None

    def set_greeting(self, extension: str, kind: str, samples: np.ndarray) -> None:
        path = self.greeting_path(extension, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = np.asarray(samples, dtype="<i2").tobytes()
        with AtomicFileWriter(path) as out:
            out.write(wav_header(len(data)) + data)

    def delete_greeting(self, extension: str, kind: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.greeting_path(extension, kind).unlink()


def _has_audio(path: Path) -> bool:
    try:
        return _wav_seconds(path) > 0
    except OSError:
        return False


def _wav_seconds(path: Path) -> float:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(WAV_HEADER_BYTES)
    declared = int.from_bytes(head[40:44], "little") if len(head) == WAV_HEADER_BYTES else 0
    data = min(declared, max(0, size - WAV_HEADER_BYTES))
    return data / (2 * RATE)


def read_pcm(path: Path) -> np.ndarray:
    """Samples of one of our own 8 kHz WAVs, as far as the header says they are durable."""
    with open(path, "rb") as f:
        head = f.read(WAV_HEADER_BYTES)
        if len(head) < WAV_HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise wave.Error(f"{path.name}: not a WAV file")
        declared = int.from_bytes(head[40:44], "little")
        raw = f.read(declared)
    return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.int16)
