"""A line that cannot be calibrated, in real Chromium: one that takes loop current but gives no
dial tone (not in service) and one with no line voltage (unplugged). The installer starts a
calibration from the page and is told what is wrong and what to check; nothing is stored."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.harness import Pbx
from firmware.linecal import load_profile
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_line_calibration_browser import RunningEngine

pytestmark = [pytest.mark.browser]


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", fxs=1, fxo=1, seed=29)
    p.co.set_in_service(1, False)
    p.run(0.1)
    yield p
    p.close()


def test_no_dial_tone_then_unplugged(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with RunningEngine(pbx), serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.goto(base + "/line-calibration")
        page.select_option("select[name=port]", "fxo1")
        page.click("#calibrate-form button[type=submit]")
        alert = page.locator(".alert.error")
        expect(alert).to_contain_text("fxo1 gives no dial tone", timeout=60_000)
        expect(alert).to_contain_text("Check the line with an ordinary phone")
        _shot(page, "line-calibration-no-dial-tone")
        assert load_profile(pbx.config, "fxo1") is None

        pbx.board.post(pbx.co.set_in_service, 1, True).result(5)
        pbx.board.post(pbx.co.unplug, 1).result(5)
        for _ in range(100):                         # the engine notices the line voltage is gone
            if pbx.engine.channels["fxo1"].down:
                break
            page.wait_for_timeout(100)
        page.goto(base + "/line-calibration")
        page.select_option("select[name=port]", "fxo1")
        page.click("#calibrate-form button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("has no line voltage: plug the line in first")
        assert load_profile(pbx.config, "fxo1") is None
        assert page.console_errors == []
