"""IVR menus and their destinations in the configuration (table `ivr`), validated.

A menu document:
    {"id": "main", "name": "Main menu", "language": "en", "greeting": "ivr/welcome",
     "timeout_s": 5, "retries": 3, "direct_dial": True,
     "fallback": "extension:201", "options": {"1": "ivr:sales", "2": "extension:202", ...}}

A destination is "kind:value". Kinds are an extension point: `register_ivr_destination`
(queues, fax, ring groups... register theirs; the IVR hands the caller to the engine app of
that name). No kind turns a caller's digits into an outside number: "outside:<number>" is only
what the owner typed here, and the call still goes through the outbound-permissions gate.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, register_destination_kind

MENU_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
OPTION_KEYS = "0123456789*#"
NAME_MAX = 40
MAX_OPTIONS = len(OPTION_KEYS)
MAX_MENUS = 100
TIMEOUT_RANGE = (2, 30)
RETRY_RANGE = (1, 5)
OUTSIDE_RE = re.compile(r"[0-9]{2,20}")
EXT_RE = re.compile(r"[0-9]{1,10}")


@dataclass
class DestinationKind:
    kind: str
    label: str
    # value problem (for the owner) or None; choices for the builder's drop-down: [(value, label)]
    check: Callable[[Any, str], str | None]
    choices: Callable[[Any], list[tuple[str, str]]] = field(default=lambda cfg: [])
    needs_value: bool = True


DESTINATIONS: dict[str, DestinationKind] = {}


def register_ivr_destination(kind: str, label: str, check: Callable[[Any, str], str | None] | None = None,
                             choices: Callable[[Any], list[tuple[str, str]]] | None = None,
                             needs_value: bool = True) -> None:
    """Offer `kind:value` in the IVR builder; at run time the caller goes to engine app `kind`."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,19}", kind):
        raise ValueError(f"destination kind {kind!r}: lower-case letters, digits, - and _")
    DESTINATIONS[kind] = DestinationKind(kind, label, check or _printable, choices or (lambda cfg: []),
                                         needs_value)


def _printable(cfg: Any, value: str) -> str | None:
    if not value or len(value) > NAME_MAX or not value.isprintable():
        return f"give a value of 1 to {NAME_MAX} printable characters"
    return None


def _extension_choices(cfg: Any) -> list[tuple[str, str]]:
    return [(e["number"], f"{e['number']} {e.get('name', '')}".strip()) for e in cfg.extensions()]


def _extension_problem(cfg: Any, value: str) -> str | None:
    if not EXT_RE.fullmatch(value) or cfg.extension(value) is None:
        return f"extension {value[:10]!r} does not exist"
    return None


def _group_problem(cfg: Any, value: str) -> str | None:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if value == "all":
        return None
    if not parts:
        return "list the extensions to ring, separated by commas"
    for p in parts:
        if _extension_problem(cfg, p):
            return f"extension {p[:10]!r} does not exist"
    return None


def _menu_problem(cfg: Any, value: str) -> str | None:
    if not MENU_ID_RE.fullmatch(value) or menu(cfg, value) is None:
        return f"there is no IVR menu {value[:30]!r}"
    return None


def _menu_choices(cfg: Any) -> list[tuple[str, str]]:
    return [(m["id"], f"{m['name']} ({m['id']})") for m in menus(cfg)]


def _outside_problem(cfg: Any, value: str) -> str | None:
    if not OUTSIDE_RE.fullmatch(value):
        return "an outside number is 2 to 20 digits (no access code, no spaces)"
    return None


def _timecondition_problem(cfg: Any, value: str) -> str | None:
    from .timeconditions import condition
    if condition(cfg, value) is None:
        return f"there is no time condition {value[:30]!r}"
    return None


def _timecondition_choices(cfg: Any) -> list[tuple[str, str]]:
    from .timeconditions import conditions
    return [(c["id"], f"{c['name']} ({c['id']})") for c in conditions(cfg)]


def _voicemail_problem(cfg: Any, value: str) -> str | None:
    if _extension_problem(cfg, value):
        return f"mailbox {value[:10]!r} is not an existing extension"
    return None


def _fixed(*values: str) -> Callable[[Any, str], str | None]:
    def check(cfg: Any, value: str) -> str | None:
        return None if value in values else f"choose one of {', '.join(values)}"
    return check


