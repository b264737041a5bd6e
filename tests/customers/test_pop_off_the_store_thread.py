"""The screen pop (`customers.pop`, `on="read"`) runs on the engine API's reader thread with its
own read-only connections: it answers while the store thread is busy (here: held on purpose, as a
big CSV import's chunk writes or its 0.15 s wait hold it), it sees every committed write at once,
and rows of an import still being written stay invisible to it until the import is published."""
from __future__ import annotations

import threading

from firmware.api import REGISTRY
from firmware.customers import book_for


def test_pop_answers_while_the_store_thread_is_held(api):
    cid = api.call_sync("customers.save", contact={"name": "Ann Smith", "numbers": ["+1 212 555 0142"]})["id"]
    release = threading.Event()
    holding = threading.Event()

    def hold_store() -> None:
        holding.set()
        release.wait(20)
    blocker = api.api.write_on_store(hold_store)
    try:
        assert holding.wait(5)
        queued = api.api.submit("customers.count", {})            # a store command: waits its turn
        pop = api.api.submit("customers.pop", {"number": "12125550142", "call_id": "c1"}).result(10)
        assert pop["contact"]["id"] == cid and pop["match"] == "e164"
        assert not queued.done() and not blocker.done()          # the store thread was still held
    finally:
        release.set()
    assert queued.result(10) == 1
    assert REGISTRY["customers.pop"].on == "read"


def test_pop_sees_commits_at_once_and_never_a_half_written_import(api, pbx):
    book = book_for(pbx.data_dir)
    assert api.call_sync("customers.pop", number="3105550199")["contact"] is None
    cid = api.call_sync("customers.save", contact={"name": "Bo Li", "numbers": ["+1 310 555 0199"]})["id"]
    assert api.call_sync("customers.pop", number="3105550199")["contact"]["id"] == cid      # committed: seen
    staged = [book.validate({"name": f"Import {i}", "numbers": [f"+1 646 555 {i:04d}"]}, "US") for i in range(3)]
    api.api.write_on_store(lambda: book.stage("job-x", staged)).result(10)
    assert api.call_sync("customers.pop", number="6465550001")["contact"] is None           # staged: invisible
    api.api.write_on_store(lambda: book.publish_import("job-x")).result(10)
    assert api.call_sync("customers.pop", number="6465550001")["contact"]["name"] == "Import 1"
