"""Call pickup: answer a call ringing another phone from your own.

* `*8`: group pickup, a call ringing any phone of the same pickup group (every extension is
  in group 1 until the owner changes it; an empty group takes part in no pickup);
* `**<ext>`: directed pickup of the call ringing extension <ext> (end with # or wait).

Other packages may offer more ringing phones to pick up (the call center: a queue call ringing
an agent, taken by another logged-in agent) with `register_pickup_source`.

Nothing to pick up: congestion tone.
"""
from __future__ import annotations

from collections.abc import Callable
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


# fn(engine) -> [(ringing phone, take)]: take(picker) answers that call on `picker`, False if it may not.
PickupSource = Callable[["Engine"], list[tuple[FxsChannel, Callable[[FxsChannel], bool]]]]
_SOURCES: list[PickupSource] = []


def register_pickup_source(source: PickupSource) -> None:
    """Let `*8`, `**ext` and the desktop pick up what `source` says is ringing (registered once by
    the package that owns those calls)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def ringing_phones(engine: Engine) -> list[tuple[FxsChannel, Callable[[FxsChannel], bool]]]:
    """Every (ringing phone, take) a phone may pick up: plain calls (oldest first), then the
    registered sources'."""
    out: list[tuple[FxsChannel, Callable[[FxsChannel], bool]]] = []
    for call, ch in ringing_calls(engine):
        out.append((ch, lambda picker, call=call: _take(call, picker)))
    for source in _SOURCES:
        out.extend(source(engine))
    return out


def _take(call: Call, picker: FxsChannel) -> bool:
    if call.ended or call.b is not None:
        return False
    pick(call, picker)
    return True


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
    for ringing, take in ringing_phones(engine):
        if group and ringing is not ch and prefs.of(ringing.extension).pickup_group == group and take(ch):
            return
    Parked(engine, ch, "congestion")


def _directed_pickup(engine: Engine, ch: Channel, arg: str = "", call: Call | None = None) -> None:
    if not isinstance(ch, FxsChannel):
        return
    target = engine.channel_for_extension(arg.rstrip("#"))
    for ringing, take in ringing_phones(engine):
        if ringing is target and ringing is not ch and take(ch):
            return
    Parked(engine, ch, "congestion")


def register(engine: Engine) -> None:
    engine.register_app("pickup", _group_pickup, code=GROUP_CODE)
    engine.register_app("pickup-directed", _directed_pickup, code=DIRECTED_CODE, takes_arg=True)
