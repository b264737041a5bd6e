"""CallRecords: WAL, the writer thread, search, untrusted text, listeners, migrations."""
import logging
import sqlite3
import threading

import pytest

from firmware import records as records_module
from firmware.records import MIGRATIONS, SCHEMA_VERSION, TEXT_MAX, CallRecords, migrate, schema_version


@pytest.fixture
def rec(tmp_path):
    r = CallRecords(tmp_path / "calls.db")
    yield r
    r.close()


def _calls(rec: CallRecords) -> None:
    rec.call_started("c1", start=1000.0, src="201", dst="202", direction="internal")
    rec.call_answered("c1", at=1003.0)
    rec.call_ended("c1", at=1063.5, disposition="answered")
    rec.call_started("c2", start=2000.0, src="5550100", dst="201", direction="inbound", line="fxo1",
                     caller_id_number="5550100", caller_id_name="ACME Plumbing")
    rec.call_ended("c2", at=2030.0, disposition="no_answer")
    rec.call_started("c3", start=3000.0, src="202", dst="", direction="outbound", line="fxo2")
    rec.update("c3", dst="0800123456")
    rec.call_ended("c3", at=3001.0, disposition="busy")
    rec.call_started("c4", start=4000.0, src="203", dst="204", direction="internal")   # still ringing
    rec.flush()


