"""Engine API commands of the PBX configuration: extensions, lines and inbound routes, settings.

Writes run on the store thread (the one writer of config.json); the engine picks a change up
through the config listener, as it always has. Refusals are `bad_request` with Config's own
message (what was wrong and what to do).
"""
from __future__ import annotations

from typing import Any

from .api import ApiContext, ApiError, command
from .api_refusals import refusals

# ---------------------------------------------------------------- extensions

@command("config.extensions")
def extensions(ctx: ApiContext) -> list[dict]:
    """Every extension, in number order: [{number, name, port, enabled}]."""
    return ctx.config.extensions()


@command("config.extension")
def extension(ctx: ApiContext, number: str) -> dict | None:
    """One extension by number, or null when there is none."""
    return ctx.config.extension(number)


@command("config.save_extension")
def save_extension(ctx: ApiContext, extension: Any, original_number: str | None = None) -> dict:
    """Add an extension (`original_number` null) or change / renumber `original_number`.
    `extension` is {number, name, port, enabled}; missing fields keep their value. Returns it as saved."""
    with refusals():
        return ctx.config.save_extension(extension, original_number=original_number)


@command("config.delete_extension")
def delete_extension(ctx: ApiContext, number: str) -> None:
    """Delete an extension (refused while an inbound route or group still uses it)."""
    with refusals():
        ctx.config.delete_extension(number)


# ---------------------------------------------------------------- lines and inbound routes

@command("config.lines")
def lines(ctx: ApiContext) -> dict:
    """{"lines": [{port, name, number, enabled}], "inbound_routes": [{line, destination}]}."""
    return {"lines": ctx.config.lines(), "inbound_routes": ctx.config.inbound_routes()}


@command("config.save_line")
def save_line(ctx: ApiContext, line: Any, original_port: str | None = None,
              destination: str | None = None) -> dict:
    """Add a line (`original_port` null) or change `original_port`; with `destination`, also set
    its inbound route as one change: if the route is refused, the line is left as it was."""
    config = ctx.config
    with refusals():
        if not destination:
            return config.save_line(line, original_port=original_port)
        with config.transaction():          # both, or neither
            saved = config.save_line(line, original_port=original_port)
            config.set_inbound_route(saved["port"], destination)
            return saved


@command("config.delete_line")
def delete_line(ctx: ApiContext, port: str) -> None:
    """Delete the line on `port` (and its inbound route)."""
    with refusals():
        ctx.config.delete_line(port)


@command("config.set_inbound_route")
def set_inbound_route(ctx: ApiContext, port: str, destination: str) -> None:
    """Where calls on line `port` go: an extension, several ("201,202"), group:all, ivr:<menu>, ..."""
    with refusals():
        ctx.config.set_inbound_route(port, destination)


# ---------------------------------------------------------------- settings

@command("config.settings")
def settings(ctx: ApiContext) -> dict:
    """The site settings: country, access_code, site_name, timezone and the timing values."""
    return ctx.config.settings()


@command("config.update_settings")
def update_settings(ctx: ApiContext, changes: Any) -> dict:
    """Change some settings ({"access_code": "9", ...}); returns every setting after the change."""
    if not isinstance(changes, dict):
        raise ApiError("bad_request", 'Send the settings to change as a JSON object, such as {"access_code": "9"}.')
    with refusals(TypeError):
        return ctx.config.update_settings(**{str(k): v for k, v in changes.items()})


@command("config.settings_form")
def settings_form(ctx: ApiContext) -> dict:
    """What the settings form offers: the countries [[code, name]] and the timing limits
    {key: [low, high, ...]} beside the current settings."""
    from dsp_ext.countries import PROFILES

    from .config import TIMING_LIMITS
    countries = sorted([code, getattr(p, "name", code)] for code, p in PROFILES.items())
    return {"settings": ctx.config.settings(), "countries": countries,
            "timing_limits": {k: list(v) if isinstance(v, tuple | list) else v for k, v in TIMING_LIMITS.items()}}


@command("config.timezone")
def timezone(ctx: ApiContext) -> str:
    """The site's timezone name (pages show times and take dates in it)."""
    return str(ctx.config.settings().get("timezone") or "UTC")
