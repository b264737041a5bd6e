"""Two desk actions in real Chromium against a real server, with the engine stepping the
simulated board on its own thread (tests/web/test_callcenter_browser.py's `office`). Every wait
is on a condition (the DOM through Playwright's expect, the engine's state through `_until`);
the timeouts are upper bounds for a loaded machine, never the thing waited for.

* Pickup: a queue call rings Bob; Alice (same team, paused so the queue does not offer it to her)
  types Bob's extension on her desk and clicks "Pick up their ringing call"; her phone rings, she
  lifts it, and she talks to the caller (a tone the caller sends is heard on her phone); her desk
  shows the call live, Bob's phone stops ringing, and the queue log gives the call to her.
* A pause drops the preview card live: the engine gives the number back and the desk says why.
* Preview reservation: Alice and Bob dial a preview campaign; each desk shows its own contact.
  Alice closes her page: after the grace time her contact goes back to the front of the list,
  and Bob, skipping his, is shown hers."""
from __future__ import annotations

import base64
import contextlib
import tempfile
from pathlib import Path

import pytest

from firmware.api import ApiContext
from firmware.callcenter import model, service_of
from firmware.campaigns import commands as cmds
from firmware.campaigns.dialer import dialer_of
from firmware.harness import tone_level
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import office  # noqa: F401 (fixture)
from .test_desk_browser import _login
from .test_desk_gaps_browser import _until

pytestmark = pytest.mark.browser

ALICE_PW, BOB_PW = "Amber-Copper-Window-4", "Birch-Lantern-Meadow-7"
HOURS_ALWAYS = {"from": "00:00", "to": "23:59", "days": [0, 1, 2, 3, 4, 5, 6]}


