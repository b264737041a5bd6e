"""The preview card of the agent desktop in real Chromium against a real server and the engine on
the simulated board: in a preview campaign the agent sees the next contact (name, number, the
list's note, the customer record matching the number), skips one, puts one on the do-not-call
list (never dialled), then calls the first: her phone rings, she picks up, the customer answers."""
from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path

import pytest

from firmware.api import ApiContext
from firmware.callcenter import model, service_of
from firmware.campaigns import commands as cmds
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import office  # noqa: F401 (fixture)
from .test_desk_browser import _login

pytestmark = pytest.mark.browser

HOURS_ALWAYS = {"from": "00:00", "to": "23:59", "days": [0, 1, 2, 3, 4, 5, 6]}


def test_preview_card_skip_do_not_call_and_call(office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    p = office.pbx
    page = browser_page
    ctx = ApiContext(config=p.config, records=p.records, data_dir=p.data_dir, control=p.engine.control)
    with office.lock:
        model.save_agent(p.config, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        ann = p.co.remote("5550601")
        ann.far_end(1, say="Hello?")
        p.run(0.1)
    cmds.campaign_save(ctx, campaign={"id": "quotes", "name": "Quote follow-up", "mode": "preview",
                                      "agents": ["alice"], "caller_extension": "201", "hours": HOURS_ALWAYS,
                                      "max_attempts": 1, "ring_s": 20})
    listing = ("number,name,note\n5550601,Ann Archer,asked for a quote on <b>boilers</b>\n"
               "5550602,Ben Brook,=cmd|' /C calc'!A0\n")
    cmds.campaign_import(ctx, campaign="quotes", csv_b64=base64.b64encode(listing.encode()).decode())
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            app.state.web.accounts.create("alice", "Amber-Copper-Window-4", "agent", extension="201")
            actx = page.context.browser.new_context()
            ap = _login(actx, base, "alice", "Amber-Copper-Window-4")
            errors: list[str] = []
            ap.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            ap.on("pageerror", lambda e: errors.append(str(e)))
            ap.goto(base + "/desk")
            # Ann is a customer already (the desk's own new-customer form)
            saved = ap.evaluate("""async () => (await window.linebox.send('POST', '/api/desk/customer',
                {name: 'Ann Archer', company: 'Archer Heating', number: '555-0601', notes: 'prefers mornings'}))""")
            assert saved["id"]
            expect(ap.locator("#desk-preview")).to_be_hidden()            # no running preview campaign yet
            with office.lock:
                svc = service_of(p.engine)
                svc.login(svc.agents["alice"], "201")
            cmds.campaign_start(ctx, campaign="quotes")
            ap.goto(base + "/desk")
            expect(ap.locator("#desk-preview")).to_be_visible(timeout=10000)
            expect(ap.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=10000)
            expect(ap.locator("#desk-preview-number")).to_have_text("5550601")
            expect(ap.locator("#desk-preview-note")).to_have_text("asked for a quote on <b>boilers</b>")  # as text
            expect(ap.locator("#desk-preview-customer")).to_have_text("Ann Archer")
            expect(ap.locator("#desk-preview-company")).to_have_text("Archer Heating")
            expect(ap.locator("#desk-preview-customer-notes")).to_have_text("prefers mornings")
            _shot(ap, "desk-preview")
            assert not p.phone("201").is_ringing                          # preview: nothing dialled yet
            # an agent who is not on the campaign: refused, and Ann stays Alice's to look at
            with office.lock:
                model.save_agent(p.config, {"username": "bob", "name": "Bob", "number": "1002", "pin": "5937"})
            app.state.web.accounts.create("bob", "Birch-Lantern-Meadow-7", "agent", extension="202")
            bctx = page.context.browser.new_context()
            bp = _login(bctx, base, "bob", "Birch-Lantern-Meadow-7")
            bp.goto(base + "/desk")
            expect(bp.locator("#desk-preview")).to_be_hidden()
            status = bp.evaluate("""async () => {
                const r = await fetch('/api/desk/preview/quotes/next', {credentials: 'same-origin'});
                const d = await r.json();
                const post = await window.linebox.send('POST', '/api/desk/preview/call', {campaign: 'quotes'})
                  .then(() => 'sent', (e) => e.message);
                return [r.status, d.error, post];
            }""")
            assert status[0] == 403 and "not an agent of this campaign" in status[1], status
            assert "not an agent of this campaign" in status[2], status
            bctx.close()
            assert not p.phone("202").is_ringing and not p.phone("201").is_ringing
            ap.click("#desk-preview button[data-preview=skip]")
            expect(ap.locator("#desk-preview-name")).to_have_text("Ben Brook", timeout=10000)
            expect(ap.locator("#desk-preview-unknown")).to_be_visible()    # no record for Ben
            expect(ap.locator("#desk-preview-note")).to_have_text("=cmd|' /C calc'!A0")
            ap.click("#desk-preview button[data-preview=dnc]")
            expect(ap.locator("#desk-ok")).to_contain_text("5550602 is on the do-not-call list", timeout=10000)
            expect(ap.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=10000)   # back to Ann
            ap.click("#desk-preview button[data-preview=call]")
            expect(ap.locator("#desk-ok")).to_contain_text("Calling 5550601", timeout=10000)
            deadline = time.monotonic() + 20
            while not p.phone("201").is_ringing and time.monotonic() < deadline:
                time.sleep(0.05)
            assert p.phone("201").is_ringing, "the agent's phone did not ring for the previewed contact"
            with office.lock:
                p.phone("201").off_hook()
            deadline = time.monotonic() + 40
            while ann.state != "connected" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ann.state == "connected", "the previewed contact was not called"
            deadline = time.monotonic() + 20
            res: dict = {}
            while time.monotonic() < deadline:
                res = {r["number"]: r for r in cmds.campaign_results(ctx, campaign="quotes")["numbers"]}
                if res["5550601"]["status"] == "answered":
                    break
                time.sleep(0.2)
            assert res["5550601"]["status"] == "answered", res
            assert res["5550602"]["status"] == "dnc" and res["5550602"]["attempts"] == 0
            assert "5550602" in {d["number"] for d in cmds.dnc_list(ctx)["numbers"]}
            assert "5550602" not in p.co.remotes or p.co.remotes["5550602"].rings == 0     # never dialled
            with office.lock:
                ann.hang_up()
            assert errors == [], errors
            actx.close()
