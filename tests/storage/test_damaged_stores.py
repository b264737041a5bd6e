"""Damaged stores at start (issue 9 item 4): a garbage, truncated or page-damaged webui.sqlite
or records.db is set aside as `<name>.corrupt-<time>` with one log line and an alarm on the
status page, a clean store is started, and the phones keep working."""
from __future__ import annotations

import logging
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from firmware.firstboot import read_code
from firmware.records import CallRecords
from webui.store import WebStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Quiet-Harbour-Lantern-8"


def damage_page(path: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage: the file still opens as SQLite."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes((i * 37 + 11) % 256 for i in range(page_size)))
    with sqlite3.connect(path) as db:                 # still looks like a database
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def web_store_with_users(path: Path) -> None:
    store = WebStore(path)
    with store.transaction() as db:
        for i in range(300):
            db.execute("INSERT INTO users(username, role, pw_hash, created) VALUES (?,?,?,?)",
                       (f"user{i}", "agent", "x" * 200, 0.0))
    store.close()


def damaged_variants(path: Path, kind: str) -> None:
    if kind == "garbage":
        path.write_bytes(b"this is not a database\n" * 100)
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "page":
        damage_page(path, "users")


def aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


@pytest.mark.parametrize("kind", ["garbage", "truncated", "page"])
def test_a_damaged_web_store_is_set_aside_and_started_clean(tmp_path, caplog, kind):
    path = tmp_path / "webui.sqlite"
    web_store_with_users(path)
    damaged_variants(path, kind)
    with caplog.at_level(logging.ERROR):
        store = WebStore(path)
    assert store.alarm and "set aside" in store.alarm
    (kept,) = aside(path)
    assert kept.stat().st_size > 0
    assert len([r for r in caplog.records if "set aside" in r.getMessage()]) == 1      # one clear line
    assert store.query("SELECT count(*) AS n FROM users")[0]["n"] == 0                 # clean
    with store.transaction() as db:
        db.execute("INSERT INTO users(username, role, pw_hash, created) VALUES ('owner','admin','h',0)")
    store.close()
    assert WebStore(path).alarm is None                                                  # and healthy


def test_a_locked_web_store_is_not_mistaken_for_damage(tmp_path):
    path = tmp_path / "webui.sqlite"
    web_store_with_users(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")                 # another process holds the file
    try:
        with pytest.raises(sqlite3.OperationalError):
            WebStore(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert aside(path) == []                            # nothing renamed away
    assert WebStore(path).query("SELECT count(*) AS n FROM users")[0]["n"] == 300


def test_page_damage_inside_records_is_noticed_at_start(tmp_path):
    path = tmp_path / "records.db"
    records = CallRecords(path)
    for i in range(400):
        records.call_started(f"c{i}", start=1000.0 + i, src="201", dst="5550100", direction="outbound")
    records.flush()
    records.close()
    damage_page(path, "calls")
    records = CallRecords(path)
    try:
        assert records.alarm and "set aside" in records.alarm
        assert aside(path)
        records.call_started("new", start=5000.0, src="201", dst="202", direction="internal")
        records.flush()
        assert [r["call_id"] for r in records.search()] == ["new"]       # new records are kept
    finally:
        records.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_linebox_starts_with_both_stores_damaged_and_says_so(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "webui.sqlite").write_bytes(b"\x00garbage" * 512)
    records = CallRecords(data / "records.db")
    for i in range(400):
        records.call_started(f"c{i}", start=1000.0 + i, src="201", dst="5550100", direction="outbound")
    records.close()
    damage_page(data / "records.db", "calls")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "linebox.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "firmware.cli", "run", "--board", "sim", "--data", str(data),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30          # a real process: real time
        while True:
            try:
                page = httpx.get(url + "/setup", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=10) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/setup").text).group(1)
            r = c.post("/setup", data={"username": "owner", "password": PASSWORD, "confirm": PASSWORD,
                                       "setup_code": read_code(data), "csrf_token": token})
            assert r.status_code == 303
            status = c.get("/status").text
            assert "webui.sqlite.corrupt-" in status and "records.db.corrupt-" in status
            assert c.get("/history").status_code == 200
            assert c.get("/api/history").status_code == 200
        assert page.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log_path.read_text()
    assert "Traceback" not in text
    assert text.count("webui.sqlite was damaged") == 1
    assert aside(data / "webui.sqlite") and aside(data / "records.db")
