"""The owner's fax settings (configuration table `fax_settings`, one document), checked before saving.

    ident               the station identifier sent in T.30 (TSI when sending, CSI when receiving):
                        up to 20 characters of digits, spaces and '+' (T.30 5.3.6.2.4); "" = none
    header              the header line printed at the top of every page sent (spandsp adds the
                        date, the station identifier and the page number); up to 50 printable ASCII
                        characters; "" = no header line
    retry_busy_min      minutes before the next attempt after busy, no answer or a dropped call
    retry_person_min    ... after a person (or something that is not a fax) answered
    retry_training_min  ... after the modems failed to train (that retry is slower, without ECM)
    max_attempts        attempts of a job before it fails (1 to 20)
    max_sending         faxes sent at once; 0 = automatic: one per line but one (at least one)
    keep_line_free      a fax never takes the last free line (it waits), so a call can always go out
    job_days            finished send jobs (sent, failed, cancelled) are deleted this many days after
                        they ended, with their documents; 0 = kept until deleted
    inbox_days          received faxes are deleted this many days after they arrived; 0 (default) =
                        kept until someone deletes them

`FaxSettings` is the checked, in-memory form (the media thread reads it; the fax service reloads it
when the configuration changes). Nothing here does I/O beyond the configuration's own.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FaxSettings", "fax_settings", "save_fax_settings", "sending_limit", "TABLE", "IDENT_RE"]

TABLE = "fax_settings"
IDENT_RE = re.compile(r"[0-9+ ]{0,20}")
HEADER_RE = re.compile(r"[\x20-\x7e]{0,50}")
MAX_ATTEMPTS_LIMIT = 20
MAX_SENDING_LIMIT = 16


@dataclass(frozen=True)
class FaxSettings:
    ident: str = ""
    header: str = ""
    retry_busy_min: int = 5
    retry_person_min: int = 10
    retry_training_min: int = 15
    max_attempts: int = 5
    max_sending: int = 0
    keep_line_free: bool = False
    job_days: int = 90
    inbox_days: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def retry_seconds(self) -> dict[str, int]:
        """Seconds before the next attempt, by how the last one ended (outbox.next_step)."""
        busy = self.retry_busy_min * 60
        return {"busy": busy, "no_answer": busy, "call_dropped": busy, "protocol": busy,
                "not_a_fax": self.retry_person_min * 60, "training_failed": self.retry_training_min * 60,
                "interrupted": 60, "no_line": 60}


def sending_limit(settings: FaxSettings, lines: int) -> int:
    """How many faxes may be sent at once on a box with `lines` lines: the owner's number, never more
    than the lines; automatic (0): every line but one, at least one."""
    if lines <= 0:
        return 0
    if settings.max_sending > 0:
        return min(settings.max_sending, lines)
    return max(1, lines - 1)


def _from_doc(doc: dict) -> FaxSettings:
    """The stored document as settings; a field that is missing or of the wrong type keeps its default."""
    base = FaxSettings()
    values: dict[str, Any] = {}
    for name, default in asdict(base).items():
        v = doc.get(name, default)
        if isinstance(default, bool):
            values[name] = v if isinstance(v, bool) else default
        elif isinstance(default, int):
            values[name] = v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else default
        else:
            values[name] = v if isinstance(v, str) else default
    if not IDENT_RE.fullmatch(values["ident"]):
        values["ident"] = ""
    if not HEADER_RE.fullmatch(values["header"]):
        values["header"] = ""
    values["max_attempts"] = max(1, values["max_attempts"])
    return FaxSettings(**values)


def fax_settings(config: Any) -> FaxSettings:
    """The current settings (defaults where none are saved); any thread (the configuration is in memory)."""
    table = getattr(config, "table", None)
    if table is None:
        return FaxSettings()
    docs = list(table(TABLE).all())
    return _from_doc(docs[0]) if docs and isinstance(docs[0], dict) else FaxSettings()


def _whole(raw: Any, what: str, low: int, high: int) -> int:
    from ..config import ConfigError
    if isinstance(raw, bool):
        raise ConfigError(f"{what}: give a whole number from {low} to {high}.")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{what}: {str(raw)[:20]!r} is not a whole number; give one from {low} to {high}.") from None
    if not low <= value <= high:
        raise ConfigError(f"{what}: {value} is out of range; give a number from {low} to {high}.")
    return value


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in ("1", "true", "on", "yes")


def check_settings(raw: dict, current: FaxSettings | None = None) -> FaxSettings:
    """Checked settings from a form or an API call (fields not given keep `current`'s value).
    ConfigError says what was wrong and what to do."""
    from ..config import ConfigError
    if not isinstance(raw, dict):
        raise ConfigError("Give the fax settings as named fields.")
    cur = asdict(current or FaxSettings())
    unknown = sorted(set(raw) - set(cur))
    if unknown:
        raise ConfigError(f"Unknown fax setting {unknown[0][:30]!r}; the settings are: {', '.join(cur)}.")
    merged = {**cur, **raw}
    ident = merged["ident"]
    if not isinstance(ident, str):
        raise ConfigError("Station identifier: give text (digits, spaces and '+').")
    ident = ident.strip()
    if not IDENT_RE.fullmatch(ident):
        raise ConfigError(f"Station identifier {ident[:24]!r}: a fax station id has at most 20 characters, "
                          "digits, spaces and '+' only (e.g. +1 555 0100), as T.30 allows.")
    header = merged["header"]
    if not isinstance(header, str):
        raise ConfigError("Header line: give text.")
    header = header.strip()
    if not HEADER_RE.fullmatch(header):
        raise ConfigError("Header line: at most 50 characters of plain text (letters, digits, spaces and "
                          "punctuation without accents), e.g. your company's name.")
    return FaxSettings(
        ident=ident, header=header,
        retry_busy_min=_whole(merged["retry_busy_min"], "Retry after busy or no answer (minutes)", 1, 1440),
        retry_person_min=_whole(merged["retry_person_min"], "Retry after a person answered (minutes)", 1, 1440),
        retry_training_min=_whole(merged["retry_training_min"], "Retry after a training failure (minutes)", 1,
                                  1440),
        max_attempts=_whole(merged["max_attempts"], "Attempts per fax", 1, MAX_ATTEMPTS_LIMIT),
        max_sending=_whole(merged["max_sending"], "Faxes sent at once (0 = automatic)", 0, MAX_SENDING_LIMIT),
        keep_line_free=_flag(merged["keep_line_free"]),
        job_days=_whole(merged["job_days"], "Keep finished send jobs (days, 0 = until deleted)", 0, 3650),
        inbox_days=_whole(merged["inbox_days"], "Keep received faxes (days, 0 = until deleted)", 0, 3650),
    )


def save_fax_settings(config: Any, raw: dict) -> FaxSettings:
    """Check and store the fax settings (fields not given are kept). ConfigError if anything is
    wrong; then nothing is saved."""
    from ..config import ConfigError
    new = check_settings(raw, fax_settings(config))
    lines = len(list(config.lines()))
    if new.max_sending > lines:
        raise ConfigError(f"Faxes sent at once: {new.max_sending} is more than the {lines} line(s) this Linebox "
                          f"has; give 1 to {max(lines, 1)}, or 0 for automatic.")
    table = config.table(TABLE)
    table.truncate()
    table.insert(new.as_json())
    return new
