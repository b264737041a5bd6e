"""A campaign's settings, validated: who dials (agents), as whom (the extension whose outside-call
permissions every number must pass), how (preview or progressive), when (calling hours in the
site's timezone), and how often (attempts, time between them, ring time)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

MODES = ("preview", "progressive")
MACHINE_ACTIONS = ("hangup", "message", "agent")
PROMPT_REF = re.compile(r"custom/[a-z0-9][a-z0-9_-]{0,39}")
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class CampaignError(ValueError):
    """A campaign setting is wrong; the message says which and what to do."""


def _int(data: dict, key: str, default: int, lo: int, hi: int, label: str) -> int:
    v = data.get(key, default)
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise CampaignError(f"{label}: a whole number from {lo} to {hi}.") from None
    if not lo <= n <= hi:
        raise CampaignError(f"{label}: a whole number from {lo} to {hi} (got {n}).")
    return n


def validate(data: dict, known_agents: set[str], extension_exists: Any) -> dict:
    cid = str(data.get("id", "")).strip()
    if not ID_RE.fullmatch(cid):
        raise CampaignError("Campaign id: lower-case letters, digits, - and _ (1 to 30).")
    name = str(data.get("name", "")).strip()[:60] or cid
    mode = data.get("mode", "progressive")
    if mode not in MODES:
        raise CampaignError("Mode: preview (the agent sees the number first) or progressive (dialled when an "
                            "agent is free).")
    agents = data.get("agents") or []
    if isinstance(agents, str):
        agents = [a.strip() for a in agents.split(",") if a.strip()]
    if not isinstance(agents, list) or not agents:
        raise CampaignError("Agents: at least one agent (user names) dials this campaign.")
    unknown = [a for a in agents if not isinstance(a, str) or a not in known_agents]
    if unknown:
        raise CampaignError(f"Agents: {', '.join(str(a)[:32] for a in unknown[:5])} are not call-center agents.")
    ext = str(data.get("caller_extension", "")).strip()
    if not ext.isdigit() or not extension_exists(ext):
        raise CampaignError("Dial as extension: an existing extension whose outside-call permissions every "
                            "campaign number must pass.")
    hours = data.get("hours") or {}
    start, end = str(hours.get("from", "09:00")), str(hours.get("to", "20:00"))
    if not HHMM.fullmatch(start) or not HHMM.fullmatch(end) or start >= end:
        raise CampaignError("Calling hours: from and to as HH:MM, from before to (e.g. 09:00 to 20:00).")
    days = hours.get("days", [0, 1, 2, 3, 4])
    if not isinstance(days, list) or not days or any(d not in range(7) for d in days):
        raise CampaignError("Calling days: a list of weekdays 0 (Monday) to 6 (Sunday).")
    action = data.get("machine_action", "hangup")
    if action not in MACHINE_ACTIONS:
        raise CampaignError("When an answering machine answers: hangup (try again later), message (leave the "
                            "recorded message after the beep) or agent (the agent takes it anyway).")
    message = str(data.get("machine_message") or "").strip()
    if message and not PROMPT_REF.fullmatch(message):
        raise CampaignError("Message for answering machines: an uploaded prompt, custom/<name> (upload it on the "
                            "Prompts page first).")
    if action == "message" and not message:
        raise CampaignError("Leaving a message needs the message: choose an uploaded prompt (custom/<name>).")
    from .amd import AmdSettings
    try:
        amd = AmdSettings.from_doc(data.get("amd")).as_doc()
    except ValueError as exc:
        raise CampaignError(str(exc)) from None
    return {"id": cid, "name": name, "mode": mode, "agents": list(dict.fromkeys(agents)), "caller_extension": ext,
            "hours": {"from": start, "to": end, "days": sorted(set(days))},
            "max_attempts": _int(data, "max_attempts", 3, 1, 10, "Attempts per number"),
            "retry_after_s": _int(data, "retry_after_s", 3600, 30, 7 * 86400, "Time between attempts (s)"),
            "ring_s": _int(data, "ring_s", 30, 10, 120, "Ring time (s)"),
            "machine_action": action, "machine_message": message, "amd": amd}


def within_hours(doc: dict, epoch: float, tz: Any) -> bool:
    local = dt.datetime.fromtimestamp(epoch, tz)
    h = doc["hours"]
    return local.weekday() in h["days"] and h["from"] <= local.strftime("%H:%M") < h["to"]