register_ivr_destination("extension", "Extension", _extension_problem, _extension_choices)
register_ivr_destination("group", "Ring several extensions", _group_problem)
register_ivr_destination("ivr", "Sub-menu", _menu_problem, _menu_choices)
register_ivr_destination("voicemail", "Voicemail", _voicemail_problem, _extension_choices)
register_ivr_destination("directory", "Directory", _fixed("name", "extension"),
                         lambda cfg: [("name", "Dial by name"), ("extension", "Dial by extension")])
register_ivr_destination("timecondition", "Time condition", _timecondition_problem, _timecondition_choices)
register_ivr_destination("repeat", "Repeat this menu", needs_value=False, check=lambda cfg, v: None)
register_ivr_destination("back", "Previous menu", needs_value=False, check=lambda cfg, v: None)
register_ivr_destination("hangup", "Say goodbye and hang up", needs_value=False, check=lambda cfg, v: None)
register_ivr_destination("outside", "Outside number (owner's, permission rules apply)", _outside_problem)


def _offer_ring_groups() -> None:
    """Ring groups are another helper's app: offered when it is installed (its own check)."""
    try:
        from . import ringgroups
    except ImportError:
        return
    from ..config import DESTINATION_KINDS

    def check(cfg: Any, value: str) -> str | None:
        inbound_check = DESTINATION_KINDS.get("ringgroup")
        return inbound_check(cfg, value) if inbound_check else "ring groups are not available"

    def choices(cfg: Any) -> list[tuple[str, str]]:
        return [(g["number"], f"{g['number']} {g.get('name', '')}".strip())
                for g in ringgroups.load_groups(cfg) if g.get("kind") == "ring"]
    register_ivr_destination("ringgroup", "Ring group", check, choices)


_offer_ring_groups()


def destination_problem(cfg: Any, dest: Any) -> str | None:
    if not isinstance(dest, str) or ":" not in dest:
        return f"{str(dest)[:40]!r} is not a destination (kind:value)"
    kind, _, value = dest.partition(":")
    spec = DESTINATIONS.get(kind)
    if spec is None:
        return f"unknown destination kind {kind[:20]!r} (known: {', '.join(sorted(DESTINATIONS))})"
    value = value.strip()
    if not spec.needs_value:
        return None if not value else f"{spec.label} takes no value"
    return spec.check(cfg, value)


def destination_label(cfg: Any, dest: str) -> str:
    """The plain name the owner sees ("Ring 202 Reception", "Menu: Main menu (main)")."""
    from ..destinations import plain_name
    return plain_name(cfg, dest)


# ---- menus -------------------------------------------------------------------------------------

def menus(cfg: Any) -> list[dict]:
    return sorted((dict(d) for d in cfg.table("ivr").all()), key=lambda m: m.get("id", ""))


def menu(cfg: Any, menu_id: str) -> dict | None:
    for m in cfg.table("ivr").all():
        if m.get("id") == menu_id:
            return dict(m)
    return None


