"""Work orders: linked to calls, customers, recordings and faxes; a life cycle from submitted to
closed with dispatch (person or department, due time), overdue flags, reopening on a repeat
contact, notifications and follow-up tasks. Public face: `WorkOrderBook`, `WorkOrderError`,
`NotFound`, `STATES`, `OPEN_STATES`, `orders_for`, `workorder_settings`; commands in `commands.py`."""
from __future__ import annotations

from pathlib import Path

from ..sqlite_files import reader_key, shared_store
from .orders import OPEN_STATES, STATES, NotFound, WorkOrderBook, WorkOrderError, WorkOrderReader, is_overdue
from .settings import load as workorder_settings

DB_NAME = "workorders.db"


def orders_for(data_dir: Path | str) -> WorkOrderBook:
    """The work orders of a data folder (opened once per process)."""
    return shared_store(Path(data_dir) / DB_NAME, WorkOrderBook)


def orders_reader_for(data_dir: Path | str) -> WorkOrderReader:
    """Read-only open-order lookups of a data folder (the screen pop, off the store thread)."""
    path = Path(data_dir) / DB_NAME
    orders_for(data_dir)                                # the file exists and is migrated
    return shared_store(reader_key(path), lambda _key: WorkOrderReader(path))


__all__ = ["WorkOrderBook", "WorkOrderError", "NotFound", "STATES", "OPEN_STATES", "orders_for", "orders_reader_for",
           "is_overdue", "DB_NAME",
           "workorder_settings"]
