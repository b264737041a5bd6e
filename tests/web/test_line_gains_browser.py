"""Installer-applied gains in real Chromium against a real server and the simulated board: the
exchange's dial tone arrives 6 dB low; the installer calibrates the line, presses "Apply the
suggested gains" and the line interface runs at +6 dB receive; a gain the interface cannot do is
refused on the page with the range, nothing changes; "Reset to 0 dB" brings it back."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsp_ext.countries import ToneSpec
from firmware.harness import Pbx
from firmware.linecal.gains import load_gains
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_line_calibration_browser import RunningEngine

pytestmark = [pytest.mark.browser]


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", fxs=2, fxo=1, seed=19)
    p.co.set_tone_plan(dial=ToneSpec((350, 440), (), -19.0))      # a long loop: 6 dB below nominal
    p.run(0.1)
    yield p
    p.close()


def test_apply_suggested_gains_then_a_bad_one_then_reset(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    port = pbx.board.fxo(1)
    with RunningEngine(pbx), serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.goto(base + "/line-calibration")
        page.select_option("select[name=port]", "fxo1")
        page.click("#calibrate-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/line-calibration/fxo1$"), timeout=60_000)
        expect(page.locator("#gains")).to_contain_text("Receive +6 dB")
        expect(page.locator("#gains-running")).to_contain_text("receive +0 dB")

        page.click("#apply-suggested button")
        expect(page.locator("#gain-done")).to_contain_text("receive +6 dB")
        expect(page.locator("#gains-running")).to_contain_text("receive +6 dB")
        assert (port.rx_gain_db, port.tx_gain_db) == (6, 0)
        _shot(page, "line-gains-applied")

        page.fill("#set-gains input[name=rx_db]", "30")
        page.fill("#set-gains input[name=tx_db]", "-2")
        page.click("#set-gains button")
        expect(page.locator("#gain-error")).to_contain_text("outside what this line interface can do (-12 to +12 dB)")
        expect(page.locator("#set-gains input[name=rx_db]")).to_have_value("30")    # what was typed is kept
        assert (port.rx_gain_db, port.tx_gain_db) == (6, 0)                          # nothing changed

        page.fill("#set-gains input[name=rx_db]", "+3")
        page.click("#set-gains button")
        expect(page.locator("#gains-running")).to_contain_text("receive +3 dB")
        expect(page.locator("#gains-running")).to_contain_text("transmit -2 dB")
        assert (port.rx_gain_db, port.tx_gain_db) == (3, -2)
        page.click("text=Back to line calibration")
        expect(page.locator("#profiles tr[data-port=fxo1] .gains-in-use")).to_have_text("+3 / -2 dB")
        page.click("#profiles tr[data-port=fxo1] a")

        page.click("#reset-gains button")
        expect(page.locator("#gains-running")).to_contain_text("receive +0 dB")
        assert (port.rx_gain_db, port.tx_gain_db) == (0, 0)
        assert "fxo1" not in load_gains(pbx.config)
        assert page.console_errors == []
