"""Found by trying Linebox as a new user, in real Chromium against the simulated board:

- a call that ends while the history page's event stream is not open (the page is still
  loading, or the stream is reconnecting, which it does every 25 s) stayed "In progress"
  on an open history page forever (and made test_browser flaky under load);
- on a phone-width window the sidebar filled the first screen and the Extensions and Lines
  tables widened the whole page past the screen.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from webui.app import create_app

from .live_server import create_admin, serve, setup_code

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ADMIN, PASSWORD = "owner", "Quiet-Harbour-Lantern-8"
PHONE_PAGES = ("/status", "/me", "/history", "/extensions", "/lines", "/settings", "/users", "/account")


def test_history_catches_up_on_calls_that_ended_while_the_stream_was_closed_and_fits_a_phone(
        tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    from firmware.harness import Pbx
    pbx = Pbx(data_dir=tmp_path / "pbx")
    pbx.run(0.1)
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records,
                     data_dir=Path(tempfile.mkdtemp(dir=tmp_path)), clock=lambda: pbx.now)
    try:
        with serve(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            expect(page).to_have_url(base + "/status")

            # ---- 201 calls 202, 202 answers: the call is up when the history page opens
            caller, callee = pbx.phone("201"), pbx.phone("202")
            caller.off_hook()
            pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)
            pbx.run(0.3)
            caller.dial("202")
            pbx.run_until(lambda: callee.is_ringing, 10)
            callee.off_hook()
            pbx.run_until(lambda: pbx.state("fxs1") == "in-call", 3)
            pbx.records.flush()

            # ---- the page's event stream is held back (as while it loads or reconnects) ...
            held: list = []
            page.route("**/api/events", lambda route: held.append(route))
            with page.expect_request("**/api/events"):
                page.goto(base + "/history")
            row = page.locator("#history tbody tr[data-call-id]")
            expect(row).to_contain_text("In progress")
            assert held, "the history page did not open its event stream"
            # ... while the call ends: that record event reaches no browser
            caller.on_hook()
            pbx.run(0.5)
            callee.on_hook()
            pbx.run(0.5)
            pbx.records.flush()
            assert pbx.records.search()[0]["disposition"] == "answered"
            for route in held:
                route.continue_()
            page.unroute("**/api/events")
            expect(row).to_contain_text("Answered")
            expect(row).to_have_count(1)

            # ---- checkboxes keep their size next to long labels (one was squeezed into a dot)
            for path in ("/extensions", "/voicemail"):
                page.goto(base + path)
                sizes = page.evaluate("""[...document.querySelectorAll('input[type=checkbox]')]
                    .filter(c => c.offsetParent).map(c => [c.getBoundingClientRect().width,
                                                           c.getBoundingClientRect().height])""")
                assert sizes, path
                assert all(w >= 13 and abs(w - h) < 1 for w, h in sizes), f"{path}: checkboxes {sizes}"

            # ---- a phone-width window: content first, nothing wider than the screen
            page.set_viewport_size({"width": 375, "height": 740})
            # every page in the navigation (later features' pages too) and the account page
            pages = page.eval_on_selector_all(".sidebar .nav-link", "els => els.map(e => e.getAttribute('href'))")
            assert set(PHONE_PAGES) - {"/account"} <= set(pages)
            for path in [*pages, "/account"]:
                page.goto(base + path)
                widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
                assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide on a {widths[1]} px screen"
                top = page.locator("main.content").bounding_box()["y"]
                assert top < 200, f"{path}: the content starts {top:.0f} px down, below the navigation"
                if path != "/account":                  # the account page has no nav link
                    page.get_by_role("button", name="Menu", exact=True).click()     # the navigation folds behind it
                    link = page.locator(".nav-link.active").bounding_box()
                    assert link["x"] >= 0 and link["x"] + link["width"] <= widths[1], f"{path}: nav link off screen"
            page.goto(base + "/history")
            # a table on a phone is one card per row; the result is labelled and on screen
            cell = page.locator('#history tbody tr[data-call-id] td[data-label="Result"]').first
            from playwright.sync_api import expect as expect_
            expect_(cell).to_contain_text("Answered")
            result = cell.bounding_box()
            assert result["x"] + result["width"] <= 375, "the call's result is off screen on a phone"
            browser.close()
    finally:
        pbx.close()
