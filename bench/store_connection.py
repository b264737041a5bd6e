"""`python -m bench.store_connection [N]`: what the stores' connection class costs per statement.

Every store opened through firmware/sqlite_files (customer book, work orders, knowledge base, fax
outbox, the screen pop's read-only views, the call records) uses `StoreConnection`, which turns
"no such table/column" on a store kept at its old schema while a release is tried into a message
for the user. It is a Python-level override of execute(), so it costs a little on every
statement. This times N indexed single-row SELECTs (the screen pop's kind of query) and N
single-row INSERT transactions on the same file, with sqlite3's own Connection and with
StoreConnection, alternating five rounds; prints the medians in microseconds per statement.
"""
from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from firmware.sqlite_files import connect_store


def _plain(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
    db.row_factory = sqlite3.Row
    return db


def _time(db: sqlite3.Connection, n: int) -> tuple[float, float]:
    t = time.perf_counter()
    for i in range(n):
        db.execute("SELECT id, name FROM contacts WHERE id = ?", (i % 1000 + 1,)).fetchone()
    select_us = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for i in range(n // 10):
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE contacts SET name = ? WHERE id = ?", (f"c{i}", i % 1000 + 1))
        db.execute("COMMIT")
    write_us = (time.perf_counter() - t) / (n // 10) * 1e6
    return select_us, write_us


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 20000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        db = _plain(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")       # the statement's cost, not the disk's
        db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO contacts (name) VALUES (?)", [(f"c{i}",) for i in range(1000)])
        db.close()
        results: dict[str, list[tuple[float, float]]] = {"sqlite3.Connection": [], "StoreConnection": []}
        for _ in range(5):
            for name, make in (("sqlite3.Connection", _plain), ("StoreConnection", connect_store)):
                conn = make(path)
                conn.execute("PRAGMA synchronous=NORMAL")
                results[name].append(_time(conn, n))
                conn.close()
    print("| connection | indexed SELECT, µs | one-row write transaction (3 statements), µs |\n|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {statistics.median(r[0] for r in rows):.1f} | {statistics.median(r[1] for r in rows):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
