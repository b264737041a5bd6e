"""Every SQLite store follows the update's rule for data (issue 14), not only the call records: while
a new release is only being tried, customers.db and workorders.db keep the schema the old release
wrote, so a rollback (or a power cut: the Pi then boots the old slot by itself) finds files the old
release opens; the commit's `update.migrate` migrates them. Played with the real Updater on a
simulated Pi, the tried release's engine API on the simulated board.

The customer book's old schema is a real one (version 1, before CSV imports added
`contacts.import_job`); the work orders have one migration so far, so the test's release adds a
second (a column), as the next release that needs one will."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware import sqlite_files
from firmware.api import ApiError, LocalClient
from firmware.customers import book as customers_book
from firmware.harness import Pbx
from firmware.update import HealthReport
from firmware.update.updater import Updater
from firmware.workorders import orders as workorders
from tests.update.test_updates import healthy, keys  # noqa: F401 (fixture)
from tests.update.tried import tried_release

OLD_CUSTOMERS = 1                     # the old release: customers.db before CSV imports (migration 2)
OLD_ORDERS = len(workorders.MIGRATIONS)
NEW_ORDERS_MIGRATION = "ALTER TABLE work_orders ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';"


def version(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def old_release_files(data: Path) -> None:
    """customers.db and workorders.db as the old release left them, each with one row."""
    data.mkdir(parents=True)
    opened = sqlite_files.open_checked(data / "customers.db", customers_book.MIGRATIONS[:OLD_CUSTOMERS], "customer book")
    opened.db.execute("INSERT INTO contacts (name, created, updated) VALUES ('Old Customer', 1.0, 1.0)")
    opened.db.close()
    book = workorders.WorkOrderBook(data / "workorders.db")
    book.create(title="Old order")
    book.close()


def old_release_opens(data: Path) -> tuple[list[str], list[str]]:
    """What the old release does at start: open both stores at *its* schemas (newer refused)."""
    c = sqlite_files.open_checked(data / "customers.db", customers_book.MIGRATIONS[:OLD_CUSTOMERS], "customer book")
    w = sqlite_files.open_checked(data / "workorders.db", workorders.MIGRATIONS[:OLD_ORDERS], "work order")
    try:
        return ([r[0] for r in c.db.execute("SELECT name FROM contacts ORDER BY id")],
                [r[0] for r in w.db.execute("SELECT title FROM work_orders ORDER BY id")])
    finally:
        c.db.close()
        w.db.close()


@pytest.fixture
def tried(tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch  # noqa: F811
          ) -> Iterator[tuple[Pbx, Updater, LocalClient]]:
    data = tmp_path / "data"
    old_release_files(data)
    monkeypatch.setattr(workorders, "MIGRATIONS", [*workorders.MIGRATIONS, NEW_ORDERS_MIGRATION])   # the new release
    with tried_release(tmp_path, keys, data) as tried_parts:
        yield tried_parts


def work_while_tried(data: Path, api: LocalClient) -> None:
    """The tried release in use: what the old schemas hold works and is written; what needs the new
    customer schema is refused with the reason; neither file changes schema."""
    api.call_sync("customers.save", contact={"name": "Tried Customer", "numbers": ["+1 415 555 0134"]})
    with pytest.raises(ApiError) as refused:
        api.call_sync("customers.search", q="")
    assert refused.value.code == "unavailable"
    assert "keeps its old layout while the new Linebox release is being tried" in refused.value.message
    assert "try again then" in refused.value.message
    with pytest.raises(ApiError, match="old layout"):
        api.call_sync("customers.pop", number="+14155550134")
    order = api.call_sync("workorders.create", title="Tried order", number="+1 415 555 0134")
    assert order["title"] == "Tried order" and "priority" not in order          # the old columns only
    assert (version(data / "customers.db"), version(data / "workorders.db")) == (OLD_CUSTOMERS, OLD_ORDERS)


def test_tried_release_keeps_every_store_schema_then_the_commit_migrates_them(tried) -> None:
    pbx, up, api = tried
    work_while_tried(pbx.data_dir, api)
    assert up.check_after_boot(healthy) == "commit"
    assert (version(pbx.data_dir / "customers.db"), version(pbx.data_dir / "workorders.db")) == \
        (len(customers_book.MIGRATIONS), OLD_ORDERS + 1)
    history = "\n".join(up.state.history)
    assert f"customer book: schema {OLD_CUSTOMERS} -> {len(customers_book.MIGRATIONS)}" in history
    assert f"work order: schema {OLD_ORDERS} -> {OLD_ORDERS + 1}" in history
    names = [c["name"] for c in api.call_sync("customers.search", q="")]
    assert names == ["Old Customer", "Tried Customer"]                           # both, on the same file
    assert api.call_sync("customers.pop", number="+14155550134")["contact"]["name"] == "Tried Customer"
    assert [o["priority"] for o in api.call_sync("workorders.list")] == ["normal", "normal"]
    with pytest.raises(RuntimeError, match="newer than this Linebox"):
        old_release_opens(pbx.data_dir)                                          # committed: no way back


def test_rollback_finds_files_the_old_release_opens(tried) -> None:
    pbx, up, api = tried
    work_while_tried(pbx.data_dir, api)

    def unhealthy() -> HealthReport:
        return HealthReport({"engine": (True, "ok"), "web": (False, "HTTPS refused"), "selftest": (True, "ok")})
    assert up.check_after_boot(unhealthy) == "rollback"
    assert "customer book" not in "\n".join(up.state.history)
    pbx.close()                                                                  # the tried release stops
    contacts, orders = old_release_opens(pbx.data_dir)                          # the old release starts again
    assert contacts == ["Old Customer", "Tried Customer"] and orders == ["Old order", "Tried order"]


def test_a_store_opened_after_the_commit_migrates_on_open(tried) -> None:
    pbx, up, api = tried
    assert up.check_after_boot(healthy) == "commit"      # the customer book was not used while tried
    assert not sqlite_files.schemas_held(pbx.data_dir / "customers.db")
    api.call_sync("customers.save", contact={"name": "After"})
    assert version(pbx.data_dir / "customers.db") == len(customers_book.MIGRATIONS)
