"""The manager opens the day report in Chromium: the charts are drawn, the KPIs carry their formulas,
CSV and XLSX exports download and open. Queue events are synthetic (the contract's schema, as the
call-center writes them); the outside-line figures come from a real call on the simulated board."""
from __future__ import annotations

import csv
import io
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.harness import Pbx
from firmware.reports.synthetic import QUEUE_EVENTS_DDL
from tests.engine.engine_scenarios import off_hook_and_dial
from tests.reports.eventlog import at
from tests.reports.test_golden import golden_day
from webui.app import create_app

from .live_server import serve
from .report_pages import open_report
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", start_epoch=at("2026-03-02 12:00:00"))
    p.run(0.1)
    yield p
    p.close()


def line_call(pbx: Pbx) -> dict:
    """201 dials out on a line; the far end answers, talks 30 s, hangs up."""
    off_hook_and_dial(pbx, "201", "95550100")
    remote = pbx.co.remote("5550100")
    pbx.run_until(lambda: remote.is_ringing, 10)
    remote.answer()
    pbx.run(30)
    remote.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 8)
    pbx.phone("201").on_hook()
    pbx.run(1)
    pbx.records.flush()
    rec = [r for r in pbx.records.search(limit=5) if r.get("line")][0]
    assert rec["ended"] is not None
    return rec


def seed_queue_events(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(QUEUE_EVENTS_DDL)
    conn.executemany("INSERT INTO queue_events (ts, call_id, queue, agent, event, data1, data2, data3, data4, data5) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?)", [(e.ts, e.call_id, e.queue, e.agent, e.event, *e.data)
                                                      for e in golden_day().sorted()])
    conn.commit()
    conn.close()


def test_manager_day_report_charts_and_exports(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    call = line_call(pbx)
    seed_queue_events(pbx.records.path)
    n_lines = len([ln for ln in pbx.config.lines() if ln.get("enabled", True)])
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        open_report(page, base, app, "2026-03-02", "60min")
        expect(page.locator("#kpis tr[data-kpi=service_level]")).to_contain_text("answered within T")
        expect(page.locator("#kpis tr[data-kpi=answered] td.num")).to_have_text("3")
        # 08:00 (alice logs in), 09:00 (the queue calls), 12:00 (the call on the outside line)
        expect(page.locator("#rows tbody tr td:first-child")).to_have_text(
            ["2026-03-02T08:00+00:00", "2026-03-02T09:00+00:00", "2026-03-02T12:00+00:00"])
        expect(page.locator("#chart-volume")).to_have_attribute("data-drawn", "yes")
        expect(page.locator("#chart-volume canvas")).to_have_count(1)
        expect(page.locator("#chart-sl canvas")).to_have_count(1)
        _shot(page, "reports-day")
        with page.expect_download() as dl:
            page.click("#export-csv")
        rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
        header = rows[0]
        total = next(r for r in rows if r and r[0] == "total")
        col = {h.split(" (")[0]: i for i, h in enumerate(header)}
        assert total[col["Answered"]] == "3" and float(total[col["Service level"]]) == pytest.approx(0.4)
        busy = call["ended"] - call["start"]
        assert float(total[col["Line occupancy"]]) == pytest.approx(busy / (n_lines * 86400), rel=1e-9)
        with page.expect_download() as dl:
            page.click("#export-xlsx")
        book = zipfile.ZipFile(dl.value.path())
        strings = book.read("xl/sharedStrings.xml").decode()
        assert "Service level (ratio)" in strings and "total" in strings and "answered within T" in strings
        assert "<v>3</v>" in book.read("xl/worksheets/sheet1.xml").decode()
    assert not page.console_errors, page.console_errors
