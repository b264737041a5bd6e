"""Bulletins: short notices a supervisor posts to every agent or to one team (config table
`cc_bulletins`), shown on the agents' desktops and on the wallboard until they expire.

Text is untrusted at every reader: stored as given (trimmed, control characters refused), escaped
by whoever shows it (the templates autoescape)."""
from __future__ import annotations

import secrets
from typing import Any

from ..config import ConfigError
from . import model

BULLETINS = "cc_bulletins"
MAX_TEXT = 500
MAX_LIVE = 200          # bulletins kept at once; the oldest expired ones go first


def _clean_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("A bulletin needs some text (up to 500 characters).")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ConfigError(f"A bulletin is at most {MAX_TEXT} characters; this one has {len(text)}. Shorten it.")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise ConfigError("A bulletin may not contain control characters; type plain text.")
    return text


def post(config: Any, text: Any, author: str, now: float, team: str | None = None,
         expires_at: float | None = None) -> dict:
    """Store a bulletin; `team` None = everybody. Refused: unknown team, expiry in the past."""
    body = _clean_text(text)
    if team is not None and team != "":
        if team not in {t["id"] for t in model.load_teams(config)}:
            raise ConfigError(f"There is no team {team[:30]!r}; choose one of the teams or everybody.")
    else:
        team = None
    if expires_at is not None and expires_at <= now:
        raise ConfigError("The expiry time is already past; choose a later time or no expiry.")
    row = {"id": secrets.token_hex(6), "text": body, "team": team, "author": author[:64], "posted_at": now,
           "expires_at": expires_at}
    table = config.table(BULLETINS)
    rows = table.all()
    if len(rows) >= MAX_LIVE:
        from tinydb import Query
        oldest = sorted(rows, key=lambda r: (r.get("expires_at") is None or r["expires_at"] > now,
                                             r.get("posted_at", 0)))[0]
        table.remove(Query().id == oldest.get("id"))
    table.insert(row)
    return row


def live(config: Any, now: float, team: str | None = None, teams: list[str] | None = None) -> list[dict]:
    """Bulletins not expired at `now`, newest first; `team` / `teams`: only those to everybody and
    to that team / those teams (neither: all)."""
    if not hasattr(config, "table"):
        return []
    wanted = None if team is None and teams is None else {None, team, *(teams or [])}
    out = [dict(r) for r in config.table(BULLETINS).all()
           if (r.get("expires_at") is None or r["expires_at"] > now)
           and (wanted is None or r.get("team") in wanted)]
    return sorted(out, key=lambda r: -float(r.get("posted_at", 0)))


def remove(config: Any, bulletin_id: str) -> bool:
    from tinydb import Query
    return bool(config.table(BULLETINS).remove(Query().id == bulletin_id))
