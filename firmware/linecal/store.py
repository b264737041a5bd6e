"""Line profiles in the configuration: one document per line port (table `line_profiles`)."""
from __future__ import annotations

from typing import Any

TABLE = "line_profiles"


def load_profile(config: Any, port: str) -> dict | None:
    table = getattr(config, "table", None)
    if table is None:
        return None
    for doc in table(TABLE):
        if doc.get("port") == port:
            return dict(doc)
    return None


def load_profiles(config: Any) -> dict[str, dict]:
    table = getattr(config, "table", None)
    if table is None:
        return {}
    return {str(doc.get("port")): dict(doc) for doc in table(TABLE)}


def save_profile(config: Any, profile: dict) -> None:
    """Replace the stored profile of `profile["port"]` (store thread only: the config's one writer)."""
    from tinydb import Query
    table = config.table(TABLE)
    table.remove(Query().port == profile["port"])
    table.insert(profile)


def learned_disconnect_tones(config: Any) -> dict[str, dict]:
    """Per line port, the disconnect (and busy) tones its calibration learned, as ToneSpecs keyed
    "disconnect" / "line_busy": far-end disconnect detection listens for them on that line too."""
    from dsp_ext.countries import ToneSpec
    out: dict[str, dict] = {}
    for port, prof in load_profiles(config).items():
        specs = {}
        for key, name in (("disconnect", "disconnect"), ("busy", "line_busy")):
            t = prof.get(key)
            if not isinstance(t, dict) or "error" in t or not t.get("freqs"):
                continue
            try:
                freqs = tuple(float(f) for f in t["freqs"])
                cadence = tuple(int(c) for c in t.get("cadence_ms") or ())
                specs[name] = ToneSpec(freqs, cadence, float(t.get("level_dbm0", -20.0)), bool(t.get("modulated")))
            except (TypeError, ValueError):
                continue             # a damaged profile: the country's tones still apply
        if specs:
            out[port] = specs
    return out
