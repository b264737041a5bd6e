"""Engine API: the destination catalog with plain names (`destinations.list`) and what still
uses a destination (`destinations.used_by`), for pickers, tables and delete questions."""
from __future__ import annotations

from .api import ApiContext, ApiError, command
from .destinations import PURPOSES, catalog, plain_name, used_by


@command("destinations.list")
def destinations_list(ctx: ApiContext, purpose: str = "ivr") -> dict:
    """Kinds and targets a call can be sent to, each with a plain name ("Ring 202 Reception")."""
    if purpose not in PURPOSES:
        raise ApiError("bad_request", f"purpose must be one of {', '.join(PURPOSES)}")
    return {"kinds": catalog(ctx.config, purpose)}


@command("destinations.names")
def destinations_names(ctx: ApiContext, destinations: list[str]) -> dict:
    """Plain names of destinations ("ivr:main" -> "Menu: Main menu (main)")."""
    return {d: plain_name(ctx.config, d) for d in destinations[:500]}


@command("destinations.used_by")
def destinations_used_by(ctx: ApiContext, destination: str) -> dict:
    """Menus, time conditions and lines that still send calls to `destination`."""
    return {"destination": destination, "used_by": used_by(ctx.config, destination[:200])}


@command("destinations.party_names")
def destinations_party_names(ctx: ApiContext) -> dict:
    """Names for call history: line ports ("fxo1" -> "Line 1") and extensions ("201" -> "201 Alice")."""
    cfg = ctx.config
    names = {ln["port"]: ln.get("name") or ln["port"] for ln in cfg.lines()}
    names.update({e["number"]: f"{e['number']} {e.get('name', '')}".strip() for e in cfg.extensions()})
    return names
