"""Putting a checked backup in place, store by store, each step atomic.

Order: every content check first (configuration tables, SQLite integrity and schema), so a bad
archive changes nothing; then the configuration (one atomic commit through `Config`, its
listeners tell the engine), the databases (SQLite's backup API writes the restored pages into the
live database in one transaction, so its readers and writer see the old or the new content, never
a mix), and the media folders (the restored folder renamed into place, the old one renamed aside
and then removed).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import fsync_dir
from ..config import check_tables
from .archive import (
    CONFIG_FILE,
    DATABASES,
    FAX_DIR,
    FAX_INBOX_DB,
    FAX_NOT_BOXES,
    FAX_OUTBOX_DB,
    FAX_OUTBOX_DIR,
    BackupRefused,
    StagedRestore,
    StoreLayout,
)

log = logging.getLogger("linebox.backup")


def _schema(db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}
    finally:
        conn.close()


def _check_database(name: str, staged: Path, live: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{staged}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"The backup archive was refused: {name} is not a readable SQLite database ({exc}). "
                            "Nothing was changed.") from None
    if not result or result[0] != "ok":
        raise BackupRefused(f"The backup archive was refused: {name} fails SQLite's integrity check "
                            f"({result[0] if result else 'no answer'}). Nothing was changed.")
    if live.is_file():
        want, got = _schema(live), _schema(staged)
        if want != got:
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            differ = sorted(t for t in set(want) & set(got) if want[t] != got[t])
            detail = (f"missing tables {missing}" if missing else f"unknown tables {extra}" if extra
                      else f"different columns in {differ}")
            raise BackupRefused(f"The backup archive was refused: {name} has another layout than this Linebox's "
                                f"({detail}); it was made by another Linebox version. Nothing was changed.")


def check_contents(layout: StoreLayout, staged: StagedRestore) -> dict | None:
    """Every content check; returns the configuration tables to restore (None if the archive has none)."""
    tables = None
    if staged.has(CONFIG_FILE):
        try:
            doc = json.loads(staged.path(CONFIG_FILE).read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BackupRefused(f"The backup archive was refused: config.json is not valid JSON ({exc}). "
                                "Nothing was changed.") from None
        if isinstance(doc, dict):
            doc.pop("_meta", None)
        problem = check_tables(doc)
        if problem:
            raise BackupRefused(f"The backup archive was refused: its configuration is not valid ({problem}). "
                                "Nothing was changed.")
        tables = doc
    for db in DATABASES:
        if staged.has(db):
            _check_database(db, staged.path(db), layout.path_of(db))
    return tables


def _restore_database(src: Path, live: Path) -> None:
    live.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s:
        d = sqlite3.connect(str(live), timeout=30.0)
        try:
            d.execute("PRAGMA journal_mode=WAL")
            s.backup(d)          # one write transaction on the live database
            d.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            d.close()
    s.close()


def _swap_folder(src: Path, live: Path, stamp: str) -> None:
    aside = live.with_name(f".{live.name}.before-restore-{stamp}")
    if live.exists():
        os.replace(live, aside)
    os.replace(src, live)
    fsync_dir(live.parent)
    shutil.rmtree(aside, ignore_errors=True)


def _restore_fax_folders(layout: StoreLayout, staged: StagedRestore, stamp: str) -> list[str]:
    """The fax files go with their databases: when the archive has the inbox (outbox) database,
    the inbox folders (the outbox folder) become exactly the archive's, so every restored row
    finds its files and no file is left that no row names."""
    fax = layout.root / FAX_DIR
    carried = staged.fax_folders()
    swapped = []
    if staged.has(FAX_INBOX_DB) and fax.is_dir():
        for live in sorted(fax.iterdir()):
            rel = f"{FAX_DIR}/{live.name}"
            if live.is_dir() and not live.is_symlink() and live.name not in FAX_NOT_BOXES and \
                    not live.name.startswith(".") and rel not in carried:
                aside = live.with_name(f".{live.name}.before-restore-{stamp}")
                os.replace(live, aside)          # a box the archive does not have: its faxes' rows are gone
                fsync_dir(fax)
                shutil.rmtree(aside, ignore_errors=True)
    if staged.has(FAX_OUTBOX_DB) and FAX_OUTBOX_DIR not in carried:
        empty = staged.path(FAX_OUTBOX_DIR)              # an archive without jobs' files: an empty outbox
        empty.mkdir(parents=True, exist_ok=True)
        carried = [*carried, FAX_OUTBOX_DIR]
    for rel in carried:
        if rel == FAX_OUTBOX_DIR and not staged.has(FAX_OUTBOX_DB):
            continue
        if rel != FAX_OUTBOX_DIR and not staged.has(FAX_INBOX_DB):
            continue
        fax.mkdir(mode=0o755, exist_ok=True)
        _swap_folder(staged.path(rel), layout.root.joinpath(*rel.split("/")), stamp)
        swapped.append(rel)
    return swapped


def recover_interrupted(layout: StoreLayout) -> list[str]:
    """Tidy what a restore cut off by a crash or power cut left: a media folder renamed aside but
    not replaced is put back; staging folders and folders already replaced are removed."""
    notes = []
    asides = [*layout.root.glob(".*.before-restore-*"), *(layout.root / FAX_DIR).glob(".*.before-restore-*")]
    for aside in sorted(asides):
        live = aside.parent / aside.name[1:].split(".before-restore-")[0]
        if not live.exists():
            os.replace(aside, live)
            notes.append(f"{live.name} put back")
        else:
            shutil.rmtree(aside, ignore_errors=True)
    for staging in layout.root.glob(".restore-*"):
        shutil.rmtree(staging, ignore_errors=True)
    if notes:
        fsync_dir(layout.root)
        log.warning("an interrupted restore was tidied up: %s", ", ".join(notes))
    return notes


# fn(layout, done) called after a restore put everything in place (on the store thread): a domain
# that keeps some of its store in memory (the fax outbox's queue) reads it again.
_AFTER_RESTORE: list[Callable[[StoreLayout, dict], None]] = []


def after_restore(fn: Callable[[StoreLayout, dict], None]) -> None:
    """Have `fn(layout, done)` called after every restore (register once, at import)."""
    if fn not in _AFTER_RESTORE:
        _AFTER_RESTORE.append(fn)


def apply_restore(layout: StoreLayout, staged: StagedRestore, config: Any, records: Any = None) -> dict:
    """Check the staged contents, then put them in place. Returns what was restored."""
    tables = check_contents(layout, staged)
    if records is not None and hasattr(records, "flush"):
        records.flush()                     # queued call records land before the restore replaces them
    done: dict[str, Any] = {"config": False, "databases": [], "folders": []}
    if tables is not None:
        config.replace_all(tables)
        done["config"] = True
    for db in DATABASES:
        if staged.has(db):
            _restore_database(staged.path(db), layout.path_of(db))
            done["databases"].append(db)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for folder in staged.media_dirs():
        _swap_folder(staged.path(folder), layout.root / folder, stamp)
        done["folders"].append(folder)
    done["folders"] += _restore_fax_folders(layout, staged, stamp)
    log.warning("restored a backup made %s: %s", staged.created or "(unknown time)", done)
    for fn in list(_AFTER_RESTORE):
        try:
            fn(layout, done)
        except Exception:
            log.exception("after the restore, %r failed", fn)
    return done
