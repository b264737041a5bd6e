"""One-click callback and the failed-callback list in Chromium, against the engine on the simulated
board (stepped by a thread, as the media loop runs in the service): a caller abandons queue 600; the
supervisor clicks "Call back" on /reports; the engine connects the agent first, then dials the
customer; once answered the list says "reached". On /reports/callbacks a failed callback is marked
done and leaves the list (kept, shown with "show the ones done")."""
from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.callcenter import model, service_of
from firmware.harness import START_EPOCH, Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
DAY = dt.datetime.fromtimestamp(START_EPOCH, dt.UTC).date().isoformat()


class Office:
    """The engine stepping on its own thread; test code touching phones holds `lock`."""

    def __init__(self, data_dir: Path) -> None:
        p = self.pbx = Pbx(data_dir=data_dir)
        p.co.disconnect_signal = "both"
        cfg = p.config
        model.save_agent(cfg, {"username": "alice", "name": "Alice", "number": "1001", "pin": "4826"})
        model.save_queue(cfg, {"number": "600", "name": "Sales", "strategy": "ringall", "wrapup_s": 2,
                               "members": [{"agent": "alice", "penalty": 0}], "ring_s": 10,
                               "announce_every_s": 0, "callback_key": "5", "callback_as": "204", "join_empty": [], "leave_empty": []})
        cfg.set_inbound_route("fxo1", "queue:600")
        p.run(0.2)
        s = service_of(p.engine)
        s.login(s.agents["alice"], "201")
        s.pause(s.agents["alice"], "lunch")
        p.run(0.1)
        self.lock = self.pbx.engine_lock      # the harness's: the still-engine answers wait too
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.pbx.media.step()
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.pbx.close()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    o = Office(tmp_path / "pbx")
    yield o
    o.close()


def test_one_click_callback_and_the_failed_list(office: Office, browser_page) -> None:  # noqa: F811
    from playwright.sync_api import expect
    p, page = office.pbx, browser_page
    with office.lock:                                   # a customer gives up after 12 s
        r = p.co.remote("5550142", name="CUSTOMER")
        r.call(p.co.line_number(1))
        p.run(14.0)
        r.hang_up()
        p.run(3.0)
        p.records.insert("callback_list", ts=p.now, call_id="old-1", queue="600", number="5550177",
                         attempts=3, reason="busy")       # an earlier callback that failed every attempt
        p.records.flush()
    s = service_of(p.engine)
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            page.goto(f"{base}/reports?date_from={DAY}&by=day")
            row = page.locator("#abandoned tbody tr", has_text="5550142")
            expect(row).to_contain_text("no")
            row.get_by_role("button", name="Call back 5550142").click()
            expect(page.locator("#notice")).to_contain_text("Callback scheduled")
            assert [cb.number for cb in s.callbacks.values()] == ["5550142"]
            with office.lock:                               # the agent is free: connected first, then the line
                s.unpause(s.agents["alice"])
                p.run_until(lambda: p.phone("201").is_ringing, 10)
                p.phone("201").off_hook()
                p.run_until(lambda: r.is_ringing, 20)
                r.answer()
                p.run(0.5)
                r.play_tone([1000], 800, -12)                 # the customer speaks: answered
                p.run_until(lambda: not s.callbacks or s.callbacks[next(iter(s.callbacks))].answered_at, 15)
                p.run(2.0)
                r.hang_up()
                p.run(3.0)
                p.phone("201").on_hook()
                p.run(1.0)
                p.records.flush()
            page.goto(f"{base}/reports?date_from={DAY}&by=day")
            row = page.locator("#abandoned tbody tr", has_text="5550142")
            expect(row.locator("td").nth(4)).to_have_text("yes")            # reached since
            expect(row.get_by_role("button")).to_have_count(0)
            # the list of callbacks to make
            page.click("a[href='/reports/callbacks']")
            item = page.locator("#failed-callbacks tbody tr", has_text="5550177")
            expect(item).to_contain_text("busy")
            item.get_by_role("button", name="Mark the callback to 5550177 done").click()
            expect(page.locator("#notice")).to_contain_text("Marked done")
            expect(page.locator("#failed-callbacks tbody tr", has_text="5550177")).to_have_count(0)
            page.click("text=Show the ones done too")
            expect(page.locator("#failed-callbacks tbody tr", has_text="5550177")).to_have_count(1)
    assert not page.console_errors, page.console_errors


def test_admin_sets_the_daily_mail_and_rebuilds(office: Office, browser_page) -> None:  # noqa: F811
    """The daily e-mail form (engine command reports.daily_mail): a bad address is refused with what
    was typed kept; good ones are saved and shown again; "Aggregate again" runs reports.rebuild."""
    from playwright.sync_api import expect
    p, page = office.pbx, browser_page
    with tempfile.TemporaryDirectory() as web_dir:
        app = create_app(control=p.control, config=p.config, records=p.records, data_dir=Path(web_dir))
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            page.goto(f"{base}/reports")
            page.click("a[href='/reports/mail']")
            page.fill("#mail-form input[name=to]", "boss@example.com, not an address")
            page.fill("#mail-form input[name=hour]", "6")
            page.click("#mail-form button[type=submit]")
            expect(page.locator(".alert.error")).to_be_visible()
            expect(page.locator("#mail-form input[name=to]")).to_have_value("boss@example.com, not an address")
            page.fill("#mail-form input[name=to]", "boss@example.com, team@example.com")
            page.click("#mail-form button[type=submit]")
            expect(page.locator("#notice")).to_contain_text("Saved")
            expect(page.locator("#mail-form input[name=to]")).to_have_value("boss@example.com, team@example.com")
            expect(page.locator("#mail-form input[name=hour]")).to_have_value("6")
            from firmware.reports.daily_mail import mail_settings
            assert mail_settings(p.config) == {**mail_settings(p.config), "to": ["boss@example.com",
                                                                                 "team@example.com"], "hour": 6}
            page.click("#rebuild-form button[type=submit]")
            expect(page.locator("#notice")).to_contain_text("aggregated again")
    assert not page.console_errors, page.console_errors
