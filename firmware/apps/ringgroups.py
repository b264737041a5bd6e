"""Ring groups and page groups: numbers that reach several extensions.

Both are dialled like an extension (e.g. ring group 600, page group 700) and can be an
inbound line's destination ("ringgroup:600"). Stored in the config table `ring_groups`:

    {"number": "600", "name": "Sales", "kind": "ring", "strategy": "ringall" | "order",
     "members": ["201", "202"], "ring_s": 20}
    {"number": "700", "name": "Warehouse", "kind": "page", "members": [...]}

Ring all: every idle member rings, the first to answer gets the call. In order: one member at a
time for `ring_s` seconds (busy members are skipped). Nobody answers within the engine's ring
timeout (ring all) or after the last member (in order): the caller hears busy (a line is let go).
"""
from __future__ import annotations

import logging
import re
import weakref
from functools import partial
from typing import TYPE_CHECKING, Any

from ..calls import Call
from ..channels import Channel, FxoChannel, FxsChannel
from ..config import ConfigError, register_destination_kind

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("linebox.phone")

TABLE = "ring_groups"
NUMBER_RE = re.compile(r"[0-9]{2,6}")
STRATEGIES = ("ringall", "order")
KINDS = ("ring", "page")
NAME_MAX = 40
MEMBERS_MAX = 32


def validate(config: Any, group: dict, original: str | None = None) -> dict:
    """A checked, normalised group; ConfigError with one line for the owner otherwise."""
    number = str(group.get("number", "")).strip()
    if not NUMBER_RE.fullmatch(number):
        raise ConfigError("Group number: 2 to 6 digits.")
    access = str(config.settings().get("access_code", "9") or "")
    if access and number.startswith(access):
        raise ConfigError(f"Group number must not start with the outside-line access code {access}.")
    if config.extension(number) is not None:
        raise ConfigError(f"{number} is already an extension.")
    for other in load_groups(config):
        if other["number"] == number and number != original:
            raise ConfigError(f"Group {number} already exists.")
    name = str(group.get("name", "")).strip()
    if len(name) > NAME_MAX or not name.isprintable():
        raise ConfigError(f"Name: at most {NAME_MAX} printable characters.")
    kind = str(group.get("kind", "ring"))
    if kind not in KINDS:
        raise ConfigError("Kind must be ring or page.")
    strategy = str(group.get("strategy", "ringall"))
    if strategy not in STRATEGIES:
        raise ConfigError("Strategy must be ringall (ring all) or order (one after the other).")
    raw = group.get("members", [])
    if isinstance(raw, str):
        raw = [m for m in re.split(r"[\s,]+", raw) if m]
    members: list[str] = []
    for m in raw:
        m = str(m).strip()
        if config.extension(m) is None:
            raise ConfigError(f"Member {m[:10]!r} is not an extension.")
        if m not in members:
            members.append(m)
    if not members or len(members) > MEMBERS_MAX:
        raise ConfigError(f"Give 1 to {MEMBERS_MAX} member extensions.")
    try:
        ring_s = int(group.get("ring_s", 20))
    except (TypeError, ValueError):
        raise ConfigError("Ring time: a whole number of seconds.") from None
    if not 5 <= ring_s <= 120:
        raise ConfigError("Ring time: 5 to 120 seconds per member.")
    return {"number": number, "name": name, "kind": kind, "strategy": strategy, "members": members,
            "ring_s": ring_s}


def load_groups(config: Any) -> list[dict]:
    if not hasattr(config, "table"):
        return []
    out = []
    for doc in config.table(TABLE).all():
        if isinstance(doc.get("number"), str) and isinstance(doc.get("members"), list):
            out.append(dict(doc))
    return sorted(out, key=lambda g: g["number"])


def save_group(config: Any, group: dict, original: str | None = None) -> dict:
    from tinydb import Query
    checked = validate(config, group, original)
    with config.transaction():
        table = config.table(TABLE)
        if original and original != checked["number"]:
            table.remove(Query().number == original)
        table.upsert(checked, Query().number == checked["number"])
    return checked


def delete_group(config: Any, number: str) -> None:
    from tinydb import Query
    config.table(TABLE).remove(Query().number == str(number))


def _destination_problem(config: Any, value: str) -> str | None:
    if not any(g["number"] == value and g.get("kind") == "ring" for g in load_groups(config)):
        return f"ring group {value[:10]!r} does not exist"
    return None


register_destination_kind("ringgroup", _destination_problem)


class RingGroups:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.groups: dict[str, dict] = {}
        self._codes: set[str] = set()
        self.reload()

    def reload(self) -> None:
        eng = self.engine
        groups = {g["number"]: g for g in load_groups(eng.config)}
        for name in self._codes - {f"group-{n}" for n in groups}:
            eng.register_app(name, eng.apps[name], code=None)      # drops its number from the plan
            eng.apps.pop(name, None)
        self._codes = set()
        for number in groups:
            if number in eng.plan.extensions:
                continue
            name = f"group-{number}"
            eng.register_app(name, partial(group_app, number=number), code=number)
            self._codes.add(name)
        self.groups = groups


_GROUPS: weakref.WeakKeyDictionary[Engine, RingGroups] = weakref.WeakKeyDictionary()


def groups_of(engine: Engine) -> RingGroups:
    return _GROUPS[engine]


def idle_members(engine: Engine, group: dict, exclude: Channel | None = None) -> list[FxsChannel]:
    out = []
    for ext in group["members"]:
        ch = engine.channel_for_extension(ext)
        if ch is not None and ch is not exclude and ch.usable and ch.handler is None and not ch.off_hook:
            out.append(ch)
    return out


def group_app(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None, *, number: str = "") -> None:
    from .forward import give_busy
    number = number or arg
    group = groups_of(engine).groups.get(number)
    if group is None:
        give_busy(engine, ch, call, number)
        return
    if group.get("kind") == "page":
        from .paging import page_group
        page_group(engine, ch, group, call)
        return
    members = idle_members(engine, group, exclude=ch)
    if not members:
        give_busy(engine, ch, call, number)
        return
    if isinstance(ch, FxsChannel):
        src = ch.extension or ch.name
        call = Call(engine, ch, "internal", src, number, cid_number=src, cid_name=ch.ext_name or None)
        ch.set_state("ringback", peer=group["name"] or number)
    else:
        assert isinstance(ch, FxoChannel) and call is not None
        call.answered = False          # the line was answered to ring the group; the call is answered by a phone
        call.dst = number
        ch.set_state("ringing", peer=group["name"] or number, caller_id=call.cid_number)
    ch.play_tone("ringback")
    if group["strategy"] == "ringall":
        call.ring_targets(members)
        call.after(engine.settings.ring_timeout_ms, call._no_answer)
    else:
        _ring_next(engine, call, group, 0)


def _ring_next(engine: Engine, call: Call, group: dict, i: int) -> None:
    if call.answered or call.ended:
        return
    call._stop_ringing()
    members = group["members"]
    while i < len(members):
        ch = engine.channel_for_extension(members[i])
        i += 1
        if ch is not None and ch is not call.a and ch.usable and ch.handler is None and not ch.off_hook:
            call.ring_targets([ch])
            call.after(int(group["ring_s"]) * 1000, lambda i=i: _ring_next(engine, call, group, i))
            return
    call._no_answer()


def register(engine: Engine) -> RingGroups:
    svc = RingGroups(engine)
    _GROUPS[engine] = svc
    engine.media_listeners.append(svc.reload)
    engine.register_app("ringgroup", group_app)
    return svc
