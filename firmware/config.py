"""The owner's configuration: TinyDB on an atomic, single-writer JSON storage.

What is stored (one JSON file, `config.json` in the data directory, UTF-8,
indented so an installer can read it):

* `settings`        one document: country, access code, site name, timezone,
                    engine timings (`*_ms`)
* `extensions`      {"number": "201", "name": "Reception", "port": "fxs1" | None, "enabled": True}
* `lines`           {"name": "Line 1", "port": "fxo1", "number": "5550001", "enabled": True}
* `inbound_routes`  {"line": "fxo1", "destination": "201" | "201,202" | "group:all"}
* any `table(name)` later features ask for (ivr, voicemail, queues, ...).

Crash safety (DESIGN principle 7): every committed change is one atomic
replace of the whole file (`firmware.atomic`), and before it the previous
good file is kept as `config.json.bak` (a hard link, so it costs no copy).
At start-up an unreadable file falls back to the backup, and if both are
unreadable Linebox starts from defaults; unreadable files are renamed
`*.corrupt-<UTC time>` and never deleted. Each public method of `Config` is
one transaction: it validates first, then commits exactly one write (so
`version` grows by one per change and listeners run once).

Thread safety: one lock serialises every read and write (TinyDB itself is not
thread-safe); listeners run after the lock is released, in the writer's thread.
One process owns a config file at a time (the service); a file lock only keeps
two writers from interleaving their renames.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from dsp_ext.countries import PROFILES

from .atomic import atomic_write, fsync_dir, temp_leftovers

log = logging.getLogger("linebox.config")

FILE_FORMAT = 1
META_KEY = "_meta"          # bookkeeping in the file, never seen by TinyDB


class ConfigError(ValueError):
    """A change was refused; the message says what was wrong and what to do (shown on web pages)."""


class ConfigSaveError(ConfigError):
    """The change was valid but could not be written (disk full, read-only card, ...)."""


class _Unreadable(Exception):
    pass


class ConfigConflictError(ConfigSaveError):
    """config.json was replaced by someone else since we loaded it; saving would undo their change."""


# --------------------------------------------------------------------------- storage

def _utc_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


TableCheck = Callable[[dict], "str | None"]   # tables -> what is wrong with them, or None


def _parse(raw: bytes, check: TableCheck | None = None) -> tuple[dict, int]:
    """File bytes -> (tables, version); raises _Unreadable with a reason a human can act on."""
    if not raw.strip():
        raise _Unreadable("the file is empty")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _Unreadable(f"not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise _Unreadable(f"not valid JSON (line {e.lineno} column {e.colno}: {e.msg}; truncated?)") from None
    if not isinstance(doc, dict):
        raise _Unreadable("the top level is not a JSON object")
    meta = doc.pop(META_KEY, {})
    version = meta.get("version", 0) if isinstance(meta, dict) else 0
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Unreadable("_meta.version is not an integer")
    for name, table in doc.items():
        if not isinstance(table, dict) or not all(isinstance(d, dict) for d in table.values()):
            raise _Unreadable(f"table {name!r} is not a JSON object of documents")
        if not all(k.isdigit() for k in table):
            raise _Unreadable(f"table {name!r} has a document id that is not a number")
    problem = check(doc) if check else None
    if problem:
        raise _Unreadable(problem)
    return doc, version


class AtomicJSONStorage(Storage):
    """TinyDB storage: in-memory copy, each commit is one atomic file replace.

    `batch()` groups several TinyDB writes into one commit (or none, when the
    block raises). `read()` returns a fresh copy so that TinyDB mutating it
    cannot touch the committed state.
    """

    def __init__(self, path: Path | str, check: TableCheck | None = None) -> None:
        self.path = Path(path)
        self._check = check                # content rules on top of "is a TinyDB file"
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock = threading.RLock()
        self.version = 0
        self.recovery: str | None = None   # what start-up had to do, for the status page
        self._committed = "{}"             # compact JSON of the tables, the state readers see
        self._pending: str | None = None   # uncommitted writes inside a batch
        self._depth = 0
        self._main_is_good = False         # config.json holds our last committed state
        self._identity: tuple[int, int, int] | None = None   # stat of config.json as we left it
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._load()

    # ---- start-up
    def _read_file(self, path: Path) -> tuple[dict, int]:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise _Unreadable("the file does not exist") from None
        except OSError as e:
            raise _Unreadable(f"cannot read it ({e.strerror})") from None
        return _parse(raw, self._check)

    def _keep_aside(self, path: Path) -> Path | None:
        """Rename an unreadable file out of the way (never delete: someone may rescue it)."""
        try:
            if path.stat().st_size == 0:
                path.unlink()          # nothing in it to rescue
                return None
        except FileNotFoundError:
            return None
        stamp = _utc_stamp()
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        os.replace(path, aside)
        fsync_dir(path.parent)
        return aside

    def _file_identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> None:
        for tmp in temp_leftovers(self.path):
            # An interrupted write: the rename never happened, so it holds no committed state.
            log.info("removing %s, left by a write interrupted before it was committed", tmp.name)
            with contextlib.suppress(OSError):
                tmp.unlink()
        try:
            tables, self.version = self._read_file(self.path)
            self._committed = json.dumps(tables)
            self._main_is_good = True
            self._identity = self._file_identity()
            return
        except _Unreadable as e:
            main_problem = str(e)
        main_missing = not self.path.exists()
        try:
            tables, version = self._read_file(self.backup_path)
        except _Unreadable as e:
            if main_missing and not self.backup_path.exists():
                log.info("no configuration at %s yet; starting from defaults", self.path)
                return
            try:
                kept = [str(p) for p in (self._keep_aside(self.path), self._keep_aside(self.backup_path)) if p]
            except OSError as err:
                kept = []
                log.error("could not keep the unreadable configuration aside: %s", err)
            self._identity = self._file_identity()
            self.recovery = (f"configuration {self.path} is unreadable ({main_problem}) and so is the last "
                             f"good copy {self.backup_path.name} ({e}); starting from defaults"
                             + (f"; the unreadable files are kept as {', '.join(kept)}" if kept else ""))
            log.error("%s", self.recovery)
            return
        self.version = version
        self._committed = json.dumps(tables)
        try:
            aside = self._keep_aside(self.path)
            # Put the good copy back in place now, so a second failure cannot leave us with nothing.
            atomic_write(self.path, self.backup_path.read_bytes())
        except OSError as e:   # read-only card: run on the good copy, saving will say what is wrong
            aside = None
            log.error("could not restore %s from %s: %s", self.path, self.backup_path.name, e)
        else:
            self._main_is_good = True
        self._identity = self._file_identity()
        self.recovery = (f"configuration {self.path} is unreadable ({main_problem}); falling back to the last "
                         f"good copy {self.backup_path.name} (version {version})"
                         + (f"; the unreadable file is kept as {aside}" if aside else ""))
        log.warning("%s", self.recovery)

    # ---- TinyDB Storage interface
    def read(self) -> dict[str, dict[str, Any]] | None:
        with self.lock:
            return json.loads(self._pending if self._pending is not None else self._committed)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data)   # also rejects what JSON cannot hold, before anything is touched
        with self.lock:
            if self._depth:
                self._pending = text
            else:
                self._commit(data)

    def close(self) -> None:
        pass

    # ---- transactions
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self.lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if not self._depth:
                    self._pending = None
                raise
            self._depth -= 1
            if not self._depth and self._pending is not None:
                pending, self._pending = self._pending, None
                self._commit(json.loads(pending))

    def _commit(self, tables: dict) -> None:
        version = self.version + 1
        meta = {"format": FILE_FORMAT, "version": version, "written_at": _utc_stamp()}
        body = json.dumps({META_KEY: meta, **tables}, ensure_ascii=False, indent=2) + "\n"
        with open(self._lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)   # released by the kernel if we are killed
            if self._file_identity() != self._identity:
                log.error("%s was replaced by another program since it was loaded; not saving over it",
                          self.path)
                raise ConfigConflictError(
                    f"The configuration file was changed by another program since Linebox loaded it, so this "
                    f"change was not saved (it would undo theirs). Restart Linebox to load {self.path.name}, "
                    "then make the change again.")
            if self._main_is_good:
                self._refresh_backup()
            atomic_write(self.path, body.encode("utf-8"))
            self._identity = self._file_identity()
        self.version = version
        self._committed = json.dumps(tables)
        self._main_is_good = True

    def _refresh_backup(self) -> None:
        """config.json (known good) becomes config.json.bak, atomically, before it is replaced."""
        # Named like atomic_write's temp files, so a crash between link and rename leaves a known leftover.
        link = self.backup_path.with_name(f".{self.backup_path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        try:
            os.link(self.path, link)
            os.replace(link, self.backup_path)   # made durable by atomic_write's directory fsync that follows
        except FileNotFoundError:
            pass
        except OSError as e:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            if e.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                raise
            atomic_write(self.backup_path, self.path.read_bytes())   # no hard links here (vfat): copy


class ReadOnlyJSONStorage(Storage):
    """A reader's view of config.json (the web process): re-read whenever the engine replaced
    the file (it does so atomically, so a read sees one whole version); never written."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        self.version = 0
        self.recovery: str | None = None
        self._tables: dict = {}
        self._identity: tuple[int, int, int] | None = None

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity == self._identity:
            return
        try:
            self._tables, self.version = _parse(self.path.read_bytes(), _check_shapes)
            self._identity = identity
        except (_Unreadable, OSError) as e:       # the engine restores it; keep the last good view
            log.warning("configuration %s cannot be read (%s); showing the last good view", self.path, e)

    def read(self) -> dict[str, dict[str, Any]] | None:
        with self.lock:
            self._refresh()
            return json.loads(json.dumps(self._tables))

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        raise ConfigSaveError("This process only reads the configuration; changes go through the engine API "
                              "(the telephony process is its one writer). Nothing was changed.")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self.lock:
            yield


