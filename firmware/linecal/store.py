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

