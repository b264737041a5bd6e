"""The manager sees the auto-attendant figures on /reports in Chromium: two callers use the menu on
the simulated board (one reaches an extension, one hangs up in a sub-menu), and the page shows the
calls per option and the self-service rate with its formula; the CSV export carries them."""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.apps.ivr_store import save_menu
from firmware.harness import Pbx
from tests.reports.eventlog import at
from webui.app import create_app

from .live_server import serve
from .report_pages import open_report
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", start_epoch=at("2026-03-02 12:00:00"))
    # The caller hangs up in this menu; on a line without a loop-current drop the hang-up is heard
    # as busy tone after a few cadences (~3 s), so the menu's own timeout must be longer than that.
    save_menu(p.config, {"id": "info", "name": "Info", "timeout_s": 6, "retries": 1, "fallback": "hangup:",
                         "options": {"1": "extension:201"}})
    save_menu(p.config, {"id": "main", "name": "Main", "timeout_s": 3, "retries": 1, "fallback": "hangup:",
                         "options": {"2": "extension:202", "3": "ivr:info"}})
    p.config.set_inbound_route("fxo1", "ivr:main")
    p.run(0.2)
    yield p
    p.close()


def caller_presses(pbx: Pbx, number: str, digit: str) -> None:
    r = pbx.co.remote(number)
    r.call(pbx.co.line_number(1))
    pbx.run_until(lambda: getattr(pbx.engine.channels["fxo1"].handler, "mode", None) == "menu", 15)
    r.dial(digit)
    pbx.run(1.0)
    r.hang_up()
    pbx.run_until(lambda: pbx.state("fxo1") == "idle", 30)
    pbx.run(3.0)


def test_manager_sees_menu_figures(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    caller_presses(pbx, "5550142", "2")          # to extension 202: sent to an agent
    caller_presses(pbx, "5550143", "3")          # the info menu, hangs up there: self-service
    pbx.records.flush()
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records,
                     data_dir=Path(tempfile.mkdtemp(dir=tmp_path)), clock=lambda: pbx.now)
    with serve(app) as base:
        open_report(page, base, app, "2026-03-02", "day")
        expect(page.locator("#menu-figures tr[data-kpi=menu_calls] td.num")).to_have_text("2")
        expect(page.locator("#menu-figures tr[data-kpi=self_service_rate] td.num")).to_have_text("50.0 %")
        expect(page.locator("#menu-figures tr[data-kpi=self_service_rate]")).to_contain_text("÷")
        expect(page.locator("#menu-options tbody tr")).to_have_count(2)
        expect(page.locator("#workorder-figures tr[data-kpi=wo_submitted] td.num")).to_have_text("0")
        expect(page.locator("#workorder-figures tr[data-kpi=wo_on_time_rate]")).to_contain_text("÷")
        expect(page.locator("#menu-options tbody tr").first).to_contain_text("extension:202")
        with page.expect_download() as dl:
            page.click("#export-csv")
        rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
        assert ["main", "3", "ivr:info", "1"] in rows
        assert any(r[:2] == ["Sent to an agent or queue", "1"] for r in rows)
    assert not page.console_errors, page.console_errors
