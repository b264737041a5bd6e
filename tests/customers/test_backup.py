"""The customer book, work orders and the knowledge base are in the box's backup archive and
come back with a restore (firmware/backup)."""
from __future__ import annotations

import sqlite3
import tarfile

from firmware.backup.archive import StoreLayout, check_archive, create_archive
from firmware.backup.restore import apply_restore


def test_backup_carries_customers_work_orders_and_articles(api, pbx, tmp_path):
    cid = api.call_sync("customers.save", contact={"name": "Kept Customer", "numbers": ["2125550100"]})["id"]
    api.call_sync("workorders.create", title="Kept order", contact_id=cid)
    api.call_sync("kb.save", article={"title": "Kept article"})
    layout = StoreLayout.of(pbx.config, pbx.records)
    archive = create_archive(layout, tmp_path / "out")
    with tarfile.open(archive) as t:
        names = t.getnames()
    assert {"customers.db", "workorders.db", "knowledge.db"} <= set(names)
    api.call_sync("customers.save", contact={"id": cid, "name": "Changed later", "numbers": ["2125550100"]})
    staged = check_archive(archive, layout.root)
    done = apply_restore(layout, staged, pbx.config, pbx.records)
    assert {"customers.db", "workorders.db", "knowledge.db"} <= set(done["databases"])
    assert api.call_sync("customers.get", id=cid)["name"] == "Kept Customer"
    db = sqlite3.connect(pbx.data_dir / "workorders.db")
    assert db.execute("SELECT title FROM work_orders").fetchall() == [("Kept order",)]
