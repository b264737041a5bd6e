"""Live status in Chromium for an outside call on a line without polarity reversal: the phone and
the line say "Ringing out" while the far end rings, "In call" once it answers with its voice
(espeak-ng, read from the line's audio), and the call history says who answered."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from drivers.sim.speech import HELLO, speech_available

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, SimulatedOffice, _shot, browser_page, office  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not speech_available(), reason="needs espeak-ng")]


def test_outbound_call_rings_out_until_the_voice_answers(office: SimulatedOffice, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    p = office.pbx
    remote = p.co.remote("5550100")
    remote.far_end(2, HELLO)
    app = office.app(Path(tempfile.mkdtemp(dir=tmp_path)))
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
        fxs1, fxo1 = page.locator('.port[data-port="fxs1"]'), page.locator('.port[data-port="fxo1"]')
        phone = p.phone("201")
        phone.off_hook()
        p.run(0.5)
        phone.dial("95550100")
        p.run_until(lambda: remote.is_ringing, 10)
        p.run(3)
        expect(fxs1).to_have_class("port state-ringback")
        expect(fxo1).to_have_class("port state-ringback")
        expect(fxs1).to_contain_text("Ringing out")
        _shot(page, "outbound-ringing-out")
        p.run_until(lambda: remote.state == "connected", 15)
        p.run(1.5)
        assert p.state("fxs1") == "in-call"       # the engine's own answer decision, deterministic
        # The page shows "Ringing out" until its /api/calls says the call is answered; calls.list runs
        # on the media thread, which the harness serves while the test holds the engine still here.
        expect(fxs1).to_have_class("port state-in-call")
        expect(fxo1).to_have_class("port state-in-call")
        p.run(7)                                  # person or machine: decided within 6 s of the answer
        phone.on_hook()
        p.run(1.5)
        p.records.flush()
        page.click("nav >> text=Call history")
        expect(page.locator("#history")).to_contain_text("answered by a person")
        assert page.console_errors == []
