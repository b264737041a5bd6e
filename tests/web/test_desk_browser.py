"""The agent desktop in real Chromium against a real server and the engine on the simulated board:
the agent logs in to the queues from /desk, a call rings and pops (number, queue, wait) while it
rings, the agent answers on the phone and holds (the caller hears music), resumes and hangs up
from the browser, and saves the wrap-up (the DISPOSITION event is logged). Another agent's
browser trying the same call is refused with 403."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.levels import rms_dbm0
from firmware.callcenter import model, service_of
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import office  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def _login(ctx, base: str, user: str, password: str):
    page = ctx.new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def test_agent_desktop_pop_call_control_and_wrapup(office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    p = office.pbx
    page = browser_page
    with office.lock:
        model.save_agent(p.config, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        model.save_agent(p.config, {"username": "bob", "name": "Bob", "number": "1002", "pin": "5937"})
        model.save_queue(p.config, {"number": "600", "name": "Sales", "members": "alice:0, bob:0",
                                    "announce_every_s": 0, "wrapup_s": 30})
        p.config.set_inbound_route("fxo1", "queue:600")
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            app.state.web.accounts.create("alice", "Amber-Copper-Window-4", "agent", extension="201")
            app.state.web.accounts.create("bob", "Birch-Lantern-Meadow-7", "agent", extension="202")
            actx = page.context.browser.new_context()
            ap = _login(actx, base, "alice", "Amber-Copper-Window-4")
            ap.goto(base + "/desk")
            expect(ap.locator("#desk-login")).to_be_visible()
            assert ap.input_value("#desk-extension") == "201"
            ap.click("#desk-login button[data-status=login]")
            expect(ap.locator("#desk-status")).to_contain_text("available", timeout=10000)
            ap.select_option("#desk-reason", "phone")
            ap.click("#desk-loggedin button[data-status=pause]")
            expect(ap.locator("#desk-status")).to_contain_text("paused (phone)", timeout=10000)
            assert service_of(p.engine).agents["alice"].status == "paused"
            ap.click("#desk-loggedin button[data-status=unpause]")
            expect(ap.locator("#desk-status")).to_contain_text("available", timeout=10000)

            with office.lock:
                r = p.co.remote("5550142", name="CUSTOMER")
                r.call(p.co.line_number(1))
            # the pop while the phone rings: number, queue, a "new customer" offer for an unknown caller
            expect(ap.locator("#desk-call-phase")).to_have_text("Ringing", timeout=20000)
            assert office.rings("201")
            expect(ap.locator("#desk-call-number")).to_have_text("5550142")
            expect(ap.locator("#desk-call-queue")).to_contain_text("600 Sales")
            expect(ap.locator("#desk-pop-new")).to_be_visible()
            assert "5550142" in ap.inner_text("#desk-pop-new-number")
            assert "5550142" in ap.input_value("#desk-new-number")          # the number filled in
            ap.fill("#desk-new-name", "Dora Diaz")
            ap.fill("#desk-new-company", "Diaz & Co")
            ap.click("#desk-new-customer button[type=submit]")
            expect(ap.locator("#desk-ok")).to_have_text("Customer saved.", timeout=10000)
            _shot(ap, "desk-ringing")
            with office.lock:
                p.phone("201").off_hook()
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=10000)
            call_id = service_of(p.engine).agents["alice"].connection.call.id

            # another agent's browser: the same call is refused
            bctx = page.context.browser.new_context()
            bp = _login(bctx, base, "bob", "Birch-Lantern-Meadow-7")
            bp.goto(base + "/desk")
            status = bp.evaluate("""async (id) => {
                const r = await fetch('/api/desk/call/hangup', {method: 'POST', credentials: 'same-origin',
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': window.linebox.csrfToken},
                  body: JSON.stringify({call_id: id})});
                return [r.status, (await r.json()).error];
            }""", call_id)
            assert status[0] == 403 and "another agent" in status[1]
            bctx.close()
            assert service_of(p.engine).agents["alice"].connection is not None      # untouched

            ap.click("#desk-call button[data-call=hold]")
            expect(ap.locator("#desk-call-phase")).to_have_text("On hold", timeout=10000)
            with office.lock:
                r.clear_heard()
            time.sleep(1.0)
            with office.lock:
                heard = r.heard()
            assert len(heard) > 4000 and rms_dbm0(heard) > -35, "the held caller hears no music"
            spectrum = np.abs(np.fft.rfft(heard[:4000] * np.hanning(4000)))
            assert (spectrum > spectrum.max() * 0.1).sum() > 5                       # music, not a tone
            ap.click("#desk-call button[data-call=resume]")
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=10000)
            ap.click("#desk-call button[data-call=record]")
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking · recording", timeout=10000)
            ap.click("#desk-call button[data-call=stop-recording]")
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=10000)
            ap.click("#desk-call button[data-call=hangup]")
            expect(ap.locator("#desk-call-none")).to_be_visible(timeout=10000)
            with office.lock:
                assert p.state("fxo1") == "idle"
            # wrap-up: visible with the time left, a disposition is required
            expect(ap.locator("#desk-wrapup")).to_be_visible(timeout=10000)
            expect(ap.locator("#desk-wrapup-left")).to_contain_text("wrap-up time left")
            assert "5550142" in ap.inner_text("#desk-wrapup-number")
            ap.click("#desk-wrapup-save")
            expect(ap.locator("#desk-error")).to_contain_text("disposition")
            ap.select_option("#desk-disposition", "order")
            ap.fill("#desk-notes", "<script>alert(1)</script> two boxes")
            ap.check("#desk-resolved")
            ap.check("input[name=desk-wo][value=new]")
            ap.fill("#desk-wo-title", "Deliver two boxes")
            ap.click("#desk-wrapup-save")
            expect(ap.locator("#desk-ok")).to_contain_text("Wrap-up saved. Work order #", timeout=10000)
            expect(ap.locator("#desk-wrapup")).to_be_hidden()
            p.records.flush()
            rows = p.records.query("SELECT agent, data1, data2 FROM queue_events WHERE event = 'DISPOSITION' "
                                   "AND call_id = ?", (call_id,))
            assert rows == [{"agent": "alice", "data1": "order", "data2": "1"}]
            _shot(ap, "desk-after-wrapup")
            # the same caller again: the record pops while the phone rings, with the last interaction
            # and the open work order; the notes are shown as text, never run
            with office.lock:
                p.phone("201").on_hook()
                r.hang_up()
            time.sleep(0.5)
            with office.lock:
                r.call(p.co.line_number(1))
            expect(ap.locator("#desk-call-phase")).to_have_text("Ringing", timeout=40000)   # after the wrap-up time
            expect(ap.locator("#desk-pop-name")).to_have_text("Dora Diaz")
            assert office.rings("201")
            expect(ap.locator("#desk-pop-company")).to_have_text("Diaz & Co")
            row = ap.locator("#desk-pop-interactions tbody tr").first
            expect(row).to_contain_text("<script>alert(1)</script> two boxes")
            expect(row).to_contain_text("order")
            expect(ap.locator("#desk-pop-workorders")).to_contain_text("Deliver two boxes")
            _shot(ap, "desk-pop-known-caller")
            with office.lock:
                r.hang_up()
            actx.close()
            assert page.console_errors == []
