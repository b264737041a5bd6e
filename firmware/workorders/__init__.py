"""Work orders: linked to calls, customers, recordings and faxes; a life cycle from submitted to
closed with dispatch (person or department, due time), overdue flags, reopening on a repeat
contact, notifications and follow-up tasks. Public face: `WorkOrderBook`, `WorkOrderError`,
`NotFound`, `STATES`, `OPEN_STATES`, `orders_for`, `workorder_settings`; commands in `commands.py`."""
from __future__ import annotations

import threading
from pathlib import Path

from .orders import OPEN_STATES, STATES, NotFound, WorkOrderBook, WorkOrderError, is_overdue
from .settings import load as workorder_settings

DB_NAME = "workorders.db"
_OPEN: dict[Path, WorkOrderBook] = {}
_LOCK = threading.Lock()


def orders_for(data_dir: Path | str) -> WorkOrderBook:
    """The work orders of a data folder (opened once per process)."""
    path = Path(data_dir) / DB_NAME
    with _LOCK:
        book = _OPEN.get(path)
        if book is None:
            book = _OPEN[path] = WorkOrderBook(path)
        return book


__all__ = ["WorkOrderBook", "WorkOrderError", "NotFound", "STATES", "OPEN_STATES", "orders_for", "is_overdue", "DB_NAME",
           "workorder_settings"]
