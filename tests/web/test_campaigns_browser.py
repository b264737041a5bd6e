"""Campaign pages in real Chromium against a real server and the engine on the simulated board:
the owner creates a campaign, a list with a bad row is refused whole (the page says which row),
a good list is imported, the campaign is started, the agent's phone rings and the customer
answers, and the results page and the CSV export show the outcome, the formula in a name made
harmless."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from firmware.callcenter import model, service_of
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import SteppedPbx

pytestmark = pytest.mark.browser


@pytest.fixture
def office(tmp_path: Path):
    o = SteppedPbx(tmp_path / "pbx")
    yield o
    o.close()


def test_campaign_import_start_results_export(office, browser_page, tmp_path: Path) -> None:  # noqa: F811
    p = office.pbx
    with office.lock:
        model.save_agent(p.config, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        r = p.co.remote("5550201")
        r.far_end(1, say="Hello, this is Ann speaking.")
    page = browser_page
    bad = tmp_path / "bad.csv"
    bad.write_text("number,name\n5550201,Ann\nnot-a-number,Bob\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("number,name,note\n555-0201,=HYPERLINK(\"http://x\"),call before noon\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            page.goto(base + "/campaigns")
            page.fill("#campaign-form input[name=id]", "spring")
            page.fill("#campaign-form input[name=name]", "Spring offer")
            page.select_option("#campaign-form select[name=agents]", ["alice"])
            page.fill("#campaign-form input[name=caller_extension]", "201")
            page.fill("#campaign-form input[name=from]", "00:00")
            page.fill("#campaign-form input[name=to]", "23:59")
            for d in range(7):
                page.check(f"#campaign-form input[name=days][value='{d}']")
            page.click("#campaign-form button[type=submit]")
            page.wait_for_selector("#campaign-table tr[data-campaign=spring]")
            page.set_input_files("tr[data-campaign=spring] input[type=file]", str(bad))
            page.click("tr[data-campaign=spring] form[action$='/import'] button")
            err = page.inner_text(".alert.error")
            assert "Row 3" in err and "nothing was kept" in err
            page.set_input_files("tr[data-campaign=spring] input[type=file]", str(good))
            page.click("tr[data-campaign=spring] form[action$='/import'] button")
            assert "pending 1" in page.inner_text("tr[data-campaign=spring] .counts")
            with office.lock:
                svc = service_of(p.engine)
                svc.login(svc.agents["alice"], "201")
            page.click("tr[data-campaign=spring] button[data-action=start]")
            assert "running" in page.inner_text("tr[data-campaign=spring] .state")
            deadline = time.monotonic() + 30
            while not p.phone("201").is_ringing and time.monotonic() < deadline:
                time.sleep(0.05)
            assert p.phone("201").is_ringing, "the agent's phone did not ring for the campaign"
            with office.lock:
                p.phone("201").off_hook()
            deadline = time.monotonic() + 40
            while r.state != "connected" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert r.state == "connected", "the customer was not called"
            time.sleep(3.0)                                   # they talk a moment
            with office.lock:
                r.hang_up()
            page.goto(base + "/campaigns/spring")
            page.locator("#result-table tr[data-number='5550201'] .status", has_text="answered").wait_for(timeout=10000)
            assert '=HYPERLINK("http://x")' in page.inner_text("#result-table")       # shown as text
            _shot(page, "campaign-results")
            with page.expect_download() as dl:
                page.click("#export")
            text = Path(dl.value.path()).read_text(encoding="utf-8")
            assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
            assert page.console_errors == []