# --------------------------------------------------------------------------- validation

DEFAULT_SETTINGS: dict[str, Any] = {"country": "US", "access_code": "9", "site_name": "Linebox",
                                    "timezone": "UTC", "trusted_proxies": []}

# Engine timings (see firmware.engine.EngineSettings): name -> (low, high, what it is), in ms.
TIMING_LIMITS: dict[str, tuple[int, int, str]] = {
    "first_digit_ms": (2000, 120000, "Time to dial the first digit"),
    "interdigit_ms": (1000, 30000, "Time between digits of an extension"),
    "outside_digit_ms": (1000, 30000, "Time after the last digit of an outside number"),
    "invalid_ms": (0, 30000, "Pause before congestion for an unknown number"),
    "ring_timeout_ms": (5000, 600000, "Ringing time before no answer"),
    "line_seize_ms": (0, 10000, "Wait for the exchange after seizing a line"),
    "line_answer_ms": (0, 60000, "Outside call answer delay"),
    "cid_wait_ms": (0, 20000, "Wait for inbound caller ID"),
}

_EXT_NUMBER = re.compile(r"[0-9]{2,6}")
_FXS_PORT = re.compile(r"fxs[1-9][0-9]{0,2}")
_FXO_PORT = re.compile(r"fxo[1-9][0-9]{0,2}")
_PHONE_PUNCT = re.compile(r"[ \-().]")
_PHONE_NUMBER = re.compile(r"\+?[0-9]{1,20}")
NAME_MAX = 40
SITE_NAME_MAX = 60


