"""Line calibration in real Chromium against a real server and the simulated board: the installer
calibrates a line whose echo path is a known G.168 Annex D hybrid (ERL and pure delay set by the
test); the page shows the impulse response picture, and the measured ERL and delay match the truth
within 0.5 dB and 0.5 ms. Then a test call to a number the permissions refuse is refused on the page."""
from __future__ import annotations

import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.sim.echo import voice_band_erl_db
from firmware.apps import permissions_store
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dsp"))
from g168 import HEADER, echo_path, g168_models  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not HEADER.exists(), reason="needs libspandsp-dev's G.168 models")]


class RunningEngine:
    """The simulated Linebox stepped by its own thread (as the media thread is in the service),
    in simulated time as fast as the CPU allows."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.pbx.media.run_frames(10)
            time.sleep(0.0005)                 # let the web server's threads in

    def __enter__(self) -> RunningEngine:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(5)


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx", fxs=2, fxo=1, seed=9)
    p.run(0.1)
    yield p
    p.close()


def test_calibration_page_shows_the_echo_path_of_a_g168_line(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    ir = echo_path(g168_models()["d5"], 9.0, delay=192)           # 24 ms of pure delay before the hybrid
    pbx.co.set_echo(1, ir)
    erl_true = voice_band_erl_db(ir)
    delay_true = int(np.flatnonzero(np.abs(ir) >= 0.1 * np.abs(ir).max())[0]) / 8.0
    permissions_store.set_extension_policy(pbx.config, "202", "internal")
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with RunningEngine(pbx), serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Line calibration")
        expect(page.locator("#profiles tr[data-port=fxo1]")).to_contain_text("not calibrated")
        page.select_option("select[name=port]", "fxo1")
        page.click("#calibrate-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/line-calibration/fxo1$"), timeout=60_000)
        picture = page.locator("#echo-picture svg")
        expect(picture).to_be_visible()
        assert page.locator("#echo-picture svg polyline").count() == 1
        erl = float(page.locator("#erl").inner_text().split()[0])
        delay = float(page.locator("#delay").inner_text().split()[0])
        assert erl == pytest.approx(erl_true, abs=0.5)
        assert delay == pytest.approx(delay_true, abs=0.5)
        expect(page.locator("#tones")).to_contain_text("350 + 440 Hz")
        _shot(page, "line-calibration-profile")
        # the line's V.21 carrier cut-off for fax (firmware/fax/line_tuning.py): refused out of range,
        # set, in force in the engine's fax service, and back to the default
        from firmware.fax import service_of as fax_service
        expect(page.locator("#fax-cutoff")).to_contain_text("default, -45.5 dBm0")
        page.fill("#fax-tuning input[name=v21_cutoff_dbm0]", "-60")
        page.click("#fax-tuning button[type=submit]")
        expect(page.locator("#fax-error")).to_contain_text("out of range: give -50 to -30 dBm0")
        assert page.input_value("#fax-tuning input[name=v21_cutoff_dbm0]") == "-60"       # what was typed is kept
        page.fill("#fax-tuning input[name=v21_cutoff_dbm0]", "-40")
        page.click("#fax-tuning button[type=submit]")
        expect(page.locator("#fax-done")).to_have_text("Faxes on fxo1 now use a V.21 carrier cut-off of -40 dBm0.")
        expect(page.locator("#fax-cutoff")).to_contain_text("-40 dBm0")
        deadline = time.monotonic() + 10
        while fax_service(pbx.engine).v21_cutoffs != {"fxo1": -40.0} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fax_service(pbx.engine).v21_cutoffs == {"fxo1": -40.0}
        page.click("#fax-default button[type=submit]")
        expect(page.locator("#fax-done")).to_contain_text("default V.21 carrier cut-off (-45.5 dBm0) again")
        expect(page.locator("#fax-cutoff")).to_contain_text("default, -45.5 dBm0")
        page.click("text=Back to line calibration")
        expect(page.locator("#profiles tr[data-port=fxo1]")).to_contain_text("dB")
        # a test call the outbound permissions refuse: the page says why, the line stays idle
        page.fill("input[name=number]", "5550100")
        page.select_option("select[name=as_extension]", "202")
        page.click("#calibrate-form button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("outbound permissions refuse 5550100")
        assert not pbx.board.fxo(1).is_off_hook
        assert page.console_errors == []
