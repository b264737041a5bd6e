"""Call records on the event stream: new and changed records reach the live pages (history)
through the same events as port status. Engine side: the records writer thread publishes
(`EngineControl.publish` is thread-safe and never blocks)."""
from __future__ import annotations

from typing import Any

from .control import StatusUpdate


def forward_call_records(control: Any, records: Any) -> None:
    add_listener = getattr(records, "add_listener", None)
    if add_listener is not None and control is not None:
        add_listener(lambda record: control.publish(StatusUpdate("record", payload=record)))
