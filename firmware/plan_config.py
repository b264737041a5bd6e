"""Read the stored configuration into the engine's plain structures (once per change).

Kept apart from the engine so the one place that knows the config's field names
is small; the engine then only sees `DialPlan`, `Line` and `EngineSettings`.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .dialplan import DialPlan, Extension, FeatureCode, Line

if TYPE_CHECKING:
    from .engine import EngineSettings

log = logging.getLogger("linebox.engine")


@dataclass
class LoadedPlan:
    settings: EngineSettings
    plan: DialPlan
    lines: dict[str, Line] = field(default_factory=dict)            # port -> line
    inbound_routes: dict[str, str] = field(default_factory=dict)    # line port -> destination


def _items(value: Any) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [dict(v, key=k) if isinstance(v, dict) else {"key": k, "destination": v} for k, v in value.items()]
    return [dict(v) for v in value]


def _get(obj: Any, name: str) -> Any:
    fn = getattr(obj, name, None)
    return fn() if callable(fn) else None


def load_plan(config: Any, feature_codes: list[FeatureCode]) -> LoadedPlan:
    from .engine import EngineSettings
    raw = dict(_get(config, "settings") or {})
    settings = EngineSettings()
    for f in dataclasses.fields(EngineSettings):
        if f.name in raw and raw[f.name] is not None:
            try:
                setattr(settings, f.name, type(getattr(settings, f.name))(raw[f.name]))
            except (TypeError, ValueError):
                log.error("config: setting %s=%r is not a %s; using %r", f.name, raw[f.name],
                          type(getattr(settings, f.name)).__name__, getattr(settings, f.name))
    extensions: dict[str, Extension] = {}
    for e in _items(_get(config, "extensions")):
        number, port = str(e.get("number", "")).strip(), str(e.get("port") or "").strip()
        if number:
            extensions[number] = Extension(number, str(e.get("name") or ""), port, bool(e.get("enabled", True)))
    lines: dict[str, Line] = {}
    for ln in _items(_get(config, "lines")):
        port = str(ln.get("port") or "").strip()
        if port:
            lines[port] = Line(port, str(ln.get("number") or ""), str(ln.get("name") or ""),
                               bool(ln.get("enabled", True)))
    routes: dict[str, str] = {}
    for r in _items(_get(config, "inbound_routes")):
        line = str(r.get("line") or r.get("port") or r.get("key") or "").strip()
        dest = str(r.get("destination") or r.get("target") or "").strip()
        if line and dest:
            routes[line] = dest
    plan = DialPlan(extensions, settings.access_code, list(feature_codes))
    return LoadedPlan(settings, plan, lines, routes)
