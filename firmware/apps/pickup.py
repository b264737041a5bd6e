"""Call pickup: answer a call ringing another phone from your own.

* `*8`: group pickup, a call ringing any phone of the same pickup group (every extension is
  in group 1 until the owner changes it; an empty group takes part in no pickup);
* `**<ext>`: directed pickup of the call ringing extension <ext> (end with # or wait).

Nothing to pick up: congestion tone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..calls import Call, Parked
from ..channels import Channel, FxsChannel

if TYPE_CHECKING:
    from ..engine import Engine

GROUP_CODE = "*8"
DIRECTED_CODE = "**"


def ringing_calls(engine: Engine) -> list[tuple[Call, FxsChannel]]:
    """(call, ringing phone) pairs, oldest call first."""
    out = []
    for call in sorted(engine.calls, key=lambda c: c.id):
        if call.ended or call.b is not None:
            continue
        out.extend((call, ch) for ch in call.ringing if ch.ringing)
    return out


def pick(call: Call, picker: FxsChannel) -> None:
    """`picker` answers `call` in place of the phones it rings."""
    picker.handler = call
    call.ringing.append(picker)
    call.on_answer(picker)


def _group_pickup(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
    if not isinstance(ch, FxsChannel):
        return
    from .forward import prefs_service
    prefs = prefs_service(engine)
    group = prefs.of(ch.extension).pickup_group
    for c, ringing in ringing_calls(engine):
        if group and ringing is not ch and prefs.of(ringing.extension).pickup_group == group:
            pick(c, ch)
            return
    Parked(engine, ch, "congestion")


def _directed_pickup(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
    if not isinstance(ch, FxsChannel):
        return
    target = engine.channel_for_extension(arg.rstrip("#"))
    for c, ringing in ringing_calls(engine):
        if ringing is target and ringing is not ch:
            pick(c, ch)
            return
    Parked(engine, ch, "congestion")


def register(engine: Engine) -> None:
    engine.register_app("pickup", _group_pickup, code=GROUP_CODE)
    engine.register_app("pickup-directed", _directed_pickup, code=DIRECTED_CODE, takes_arg=True)
