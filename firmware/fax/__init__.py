"""Fax: T.30 sessions over the analog lines (spandsp through dsp_ext.fax), test charts, the line check.

Public face:
- `charts.chart`, `charts.document`: generated test pages;
- `loopback.run_loopback`, `loopback.LoopbackResult`: a document over a simulated line, in simulated time;
- `register(engine)`: the fax service (store, fax thread, the `fax:<box>` route app, fax detection
  on lines with a fax box: `detect.set_detect_box`, `detect.detect_boxes`, and the one listener that
  diverts a calling fax whoever has the call, `detect.on_line_tone`);
- `service_of(engine)`; its `.outbox` (outbox_queue.FaxOutbox) sends: drafts rendered by
  `render.render_document` (a limited child process), the job queue (outbox.py), the sender on
  the media thread (send.py), the `fax.*` send commands (send_commands.py) and `linebox fax send`.
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
