"""Engine API commands of the auto attendant (IVR menus) and of time conditions.

Destinations a menu or time condition can lead to come from the IVR destination registry
(`ivr_store.DESTINATIONS`), so apps that register a kind are offered by themselves. Writes run
on the store thread; the engine reads the menus through the config listener.
"""
from __future__ import annotations

from typing import Any

from .. import prompts
from ..api import ApiContext, command
from ..api_refusals import refusals
from . import ivr_store, timeconditions


def _choices(cfg: Any, purpose: str = "ivr") -> list[dict]:
    """Every destination the owner can pick, with plain names (firmware.destinations):
    [{"kind", "label", "items": [[dest, name]]}]."""
    from ..destinations import catalog
    return [{"kind": k["kind"], "label": k["label"], "items": [[t["value"], t["name"]] for t in k["targets"]]}
            for k in catalog(cfg, purpose)]


def _names(cfg: Any, dests: set[str]) -> dict[str, str]:
    """Plain names of the destinations a page shows ("ivr:main" -> "Menu: Main menu (main)")."""
    from ..destinations import plain_name
    return {d: plain_name(cfg, d) for d in sorted(dests) if d}


def _used_by(cfg: Any, kind: str, ids: list[str]) -> dict[str, str]:
    """For the delete question: what still sends calls to `kind:id`, in plain words."""
    from ..destinations import used_by, used_by_text
    return {i: used_by_text(used_by(cfg, f"{kind}:{i}")) for i in ids}


def _kind_labels() -> dict[str, str]:
    return {kind: spec.label for kind, spec in ivr_store.DESTINATIONS.items()}


@command("ivr.destinations")
def destinations(ctx: ApiContext) -> dict:
    """What a destination field offers: {"choices": [{kind, label, items: [[dest, text]]}],
    "kind_labels": {kind: label}} (a destination is "kind:value", e.g. "ext:201", "hangup:")."""
    return {"choices": _choices(ctx.config), "kind_labels": _kind_labels()}


@command("ivr.page")
def page(ctx: ApiContext, menu: str = "") -> dict:
    """The IVR builder's data: {"menus": [...], "menu": the one asked for or null, "choices",
    "kind_labels" (as ivr.destinations), "option_keys": "0123456789*#", "prompts": [greeting refs],
    "languages": {code: name}}."""
    cfg = ctx.config
    root = prompts.prompts_root(cfg)
    refs = [p["ref"] for p in prompts.list_prompts(root)] if root is not None else []
    menus = ivr_store.menus(cfg)
    shown = ivr_store.menu(cfg, menu[:40]) if menu else None
    dests = {m.get("fallback", "") for m in menus} | {d for m in menus for d in (m.get("options") or {}).values()}
    if shown:
        dests |= {shown.get("fallback", "")} | set((shown.get("options") or {}).values())
    return {"menus": menus, "menu": shown, "names": _names(cfg, dests),
            "used_by": _used_by(cfg, "ivr", [m["id"] for m in menus]),
            "choices": _choices(cfg), "kind_labels": _kind_labels(), "option_keys": ivr_store.OPTION_KEYS,
            "prompts": [r for r in refs if r.startswith(("ivr/", "custom/"))],
            "languages": dict(prompts.LANGUAGE_LABELS)}


@command("ivr.save_menu")
def save_menu(ctx: ApiContext, menu: dict[str, Any], original: str | None = None) -> dict:
    """Create a menu (`original` null) or replace / rename menu `original` (every reference to it
    follows). `menu`: {id, name, language, greeting, timeout_s, retries, direct_dial, fallback,
    options: {key: destination}}. Returns it as saved."""
    with refusals():
        return ivr_store.save_menu(ctx.config, menu, original)


@command("ivr.delete_menu")
def delete_menu(ctx: ApiContext, menu_id: str) -> None:
    """Delete a menu (refused while a line, another menu or a time condition leads to it)."""
    with refusals():
        ivr_store.delete_menu(ctx.config, menu_id[:40])


# ---------------------------------------------------------------- time conditions

@command("timeconditions.page")
def tc_page(ctx: ApiContext, condition: str = "") -> dict:
    """The time-conditions page's data: {"conditions": [...], "condition": the one asked for or
    null, "choices", "kind_labels" (as ivr.destinations), "day_names", "timezone"}."""
    cfg = ctx.config
    items = timeconditions.conditions(cfg)
    shown = timeconditions.condition(cfg, condition[:40]) if condition else None
    dests = {c.get(k, "") for c in items + ([shown] if shown else []) for k in ("open", "closed")}
    return {"conditions": items, "condition": shown, "names": _names(cfg, dests),
            "used_by": _used_by(cfg, "timecondition", [c["id"] for c in items]),
            "choices": _choices(cfg, "timecondition"), "kind_labels": _kind_labels(),
            "day_names": list(timeconditions.DAY_NAMES),
            "timezone": cfg.settings().get("timezone", "UTC")}


@command("timeconditions.save")
def tc_save(ctx: ApiContext, condition: dict[str, Any], original: str | None = None) -> dict:
    """Create or replace a time condition {id, name, rules: [{days, start, end}], holidays:
    [{date, name}], open, closed}; returns it as saved."""
    with refusals():
        return timeconditions.save_condition(ctx.config, condition, original)


@command("timeconditions.delete")
def tc_delete(ctx: ApiContext, condition_id: str) -> None:
    """Delete a time condition (refused while something leads to it)."""
    with refusals():
        timeconditions.delete_condition(ctx.config, condition_id[:40])
