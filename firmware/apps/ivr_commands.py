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


def _choices(cfg: Any) -> list[dict]:
    """Every destination the owner can pick: [{"kind", "label", "items": [[dest, text]]}]."""
    out = []
    for kind, spec in ivr_store.DESTINATIONS.items():
        if not spec.needs_value:
            items = [[f"{kind}:", spec.label]]
        else:
            items = [[f"{kind}:{value}", text] for value, text in spec.choices(cfg)]
        if items:
            out.append({"kind": kind, "label": spec.label, "items": items})
    return out


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
    return {"menus": ivr_store.menus(cfg), "menu": ivr_store.menu(cfg, menu[:40]) if menu else None,
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
    return {"conditions": timeconditions.conditions(cfg),
            "condition": timeconditions.condition(cfg, condition[:40]) if condition else None,
            "choices": _choices(cfg), "kind_labels": _kind_labels(),
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
