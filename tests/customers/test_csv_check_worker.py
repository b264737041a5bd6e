"""A CSV import's rows are checked in a process of their own (firmware.customers.check_worker), so
seconds of phonenumbers work never compete with the engine's threads for its interpreter lock."""
from __future__ import annotations

import os
import signal

import pytest

from firmware.customers import csv_io
from firmware.customers.book import CustomerBook


def _finished(job: csv_io.ImportJob) -> dict:
    assert job.checked.wait(60), "the check did not end"
    while True:
        state = job.finish(budget_s=10)
        if state["state"] != "writing":
            return state


def test_rows_are_checked_in_another_process_and_imported(tmp_path, monkeypatch) -> None:
    def not_here(*_a, **_k):            # checking in the engine's own interpreter is what this replaces
        raise AssertionError("rows checked in the engine process")
    monkeypatch.setattr(csv_io, "parse", not_here)
    book = CustomerBook(tmp_path / "customers.db")
    rows = "name,numbers,tags\n" + "".join(f"Customer {i},+1 212 555 {i:04d},vip\n" for i in range(2500))
    state = _finished(csv_io.ImportJob(rows.encode(), book, "US"))
    assert state["state"] == "done" and state["imported"] == 2500, state
    contacts = list(book.all_contacts())
    assert len(contacts) == 2500 and book.count() == 2500
    one = next(c for c in contacts if c["name"] == "Customer 42")
    assert one["numbers"] == ["+1 212 555 0042"] and one["tags"] == ["vip"], one
    stored = book.db.execute("SELECT raw, e164, tail FROM contact_numbers WHERE contact_id = ?", (one["id"],))
    assert [tuple(r) for r in stored] == [("+1 212 555 0042", "+12125550042", "5550042")]


def test_a_bad_row_found_by_the_worker_refuses_the_file_with_its_line(tmp_path) -> None:
    book = CustomerBook(tmp_path / "customers.db")
    state = _finished(csv_io.ImportJob(b"name,numbers\nAnn,+1 212 555 0100\n,+1 212 555 0101\n", book, "US"))
    assert state["state"] == "refused" and state["errors"][0]["row"] == 3, state
    assert list(book.all_contacts()) == []


def test_a_worker_that_dies_refuses_the_file_and_keeps_nothing(tmp_path, monkeypatch) -> None:
    book = CustomerBook(tmp_path / "customers.db")
    real_popen = csv_io.subprocess.Popen

    def killed_at_once(*a, **k):
        child = real_popen(*a, **k)
        os.kill(child.pid, signal.SIGKILL)
        return child
    monkeypatch.setattr(csv_io.subprocess, "Popen", killed_at_once)
    state = _finished(csv_io.ImportJob(b"name,numbers\nAnn,+1 212 555 0100\n", book, "US"))
    assert state["state"] == "refused" and "stopped early" in state["message"], state
    assert list(book.all_contacts()) == []


@pytest.mark.parametrize("data", [b"\xff\xfe\x00garbage", b"", b"name\n"])
def test_garbage_is_refused_by_the_worker_with_a_message(tmp_path, data) -> None:
    book = CustomerBook(tmp_path / "customers.db")
    state = _finished(csv_io.ImportJob(data, book, "US"))
    assert state["state"] == "refused" and state["message"], state
