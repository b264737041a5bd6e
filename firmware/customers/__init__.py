"""Customers: the local customer book (contacts with several numbers, tags, notes), the
interactions recorded at each call's wrap-up, the owner's disposition codes, the screen pop
and CSV import/export. Public face: `CustomerBook`, `CustomerError`, `NotFound`, `book_for`,
`csv_import`, `csv_export`; engine API commands in `commands.py`."""
from __future__ import annotations

from pathlib import Path

from ..sqlite_files import shared_store
from .book import CustomerBook, CustomerError, NotFound

DB_NAME = "customers.db"


def book_for(data_dir: Path | str) -> CustomerBook:
    """The customer book of a data folder (opened once per process)."""
    return shared_store(Path(data_dir) / DB_NAME, CustomerBook)


__all__ = ["CustomerBook", "CustomerError", "NotFound", "book_for", "DB_NAME"]