def test_wal_mode_and_schema(rec, tmp_path):
    db = sqlite3.connect(tmp_path / "calls.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(db) == SCHEMA_VERSION == len(MIGRATIONS)
    db.close()


def test_call_lifecycle(rec):
    _calls(rec)
    expected = {
        "call_id": "c1", "start": 1000.0, "answered": 1003.0, "ended": 1063.5, "src": "201", "dst": "202",
        "direction": "internal", "line": None, "caller_id_number": None, "caller_id_name": None,
        "disposition": "answered", "duration": 63.5, "talk": 60.5}
    got = rec.get("c1")
    assert {k: got[k] for k in expected} == expected
    assert all(got[k] is None for k in set(got) - set(expected))     # columns later migrations added
    assert rec.get("c3")["dst"] == "0800123456" and rec.get("c3")["talk"] is None
    assert rec.get("c4")["disposition"] is None and rec.get("c4")["duration"] is None
    assert rec.get("nope") is None


def test_search(rec):
    _calls(rec)
    ids = lambda rows: [r["call_id"] for r in rows]   # noqa: E731
    assert ids(rec.search()) == ["c4", "c3", "c2", "c1"]                    # newest first
    assert ids(rec.search("201")) == ["c2", "c1"]                          # src or dst
    assert ids(rec.search("555-0100")) == ["c2"]                           # punctuation ignored for numbers
    assert ids(rec.search("acme")) == ["c2"]                               # caller ID name, any case
    assert ids(rec.search("fxo2")) == ["c3"]                               # line
    assert ids(rec.search("0800")) == ["c3"]
    assert ids(rec.search("nobody")) == []
    assert ids(rec.search(disposition="busy")) == ["c3"]
    assert ids(rec.search(since=2000.0, until=4000.0)) == ["c3", "c2"]
    assert ids(rec.search(limit=2)) == ["c4", "c3"] and ids(rec.search(limit=2, offset=2)) == ["c2", "c1"]
    with pytest.raises(ValueError, match="disposition"):
        rec.search(disposition="x' OR 1=1 --")


UNTRUSTED = {
    "quotes": "O'Brien \"Bob\" `x`",
    "sql": "'; DROP TABLE calls; --",
    "sql2": "\" OR 1=1 --",
    "long": "N" * 1000 + "end",
    "control": "a\x00b\x07c\r\nd\x1b[31me\x7f",
    "like wildcards": "100%_off\\",
    "shell": "$(reboot) `id` | rm -rf / ; &&",
    "unicode": "张伟 \u202eevil\u202c 😀",
}


@pytest.mark.parametrize("kind", UNTRUSTED)
def test_untrusted_caller_id_is_stored_and_found_verbatim(rec, kind):
    text = UNTRUSTED[kind]
    rec.call_started("other", start=1.0, src="201", dst="202", direction="internal", caller_id_name="100 off")
    rec.call_started("evil", start=2.0, src=text, dst="201", direction="inbound", line="fxo1",
                     caller_id_number=text, caller_id_name=text)
    rec.flush()
    got = rec.get("evil")
    assert got["caller_id_name"] == text and got["caller_id_number"] == text and got["src"] == text
    assert [r["call_id"] for r in rec.search(text)] == ["evil"]       # wildcards in it match only literally
    assert len(rec.search()) == 2                                       # the table is still there


def test_text_is_bounded(rec):
    rec.call_started("big", start=1.0, src="x" * 10_000, dst="201", direction="inbound")
    rec.flush()
    assert rec.get("big")["src"] == "x" * TEXT_MAX


def test_bad_values_are_refused_at_the_call_not_in_the_writer(rec):
    with pytest.raises(ValueError, match="direction"):
        rec.call_started("x", start=1.0, src="1", dst="2", direction="sideways")
    with pytest.raises(ValueError, match="disposition"):
        rec.call_ended("x", at=1.0, disposition="exploded")
    with pytest.raises(ValueError, match="unknown call record field"):
        rec.update("x", **{"dst = 'x', src": "y"})
    with pytest.raises(ValueError, match="unknown call record field"):
        rec.update("x", nonsense=1)


def test_listener_gets_each_changed_record(rec):
    seen = []
    rec.add_listener(lambda r: seen.append((r["call_id"], r["disposition"], threading.current_thread().name)))
    rec.call_started("a", start=1.0, src="201", dst="202", direction="internal")
    rec.flush()
    rec.call_ended("a", at=2.0, disposition="busy")
    rec.call_ended("ghost", at=2.0, disposition="busy")     # unknown call: no record, no notification
    rec.flush()
    assert seen == [("a", None, "records-writer"), ("a", "busy", "records-writer")]


def test_listener_may_read_and_flush(rec):
    seen = []
    rec.add_listener(lambda r: (rec.flush(), seen.append(rec.get(r["call_id"])["src"])))
    rec.call_started("a", start=1.0, src="201", dst="202", direction="internal")
    rec.flush()
    assert seen == ["201"]


def test_a_failing_listener_does_not_stop_the_writer(rec, caplog):
    rec.add_listener(lambda r: 1 / 0)
    rec.call_started("a", start=1.0, src="201", dst="202", direction="internal")
    rec.flush()
    rec.call_started("b", start=2.0, src="201", dst="202", direction="internal")
    rec.flush()
    assert rec.get("b") is not None and "ZeroDivisionError" in caplog.text


def test_duplicate_start_keeps_the_first(rec, caplog):
    rec.call_started("a", start=1.0, src="201", dst="202", direction="internal")
    rec.call_started("a", start=5.0, src="666", dst="202", direction="internal")
    rec.flush()
    assert rec.get("a")["src"] == "201" and "started twice" in caplog.text


def test_producers_do_not_wait_for_the_disk(rec, tmp_path):
    """While another connection holds the write lock, the media thread's calls still return at once."""
    blocker = sqlite3.connect(tmp_path / "calls.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    rec.call_started("first", start=1.0, src="201", dst="202", direction="internal")   # writer now blocks on it
    returned = threading.Event()

    def media_thread() -> None:
        for i in range(100):
            rec.call_started(f"m{i}", start=2.0 + i, src="201", dst="202", direction="internal")
            rec.call_ended(f"m{i}", at=3.0 + i, disposition="answered")
        returned.set()
    t = threading.Thread(target=media_thread)
    t.start()
    t.join(timeout=5)
    assert returned.is_set(), "call_started/call_ended waited for the database"
    assert rec.get("first") is None
    blocker.execute("COMMIT")
    blocker.close()
    rec.flush(timeout=20)
    assert len(rec.search(limit=1000)) == 101


def test_close_commits_what_is_queued(tmp_path):
    r = CallRecords(tmp_path / "calls.db")
    for i in range(50):
        r.call_started(f"c{i}", start=float(i), src="201", dst="202", direction="internal")
    r.close()
    r.close()
    wal = tmp_path / "calls.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0          # folded into the database at close
    again = CallRecords(tmp_path / "calls.db")
    assert len(again.search(limit=100)) == 50
    again.close()


def test_migrations_add_tables_and_keep_data(tmp_path):
    path = tmp_path / "calls.db"
    r = CallRecords(path)
    r.call_started("old", start=1.0, src="201", dst="202", direction="internal")
    r.close()
    later = [*MIGRATIONS,
             "CREATE TABLE later_notes (id INTEGER PRIMARY KEY, call_id TEXT REFERENCES calls(call_id), at REAL);",
             "ALTER TABLE calls ADD COLUMN recording TEXT;"]
    db = sqlite3.connect(path, isolation_level=None)
    assert migrate(db, later) == SCHEMA_VERSION
    assert schema_version(db) == SCHEMA_VERSION + 2
    assert migrate(db, later) == SCHEMA_VERSION + 2                  # second open: nothing to do
    db.execute("INSERT INTO later_notes (call_id, at) VALUES ('old', 2.0)")
    assert db.execute("SELECT src, recording FROM calls").fetchall() == [("201", None)]
    db.close()


def test_a_failing_migration_changes_nothing(tmp_path):
    db = sqlite3.connect(tmp_path / "calls.db", isolation_level=None)
    migrate(db)
    broken = [*MIGRATIONS, "CREATE TABLE half (x); THIS IS NOT SQL;"]
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, broken)
    assert schema_version(db) == SCHEMA_VERSION
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []
    db.close()


def test_database_from_newer_firmware_is_refused_clearly(tmp_path):
    path = tmp_path / "calls.db"
    CallRecords(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer than this Linebox"):
        CallRecords(path)


def test_unreadable_database_is_kept_aside_and_replaced(tmp_path, caplog):
    path = tmp_path / "calls.db"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR, logger="linebox.records"):
        r = CallRecords(path)
    r.call_started("a", start=1.0, src="201", dst="202", direction="internal")
    r.flush()
    assert r.get("a") is not None
    r.close()
    kept = list(tmp_path.glob("calls.db.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
    assert "unreadable" in caplog.text and "kept aside" in caplog.text


def test_readers_in_many_threads(rec):
    _calls(rec)
    results = []

    def read() -> None:
        results.append([r["call_id"] for r in rec.search("20")])
    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [["c4", "c3", "c2", "c1"]] * 8


def test_a_later_feature_adds_a_table_in_one_step(tmp_path, monkeypatch):
    path = tmp_path / "calls.db"
    old = CallRecords(path)
    old.call_started("before", start=1.0, src="201", dst="202", direction="internal")
    old.close()
    monkeypatch.setattr(records_module, "MIGRATIONS", [*MIGRATIONS, """
        CREATE TABLE later_events (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, call_id TEXT, event TEXT, at REAL);
        CREATE INDEX later_events_by_at ON later_events (at);
    """])
    rec = CallRecords(path)
    try:
        rec.insert("later_events", queue="sales", call_id="before", event="joined", at=2.0)
        rec.insert("later_events", queue="sales", call_id="before", event="'; DROP TABLE calls; --", at=3.0)
        rec.flush()
        rows = rec.query("SELECT event FROM later_events WHERE queue = ? ORDER BY at", ("sales",))
        assert rows == [{"event": "joined"}, {"event": "'; DROP TABLE calls; --"}]
        assert rec.get("before") is not None
        with pytest.raises(ValueError, match="unknown or no columns"):
            rec.insert("later_events", queue="x", colour="red")
        with pytest.raises(ValueError, match="no table"):
            rec.insert("nope", a=1)
        with pytest.raises(ValueError, match="own methods"):
            rec.insert("calls", call_id="x")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            rec.query("DELETE FROM calls")
    finally:
        rec.close()