def _int(value: Any, what: str, low: int, high: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        n = low - 1
    if not low <= n <= high:
        raise ConfigError(f"{what} must be a whole number from {low} to {high}.")
    return n


def clean_menu(cfg: Any, data: dict, known_ids: set[str]) -> dict:
    """The menu as it will be stored, or ConfigError saying what is wrong (nothing stored)."""
    from ..prompts import CATALOG, LANGUAGES, REF_RE
    menu_id = str(data.get("id", "")).strip()
    if not MENU_ID_RE.fullmatch(menu_id):
        raise ConfigError("A menu id is 1 to 30 characters: lower-case letters, digits, - and _ "
                          "(for example main or sales).")
    name = str(data.get("name", "")).strip() or menu_id
    if len(name) > NAME_MAX or not name.isprintable():
        raise ConfigError(f"The menu name must be 1 to {NAME_MAX} printable characters.")
    language = str(data.get("language", "en"))
    if language not in LANGUAGES:
        raise ConfigError(f"Unknown prompt language {language[:10]!r}; choose one of {', '.join(LANGUAGES)}.")
    greeting = str(data.get("greeting", "") or "").strip()
    if greeting and (not REF_RE.fullmatch(greeting)
                     or (not greeting.startswith("custom/") and greeting not in CATALOG)):
        raise ConfigError(f"Unknown greeting prompt {greeting[:50]!r}; pick one from the prompts page.")
    options_in = data.get("options") or {}
    if not isinstance(options_in, dict) or len(options_in) > MAX_OPTIONS:
        raise ConfigError("Options must map keys 0-9, * and # to destinations.")
    options: dict[str, str] = {}
    for key, dest in options_in.items():
        key = str(key).strip()
        if len(key) != 1 or key not in OPTION_KEYS:
            raise ConfigError(f"Option key {key[:5]!r} must be one key: 0-9, * or #.")
        problem = _dest_problem_allowing_new(cfg, str(dest).strip(), known_ids)
        if problem:
            raise ConfigError(f"Option {key}: {problem}.")
        options[key] = str(dest).strip()
    fallback = str(data.get("fallback") or "hangup:").strip()
    problem = _dest_problem_allowing_new(cfg, fallback, known_ids)
    if problem:
        raise ConfigError(f"Fallback destination: {problem}.")
    return {"id": menu_id, "name": name, "language": language, "greeting": greeting,
            "timeout_s": _int(data.get("timeout_s", 5), "The timeout (seconds)", *TIMEOUT_RANGE),
            "retries": _int(data.get("retries", 3), "Retries", *RETRY_RANGE),
            "direct_dial": bool(data.get("direct_dial", True)),
            "fallback": fallback, "options": dict(sorted(options.items()))}


def _dest_problem_allowing_new(cfg: Any, dest: str, known_ids: set[str]) -> str | None:
    kind, _, value = dest.partition(":")
    if kind == "ivr" and value.strip() in known_ids:
        return None                   # the menu being saved may name itself (loop) or one saved with it
    return destination_problem(cfg, dest)


def save_menu(cfg: Any, data: dict, original_id: str | None = None) -> dict:
    """Create or replace a menu (renaming `original_id` updates every reference to it)."""
    from tinydb import Query
    with cfg.transaction():
        ids = {m["id"] for m in menus(cfg)}
        clean = clean_menu(cfg, data, ids | {str(data.get("id", "")).strip()})
        tbl = cfg.table("ivr")
        if original_id and original_id != clean["id"]:
            if clean["id"] in ids:
                raise ConfigError(f"There is already a menu {clean['id']!r}.")
            tbl.remove(Query().id == original_id)
            _rename_refs(cfg, original_id, clean["id"])
        elif not original_id and clean["id"] in ids:
            raise ConfigError(f"There is already a menu {clean['id']!r}; choose another id.")
        if len(ids) >= MAX_MENUS and clean["id"] not in ids:
            raise ConfigError(f"At most {MAX_MENUS} menus.")
        tbl.upsert(clean, Query().id == clean["id"])
        return clean


def _rename_refs(cfg: Any, old: str, new: str) -> None:
    from tinydb import Query
    tbl = cfg.table("ivr")
    for m in tbl.all():
        opts = {k: (f"ivr:{new}" if v == f"ivr:{old}" else v) for k, v in m.get("options", {}).items()}
        fb = f"ivr:{new}" if m.get("fallback") == f"ivr:{old}" else m.get("fallback")
        tbl.update({"options": opts, "fallback": fb}, Query().id == m["id"])


def references_to(cfg: Any, dest: str) -> list[str]:
    """Where `dest` is used (menus, time conditions, inbound routes), for a refused delete."""
    out = []
    for m in menus(cfg):
        if dest in m.get("options", {}).values() or m.get("fallback") == dest:
            out.append(f"menu {m['id']}")
    from .timeconditions import conditions
    for c in conditions(cfg):
        if dest in (c.get("open"), c.get("closed")):
            out.append(f"time condition {c['id']}")
    for r in cfg.inbound_routes():
        if r.get("destination") == dest:
            out.append(f"inbound route of {r['line']}")
    return out


def delete_menu(cfg: Any, menu_id: str) -> None:
    from tinydb import Query
    with cfg.transaction():
        if menu(cfg, menu_id) is None:
            raise ConfigError(f"There is no menu {menu_id[:30]!r}.")
        used = [u for u in references_to(cfg, f"ivr:{menu_id}") if u != f"menu {menu_id}"]
        if used:
            raise ConfigError(f"Menu {menu_id!r} is still used by {', '.join(used[:5])}; change those first.")
        cfg.table("ivr").remove(Query().id == menu_id)


register_destination_kind("ivr", _menu_problem)
register_destination_kind("timecondition", _timecondition_problem)