def _text(value: Any, what: str, max_len: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be text.")
    value = value.strip()
    if required and not value:
        raise ConfigError(f"{what} is empty. Enter up to {max_len} characters.")
    if len(value) > max_len:
        raise ConfigError(f"{what} is {len(value)} characters long. Shorten it to {max_len} at most.")
    if not value.isprintable():
        raise ConfigError(f"{what} contains control characters (such as tabs or line breaks). "
                          "Use letters, digits, spaces and punctuation only.")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false.")
    return value


def _digits_field(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{what} must be a number written with digits.")
    return str(value).strip()


def _port(value: Any, kind: str, what: str, *, optional: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ConfigError(f"{what} has no port. Choose the {kind.upper()} port it is plugged into, "
                          f"such as {kind}1.")
    if not isinstance(value, str):
        raise ConfigError(f"{what}: the port must be a name such as {kind}1.")
    port = value.strip().lower()
    if not (_FXS_PORT if kind == "fxs" else _FXO_PORT).fullmatch(port):
        raise ConfigError(f"{what}: {value.strip()[:20]!r} is not an {kind.upper()} port. "
                          f"Use {kind}1, {kind}2, ...")
    return port


def _reject_unknown(data: dict, known: set[str], what: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown field{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))}. Known fields: {', '.join(sorted(known))}.")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _proxy_list(value: Any) -> list[str]:
    """Reverse proxies whose X-Forwarded-For the web UI believes: addresses or networks."""
    import ipaddress
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) > 20:
        raise ConfigError("Trusted proxies: a list of up to 20 IP addresses or networks (e.g. 192.168.1.2).")
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            raise ConfigError(f"Trusted proxies: {str(item)[:40]!r} is not an IP address or network "
                              "(e.g. 192.168.1.2 or 10.0.0.0/8).") from None
    return out


def _validate_setting(key: str, value: Any) -> Any:
    if key == "country":
        if not isinstance(value, str) or value.strip().upper() not in PROFILES:
            raise ConfigError(f"Unknown country {str(value)[:20]!r}. Choose one of: {', '.join(sorted(PROFILES))}.")
        return value.strip().upper()
    if key == "access_code":
        code = _digits_field(value, "The access code")
        if not re.fullmatch(r"[0-9]", code):
            raise ConfigError(f"The access code {code[:10]!r} must be a single digit 0-9 "
                              "(the digit dialled before an outside number, usually 9).")
        return code
    if key == "site_name":
        return _text(value, "The site name", SITE_NAME_MAX, required=True)
    if key == "timezone":
        if not isinstance(value, str) or value.strip() not in _timezones():
            raise ConfigError(f"Unknown timezone {str(value)[:40]!r}. Use a name such as Europe/London, "
                              "America/New_York or UTC.")
        return value.strip()
    if key == "trusted_proxies":
        return _proxy_list(value)
    if key in TIMING_LIMITS:
        low, high, what = TIMING_LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{what} ({key}) must be a whole number of milliseconds from {low} to {high}.")
        return value
    raise ConfigError(f"Unknown setting {key[:40]!r}. Known settings: "
                      f"{', '.join(sorted([*DEFAULT_SETTINGS, *TIMING_LIMITS]))}.")


# Inbound destinations other than extension numbers: "kind:value" -> check(config, value) -> error or None.
# Later features (ivr, queue, voicemail) register their kind here.
DestinationCheck = Callable[["Config", str], "str | None"]
DESTINATION_KINDS: dict[str, DestinationCheck] = {
    "group": lambda cfg, v: None if v == "all" or v == "" else _extension_list_problem(cfg, v),
}


def register_destination_kind(kind: str, check: DestinationCheck | None = None) -> None:
    """Let inbound routes go to "kind:value" (an app: "ivr:main", "voicemail:201", ...).

    `check(config, value)` returns what is wrong with `value` (shown to the owner) or None;
    without one, any short printable value is accepted.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,19}", kind):
        raise ValueError(f"destination kind {kind!r}: use lower-case letters, digits, - and _")

    def printable(cfg: Config, value: str) -> str | None:
        if not value or len(value) > NAME_MAX or not value.isprintable():
            return f"after '{kind}:' give a name of 1 to {NAME_MAX} printable characters"
        return None
    DESTINATION_KINDS[kind] = check or printable


def _extension_list_problem(cfg: Config, value: str) -> str | None:
    numbers = [p.strip() for p in value.split(",")]
    if "" in numbers:
        # "201,,202" or a trailing comma: said as such, not as "extension  does not exist"
        return "the list has an empty entry; separate extension numbers with single commas, such as 201,202"
    missing = [n for n in numbers if cfg.extension(n) is None]
    if missing:
        return f"extension {', '.join(m[:10] for m in missing)} does not exist"
    return None


# --------------------------------------------------------------------------- Config

# The fields every reader relies on, by type: a hand-edited file that breaks them is unreadable
# (it falls back to the last good copy) rather than crashing the engine or the web pages later.
_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "extensions": {"number": (str,), "name": (str,), "port": (str, type(None)), "enabled": (bool,)},
    "lines": {"port": (str,), "name": (str,), "number": (str,), "enabled": (bool,)},
    "inbound_routes": {"line": (str,), "destination": (str,)},
}


def check_tables(tables: Any) -> str | None:
    """What is wrong with `tables` as the content of config.json (without `_meta`), or None."""
    try:
        _parse(json.dumps(tables).encode("utf-8"), _check_shapes)
    except _Unreadable as e:
        return str(e)
    except (TypeError, ValueError) as e:
        return f"not JSON data ({e})"
    return None


def _check_shapes(tables: dict) -> str | None:
    for table, fields in _SHAPES.items():
        for doc_id, doc in tables.get(table, {}).items():
            for name, types in fields.items():
                if not isinstance(doc.get(name), types):
                    return (f"{table} entry {doc_id} has no valid {name!r} "
                            f"(found {json.dumps(doc.get(name), ensure_ascii=False)[:40]})")
    return None


def _numeric_key(text: str) -> tuple[int, int, str]:
    return (0, int(text), text) if text.isdigit() else (1, 0, text)


EXTENSION_FIELDS = {"number", "name", "port", "enabled"}
LINE_FIELDS = {"name", "port", "number", "enabled"}
_BUILTIN_TABLES = {"settings", "extensions", "lines", "inbound_routes"}


class Config:
    """The configuration API the engine and the web UI code against."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._storage = AtomicJSONStorage(self.path, _check_shapes)
        self._lock = self._storage.lock
        self._db = TinyDB(storage=lambda: self._storage)
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def read_only(cls, path: Path | str) -> Config:
        """A view of `path` that follows the engine's changes and refuses to write (the web process)."""
        cfg = cls.__new__(cls)
        cfg.path = Path(path)
        cfg._storage = ReadOnlyJSONStorage(cfg.path)      # type: ignore[assignment]
        cfg._lock = cfg._storage.lock
        cfg._db = TinyDB(storage=lambda: cfg._storage)
        cfg._listeners = []
        return cfg

    # ---- plumbing
    @property
    def version(self) -> int:
        return self._storage.version

    @property
    def recovery(self) -> str | None:
        """Set when start-up had to fall back to the backup or to defaults (show it to the owner)."""
        return self._storage.recovery

    def add_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def _tbl(self, name: str) -> Table:
        return self._db.table(name, cache_size=0)   # no query cache: a rolled-back batch must not linger

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Everything inside is one commit (or nothing if it raises); listeners run afterwards."""
        with self._lock:
            before = self._storage.version
            try:
                with self._storage.batch():
                    yield
            except OSError as e:
                raise ConfigSaveError(f"The configuration could not be saved ({e.strerror or e}); nothing "
                                      "was changed. Check the storage card (full or read-only?).") from e
            changed = self._storage.version != before
            listeners = list(self._listeners)
        if changed:
            for fn in listeners:
                try:
                    fn()
                except Exception:
                    log.exception("config listener %r failed", fn)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Group several changes into one commit: all of them or, if the block raises, none.

            with config.transaction():
                config.save_line(line)
                config.set_inbound_route(line["port"], destination)
        """
        return self._transaction()

    def close(self) -> None:
        self._db.close()

    def replace_all(self, tables: dict[str, dict[str, dict]]) -> None:
        """Replace every table with `tables` (a restored backup) in one atomic commit.
        Refused (ConfigError, nothing changed) unless it passes the checks a file load does."""
        problem = check_tables(tables)
        if problem:
            raise ConfigError(f"The restored configuration is not valid ({problem}).")
        with self._transaction():
            self._storage.write(json.loads(json.dumps(tables)))

    # ---- settings
    def settings(self) -> dict:
        with self._lock:
            stored = self._tbl("settings").get(doc_id=1) or {}
            return {**DEFAULT_SETTINGS, **stored}

    def update_settings(self, **changes: Any) -> dict:
        clean = {k: _validate_setting(k, v) for k, v in changes.items()}
        with self._transaction():
            merged = {**self.settings(), **clean}
            code = merged["access_code"]
            clash = [e["number"] for e in self.extensions() if e["number"].startswith(code)]
            if "access_code" in clean and clash:
                raise ConfigError(f"Access code {code} clashes with extension{'s' if len(clash) > 1 else ''} "
                                  f"{', '.join(clash[:5])}{' ...' if len(clash) > 5 else ''}: extension numbers "
                                  f"must not start with the access code. Renumber them or pick another digit.")
            self._tbl("settings").upsert(Document({k: v for k, v in merged.items()}, doc_id=1))
            return merged

    # ---- extensions
    def extensions(self) -> list[dict]:
        with self._lock:
            docs = [dict(d) for d in self._tbl("extensions").all()]
        return sorted(docs, key=lambda e: _numeric_key(e["number"]))

    def extension(self, number: str) -> dict | None:
        with self._lock:
            doc = self._tbl("extensions").get(Query().number == str(number).strip())
            return dict(doc) if doc is not None else None

    def save_extension(self, ext: dict, *, original_number: str | None = None) -> dict:
        """Create (original_number None) or edit/renumber the extension `original_number`.

        Fields missing from `ext` keep their current value (or a default when
        creating): name "", port None, enabled True. Creating a number that
        exists is refused, so a form cannot overwrite another extension.
        """
        if not isinstance(ext, dict):
            raise ConfigError("An extension must be given as a set of fields.")
        _reject_unknown(ext, EXTENSION_FIELDS, "Extension")
        with self._transaction():
            table = self._tbl("extensions")
            current = None
            if original_number is not None:
                current = table.get(Query().number == str(original_number).strip())
                if current is None:
                    raise ConfigError(f"Extension {str(original_number)[:10]} does not exist (it may have been "
                                      "deleted meanwhile). Reload the page.")
            merged = {"name": "", "port": None, "enabled": True, **(dict(current) if current else {}), **ext}
            if "number" not in merged:
                raise ConfigError("The extension has no number. Enter 2 to 6 digits, such as 201.")
            number = _digits_field(merged["number"], "The extension number")
            if not _EXT_NUMBER.fullmatch(number):
                raise ConfigError(f"Extension number {number[:20]!r} must be 2 to 6 digits (0-9), such as 201.")
            label = f"Extension {number}"
            clean = {"number": number,
                     "name": _text(merged["name"], f"{label}: the name", NAME_MAX),
                     "port": _port(merged["port"], "fxs", label, optional=True),
                     "enabled": _flag(merged["enabled"], f"{label}: enabled")}
            other = table.get(Query().number == number)
            if other is not None and (current is None or other.doc_id != current.doc_id):
                raise ConfigError(f"Extension {number} already exists. Choose another number, or edit {number}.")
            code = self.settings()["access_code"]
            if number.startswith(code):
                raise ConfigError(f"Extension {number} starts with {code}, the access code for outside lines. "
                                  f"Choose a number that does not start with {code}, or change the access code.")
            if clean["port"] is not None:
                user = table.get(Query().port == clean["port"])
                if user is not None and (current is None or user.doc_id != current.doc_id):
                    raise ConfigError(f"Port {clean['port']} is already used by extension {user['number']}"
                                      f"{' (' + user['name'] + ')' if user['name'] else ''}. "
                                      "Free it there first, or choose another port.")
            if current is None:
                table.insert(clean)
            else:
                table.upsert(Document(clean, doc_id=current.doc_id))
                if current["number"] != number:
                    self._renumber_routes(current["number"], number)
            return dict(clean)

    def _renumber_routes(self, old: str, new: str) -> None:
        routes = self._tbl("inbound_routes")
        for r in routes.all():
            parts = r["destination"].removeprefix("group:").split(",")
            if old in parts:
                prefix = "group:" if r["destination"].startswith("group:") else ""
                dest = prefix + ",".join(new if p == old else p for p in parts)
                routes.update({"destination": dest}, doc_ids=[r.doc_id])

    def delete_extension(self, number: str) -> None:
        with self._transaction():
            doc = self._tbl("extensions").get(Query().number == str(number).strip())
            if doc is None:
                raise ConfigError(f"Extension {str(number)[:10]} does not exist (it may have been deleted "
                                  "meanwhile). Reload the page.")
            users = [r["line"] for r in self.inbound_routes()
                     if doc["number"] in r["destination"].removeprefix("group:").split(",")]
            if users:
                raise ConfigError(f"Extension {doc['number']} receives inbound calls from "
                                  f"{', '.join(self._line_label(p) for p in users)}. Send those calls "
                                  "elsewhere first, then delete the extension.")
            self._tbl("extensions").remove(doc_ids=[doc.doc_id])

    # ---- lines
    def lines(self) -> list[dict]:
        with self._lock:
            docs = [dict(d) for d in self._tbl("lines").all()]
        return sorted(docs, key=lambda ln: _numeric_key(ln["port"][3:]))

    def _line_label(self, port: str) -> str:
        line = self._tbl("lines").get(Query().port == port)
        return f"{line['name']} ({port})" if line and line["name"] else port

    def save_line(self, line: dict, *, original_port: str | None = None) -> dict:
        """Create (original_port None) or edit the line on `original_port` (possibly moving it)."""
        if not isinstance(line, dict):
            raise ConfigError("A line must be given as a set of fields.")
        _reject_unknown(line, LINE_FIELDS, "Line")
        with self._transaction():
            table = self._tbl("lines")
            current = None
            if original_port is not None:
                current = table.get(Query().port == str(original_port).strip().lower())
                if current is None:
                    raise ConfigError(f"There is no line on port {str(original_port)[:20]!r} (it may have been "
                                      "deleted meanwhile). Reload the page.")
            merged = {"number": "", "enabled": True, **(dict(current) if current else {}), **line}
            port = _port(merged.get("port"), "fxo", "The line", optional=False)
            assert port is not None
            label = f"Line on {port}"
            number = _digits_field(merged["number"], f"{label}: the phone number")
            number = _PHONE_PUNCT.sub("", number)
            if number and not _PHONE_NUMBER.fullmatch(number):
                raise ConfigError(f"{label}: the phone number {number[:30]!r} may only hold digits (up to 20), "
                                  "an optional leading +, spaces and dashes. Leave it empty if unknown.")
            name = _text(merged.get("name") or f"Line {port[3:]}", f"{label}: the name", NAME_MAX)
            clean = {"name": name, "port": port, "number": number,
                     "enabled": _flag(merged["enabled"], f"{label}: enabled")}
            other = table.get(Query().port == port)
            if other is not None and (current is None or other.doc_id != current.doc_id):
                raise ConfigError(f"Port {port} already has a line ({other['name']}). Edit that line, or "
                                  "choose another port.")
            if current is None:
                table.insert(clean)
            else:
                table.upsert(Document(clean, doc_id=current.doc_id))
                if current["port"] != port:
                    self._tbl("inbound_routes").update({"line": port}, Query().line == current["port"])
            return dict(clean)

    def delete_line(self, port: str) -> None:
        """Deletes the line and its inbound route."""
        with self._transaction():
            key = str(port).strip().lower()
            doc = self._tbl("lines").get(Query().port == key)
            if doc is None:
                raise ConfigError(f"There is no line on port {str(port)[:20]!r} (it may have been deleted "
                                  "meanwhile). Reload the page.")
            self._tbl("lines").remove(doc_ids=[doc.doc_id])
            self._tbl("inbound_routes").remove(Query().line == key)

    # ---- inbound routes
    def inbound_routes(self) -> list[dict]:
        with self._lock:
            docs = [dict(d) for d in self._tbl("inbound_routes").all()]
        return sorted(docs, key=lambda r: _numeric_key(r["line"][3:]))

    def set_inbound_route(self, line_port: str, destination: str) -> None:
        """destination: an extension ("201"), several ("201,202"), "group:all" or "kind:value" of a feature."""
        with self._transaction():
            port = _port(line_port, "fxo", "The inbound route", optional=False)
            if self._tbl("lines").get(Query().port == port) is None:
                raise ConfigError(f"There is no line on port {port}. Add the line first.")
            if not isinstance(destination, str) or not destination.strip():
                raise ConfigError(f"Inbound calls on {self._line_label(port)} need a destination: an "
                                  "extension number such as 201, or group:all.")
            dest = destination.strip()
            kind, sep, value = dest.partition(":")
            advice = "Choose an existing extension."
            if sep and kind != "group":
                advice = f"Choose an existing {kind}, or create it first."   # an app's own destination
            if sep:
                check = DESTINATION_KINDS.get(kind)
                if check is None:
                    raise ConfigError(f"Unknown destination {dest[:40]!r}. Use an extension number, several "
                                      f"separated by commas, or one of: "
                                      f"{', '.join(k + ':...' for k in sorted(DESTINATION_KINDS))}.")
                problem = check(self, value.strip())
            else:
                problem = _extension_list_problem(self, dest)
            if problem:
                raise ConfigError(f"Inbound calls on {self._line_label(port)} cannot go to {dest[:40]!r}: "
                                  f"{problem}. {advice}")
            self._tbl("inbound_routes").upsert({"line": port, "destination": dest}, Query().line == port)

    # ---- later features
    def table(self, name: str) -> LockedTable:
        """A TinyDB table for a later feature; every call on it is one locked transaction."""
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
            raise ValueError(f"table name {name!r}: use lower-case letters, digits and _")
        if name in _BUILTIN_TABLES:
            raise ValueError(f"table {name!r} is managed by Config's own methods (they validate)")
        return LockedTable(self, self._tbl(name))

    # ---- first run
    def seed_defaults(self, fxs_ports: list[str], fxo_ports: list[str]) -> None:
        """First run only (nothing configured yet): one extension per FXS port from 201, one line per FXO port."""
        with self._transaction():
            if any(len(self._tbl(t)) for t in _BUILTIN_TABLES):
                return
            self._tbl("settings").upsert(Document(dict(DEFAULT_SETTINGS), doc_id=1))
            for i, port in enumerate(fxs_ports):
                self.save_extension({"number": str(201 + i), "name": f"Extension {201 + i}", "port": port})
            for i, port in enumerate(fxo_ports):
                self.save_line({"name": f"Line {i + 1}", "port": port, "number": ""})
            first = self.extensions()[0]["number"] if fxs_ports else "group:all"
            for port in fxo_ports:
                self.set_inbound_route(port, first)
            log.info("first run: configured %d extensions and %d lines", len(fxs_ports), len(fxo_ports))


class LockedTable:
    """A TinyDB `Table` whose every method runs as one `Config` transaction."""

    def __init__(self, config: Config, table: Table) -> None:
        self._config = config
        self._table = table
        self.name = table.name

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._table, attr)
        if not callable(target):
            return target

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._config._transaction():
                result = target(*args, **kwargs)
                # Materialise lazy results while still holding the lock.
                return list(result) if isinstance(result, Iterator) else result
        return locked

    def __len__(self) -> int:
        with self._config._lock:
            return len(self._table)

    def __iter__(self) -> Iterator[Document]:
        with self._config._lock:
            return iter(list(self._table))
