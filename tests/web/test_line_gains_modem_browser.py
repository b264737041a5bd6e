"""Installer gains on a voice-modem line in real Chromium: the line is a V.253 modem (the real
driver over a pty against the emulated modem on a line of the simulated exchange) whose
+VGR/+VGT take 120-136 at 1 dB a unit. The line profile page says how the modem sets gains (the
AT commands, its steps and range); applying the suggestion sends AT+VGR to the modem; a gain
beyond the modem's own range is refused on the page with that range, and nothing changes."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import drivers.sim
from drivers.emulated_hat import emulated_hat_board
from dsp_ext.countries import ToneSpec
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_line_calibration_browser import RunningEngine

pytestmark = [pytest.mark.browser]


@pytest.fixture
def pbx(tmp_path: Path, monkeypatch) -> Iterator[Pbx]:
    def hat(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
        return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=0, modems=1,
                                  modem_options={"gain_range": (120, 136), "gain_step_db": 1.0}, **options)
    monkeypatch.setattr(drivers.sim, "SimBoard", hat)
    p = Pbx(data_dir=tmp_path / "pbx", fxs=2, fxo=1, seed=23)
    p.co.set_tone_plan(dial=ToneSpec((350, 440), (), -19.0))      # a long loop: 6 dB below nominal
    p.run(0.1)
    yield p
    p.board.stop()
    p.close()


def test_modem_line_gains_on_the_profile_page(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    modem = pbx.board.chip("fxo1")
    with RunningEngine(pbx), serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.goto(base + "/line-calibration")
        page.select_option("select[name=port]", "fxo1")
        page.click("#calibrate-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/line-calibration/fxo1$"), timeout=60_000)
        expect(page.locator("#gains")).to_contain_text("Receive +6 dB")
        steps = page.locator("#gain-steps")
        expect(steps).to_contain_text("voice modem")
        expect(steps).to_contain_text("AT+VGR")
        expect(steps).to_contain_text("steps of 1 dB")
        expect(steps).to_contain_text("AT+VGR=? 120-136")
        expect(page.locator("#gains-running")).to_contain_text("it can do -8 to +8 dB")

        page.click("#apply-suggested button")
        expect(page.locator("#gains-running")).to_contain_text("receive +6 dB")
        assert modem.vgr == 134 and modem.vgt == 128
        _shot(page, "line-gains-modem")

        page.fill("#set-gains input[name=rx_db]", "10")
        page.click("#set-gains button")
        expect(page.locator("#gain-error")).to_contain_text("-8 to +8 dB")
        assert modem.vgr == 134                                   # nothing changed
        assert page.console_errors == []
