"""The fax inbox follows the stores' rule for a release being tried (issue 14, firmware/sqlite_files.py):
an inbox written by the old release (no `transcript` column) keeps its layout while the new release is
tried, faxes still arrive and are kept, the old release could read the file after a rollback, and the
commit's `migrate_held` adds the column."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from firmware import sqlite_files
from firmware.fax.store import FaxStore

OLD_INBOX = """CREATE TABLE faxes (id INTEGER PRIMARY KEY AUTOINCREMENT, box TEXT NOT NULL, direction TEXT NOT NULL,
 line TEXT NOT NULL, caller_number TEXT NOT NULL, remote_ident TEXT NOT NULL, pages INTEGER NOT NULL,
 rate INTEGER NOT NULL, ecm INTEGER NOT NULL, bad_rows INTEGER NOT NULL, seconds REAL NOT NULL,
 result_code INTEGER NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '',
 tiff TEXT NOT NULL DEFAULT '', at REAL NOT NULL, pdf TEXT NOT NULL DEFAULT '', mailed_to TEXT NOT NULL DEFAULT '');"""


def columns(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[1] for r in db.execute("PRAGMA table_info(faxes)")}
    finally:
        db.close()


def receive(store: FaxStore, tag: str) -> int:
    return store.add(box="sales", direction="in", line="fxo1", caller_number="+14155550134", remote_ident=tag,
                     pages=1, rate=9600, ecm=True, bad_rows=0, seconds=30.0, result_code=0, result="OK",
                     reason="", kind="fax", tiff="", at=1.0, transcript=["0.0 s answered", "2.1 s DIS sent"])


def test_tried_release_keeps_the_inbox_layout_and_the_commit_adds_the_transcript(tmp_path: Path) -> None:
    data = tmp_path / "data"
    root = data / "fax"
    root.mkdir(parents=True)
    db = sqlite3.connect(root / "faxes.db")
    db.executescript(OLD_INBOX)
    db.close()
    sqlite_files.hold_schemas(data, True)                 # the engine of a release being tried
    try:
        store = FaxStore(root)
        first = receive(store, "WHILE TRIED")
        assert "transcript" not in columns(root / "faxes.db")        # the old release's layout
        assert store.get(first).remote_ident == "WHILE TRIED"
        assert store.get(first).transcript == ()
        done = sqlite_files.migrate_held(data)             # the health check committed
        assert any("fax inbox" in line for line in done)
        assert "transcript" in columns(root / "faxes.db")
        second = receive(store, "AFTER COMMIT")
        assert store.get(second).transcript == ("0.0 s answered", "2.1 s DIS sent")
        assert [f.remote_ident for f in store.list()] == ["AFTER COMMIT", "WHILE TRIED"]
    finally:
        sqlite_files.hold_schemas(data, False)


def test_an_inbox_opened_when_nothing_is_tried_gets_the_column_at_once(tmp_path: Path) -> None:
    root = tmp_path / "fax"
    root.mkdir()
    db = sqlite3.connect(root / "faxes.db")
    db.executescript(OLD_INBOX)
    db.close()
    store = FaxStore(root)
    assert "transcript" in columns(root / "faxes.db")
    assert store.get(receive(store, "X")).transcript == ("0.0 s answered", "2.1 s DIS sent")
