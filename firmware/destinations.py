"""Where a call can be sent, with plain names: the one catalog behind every destination picker
(IVR options and fallbacks, time conditions, line routes; later queues).

Kinds come from the IVR destination registry (`register_ivr_destination`): a new app that
registers its kind appears in every picker with its targets. Line routes accept the kinds the
configuration knows for inbound routes (`register_destination_kind`) plus plain extension numbers.
"""
from __future__ import annotations

from typing import Any

PURPOSES = ("ivr", "timecondition", "line")


def _ivr_store() -> Any:
    from .apps import ivr_store
    return ivr_store


def _choice_texts(cfg: Any, kind: str) -> dict[str, str]:
    spec = _ivr_store().DESTINATIONS.get(kind)
    if spec is None:
        return {}
    try:
        return dict(spec.choices(cfg))
    except Exception:          # an app's broken choices must not take every picker down
        return {}


def plain_name(cfg: Any, dest: str) -> str:
    """ "extension:202" -> "Ring 202 Reception", "voicemail:202" -> "Voicemail of 202 Reception",
    "ivr:main" -> "Menu: Main menu (main)", "202" (a line route) -> "Ring 202 Reception"."""
    if not isinstance(dest, str) or not dest:
        return "—"
    if ":" not in dest:                               # a line route: extension number(s)
        numbers = [n.strip() for n in dest.split(",") if n.strip()]
        texts = _choice_texts(cfg, "extension")
        return "Ring " + ", ".join(texts.get(n, n) for n in numbers) + (" together" if len(numbers) > 1 else "")
    kind, _, value = dest.partition(":")
    spec = _ivr_store().DESTINATIONS.get(kind)
    text = _choice_texts(cfg, kind).get(value, value)
    if kind == "extension":
        return f"Ring {text}"
    if kind == "voicemail":
        return f"Voicemail of {text}"
    if kind == "ivr":
        return f"Menu: {text}"
    if kind == "group":
        return "Ring every phone" if value in ("", "all") else f"Ring {plain_name(cfg, value)[5:]}"
    if kind == "outside":
        return f"Outside number {value}"
    if spec is None:
        return dest
    if not spec.needs_value or not value:
        return spec.label
    return f"{spec.label}: {text}"


def _line_kinds() -> set[str]:
    from .config import DESTINATION_KINDS
    return set(DESTINATION_KINDS)


def catalog(cfg: Any, purpose: str = "ivr") -> list[dict]:
    """Every kind with its targets: [{"kind", "label", "targets": [{"value", "name"}]}], for the
    picker of `purpose` ("ivr": menus; "timecondition": no time condition inside another;
    "line": what an inbound route may ring)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
    store = _ivr_store()
    out = []
    allowed = _line_kinds() if purpose == "line" else None
    for kind, spec in store.DESTINATIONS.items():
        if purpose == "timecondition" and kind == "timecondition":
            continue
        if purpose == "line":
            if kind == "extension":
                values = [value for value, _ in spec.choices(cfg)]
                out.append({"kind": kind, "label": "Ring an extension",
                            "targets": [{"value": v, "name": plain_name(cfg, v)} for v in values]})
                continue
            if kind not in allowed:
                continue
        if not spec.needs_value:
            targets = [f"{kind}:"]
        else:
            try:
                targets = [f"{kind}:{value}" for value, _ in spec.choices(cfg)]
            except Exception:
                targets = []
        if purpose == "line" and kind == "group":
            targets = ["group:all"]
        if targets:
            out.append({"kind": kind, "label": spec.label,
                        "targets": [{"value": t, "name": plain_name(cfg, t)} for t in targets]})
    return out


def used_by(cfg: Any, dest: str) -> list[str]:
    """What still sends calls to `dest`, in plain words ("Line 1", "menu Main menu (main)")."""
    from .apps.timeconditions import conditions
    store = _ivr_store()
    out = []
    for m in store.menus(cfg):
        if dest in m.get("options", {}).values() or m.get("fallback") == dest:
            out.append(f"menu {m.get('name') or m['id']}")
    for c in conditions(cfg):
        if dest in (c.get("open"), c.get("closed")):
            out.append(f"time condition {c.get('name') or c['id']}")
    lines = {ln["port"]: ln.get("name") or ln["port"] for ln in cfg.lines()}
    for r in cfg.inbound_routes():
        if r.get("destination") == dest:
            out.append(lines.get(r["line"], r["line"]))
    return out


def used_by_text(names: list[str]) -> str:
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
