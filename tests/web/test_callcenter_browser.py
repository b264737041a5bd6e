"""Call-center pages in real Chromium against a real server and the engine on the simulated board
(stepped by a thread here, as the media loop does in the service): the owner creates an agent and
a queue (a bad member is refused with what was typed kept), the agent logs in from the browser,
and the supervisor's live view shows a caller waiting and the agent's phone ringing, live."""
from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.callcenter import service_of
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, CHROMIUM, CHROMIUM_ARGS, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


class SteppedPbx:
    """The engine stepping in (simulated time, paced to real time) on its own thread; test code
    that touches phones holds `lock`."""

    def __init__(self, data_dir: Path) -> None:
        self.pbx = Pbx(data_dir=data_dir)
        self.pbx.co.disconnect_signal = "both"
        self.lock = self.pbx.engine_lock      # the harness's: the still-engine answers wait too
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.pbx.media.step()
            time.sleep(0.002)

    def rings(self, number: str, timeout_s: float = 15.0) -> bool:
        """Whether the phone's bell sounds within `timeout_s` of real time: the bell follows the ring
        cadence (on 2 s, off 4 s), so a glance at one moment may fall in a pause."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.pbx.phone(number).is_ringing:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.pbx.close()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[SteppedPbx]:
    o = SteppedPbx(tmp_path / "pbx")
    yield o
    o.close()


def test_configure_queue_agent_logs_in_supervisor_sees_caller_live(office, browser_page) -> None:  # noqa: F811
    p = office.pbx
    page = browser_page
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            app.state.web.accounts.create("alice", "Amber-Copper-Window-4", "agent", extension="201")
            page.goto(base + "/callcenter/config")
            page.fill("#agent-form input[name=username]", "alice")
            page.fill("#agent-form input[name=name]", "Alice")
            page.fill("#agent-form input[name=number]", "1001")
            page.fill("#agent-form input[name=pin]", "4826")
            page.click("#agent-form button[type=submit]")
            page.wait_for_selector("#agent-table tr[data-user=alice]")
            page.fill("#queue-form input[name=number]", "600")
            page.fill("#queue-form input[name=name]", "Sales")
            page.fill("#queue-form input[name=members]", "alice:0, mallory:1")
            page.click("#queue-form button[type=submit]")
            assert "mallory" in page.inner_text(".alert.error")          # refused, said why
            assert page.input_value("#queue-form input[name=name]") == "Sales"   # what was typed is kept
            page.fill("#queue-form input[name=members]", "alice:0")
            page.click("#queue-form button[type=submit]")
            page.wait_for_selector("#queue-table tr[data-number='600']")
            _shot(page, "callcenter-admin")
            p.config.set_inbound_route("fxo1", "queue:600")
            # the agent, in their own browser context, logs in at phone 201
            agent_ctx = page.context.browser.new_context()
            ap = agent_ctx.new_page()
            ap.goto(base + "/login")
            ap.fill("input[name=username]", "alice")
            ap.fill("input[name=password]", "Amber-Copper-Window-4")
            ap.click("button[type=submit]")
            ap.goto(base + "/callcenter/agent")                 # the old page: now the agent desktop
            assert ap.url == base + "/desk"
            ap.click("#desk-login [data-status=login]")
            ap.locator("#desk-status", has_text="available").wait_for(timeout=10000)
            # the supervisor's live view
            page.goto(base + "/callcenter/live")
            page.wait_for_selector("#cc-agents tr[data-agent=alice]")
            assert re.search(r"available\s+idle", page.inner_text("#cc-agents tr[data-agent=alice]"))
            page.click("#cc-agents tr[data-agent=alice] button[data-action=pause]")      # the supervisor pauses her
            page.locator("#cc-agents tr[data-agent=alice]", has_text="paused (supervisor)").wait_for(timeout=10000)
            page.click("#cc-agents tr[data-agent=alice] button[data-action=unpause]")
            page.locator("#cc-agents tr[data-agent=alice]", has_text="available").wait_for(timeout=10000)
            with office.lock:
                r = p.co.remote("5550142")
                r.call(p.co.line_number(1))
            page.locator("#cc-agents tr[data-agent=alice]", has_text="ringing").wait_for(timeout=20000)
            assert "5550142" in page.inner_text("#cc-queues tr[data-queue='600']")
            _shot(page, "callcenter-live")
            with office.lock:
                p.phone("201").off_hook()
            page.locator("#cc-agents tr[data-agent=alice]", has_text="queue call").wait_for(timeout=10000)
            with office.lock:
                r.hang_up()
            page.locator("#cc-agents tr[data-agent=alice]", has_text="wrapup").wait_for(timeout=10000)
            ap.goto(base + "/desk")
            ap.click("#desk-loggedin [data-status=logout]")
            ap.locator("#desk-status", has_text="logged out").wait_for(timeout=10000)
            assert service_of(p.engine).agents["alice"].status == "logged_out"
            agent_ctx.close()
            assert page.console_errors == []