def _agents(p) -> None:
    model.save_team(p.config, {"id": "north", "name": "North"})
    model.save_agent(p.config, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826", "team": "north"})
    model.save_agent(p.config, {"username": "bob", "name": "Bob", "number": "1002", "pin": "5937", "team": "north"})


@contextlib.contextmanager
def _alice_desk(stepped, page, *also: tuple[str, str, str]):
    """The web app served on the office, its admin created, Alice (agent on 201) signed in in a
    context of her own, and the agents `also` (username, password, extension) created. Yields the
    base URL, Alice's page and the page errors it saw."""
    p = stepped.pbx
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            for username, password, extension in (("alice", ALICE_PW, "201"), *also):
                app.state.web.accounts.create(username, password, "agent", extension=extension)
            actx = page.context.browser.new_context()
            try:
                ap = _login(actx, base, "alice", ALICE_PW)
                errors: list[str] = []
                ap.on("pageerror", lambda e: errors.append(str(e)))
                yield base, ap, errors
            finally:
                actx.close()


def test_pickup_of_a_queue_call_ringing_a_colleague(office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    p = office.pbx
    with office.lock:
        _agents(p)
        model.save_queue(p.config, {"number": "600", "name": "Sales", "members": "alice:0, bob:0",
                                    "announce_every_s": 0, "wrapup_s": 30, "ring_s": 60, "join_empty": [],
                                    "leave_empty": []})
        p.config.set_inbound_route("fxo1", "queue:600")
    with _alice_desk(office, browser_page) as (base, ap, errors):
        with office.lock:
            svc = service_of(p.engine)
            svc.login(svc.agents["alice"], "201")
            svc.login(svc.agents["bob"], "202")
            svc.pause(svc.agents["alice"], "lunch")                   # the queue rings Bob only
        ap.goto(base + "/desk")
        expect(ap.locator("#desk-call-none")).to_be_visible(timeout=15000)
        with office.lock:
            caller = p.co.remote("5550142", name="CUSTOMER")
            caller.call(p.co.line_number(1))
        _until(office, lambda q: q.phone("202").is_ringing, 30)
        with office.lock:
            assert not p.phone("201").is_ringing
        ap.fill("#desk-colleague", "202")
        ap.click("#desk-dial button[data-colleague=pickup]")
        expect(ap.locator("#desk-ok")).to_have_text("Pick up your phone.", timeout=15000)
        _until(office, lambda q: q.phone("201").is_ringing, 30)
        with office.lock:
            p.phone("201").off_hook()
        expect(ap.locator("#desk-call-live")).to_be_visible(timeout=15000)
        expect(ap.locator("#desk-call-phase")).to_have_text("Talking", timeout=15000)
        expect(ap.locator("#desk-call-number")).to_contain_text("5550142")
        expect(ap.locator("#desk-call-queue")).to_contain_text("600")
        _until(office, lambda q: not q.phone("202").is_ringing and svc.agents["bob"].offer is None, 15)
        # she hears the caller: a tone the caller sends arrives on her phone
        with office.lock:
            p.phone("201").clear_heard()
            caller.play_tone([1000], 2000, -12)
        _until(office, lambda q: tone_level(q.phone("201").heard()[-4000:], 1000) > -30, 20)
        with office.lock:
            call_id = svc.agents["alice"].connection.call.id
            p.records.flush()
            connects = p.records.query("SELECT agent FROM queue_events WHERE call_id = ? AND event IN "
                                       "('CONNECT', 'RINGNOANSWER')", (call_id,))
        assert connects == [{"agent": "alice"}], connects
        with office.lock:
            caller.hang_up()
        expect(ap.locator("#desk-call-none")).to_be_visible(timeout=15000)
        with office.lock:
            p.phone("201").on_hook()
        assert errors == [], errors


def _running_preview_campaign(stepped) -> tuple:
    """Alice and Bob, logged in, dial the running preview campaign "quotes" of three contacts
    (Ann Archer, Ben Brook, Cat Cole, in that order). Returns the queue service and the dialler."""
    p = stepped.pbx
    ctx = ApiContext(config=p.config, records=p.records, data_dir=p.data_dir, control=p.engine.control)
    with stepped.lock:
        _agents(p)
        p.run(0.1)
    cmds.campaign_save(ctx, campaign={"id": "quotes", "name": "Quote follow-up", "mode": "preview",
                                      "agents": ["alice", "bob"], "caller_extension": "201",
                                      "hours": HOURS_ALWAYS, "max_attempts": 1, "ring_s": 20})
    listing = "number,name,note\n5550601,Ann Archer,\n5550602,Ben Brook,\n5550603,Cat Cole,\n"
    cmds.campaign_import(ctx, campaign="quotes", csv_b64=base64.b64encode(listing.encode()).decode())
    with stepped.lock:
        svc = service_of(p.engine)
        svc.login(svc.agents["alice"], "201")
        svc.login(svc.agents["bob"], "202")
        dialer = dialer_of(p.engine)
    cmds.campaign_start(ctx, campaign="quotes")
    return svc, dialer


def test_a_pause_drops_the_preview_card_live(office, browser_page) -> None:  # noqa: F811
    """Alice previews Ann Archer and pauses on her desk: the engine gives the number back to the
    list, and her desk, told through its event stream, drops the card at once with a line saying
    why (before, the card stayed until she clicked Call and was refused). When she is available
    again the card shows the next contact: Ann Archer again, back at the front of the list."""
    from playwright.sync_api import expect
    _svc, dialer = _running_preview_campaign(office)
    with _alice_desk(office, browser_page) as (base, ap, errors):
        ap.goto(base + "/desk")
        expect(ap.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=15000)
        expect(ap.locator("#desk-preview-released")).to_be_hidden()
        ap.click("#desk-loggedin button[data-status=pause]")
        expect(ap.locator("#desk-preview-card")).to_be_hidden(timeout=15000)
        expect(ap.locator("#desk-preview-released")).to_have_text(
            "5550601 went back to the campaign's list because you paused. Unpause to see the next contact.",
            timeout=15000)
        with office.lock:
            run = dialer.runs["quotes"]
            assert "alice" not in run.reserved
            assert run.pending[0]["number"] == "5550601"            # at the front of the list
        expect(ap.locator("#desk-error")).to_be_hidden()
        ap.click("#desk-loggedin button[data-status=unpause]")
        expect(ap.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=15000)
        expect(ap.locator("#desk-preview-released")).to_be_hidden()
        _until(office, lambda q: "alice" in dialer.runs["quotes"].reserved, 15)
        assert errors == [], errors


def test_a_closed_desk_gives_its_previewed_contact_back(office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    _svc, dialer = _running_preview_campaign(office)
    with office.lock:
        dialer.desk_grace_s = 8.0                  # (20 s by default) simulated seconds after the page closed
    with _alice_desk(office, browser_page, ("bob", BOB_PW, "202")) as (base, ap, _errors):
        ap.goto(base + "/desk")
        expect(ap.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=15000)
        bctx = browser_page.context.browser.new_context()
        bp = _login(bctx, base, "bob", BOB_PW)
        bp.goto(base + "/desk")
        expect(bp.locator("#desk-preview-name")).to_have_text("Ben Brook", timeout=15000)
        _until(office, lambda q: dialer.desks.get("alice", [0])[0] > 0, 15)   # her desk's stream is open
        assert "alice" in dialer.runs["quotes"].reserved
        ap.context.close()                                                        # Alice closes her desk
        _until(office, lambda q: "alice" not in dialer.runs["quotes"].reserved, 60)
        assert "bob" in dialer.runs["quotes"].reserved                        # Bob's desk is open: his stays
        bp.click("#desk-preview button[data-preview=skip]")
        expect(bp.locator("#desk-preview-name")).to_have_text("Ann Archer", timeout=15000)
        bctx.close()
