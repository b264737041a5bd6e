"""Engine API commands of outbound permissions: classes of service and their number patterns,
each extension's class and limits, authorisation codes, DISA and outside-to-outside rules.

Validation is `permissions_store`'s (every change one config transaction); a refusal is
`bad_request` with its message. Authorisation codes are write-only: no command returns a code
or its hash, only its label and class.
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, command
from ..api_refusals import refusals
from . import permissions_store as store
from .permissions_patterns import CATEGORIES, country_numbers


@command("permissions.country_numbers")
def numbers_of_country(ctx: ApiContext, country: str) -> dict:
    """What numbers mean in `country`: {"emergency": [...], "local"|"national"|"international"|
    "premium": [patterns]}."""
    plan = country_numbers(country)
    return {"emergency": list(plan.emergency)} | {cat: list(plan.patterns(cat)) for cat in CATEGORIES}


@command("permissions.page")
def page(ctx: ApiContext) -> dict:
    """Everything the permissions page shows: {"perms" (general settings, class patterns, DISA,
    trunk_to_trunk; no codes), "classes" (effective patterns per class), "class_names",
    "class_labels", "customised" (classes changed from the country's defaults), "extensions"
    (each with its "policy"), "codes" [{label, class}], "country", "emergency", "trunk_vias",
    "limits" {name: [low, high, what]}}."""
    config = ctx.config
    perms = store.load(config)
    country = config.settings().get("country", "US")
    extensions = [dict(e, policy=perms["extensions"].get(e["number"], {})) for e in config.extensions()]
    codes = [{"label": c.get("label", ""), "class": c.get("class", "")} for c in perms["auth_codes"]]
    shown = {k: v for k, v in perms.items() if k != "auth_codes"}
    return {"perms": shown, "classes": store.effective_classes(perms, country),
            "class_names": list(store.CLASSES), "class_labels": dict(store.CLASS_LABELS),
            "customised": sorted(perms["classes"]), "extensions": extensions, "codes": codes,
            "country": country, "emergency": list(country_numbers(country).emergency),
            "trunk_vias": list(store.TRUNK_VIAS), "limits": {k: list(v) for k, v in store.LIMITS.items()}}


@command("permissions.update_general")
def update_general(ctx: ApiContext, changes: dict[str, Any]) -> None:
    """Change the general rules: default_class, the limits (calls_per_hour, max_minutes, warning_s,
    pin_attempts, lockout_minutes) and trunk_to_trunk {transfer|forward|ivr|voicemail: bool}."""
    with refusals(TypeError):
        store.update_general(ctx.config, **changes)


@command("permissions.set_extension_policy")
def set_extension_policy(ctx: ApiContext, number: str, cls: str, calls_per_hour: str | int | None = None,
                         max_minutes: str | int | None = None) -> None:
    """An extension's class of service and own limits (null: the general limit)."""
    with refusals():
        store.set_extension_policy(ctx.config, number[:10], cls, calls_per_hour, max_minutes)


@command("permissions.set_class_patterns")
def set_class_patterns(ctx: ApiContext, cls: str, allow: str, deny: str) -> None:
    """A class's allowed and denied number patterns (one per line or comma separated: 0X., 1NXX...)."""
    with refusals():
        store.set_class_patterns(ctx.config, cls[:20], allow, deny)


@command("permissions.reset_class")
def reset_class(ctx: ApiContext, cls: str) -> None:
    """Put a class's patterns back to the country's defaults."""
    with refusals():
        store.reset_class_patterns(ctx.config, cls[:20])


@command("permissions.add_auth_code")
def add_auth_code(ctx: ApiContext, label: str, code: str, cls: str) -> None:
    """Add an authorisation code (4-12 digits, not guessable) that lifts a call to class `cls`;
    stored hashed, never returned."""
    with refusals():
        store.add_auth_code(ctx.config, label, code, cls)


@command("permissions.delete_auth_code")
def delete_auth_code(ctx: ApiContext, label: str) -> None:
    """Delete the authorisation code labelled `label`."""
    with refusals():
        store.delete_auth_code(ctx.config, label)


@command("permissions.set_disa")
def set_disa(ctx: ApiContext, enabled: bool, cls: str) -> None:
    """Direct inward system access on/off and the most a DISA caller may reach."""
    with refusals():
        store.set_disa(ctx.config, enabled, cls)
