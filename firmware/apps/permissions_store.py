"""Outbound permissions as stored in the configuration: read with defaults, change with validation.

Everything lives in one document of the config table `permissions`, so each
change is one atomic config write that the engine picks up on its next reload:

    default_class     class of an extension with no entry of its own ("national")
    classes           {class: {"allow": [pattern...], "deny": [pattern...]}} the owner changed;
                      a class not in here uses the country's defaults
    extensions        {"201": {"class": "local", "calls_per_hour": 10, "max_minutes": 30}}
                      (a limit left out uses the general one)
    calls_per_hour    outside calls an extension may start in any rolling hour (0 = no limit)
    max_minutes       longest outside call (0 = no limit); a warning tone `warning_s` before
    pin_attempts, lockout_minutes    authorisation-code brute-force lock-out
    auth_codes        [{"label", "class", "salt", "hash"}]; codes are never stored in clear
    disa              {"enabled": false, "class": "national"}  (the most a DISA caller may reach)
    trunk_to_trunk    {"transfer": false, "forward": false, "ivr": false, "voicemail": false}:
                      may an outside caller be connected to an outside line that way

Every function that changes something raises `ConfigError` with a sentence for the owner.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import re
import secrets
from typing import Any

from ..config import ConfigError
from .permissions_patterns import CATEGORIES, PatternError, country_numbers, normalise_pattern

log = logging.getLogger("linebox.permissions")

TABLE = "permissions"
CLASSES = ("internal", "local", "national", "international", "premium")
CLASS_LABELS = {"internal": "Internal only", "local": "Local", "national": "National",
                "international": "International", "premium": "Premium (everything)"}
TRUNK_VIAS = ("transfer", "forward", "ivr", "voicemail")
PATTERNS_MAX = 40
AUTH_CODES_MAX = 50
LABEL_MAX = 40

DEFAULTS: dict[str, Any] = {
    "default_class": "national",
    "classes": {},
    "extensions": {},
    "calls_per_hour": 20,
    "max_minutes": 120,
    "warning_s": 30,
    "pin_attempts": 3,
    "lockout_minutes": 15,
    "auth_codes": [],
    "disa": {"enabled": False, "class": "national"},
    "trunk_to_trunk": {v: False for v in TRUNK_VIAS},
}
LIMITS = {                       # name -> (low, high, what)
    "calls_per_hour": (0, 1000, "Outside calls per hour"),
    "max_minutes": (0, 1440, "Longest outside call (minutes)"),
    "warning_s": (5, 300, "Warning before the end of a call (seconds)"),
    "pin_attempts": (1, 20, "Wrong authorisation codes before lock-out"),
    "lockout_minutes": (1, 1440, "Lock-out time (minutes)"),
}


def default_class_patterns(country: str) -> dict[str, dict[str, list[str]]]:
    """Each class allows its own kind of number and every cheaper kind; all but premium deny premium."""
    plan = country_numbers(country)
    out: dict[str, dict[str, list[str]]] = {}
    for rank, cls in enumerate(CLASSES):
        allow = [p for cat in CATEGORIES[:rank] for p in plan.patterns(cat)]
        deny = [] if cls == "premium" else list(plan.premium)
        out[cls] = {"allow": allow, "deny": deny}
    return out


def load(config: Any) -> dict[str, Any]:
    """The stored permissions with every missing part filled from the defaults (a fresh copy)."""
    doc: dict[str, Any] = {}
    try:
        stored = config.table(TABLE).get(doc_id=1)
    except (AttributeError, ValueError):
        stored = None
    if isinstance(stored, dict):
        doc = dict(stored)
    out = copy.deepcopy(DEFAULTS)
    for key, value in doc.items():
        # a hand-edited value of the wrong type is ignored (the default stands), never trusted
        if key in out and type(value) is type(out[key]):
            if key in ("disa", "trunk_to_trunk"):
                out[key].update({k: v for k, v in value.items()
                                 if k in out[key] and type(v) is type(out[key][k])})
            else:
                out[key] = copy.deepcopy(value)
    if out["default_class"] not in CLASSES:
        out["default_class"] = DEFAULTS["default_class"]
    return out


def effective_classes(perms: dict[str, Any], country: str) -> dict[str, dict[str, list[str]]]:
    classes = default_class_patterns(country)
    for cls, custom in perms.get("classes", {}).items():
        if cls in classes and isinstance(custom, dict):
            classes[cls] = {k: _valid_patterns(custom.get(k), f"class {cls} {k}") for k in ("allow", "deny")}
    return classes


def _valid_patterns(value: Any, what: str) -> list[str]:
    """Stored patterns, minus any a hand edit broke (logged): the engine must never trip on one."""
    out = []
    for p in value if isinstance(value, list) else []:
        try:
            out.append(normalise_pattern(p) if isinstance(p, str) else normalise_pattern(""))
        except PatternError as exc:
            log.error("permissions: %s: ignoring stored pattern %r: %s", what, str(p)[:30], exc)
    return out


def _write(config: Any, perms: dict[str, Any]) -> None:
    table = config.table(TABLE)
    from tinydb.table import Document
    table.upsert(Document(perms, doc_id=1))


# ---------------------------------------------------------------- validation helpers

def _int(value: Any, key: str) -> int:
    low, high, what = LIMITS[key]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{what} must be a whole number from {low} to {high}.")
    return value


def _class(value: Any, what: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in CLASSES:
        raise ConfigError(f"{what}: {str(value)[:20]!r} is not a class of service. Choose one of: "
                          f"{', '.join(CLASSES)}.")
    return value.strip().lower()


def parse_patterns(text: str, what: str) -> list[str]:
    """Patterns typed one per line (or separated by spaces/commas outside brackets)."""
    if not isinstance(text, str):
        raise ConfigError(f"{what} must be text.")
    items = [t for t in re.split(r"[\s;]+|,(?![^\[]*\])", text) if t]
    if len(items) > PATTERNS_MAX:
        raise ConfigError(f"{what}: {len(items)} patterns; at most {PATTERNS_MAX}.")
    out: list[str] = []
    for item in items:
        try:
            p = normalise_pattern(item)
        except PatternError as exc:
            raise ConfigError(f"{what}: {exc}") from None
        if p not in out:
            out.append(p)
    return out


# ---------------------------------------------------------------- changes

def update_general(config: Any, **changes: Any) -> dict[str, Any]:
    """default_class, calls_per_hour, max_minutes, warning_s, pin_attempts, lockout_minutes, trunk_to_trunk."""
    with config.transaction():
        perms = load(config)
        for key, value in changes.items():
            if key == "default_class":
                perms[key] = _class(value, "The default class")
            elif key in LIMITS:
                perms[key] = _int(value, key)
            elif key == "trunk_to_trunk":
                if not isinstance(value, dict) or set(value) - set(TRUNK_VIAS):
                    raise ConfigError(f"Outside-to-outside permissions are given for: {', '.join(TRUNK_VIAS)}.")
                perms[key].update({k: bool(v) for k, v in value.items()})
            else:
                raise ConfigError(f"Unknown permission setting {str(key)[:30]!r}.")
        if perms["max_minutes"] and perms["warning_s"] >= perms["max_minutes"] * 60:
            raise ConfigError("The warning must come before the end of the call: make it shorter than "
                              "the longest outside call.")
        _write(config, perms)
        return perms


def set_class_patterns(config: Any, cls: str, allow_text: str, deny_text: str) -> dict[str, Any]:
    cls = _class(cls, "The class")
    allow = parse_patterns(allow_text, f"Class {cls}: allowed numbers")
    deny = parse_patterns(deny_text, f"Class {cls}: denied numbers")
    if cls == "internal" and allow:
        raise ConfigError("Class internal reaches no outside number (emergency numbers only); leave its "
                          "allowed list empty, or give the extension the local class.")
    with config.transaction():
        perms = load(config)
        perms["classes"][cls] = {"allow": allow, "deny": deny}
        _write(config, perms)
        return perms


def reset_class_patterns(config: Any, cls: str) -> dict[str, Any]:
    cls = _class(cls, "The class")
    with config.transaction():
        perms = load(config)
        perms["classes"].pop(cls, None)
        _write(config, perms)
        return perms


def set_extension_policy(config: Any, number: str, cls: str, calls_per_hour: Any = None,
                         max_minutes: Any = None) -> dict[str, Any]:
    """Class and limits of one extension; a limit of None (empty field) uses the general one."""
    number = str(number).strip()
    if config.extension(number) is None:
        raise ConfigError(f"Extension {number[:10]} does not exist (it may have been deleted). Reload the page.")
    entry: dict[str, Any] = {"class": _class(cls, f"Extension {number}")}
    for key, value in (("calls_per_hour", calls_per_hour), ("max_minutes", max_minutes)):
        if value is not None and value != "":
            entry[key] = _int(value, key)
    with config.transaction():
        perms = load(config)
        perms["extensions"][number] = entry
        _write(config, perms)
        return perms


def _weak_code_problem(code: str) -> str | None:
    if not re.fullmatch(r"[0-9]{4,12}", code):
        return "must be 4 to 12 digits"
    if len(set(code)) == 1:
        return "is one digit repeated"
    steps = {int(b) - int(a) for a, b in zip(code, code[1:], strict=False)}
    if steps in ({1}, {-1}):
        return "is a run of consecutive digits"
    return None


def code_hash(salt: str, code: str) -> str:
    # A keyed hash, not a slow KDF: it is checked on the media thread, and a 4-12 digit code
    # is defended by the DTMF lock-out, not by hash cost.
    return hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256).hexdigest()


def add_auth_code(config: Any, label: str, code: str, cls: str) -> dict[str, Any]:
    if not isinstance(label, str) or not label.strip():
        raise ConfigError("The authorisation code needs a label (who it belongs to).")
    label = label.strip()
    if len(label) > LABEL_MAX or not label.isprintable():
        raise ConfigError(f"The label must be at most {LABEL_MAX} printable characters.")
    code = (code or "").strip() if isinstance(code, str) else ""
    problem = _weak_code_problem(code)
    if problem:
        raise ConfigError(f"The authorisation code {problem}. Choose 4 to 12 digits that are hard to guess.")
    cls = _class(cls, "The authorisation code")
    with config.transaction():
        perms = load(config)
        if len(perms["auth_codes"]) >= AUTH_CODES_MAX:
            raise ConfigError(f"There are already {AUTH_CODES_MAX} authorisation codes; delete one first.")
        if any(c.get("label") == label for c in perms["auth_codes"]):
            raise ConfigError(f"An authorisation code labelled {label!r} exists; delete it first or choose "
                              "another label.")
        if any(hmac.compare_digest(code_hash(c["salt"], code), c["hash"]) for c in perms["auth_codes"]):
            raise ConfigError("That code is already in use. Choose another one.")
        if config.extension(code) is not None:
            raise ConfigError("The code is an extension number; choose one that is not.")
        salt = secrets.token_hex(16)
        perms["auth_codes"].append({"label": label, "class": cls, "salt": salt, "hash": code_hash(salt, code)})
        _write(config, perms)
        return perms


def delete_auth_code(config: Any, label: str) -> dict[str, Any]:
    with config.transaction():
        perms = load(config)
        kept = [c for c in perms["auth_codes"] if c.get("label") != label]
        if len(kept) == len(perms["auth_codes"]):
            raise ConfigError(f"No authorisation code labelled {str(label)[:40]!r} (deleted meanwhile?). "
                              "Reload the page.")
        perms["auth_codes"] = kept
        _write(config, perms)
        return perms


def set_disa(config: Any, enabled: bool, cls: str) -> dict[str, Any]:
    cls = _class(cls, "DISA")
    with config.transaction():
        perms = load(config)
        if enabled and not perms["auth_codes"]:
            raise ConfigError("DISA needs at least one authorisation code (callers must enter one). "
                              "Add a code first.")
        perms["disa"] = {"enabled": bool(enabled), "class": cls}
        _write(config, perms)
        return perms


def disa_destination_problem(config: Any, value: str) -> str | None:
    """Inbound route check for "disa:..." (registered in config.DESTINATION_KINDS)."""
    if not load(config)["disa"]["enabled"]:
        return "DISA is disabled; enable it on the Permissions page first"
    return None
