"""The manager sees the outbound-campaign figures on /reports in Chromium: a campaign runs on the
simulated board (a person answers and talks to the agent, an answering machine is hung up on, and
the agent hangs up on another machine's first words before the detector's verdict), and the page
shows attempts, contacts, machines, the answers hung up before the verdict and the contact rate
with their formulas, and the agent's talk time; the CSV export carries them."""
from __future__ import annotations

import csv
import io
import sys
import tempfile
from pathlib import Path

import pytest

from webui.app import create_app

from .live_server import serve
from .report_pages import open_report
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "callcenter"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "campaigns"))

pytestmark = pytest.mark.browser


def test_manager_sees_campaign_figures(browser_page, tmp_path: Path) -> None:  # noqa: F811
    from cc_scenarios import make_pbx
    from playwright.sync_api import expect
    from test_campaign_answers import agent_works, machine_audio, start
    page = browser_page
    p = make_pbx(tmp_path / "pbx")
    try:
        p.co.remote("5550801").far_end(1, say="Hello?")
        p.co.remote("5550802").far_end(1, say=machine_audio())
        p.co.remote("5550803").far_end(1, say=machine_audio())
        start(p, ["5550801", "5550802", "5550803"], max_attempts=1)
        agent_works(p, 60.0, talk_s=5.0, drop=("5550803",))
        p.records.flush()
        app = create_app(control=p.control, config=p.config, records=p.records,
                         data_dir=Path(tempfile.mkdtemp(dir=tmp_path)), clock=lambda: p.now)
        with serve(app) as base:
            open_report(page, base, app, "2026-01-01", "day")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_attempts] td.num")).to_have_text("3")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_contacts] td.num")).to_have_text("1")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_machines] td.num")).to_have_text("1")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_unknown] td.num")).to_have_text("1")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_unknown]")).to_contain_text(
                "Hung up before the verdict")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_contact_rate] td.num")).to_have_text("33.3 %")
            expect(page.locator("#campaign-figures tr[data-kpi=cmp_contact_rate]")).to_contain_text("÷")
            expect(page.locator("#campaign-agents tr[data-agent=alice]")).to_contain_text("33.3 %")
            expect(page.locator("#campaign-agents tr[data-agent=alice] td[data-col=unknown]")).to_have_text("1")
            expect(page.locator("#campaign-agents tr[data-agent=alice] td[data-col=hung_up]")).to_have_text("0")
            talk = page.inner_text("#campaign-agents tr[data-agent=alice] td:last-child")
            assert talk not in ("", "–", "0 s"), talk
            with page.expect_download() as dl:
                page.click("#export-csv")
            rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
            assert any(r[:2] == ["Campaign contacts", "1"] for r in rows)
            assert any(r[:2] == ["Hung up before the verdict", "1"] for r in rows)
        assert not page.console_errors, page.console_errors
    finally:
        p.close()
