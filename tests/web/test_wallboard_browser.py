"""The wallboard in real Chromium against a real server and the engine on the simulated board:
a team leader sees only their team, sees an agent's state change live (available → ringing → on a
call → wrap-up), listens to the call from the browser (their desk phone rings, then the session is
shown), posts a bulletin that the agent's /api/bulletins returns, and today's figures (answered,
service level band) follow the queue event log. The admin sees every team; a refused action says
why."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from firmware.callcenter import model, service_of, supervision
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_callcenter_browser import SteppedPbx

pytestmark = pytest.mark.browser

SUP_PW = "Violet-Harbour-Lantern-8"
AGENT_PW = "Amber-Copper-Window-4"


@pytest.fixture
def office(tmp_path: Path):
    o = SteppedPbx(tmp_path / "pbx")
    yield o
    o.close()


def _login(browser, base: str, user: str, password: str):
    ctx = browser.new_context(viewport={"width": 1600, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    return ctx, page


def test_team_leader_wallboard_live_listen_bulletin(office, browser_page) -> None:  # noqa: F811
    p = office.pbx
    with office.lock:
        cfg = p.config
        model.save_team(cfg, {"id": "north", "name": "North", "leader": "sam"})
        model.save_team(cfg, {"id": "south", "name": "South", "leader": "tess"})
        model.save_agent(cfg, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826", "team": "north"})
        model.save_agent(cfg, {"username": "bob", "name": "Bob", "number": "1002", "pin": "5937", "team": "south"})
        model.save_queue(cfg, {"number": "600", "name": "Sales", "strategy": "ringall", "wrapup_s": 3, "ring_s": 15,
                               "announce_every_s": 0, "members": [{"agent": "alice", "penalty": 0},
                                                                  {"agent": "bob", "penalty": 0}]})
        cfg.set_inbound_route("fxo1", "queue:600")
    page = browser_page
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            accounts = app.state.web.accounts
            accounts.create("sam", SUP_PW, "supervisor", extension="204")
            accounts.create("alice", AGENT_PW, "agent", extension="201")
            sup_ctx, sp = _login(page.context.browser, base, "sam", SUP_PW)
            sp.goto(base + "/wallboard")
            sp.wait_for_selector("#wb-agents tr[data-agent=alice]")
            assert sp.locator("#wb-agents tr[data-agent=bob]").count() == 0          # another team's agent
            assert "team north" in sp.inner_text("h1")
            assert "logged out" in sp.inner_text("#wb-agents tr[data-agent=alice]")
            # the admin's settings: a supervisor's phone (a wrong extension is refused) and a target
            page.goto(base + "/wallboard/settings")
            page.fill("#phone-form input[name=username]", "sam")
            page.fill("#phone-form input[name=extension]", "999")
            page.click("#phone-form button[type=submit]")
            assert "999" in page.inner_text(".alert.error")
            assert page.input_value("#phone-form input[name=username]") == "sam"       # what was typed is kept
            page.fill("#phone-form input[name=extension]", "204")
            page.click("#phone-form button[type=submit]")
            page.wait_for_selector("#phone-table tr[data-user=sam]")
            page.fill("#target-table tr[data-queue='600'] input[name=target_percent]", "90")
            page.fill("#target-table tr[data-queue='600'] input[name=threshold_s]", "30")
            page.click("#target-table tr[data-queue='600'] button[type=submit]")
            assert page.input_value("#target-table tr[data-queue='600'] input[name=target_percent]") == "90"
            # the admin sees both teams
            page.goto(base + "/wallboard")
            page.wait_for_selector("#wb-agents tr[data-agent=bob]")
            assert page.locator("#wb-agents tr[data-agent=alice]").count() == 1

            with office.lock:
                svc = service_of(p.engine)
                svc.login(svc.agents["alice"], "201")
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="available").wait_for(timeout=10000)
            with office.lock:
                r = p.co.remote("5550142")
                r.call(p.co.line_number(1))
            sp.locator("#wb-queues [data-queue='600'] .wb-waiting b", has_text="1").wait_for(timeout=20000)
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="ringing").wait_for(timeout=20000)
            with office.lock:
                p.phone("201").off_hook()
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="on a call").wait_for(timeout=10000)
            assert sp.inner_text("#wb-queues [data-queue='600'] .wb-waiting b") == "0"

            # listen from the browser: the supervisor's desk phone (204) rings, they pick up
            sp.click("#wb-agents tr[data-agent=alice] button[data-action=listen]")
            deadline = 200
            while deadline and not p.phone("204").is_ringing:
                sp.wait_for_timeout(50)
                deadline -= 1
            assert p.phone("204").is_ringing, "the supervisor's phone did not ring"
            with office.lock:
                p.phone("204").off_hook()
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="listen by sam").wait_for(timeout=10000)
            assert [s.mode for s in supervision.sessions_of(p.engine)] == ["listen"]
            sp.click("#wb-agents tr[data-agent=alice] button[data-action=whisper]")
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="whisper by sam").wait_for(timeout=10000)
            _shot(sp, "wallboard-team-leader")

            # a bulletin to the team: on the board, and in the agent's list
            sp.fill("#wb-bulletin-form input[name=text]", "New price list <b>from Monday</b>")
            sp.click("#wb-bulletin-form button[type=submit]")
            sp.locator("#wb-bulletins li", has_text="New price list <b>from Monday</b>").wait_for(timeout=10000)
            agent_ctx, ap = _login(page.context.browser, base, "alice", AGENT_PW)
            got = ap.evaluate("fetch('/api/bulletins').then(r => r.json())")
            assert [b["text"] for b in got["bulletins"]] == ["New price list <b>from Monday</b>"]
            agent_ctx.close()

            # the caller hangs up: wrap-up, then today's figures count the answered call
            with office.lock:
                r.hang_up()
            sp.locator("#wb-agents tr[data-agent=alice]", has_text="wrap-up").wait_for(timeout=10000)
            sp.locator("#wb-queues [data-queue='600'] .wb-answered b", has_text="1").wait_for(timeout=20000)
            assert sp.get_attribute("#wb-queues [data-queue='600']", "data-band") == "green"
            assert "TARGET 90% IN 30 S" in sp.inner_text("#wb-queues [data-queue='600']")
            assert not supervision.sessions_of(p.engine)

            # refused: a team leader cannot pause another team's agent (the engine says why)
            res = sp.evaluate("window.linebox.send('POST', '/api/wallboard/agents/bob/pause').then(() => 'ok',"
                              " e => e.message)")
            assert "not in your team" in res
            # and the audio of a call goes only to the supervisor's own phone
            res = sp.evaluate("window.linebox.send('POST', '/api/wallboard/supervise', {agent: 'alice', mode: 'listen',"
                              " extension: '203'}).then(() => 'ok', e => e.message)")
            assert "only on your own phone" in res
            assert sp.console_errors == [] and page.console_errors == []
            sup_ctx.close()


def test_a_fax_calling_the_queue_shows_as_a_fax_not_a_caller(office, browser_page, tmp_path) -> None:  # noqa: F811
    """A fax machine calls the queue's line (fax detection on, into box 204): its CNG takes it out of
    the queue (EXITFAX) into the fax box. The wallboard counts it as a fax today, not as answered or
    abandoned, and gives no service level (no caller was counted yet: grey band)."""
    from dsp_ext.fax import write_tiff
    from firmware.fax.charts import chart
    from firmware.fax.detect import set_detect_box
    p = office.pbx
    with office.lock:
        model.save_agent(p.config, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        model.save_queue(p.config, {"number": "600", "name": "Sales", "strategy": "ringall", "ring_s": 15,
                                    "announce_every_s": 0, "members": [{"agent": "alice", "penalty": 0}]})
        p.config.set_inbound_route("fxo1", "queue:600")
        set_detect_box(p.config, "fxo1", "204")
    svc = service_of(p.engine)
    for _ in range(400):                     # the engine takes the new configuration on its next ticks
        with office.lock:
            if "alice" in svc.agents:
                svc.login(svc.agents["alice"], "201")
                break
        time.sleep(0.025)
    write_tiff(tmp_path / "doc.tif", [chart("text", 98, seed=3)], 98)
    page = browser_page
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            page.goto(base + "/wallboard")
            page.wait_for_selector("#wb-queues [data-queue='600']")
            assert page.locator("#wb-queues [data-queue='600'] .wb-faxes").count() == 0   # none yet: not shown
            with office.lock:
                fax = p.co.fax_machine("5550190", ident="+1 555 0190")
                fax.send_document(tmp_path / "doc.tif", to=p.co.line_number(1))
            page.locator("#wb-queues [data-queue='600'] .wb-faxes b", has_text="1").wait_for(timeout=60000)
            card = page.locator("#wb-queues [data-queue='600']")
            assert "FAXES TODAY (NOT CALLERS)" in card.inner_text().upper()
            assert page.inner_text("#wb-queues [data-queue='600'] .wb-answered b") == "0"
            assert page.inner_text("#wb-queues [data-queue='600'] .wb-abandoned b") == "0"
            assert page.get_attribute("#wb-queues [data-queue='600']", "data-band") == "none"
        assert not page.console_errors, page.console_errors
