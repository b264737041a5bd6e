"""Customers: the local customer book (contacts with several numbers, tags, notes), the
interactions recorded at each call's wrap-up, the owner's disposition codes, the screen pop
and CSV import/export. Public face: `CustomerBook`, `CustomerError`, `NotFound`, `book_for`, `reader_for` (the pop's read-only view),
`csv_import`, `csv_export`; engine API commands in `commands.py`."""
from __future__ import annotations

from pathlib import Path

from ..sqlite_files import reader_key, shared_store
from .book import CustomerBook, CustomerError, CustomerReader, NotFound

DB_NAME = "customers.db"


def book_for(data_dir: Path | str) -> CustomerBook:
    """The customer book of a data folder (opened once per process)."""
    return shared_store(Path(data_dir) / DB_NAME, CustomerBook)


def reader_for(data_dir: Path | str) -> CustomerReader:
    """The screen pop's read-only view of a data folder's customer book (opened once per process,
    closed with the engine)."""
    path = Path(data_dir) / DB_NAME
    book_for(data_dir)                                  # the file exists and is migrated
    return shared_store(reader_key(path), lambda _key: CustomerReader(path))


__all__ = ["CustomerBook", "CustomerError", "CustomerReader", "NotFound", "book_for", "reader_for", "DB_NAME"]
