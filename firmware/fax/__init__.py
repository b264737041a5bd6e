"""Fax: T.30 sessions over the analog lines (spandsp through dsp_ext.fax), test charts, the line check.

Public face:
- `charts.chart`, `charts.document`: generated test pages;
- `loopback.run_loopback`, `loopback.LoopbackResult`: a document over a simulated line, in simulated time;
- `register(engine)`: the fax service (store, fax thread, the `fax:<box>` route app);
- `service_of(engine)`.
"""
from __future__ import annotations

from typing import Any

__all__ = ["register", "service_of"]


def register(engine: Any) -> Any:
    from .service import register as _register
    return _register(engine)


def service_of(engine: Any) -> Any:
    from .service import service_of as _of
    return _of(engine)
