"""The web UI in real Chromium against a real uvicorn server, with a real simulated call.

First-boot setup → log out and in → create an extension → open the live status
page → a call between two virtual phones on the simulated board appears live
(ringing, then in call with a ticking duration) → the finished call appears
live in the call history. One screenshot per main page goes to tests/.artifacts/.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.firstboot import read_code
from webui.app import create_app

from .live_server import serve

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ADMIN, PASSWORD = "owner", "Quiet-Harbour-Lantern-8"


class SimulatedOffice:
    """The PBX behind the web UI: the engine on the simulated board, stepped by the test.

    The engine runs in simulated time (no media thread); the web server only
    reads `control.snapshot()` / the event stream and writes Config, whose
    listener queues the reload onto the engine's next step.
    """

    def __init__(self, data_dir: Path) -> None:
        from firmware.harness import Pbx
        self.pbx = Pbx(data_dir=data_dir / "pbx")
        self.pbx.run(0.1)                      # first status publish

    def app(self, web_dir: Path):
        p = self.pbx
        return create_app(control=p.control, config=p.config, records=p.records, data_dir=web_dir,
                          clock=lambda: p.now)

    def call(self, src: str, dst: str) -> None:
        """`src` lifts the handset and dials `dst` (DTMF as audio) until `dst` rings."""
        p = self.pbx
        phone = p.phone(src)
        phone.off_hook()
        p.run_until(lambda: p.state(self.port(src)) == "dialtone", 2)
        p.run(0.3)
        phone.dial(dst)
        p.run_until(lambda: not phone.busy_dialling, 10)
        p.run_until(lambda: p.phone(dst).is_ringing, 5)

    def answer(self, ext: str, other: str) -> None:
        p = self.pbx
        p.phone(ext).off_hook()
        p.run_until(lambda: p.state(self.port(other)) == "in-call", 3)

    def hang_up(self, *exts: str) -> None:
        for ext in exts:
            self.pbx.phone(ext).on_hook()
            self.pbx.run(0.5)
        self.pbx.records.flush()

    def port(self, ext: str) -> str:
        return self.pbx.engine.plan.extensions[ext].port

    def close(self) -> None:
        self.pbx.close()


@pytest.fixture
def office(tmp_path: Path) -> Iterator[SimulatedOffice]:
    o = SimulatedOffice(tmp_path)
    yield o
    o.close()


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make system-deps-test installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        # launch() gives every run a fresh temporary profile (user-data-dir), removed on close
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        page = context.new_page()
        errors: list[str] = []
        # Script errors and CSP refusals; a 4xx page load (a refused form) is logged too and is fine.
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.console_errors = errors
        yield page
        context.close()
        browser.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_setup_login_extension_and_live_call(office: SimulatedOffice, browser_page, tmp_path: Path) -> None:
    from playwright.sync_api import expect
    page = browser_page
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    with serve(office.app(web_dir)) as base:
        # ---- first boot: every page leads to setup; weak password refused, then the admin is created
        page.goto(base + "/history")
        expect(page).to_have_url(base + "/setup")
        page.fill("input[name=setup_code]", read_code(web_dir) or "")
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", "owner-owner-1")
        page.fill("input[name=confirm]", "owner-owner-1")
        page.click("button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("must not contain the username")
        _shot(page, "setup")
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=confirm]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/status")

        # ---- log out and back in
        page.click("text=Log out")
        expect(page).to_have_url(base + "/login")
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", "not-the-password")
        page.click("button[type=submit]")
        expect(page.locator(".alert.error")).to_have_text("Wrong username or password.")
        _shot(page, "login")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/status")

        # ---- create an extension (a bad number first: the error shows next to the form)
        page.click("nav >> text=Extensions")
        page.fill("#extension-form input[name=number]", "9x")
        page.click("#extension-form button[type=submit]")
        expect(page.locator("#extension-form .alert.error")).to_contain_text("2 to 6 digits")
        page.fill("#extension-form input[name=number]", "205")
        page.fill("#extension-form input[name=name]", "Workshop")
        page.click("#extension-form button[type=submit]")
        expect(page.locator('tr[data-number="205"]')).to_contain_text("Workshop")
        assert office.pbx.config.extension("205")["name"] == "Workshop"
        _shot(page, "extensions")
        page.click("nav >> text=Lines")
        expect(page.locator('tr[data-port="fxo1"]')).to_be_visible()
        _shot(page, "lines")
        page.click("nav >> text=Settings")
        _shot(page, "settings")
        page.click("nav >> text=Users")
        _shot(page, "users")

        # ---- live status: a real simulated call shows up without reload
        page.click("nav >> text=Live status")
        expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
        fxs1, fxs2 = (page.locator(f'.port[data-port="{office.port(e)}"]') for e in ("201", "202"))
        expect(fxs1).to_have_class("port state-idle")
        office.call("201", "202")
        expect(fxs2).to_have_class("port state-ringing")
        expect(fxs1).to_have_class("port state-ringback")
        office.answer("202", "201")
        expect(fxs1).to_have_class("port state-in-call")
        expect(fxs1.locator(".port-peer")).to_contain_text("202")
        office.pbx.run(3)
        timer = fxs1.locator(".port-timer")
        expect(timer).to_have_text(re.compile(r"^0:0\d$"))
        first = timer.text_content()
        page.wait_for_function(
            "([sel, before]) => document.querySelector(sel).textContent !== before",
            arg=[f'.port[data-port="{office.port("201")}"] .port-timer', first])   # ticks in the browser
        _shot(page, "status")

        # ---- call history: the finished call arrives live
        page.click("nav >> text=Call history")
        expect(page.locator("#history tbody tr")).to_have_count(1)          # the "no calls" row
        office.hang_up("201", "202")
        row = page.locator("#history tbody tr[data-call-id]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Answered")
        expect(row.locator("td").nth(1)).to_contain_text("201")
        expect(row.locator("td").nth(2)).to_have_text("202 Extension 202")     # the name, not just the number
        _shot(page, "history")

        # ---- an agent sees only their own phone
        page.click("nav >> text=Users")
        form = page.locator("form[action='/users']")
        form.locator("input[name=username]").fill("alice")
        form.locator("input[name=extension]").fill("201")
        form.locator("input[name=password]").fill("Copper-Window-Sail-4")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.ok")).to_have_text("User added.")
        page.click("text=Log out")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "Copper-Window-Sail-4")
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/me")
        expect(page.locator(".port")).to_have_count(1)
        expect(page.locator(f'.port[data-port="{office.port("201")}"]')).to_have_class("port state-idle")
        expect(page.locator("nav")).not_to_contain_text("Extensions")
        _shot(page, "me")
        page.goto(base + "/extensions")
        expect(page.locator(".card")).to_contain_text("Your role (agent) may not open this page.")
        page.goto("about:blank")              # close the event stream before the server stops
    assert page.console_errors == []
