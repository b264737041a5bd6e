"""Fax: T.30 sessions over the analog lines (spandsp through dsp_ext.fax), test charts, the line check.

Public face:
- `charts.chart`, `charts.document`: generated test pages;
- `loopback.run_loopback`, `loopback.LoopbackResult`: a document over a simulated line, in simulated time;
- `register(engine)`: the fax service (store, fax thread, the `fax:<box>` route app, fax detection
  on lines with a fax box: `detect.set_detect_box`, `detect.detect_boxes`);
- `service_of(engine)`; its `.outbox` (outbox_queue.FaxOutbox) sends: drafts rendered by
  `render.render_document` (a limited child process), the job queue (outbox.py), the sender on
  the media thread (send.py), the `fax.*` send commands (send_commands.py) and `linebox fax send`.
"""
from __future__ import annotations

from typing import Any

__all__ = ["register", "service_of", "detected_fax_box"]


def register(engine: Any) -> Any:
    from .service import register as _register
    return _register(engine)


def service_of(engine: Any) -> Any:
    from .service import service_of as _of
    return _of(engine)


def detected_fax_box(engine: Any, app: Any) -> str | None:
    """The fax box for a fax detected (CNG) while `app` has an inbound call, or None to leave it be:
    the mailbox's own box when voicemail has the call, else the line's fax box (detect.py), else the
    service's `detect_box`."""
    svc = service_of(engine)
    if svc is None:
        return None
    box = getattr(app, "box", None) if app.name == "voicemail" else None
    line = getattr(getattr(app, "ch", None), "name", "")
    return box or svc.line_boxes.get(line) or svc.detect_box
