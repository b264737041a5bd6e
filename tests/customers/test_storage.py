"""The customer, work-order and knowledge files are crash-safe stores: WAL with full sync, a
damaged file is set aside (never deleted) and a new one started, with an alarm on the status
page; an acknowledged save survives the process being killed."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firmware.alarms import clear_alarm
from firmware.customers import CustomerBook
from firmware.knowledge import KnowledgeBase
from firmware.workorders import WorkOrderBook

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("cls", "name"), [(CustomerBook, "customers.db"), (WorkOrderBook, "workorders.db"),
                                           (KnowledgeBase, "knowledge.db")])
def test_damaged_file_is_set_aside_and_a_new_one_starts(tmp_path, api, cls, name):
    path = tmp_path / "d" / name
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 200)
    store = cls(path)
    try:
        assert store.alarm and "set aside" in store.alarm
        aside = [p for p in path.parent.iterdir() if p.name.startswith(name + ".corrupt-")]
        assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        alarms = api.call_sync("system.alarms")
        assert any(a["key"] == f"store:{name}" and "set aside" in a["message"] for a in alarms)
    finally:
        store.close()
        clear_alarm(f"store:{name}")


def test_a_saved_contact_survives_a_kill(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from firmware.customers import CustomerBook
        b = CustomerBook({str(tmp_path / 'customers.db')!r})
        b.save({{"name": "Kept", "numbers": ["2125550100"]}}, "US")
        print("saved", flush=True)
        os.kill(os.getpid(), 9)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "saved" in out.stdout and out.returncode == -9
    db = sqlite3.connect(tmp_path / "customers.db")
    assert db.execute("SELECT name FROM contacts").fetchall() == [("Kept",)]
    assert os.path.exists(tmp_path / "customers.db")
