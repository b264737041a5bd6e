"""Forward-only data migrations, run only once a new release is committed (issue 14).

A release that changes how stored data looks (a column renamed, a file format changed) registers a
`DataMigration` bringing the data partition from schema N-1 to N. While the new release is only
being *tried* (tryboot, before its health check) its migrations do not run: it must read schema N-1
as it is, so a rollback finds the data exactly as the old release left it. Once the health check
commits the slot, `linebox update check` asks the engine (`update.migrate`, on the store thread: the
engine stays the one writer of every store) to run the pending migrations in order; a normal boot
runs any still pending (a power cut in the middle: each migration is idempotent and the schema
number is written, atomically, only after it). A backup archive was taken before the install.

Additive changes (a new table, a new nullable column, a new file) need no migration: the old
release ignores what it does not know, so they may happen when a store opens.

The data's schema number lives in DATA/update/data_schema.json.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write

log = logging.getLogger("linebox.update")
SCHEMA_FILE = Path("update") / "data_schema.json"
BASE_SCHEMA = 1


@dataclass(frozen=True)
class DataMigration:
    to_schema: int                       # the schema the data has after it
    what: str                            # for the log and the owner
    apply: Callable[[Path], None]        # apply(data_dir); must be safe to run again


MIGRATIONS: list[DataMigration] = []     # this release's migrations (domains register theirs)


def register(to_schema: int, what: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def add(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        MIGRATIONS.append(DataMigration(to_schema, what, fn))
        return fn
    return add


def code_schema(migrations: list[DataMigration] | None = None) -> int:
    """The data schema this release writes and reads."""
    migrations = MIGRATIONS if migrations is None else migrations
    return max([BASE_SCHEMA, *(m.to_schema for m in migrations)])


def data_schema(data_dir: Path) -> int:
    try:
        return int(json.loads((Path(data_dir) / SCHEMA_FILE).read_text())["schema"])
    except FileNotFoundError:
        return BASE_SCHEMA


def pending(data_dir: Path, migrations: list[DataMigration] | None = None) -> list[DataMigration]:
    migrations = MIGRATIONS if migrations is None else migrations
    have = data_schema(data_dir)
    return sorted((m for m in migrations if m.to_schema > have), key=lambda m: m.to_schema)


def run_forward(data_dir: Path, migrations: list[DataMigration] | None = None) -> list[str]:
    """Run the pending migrations in order; returns what was done. Never goes backwards."""
    done = []
    for m in pending(data_dir, migrations):
        log.warning("data migration to schema %d: %s", m.to_schema, m.what)
        m.apply(Path(data_dir))
        path = Path(data_dir) / SCHEMA_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"schema": m.to_schema}).encode())
        done.append(f"schema {m.to_schema}: {m.what}")
    return done
