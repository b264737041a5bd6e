"""Call-center configuration: queues, agents, teams, pause reasons, surveys (validated).

Stored in config tables (TinyDB through `Config.table`):

    cc_queues  {"number": "600", "name": "Sales", "strategy": "ringall", "members": [{"agent": "alice",
                "penalty": 0}], "skills": {"english": 3}, "ring_s": 15, "wrapup_s": 10, ...}
    cc_agents  {"username": "alice", "name": "Alice", "number": "1001", "pin_hash": "scrypt$...",
                "skills": {"english": 5}, "team": "north"}
    cc_teams   {"id": "north", "name": "North", "leader": "bob"}
    cc_pause_reasons {"code": "lunch", "label": "Lunch"}
    cc_surveys {"id": "csat", "name": "Satisfaction", "questions": ["queue/survey_default"]}

Every saver validates the whole document and raises `ConfigError` with one line for the owner.
A queue's timeout/empty/full/exit destinations are IVR destinations ("voicemail:201",
"queue:601", "ivr:main", "extension:202"); a queue that leads back to itself is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from ..config import ConfigError

QUEUES, AGENTS, TEAMS, PAUSE_REASONS, SURVEYS = "cc_queues", "cc_agents", "cc_teams", "cc_pause_reasons", "cc_surveys"

STRATEGIES = ("ringall", "linear", "roundrobin", "leastrecent", "fewestcalls", "longestidle", "random",
              "wrandom")
STRATEGY_LABELS = {
    "ringall": "Ring all free agents", "linear": "In member order", "roundrobin": "Round robin with memory",
    "leastrecent": "Least recently called", "fewestcalls": "Fewest calls taken",
    "longestidle": "Longest idle", "random": "Random", "wrandom": "Weighted random (by penalty)",
}
EMPTY_CONDITIONS = ("unavailable", "paused", "wrapup")
NUMBER_RE = re.compile(r"[0-9]{2,6}")
AGENT_NUMBER_RE = re.compile(r"[0-9]{3,8}")
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
SKILL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")
PIN_RE = re.compile(r"[0-9]{4,12}")
PHONE_RE = re.compile(r"\+?[0-9]{3,20}")
NAME_MAX = 40
MEMBERS_MAX = 64
KEYS = "0123456789*#"

QUEUE_DEFAULTS: dict[str, Any] = {
    "name": "", "strategy": "ringall", "members": [], "skills": {}, "ring_s": 15, "wrapup_s": 10,
    "max_callers": 0, "max_wait_s": 0, "join_empty": ["unavailable"], "leave_empty": ["unavailable"],
    "timeout_dest": "", "empty_dest": "", "full_dest": "", "vip_numbers": [], "vip_priority": 10,
    "announce_position": True, "announce_every_s": 60, "message": "", "message_every_s": 0,
    "exit_key": "", "exit_dest": "", "voicemail_key": "", "voicemail_box": "", "callback_key": "",
    "moh": "default", "survey": "", "autopause_after": 3, "aht_s": 180, "hours": "",
    "callback_retries": 3, "callback_backoff_s": 120, "callback_as": "",
    "whisper_name": False,
    "survey_call_min": 0, "survey_as": "",
}


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: a whole number from {lo} to {hi}.") from None
    if isinstance(value, bool) or not lo <= n <= hi:
        raise ConfigError(f"{what}: a whole number from {lo} to {hi}.")
    return n


def _name(value: Any, what: str = "Name") -> str:
    name = str(value or "").strip()
    if len(name) > NAME_MAX or not name.isprintable():
        raise ConfigError(f"{what}: at most {NAME_MAX} printable characters.")
    return name


def _skills(value: Any, what: str) -> dict[str, int]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):       # "english:3, billing:2"
        pairs = {}
        for part in [p.strip() for p in value.split(",") if p.strip()]:
            skill, _, level = part.partition(":")
            pairs[skill.strip()] = level.strip() or "1"
        value = pairs
    if not isinstance(value, dict) or len(value) > 32:
        raise ConfigError(f"{what}: give skills as name:level pairs (at most 32).")
    out = {}
    for skill, level in value.items():
        skill = str(skill).strip().lower()
        if not SKILL_RE.fullmatch(skill):
            raise ConfigError(f"{what}: skill {skill[:24]!r} must be lower-case letters, digits, - and _.")
        out[skill] = _int(level, f"{what}: level of {skill}", 1, 10)
    return out


def _conditions(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or any(v not in EMPTY_CONDITIONS for v in value):
        raise ConfigError(f"{what}: choose from {', '.join(EMPTY_CONDITIONS)}.")
    return [c for c in EMPTY_CONDITIONS if c in value]


def _key(value: Any, what: str) -> str:
    key = str(value or "")
    if key and (len(key) != 1 or key not in KEYS):
        raise ConfigError(f"{what}: one key, 0-9, * or #, or nothing.")
    return key


# ---- queues ----------------------------------------------------------------------------------

def load_queues(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    out = []
    for doc in config.table(QUEUES).all():
        if isinstance(doc.get("number"), str):
            out.append({**QUEUE_DEFAULTS, **dict(doc)})
    return sorted(out, key=lambda q: q["number"])


def queue(config: Any, number: str) -> dict | None:
    return next((q for q in load_queues(config) if q["number"] == number), None)


def _destination(config: Any, value: Any, what: str, own: str) -> str:
    from ..apps.ivr_store import destination_problem
    dest = str(value or "").strip()
    if not dest:
        return ""
    kind, _, target = dest.partition(":")
    if kind == "queue" and target == own:
        raise ConfigError(f"{what}: the queue cannot send callers to itself ({dest}); choose another "
                          "destination (voicemail, another queue, a menu, an extension).")
    if kind == "queue":
        if queue(config, target) is None:
            raise ConfigError(f"{what}: there is no queue {target[:10]!r}; create it first.")
        return dest
    problem = destination_problem(config, dest)
    if problem:
        raise ConfigError(f"{what}: {problem}.")
    return dest


def _queue_cycle(config: Any, checked: dict) -> str | None:
    """A chain of queue destinations that comes back to `checked` (600 -> 601 -> 600)."""
    graph = {q["number"]: q for q in load_queues(config)}
    graph[checked["number"]] = checked

    def nexts(q: dict) -> list[str]:
        out = []
        for field in ("timeout_dest", "empty_dest", "full_dest", "exit_dest"):
            kind, _, target = str(q.get(field, "")).partition(":")
            if kind == "queue" and target in graph:
                out.append(target)
        return out
    start = checked["number"]
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in nexts(graph[node]):
            if nxt == start:
                return " -> ".join([*path, nxt])
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def validate_queue(config: Any, data: dict, original: str | None = None) -> dict:
    if not isinstance(data, dict):
        raise ConfigError("A queue is an object of fields.")
    unknown = set(data) - set(QUEUE_DEFAULTS) - {"number"}
    if unknown:
        raise ConfigError(f"Unknown queue field {sorted(unknown)[0][:30]!r}.")
    q = {**QUEUE_DEFAULTS, **data}
    number = str(q.get("number", "")).strip()
    if not NUMBER_RE.fullmatch(number):
        raise ConfigError("Queue number: 2 to 6 digits.")
    access = str(config.settings().get("access_code", "9") or "")
    if access and number.startswith(access):
        raise ConfigError(f"Queue number must not start with the outside-line access code {access}.")
    if config.extension(number) is not None:
        raise ConfigError(f"{number} is already an extension; choose another queue number.")
    try:
        from ..apps.ringgroups import load_groups
        if any(g["number"] == number for g in load_groups(config)):
            raise ConfigError(f"{number} is already a ring group; choose another queue number.")
    except ImportError:
        pass
    if number != original and queue(config, number) is not None:
        raise ConfigError(f"Queue {number} already exists.")
    out: dict[str, Any] = {"number": number, "name": _name(q["name"])}
    if q["strategy"] not in STRATEGIES:
        raise ConfigError(f"Strategy: one of {', '.join(STRATEGIES)}.")
    out["strategy"] = q["strategy"]
    agents = {a["username"] for a in load_agents(config)}
    members: list[dict] = []
    raw = q["members"]
    if isinstance(raw, str):      # "alice:0, bob:5"
        raw = [{"agent": p.partition(":")[0].strip(), "penalty": p.partition(":")[2].strip() or 0}
               for p in raw.split(",") if p.strip()]
    if not isinstance(raw, list) or len(raw) > MEMBERS_MAX:
        raise ConfigError(f"Members: a list of at most {MEMBERS_MAX} agents.")
    for m in raw:
        if isinstance(m, str):
            m = {"agent": m, "penalty": 0}
        if not isinstance(m, dict):
            raise ConfigError("Members: each is an agent with a penalty.")
        name = str(m.get("agent", "")).strip()
        if name not in agents:
            raise ConfigError(f"Member {name[:32]!r} is not an agent; add the agent first.")
        if any(x["agent"] == name for x in members):
            continue
        members.append({"agent": name, "penalty": _int(m.get("penalty", 0), f"Penalty of {name}", 0, 99)})
    out["members"] = members
    out["skills"] = _skills(q["skills"], "Required skills")
    out["ring_s"] = _int(q["ring_s"], "Ring time per agent (s)", 5, 120)
    out["wrapup_s"] = _int(q["wrapup_s"], "Wrap-up time (s)", 0, 900)
    out["max_callers"] = _int(q["max_callers"], "Maximum callers (0: no limit)", 0, 500)
    out["max_wait_s"] = _int(q["max_wait_s"], "Maximum wait (s, 0: no limit)", 0, 7200)
    out["join_empty"] = _conditions(q["join_empty"], "Refuse to join when every agent is")
    out["leave_empty"] = _conditions(q["leave_empty"], "Leave when every agent is")
    for field, what in (("timeout_dest", "On timeout"), ("empty_dest", "When empty"), ("full_dest", "When full"),
                        ("exit_dest", "Exit key goes to")):
        out[field] = _destination(config, q[field], what, number)
    vips = q["vip_numbers"]
    if isinstance(vips, str):
        vips = [v for v in re.split(r"[\s,]+", vips) if v]
    if not isinstance(vips, list) or len(vips) > 500:
        raise ConfigError("VIP numbers: a list of at most 500 phone numbers.")
    clean_vips = []
    for v in vips:
        v = re.sub(r"[ \-().]", "", str(v))
        if not PHONE_RE.fullmatch(v):
            raise ConfigError(f"VIP number {str(v)[:24]!r} is not a phone number (3 to 20 digits).")
        clean_vips.append(v)
    out["vip_numbers"] = clean_vips
    out["vip_priority"] = _int(q["vip_priority"], "VIP priority", 0, 100)
    out["announce_position"] = bool(q["announce_position"])
    out["whisper_name"] = bool(q.get("whisper_name", False))
    out["announce_every_s"] = _int(q["announce_every_s"], "Announce position every (s, 0: only on entry)", 0, 3600)
    if out["announce_every_s"] and out["announce_every_s"] < 15:
        raise ConfigError("Announce position every: at least 15 seconds (or 0: only on entry).")
    out["message"] = _prompt_ref(q["message"], "Periodic message")
    out["message_every_s"] = _int(q["message_every_s"], "Message every (s, 0: never)", 0, 3600)
    keys = {}
    for field, what in (("exit_key", "Exit key"), ("voicemail_key", "Leave-a-message key"),
                        ("callback_key", "Callback key")):
        out[field] = _key(q[field], what)
        if out[field]:
            if out[field] in keys:
                raise ConfigError(f"{what} {out[field]} is already the {keys[out[field]]}.")
            keys[out[field]] = what.lower()
    if out["exit_key"] and not out["exit_dest"]:
        raise ConfigError("Exit key: choose where it goes (a menu, voicemail, ...).")
    box = str(q["voicemail_box"] or "").strip()
    if out["voicemail_key"] and config.extension(box) is None:
        raise ConfigError("Leave-a-message key: choose the mailbox (an existing extension).")
    out["voicemail_box"] = box if out["voicemail_key"] else ""
    out["moh"] = str(q["moh"] or "default")
    if not ID_RE.fullmatch(out["moh"]):
        raise ConfigError("Music on hold: choose a music class.")
    survey_id = str(q["survey"] or "")
    if survey_id and survey(config, survey_id) is None:
        raise ConfigError(f"Survey {survey_id[:30]!r} does not exist; create it first.")
    out["survey"] = survey_id
    out["autopause_after"] = _int(q["autopause_after"], "Pause an agent after missed offers (0: never)", 0, 20)
    out["aht_s"] = _int(q["aht_s"], "Expected handling time (s)", 10, 3600)
    hours = str(q["hours"] or "")
    if hours:
        from ..apps.timeconditions import condition
        if condition(config, hours) is None:
            raise ConfigError(f"Business hours: there is no time condition {hours[:30]!r}.")
    out["hours"] = hours
    out["callback_retries"] = _int(q["callback_retries"], "Callback attempts", 1, 10)
    out["callback_backoff_s"] = _int(q["callback_backoff_s"], "Wait between callback attempts (s)", 10, 3600)
    callback_as = str(q["callback_as"] or "").strip()
    if out["callback_key"] and config.extension(callback_as) is None:
        raise ConfigError("Callback key: choose the extension whose outside-call permissions callbacks "
                          "use (callers' numbers are dialled only where that extension may dial).")
    out["callback_as"] = callback_as if out["callback_key"] else ""
    # follow-up survey call (firmware/callcenter/survey_calls.py): 0 = the survey (if any) is asked
    # on the line when the agent hangs up; N = the caller is called back N minutes after the call
    out["survey_call_min"] = _int(q.get("survey_call_min", 0), "Survey call after (minutes, 0: ask at once)", 0, 1440)
    survey_as = str(q.get("survey_as", "") or "").strip()
    if out["survey_call_min"]:
        if not survey_id:
            raise ConfigError("Survey call: choose the survey to ask first.")
        if config.extension(survey_as) is None:
            raise ConfigError("Survey call: choose the extension whose outside-call permissions survey calls use "
                              "(customers are called only where that extension may dial).")
    out["survey_as"] = survey_as if out["survey_call_min"] else ""
    cycle = _queue_cycle(config, out)
    if cycle:
        raise ConfigError(f"These destinations send callers round in a circle ({cycle}); break the loop.")
    return out


def _prompt_ref(value: Any, what: str) -> str:
    from ..prompts import REF_RE
    ref = str(value or "").strip()
    if ref and not REF_RE.fullmatch(ref):
        raise ConfigError(f"{what}: a prompt name such as custom/offer.")
    return ref


def save_queue(config: Any, data: dict, original: str | None = None) -> dict:
    from tinydb import Query
    with config.transaction():
        checked = validate_queue(config, data, original)
        table = config.table(QUEUES)
        if original and original != checked["number"]:
            table.remove(Query().number == original)
        table.upsert(checked, Query().number == checked["number"])
    return checked


def delete_queue(config: Any, number: str) -> None:
    from tinydb import Query
    for q in load_queues(config):
        for field in ("timeout_dest", "empty_dest", "full_dest", "exit_dest"):
            if q[field] == f"queue:{number}" and q["number"] != number:
                raise ConfigError(f"Queue {q['number']} sends callers to {number}; change it first.")
    config.table(QUEUES).remove(Query().number == str(number))


# ---- agents ----------------------------------------------------------------------------------

def hash_pin(pin: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2 ** 12, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_pin(stored: str, pin: str) -> bool:
    """Slow on purpose (scrypt): call it off the media thread."""
    try:
        scheme, salt, digest = stored.split("$")
    except (AttributeError, ValueError):
        return False
    if scheme != "scrypt" or not PIN_RE.fullmatch(pin or ""):
        return False
    got = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=2 ** 12, r=8, p=1, dklen=32)
    return hmac.compare_digest(got.hex(), digest)


def load_agents(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    return sorted((dict(d) for d in config.table(AGENTS).all() if isinstance(d.get("username"), str)),
                  key=lambda a: a["username"])


def agent(config: Any, username: str) -> dict | None:
    return next((a for a in load_agents(config) if a["username"] == username), None)


def validate_agent(config: Any, data: dict, original: str | None = None) -> dict:
    if not isinstance(data, dict):
        raise ConfigError("An agent is an object of fields.")
    username = str(data.get("username", "")).strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise ConfigError("Agent user name: 1 to 32 lower-case letters, digits, '.', '-' and '_'.")
    existing = {a["username"]: a for a in load_agents(config)}
    if username != original and username in existing:
        raise ConfigError(f"Agent {username} already exists.")
    number = str(data.get("number", "")).strip()
    if not AGENT_NUMBER_RE.fullmatch(number):
        raise ConfigError("Agent number (keyed at a phone to log in): 3 to 8 digits.")
    for a in existing.values():
        if a["number"] == number and a["username"] not in (username, original):
            raise ConfigError(f"Agent number {number} belongs to {a['username']}; choose another.")
    old = existing.get(original or username) or {}
    pin = data.get("pin")
    if pin not in (None, ""):
        pin = str(pin)
        if not PIN_RE.fullmatch(pin):
            raise ConfigError("PIN: 4 to 12 digits.")
        if len(set(pin)) == 1 or pin in "0123456789012" or pin == number:
            raise ConfigError("PIN: too easy to guess (all one digit, a run, or the agent number); choose another.")
        pin_hash = hash_pin(pin)
    else:
        pin_hash = old.get("pin_hash", "")
        if not pin_hash:
            raise ConfigError("PIN: an agent needs a PIN of 4 to 12 digits to log in at a phone.")
    team = str(data.get("team", old.get("team", "")) or "")
    if team and not any(t["id"] == team for t in load_teams(config)):
        raise ConfigError(f"Team {team[:30]!r} does not exist; create it first.")
    return {"username": username, "name": _name(data.get("name", old.get("name", ""))), "number": number,
            "pin_hash": pin_hash, "skills": _skills(data.get("skills", old.get("skills", {})), "Skills"),
            "team": team}


def save_agent(config: Any, data: dict, original: str | None = None) -> dict:
    from tinydb import Query
    with config.transaction():
        checked = validate_agent(config, data, original)
        table = config.table(AGENTS)
        if original and original != checked["username"]:
            table.remove(Query().username == original)
        table.upsert(checked, Query().username == checked["username"])
    return checked


def delete_agent(config: Any, username: str) -> None:
    from tinydb import Query
    with config.transaction():
        for q in load_queues(config):
            if any(m["agent"] == username for m in q["members"]):
                q["members"] = [m for m in q["members"] if m["agent"] != username]
                config.table(QUEUES).upsert(q, Query().number == q["number"])
        config.table(AGENTS).remove(Query().username == username)


def public_agent(a: dict) -> dict:
    """An agent as the web may see it: never the PIN hash."""
    return {k: v for k, v in a.items() if k != "pin_hash"} | {"has_pin": bool(a.get("pin_hash"))}


# ---- teams, pause reasons, surveys ---------------------------------------------------------------

def load_teams(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    return sorted((dict(d) for d in config.table(TEAMS).all() if isinstance(d.get("id"), str)),
                  key=lambda t: t["id"])


def save_team(config: Any, data: dict) -> dict:
    from tinydb import Query
    tid = str(data.get("id", "")).strip()
    if not ID_RE.fullmatch(tid):
        raise ConfigError("Team id: lower-case letters, digits, - and _ (1 to 30).")
    leader = str(data.get("leader", "") or "").strip()
    if leader and not USERNAME_RE.fullmatch(leader):
        raise ConfigError("Team leader: the user name of a supervisor.")
    team = {"id": tid, "name": _name(data.get("name", "")), "leader": leader}
    config.table(TEAMS).upsert(team, Query().id == tid)
    return team


def load_pause_reasons(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    return sorted((dict(d) for d in config.table(PAUSE_REASONS).all() if isinstance(d.get("code"), str)),
                  key=lambda r: r["code"])


def save_pause_reason(config: Any, data: dict) -> dict:
    from tinydb import Query
    code = str(data.get("code", "")).strip().lower()
    if not ID_RE.fullmatch(code):
        raise ConfigError("Pause reason code: lower-case letters, digits, - and _ (1 to 30).")
    reason = {"code": code, "label": _name(data.get("label", "")) or code}
    config.table(PAUSE_REASONS).upsert(reason, Query().code == code)
    return reason


def delete_pause_reason(config: Any, code: str) -> None:
    from tinydb import Query
    config.table(PAUSE_REASONS).remove(Query().code == code)


def load_surveys(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    return sorted((dict(d) for d in config.table(SURVEYS).all() if isinstance(d.get("id"), str)),
                  key=lambda s: s["id"])


def survey(config: Any, sid: str) -> dict | None:
    return next((s for s in load_surveys(config) if s["id"] == sid), None)


def save_survey(config: Any, data: dict) -> dict:
    from tinydb import Query
    sid = str(data.get("id", "")).strip()
    if not ID_RE.fullmatch(sid):
        raise ConfigError("Survey id: lower-case letters, digits, - and _ (1 to 30).")
    questions = data.get("questions") or []
    if isinstance(questions, str):
        questions = [q.strip() for q in questions.split(",") if q.strip()]
    if not isinstance(questions, list) or not 1 <= len(questions) <= 5:
        raise ConfigError("A survey asks 1 to 5 questions (prompt names such as custom/q1).")
    out = {"id": sid, "name": _name(data.get("name", "")),
           "questions": [_prompt_ref(q, f"Question {i + 1}") for i, q in enumerate(questions)]}
    config.table(SURVEYS).upsert(out, Query().id == sid)
    return out
