"""The agent desktop's newer parts in real Chromium, with the engine on the simulated board:
bulletins (a team leader posts, the agent sees it live; another team's bulletin is not shown;
an expiring one goes away), the Ready button (wrap-up ends, the waiting caller rings at once),
transfer to an outside number (refused with the
reason when the owner did not allow it, else the number rings), and the old /callcenter/agent
page sending the agent to /desk."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from firmware.api import EngineApi, LocalClient
from firmware.apps import permissions_store
from firmware.callcenter import model, service_of
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import office  # noqa: F401 (fixture)
from .test_desk_browser import _login

pytestmark = pytest.mark.browser

AGENT_PW, SUP_PW = "Amber-Copper-Window-4", "Slate-Harbour-Finch-3"
FAR = "12125550100"


def _until(stepped, predicate, timeout_s: float = 10.0) -> None:
    """Wait (real time: the engine steps on its own thread) until `predicate(pbx)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        with stepped.lock:
            if predicate(stepped.pbx):
                return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the simulated office")
        time.sleep(0.05)


def test_desk_bulletins_ready_and_outside_transfer(office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    p = office.pbx
    page = browser_page
    with office.lock:
        cfg = p.config
        model.save_team(cfg, {"id": "north", "name": "North", "leader": "sam"})
        model.save_team(cfg, {"id": "south", "name": "South", "leader": "tess"})
        model.save_agent(cfg, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826", "team": "north"})
        model.save_agent(cfg, {"username": "bob", "name": "Bob", "number": "1002", "pin": "5937", "team": "north"})
        model.save_queue(cfg, {"number": "600", "name": "Sales", "members": "alice:0, bob:0", "announce_every_s": 0,
                               "wrapup_s": 60, "ring_s": 30, "join_empty": [], "leave_empty": []})
        cfg.set_inbound_route("fxo1", "queue:600")
        cfg.set_inbound_route("fxo2", "queue:600")
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            # ---- the owner asks queue 600's survey by a follow-up call 5 minutes after each call
            page.goto(base + "/callcenter/config")
            page.fill("#surveys input[name=id]", "csat")
            page.fill("#surveys input[name=questions]", "queue/survey_default")
            page.click("#surveys button[type=submit]")
            page.goto(base + "/callcenter/config?queue=600")
            page.select_option("#queue-form select[name=survey]", "csat")
            page.fill("#queue-form input[name=survey_call_min]", "5")
            page.fill("#queue-form input[name=survey_as]", "999")          # no such extension: refused
            page.click("#queue-form button[type=submit]")
            expect(page.locator(".alert.error")).to_contain_text("Survey call")
            assert page.input_value("#queue-form input[name=survey_call_min]") == "5"   # what was typed is kept
            page.fill("#queue-form input[name=survey_as]", "204")
            page.click("#queue-form button[type=submit]")
            page.wait_for_selector("#queue-table tr[data-number='600']")
            with office.lock:
                q = model.queue(p.config, "600")
            assert (q["survey"], q["survey_call_min"], q["survey_as"]) == ("csat", 5, "204")
            page.goto(base + "/callcenter/config?queue=600")
            assert page.input_value("#queue-form input[name=survey_call_min]") == "5"
            app.state.web.accounts.create("alice", AGENT_PW, "agent", extension="201")
            app.state.web.accounts.create("sam", SUP_PW, "supervisor", extension="204")
            actx = page.context.browser.new_context()
            ap = _login(actx, base, "alice", AGENT_PW)
            ap.goto(base + "/callcenter/agent")                       # the old page: the desk now
            assert ap.url == base + "/desk"
            ap.click("#desk-login button[data-status=login]")
            expect(ap.locator("#desk-status")).to_contain_text("available", timeout=10000)
            assert ap.locator("a[href='/desk']").count() >= 1                     # the menu has the desk ...
            assert ap.locator("a[href='/callcenter/agent']").count() == 0        # ... and no old page

            # ---- bulletins: the team leader posts to team north; the agent sees it live
            sctx = page.context.browser.new_context()
            sp = _login(sctx, base, "sam", SUP_PW)
            sp.goto(base + "/wallboard")
            sp.fill("#wb-bulletin-form input[name=text]", "North: new price list <b>Monday</b>")
            sp.click("#wb-bulletin-form button[type=submit]")
            bulletins = ap.locator("#desk-bulletin-list li")
            expect(bulletins.filter(has_text="North: new price list <b>Monday</b>")).to_have_count(1, timeout=10000)
            expect(ap.locator("#desk-bulletin-list b")).to_have_count(0)             # text, never HTML
            # the owner posts to team south: not on alice's desk
            page.goto(base + "/wallboard")
            page.select_option("#wb-bulletin-form select[name=team]", "south")
            page.fill("#wb-bulletin-form input[name=text]", "South only: meeting at 3")
            page.click("#wb-bulletin-form button[type=submit]")
            page.locator("#wb-bulletins li", has_text="South only").wait_for(timeout=10000)
            # a bulletin to everybody expiring in a few seconds: shown, then gone
            api = LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))
            api.call_sync("bulletins.post", supervisor=ADMIN, text="Lines are slow today", team=None,
                          expires_at=time.time() + 6)
            expect(bulletins.filter(has_text="Lines are slow today")).to_have_count(1, timeout=10000)
            assert bulletins.filter(has_text="South only").count() == 0
            _shot(ap, "desk-bulletins")
            expect(bulletins.filter(has_text="Lines are slow today")).to_have_count(0, timeout=15000)
            ap.reload()
            expect(bulletins.filter(has_text="North: new price list")).to_have_count(1, timeout=10000)
            assert bulletins.filter(has_text="South only").count() == 0
            assert bulletins.filter(has_text="Lines are slow today").count() == 0
            sctx.close()

            # ---- Ready: a call, the caller hangs up, wrap-up; a second caller waits; Ready -> it rings
            with office.lock:
                r1 = p.co.remote("5550142", name="CUSTOMER")
                r1.call(p.co.line_number(1))
            expect(ap.locator("#desk-call-phase")).to_have_text("Ringing", timeout=20000)
            with office.lock:
                p.phone("201").off_hook()
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=10000)
            with office.lock:
                r1.hang_up()
            expect(ap.locator("#desk-ready")).to_be_visible(timeout=15000)
            with office.lock:
                p.phone("201").on_hook()
                r2 = p.co.remote("5550143", name="SECOND")
                r2.call(p.co.line_number(2))
            _until(office, lambda pb: any(c.caller_number == "5550143" for c in service_of(pb.engine).callers.values()),
                         20)
            expect(ap.locator("#desk-status")).to_contain_text("state wrapup")
            assert not p.phone("201").is_ringing                               # waiting: alice is in wrap-up
            ap.click("#desk-ready")
            expect(ap.locator("#desk-call-phase")).to_have_text("Ringing", timeout=10000)
            assert office.rings("201")
            expect(ap.locator("#desk-ready-box")).to_be_hidden()
            with office.lock:
                p.records.flush()
                rows = p.records.query("SELECT data1 FROM queue_events WHERE event = 'WRAPUPEND' AND agent = 'alice'")
            assert rows and int(rows[-1]["data1"]) < 60                         # ended early
            with office.lock:
                p.phone("201").off_hook()
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=10000)

            # ---- outside transfer: refused with the reason (trunk-to-trunk not allowed), then allowed
            expect(ap.locator("#desk-transfer")).to_be_enabled()
            ap.fill("#desk-transfer", FAR)
            assert ap.input_value("#desk-transfer") == FAR
            ap.click("#desk-call button[data-call=transfer]")
            expect(ap.locator("#desk-error")).to_contain_text("not permitted", timeout=10000)
            expect(ap.locator("#desk-call-phase")).to_have_text("Talking")
            with office.lock:
                far = p.co.remote(FAR)
                permissions_store.update_general(p.config, trunk_to_trunk={"transfer": True})
                p.run(0.2)
            ap.click("#desk-call button[data-call=transfer]")
            expect(ap.locator("#desk-ok")).to_have_text("Transferred.", timeout=10000)
            _until(office, lambda pb: far.is_ringing, 40)
            with office.lock:
                far.answer()
                p.phone("201").on_hook()
            expect(ap.locator("#desk-call-none")).to_be_visible(timeout=10000)

            # ---- after the transfer alice pauses and ends her wrap-up: the page follows the phone's
            # hang-up (seen after the flash time: direct call -> idle) without a queue change
            ap.select_option("#desk-reason", "phone")
            ap.click("#desk-loggedin button[data-status=pause]")
            expect(ap.locator("#desk-status")).to_contain_text("paused (phone)", timeout=10000)
            ap.click("#desk-ready")
            expect(ap.locator("#desk-status")).to_contain_text("state idle", timeout=20000)
            expect(ap.locator("#desk-ready-box")).to_be_hidden()
            with office.lock:
                far.hang_up()
            api.api.close()
            actx.close()
            assert page.console_errors == []
