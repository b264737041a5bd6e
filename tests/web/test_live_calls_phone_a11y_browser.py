"""The owner's first hour in real Chromium (issue 9, items 12, 15, 16), on the simulated board
with the engine ticking as it does in `linebox run`:

- live status names the outside caller, counts calls (not ports), shows an outbound call as
  "Ringing out" until it is answered, and lets the administrator hang a call up;
- at 390x844 the navigation is behind a Menu button and no page is wider than the screen;
- a skip link, aria-current, aria-live on live status, an accessible name on every form control
  and WCAG AA contrast for every piece of text on every page of the navigation.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from .browser_kit import ADMIN, PASSWORD, accessibility_problems, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser


def _pages(page) -> list[str]:
    return page.eval_on_selector_all("#site-nav .nav-link", "els => els.map(e => e.getAttribute('href'))")


def test_live_status_names_the_caller_counts_calls_and_hangs_up(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        page.goto(base + "/status")
        expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
        expect(page.locator("#summary")).to_have_attribute("aria-live", "polite")
        expect(page.locator("#summary")).to_contain_text("0 calls")
        expect(page.locator("#calls")).to_contain_text("No calls right now.")

        # ---- an outside caller with a name rings 201 (line 1's first-run route)
        remote = office.step(lambda p: p.co.remote("5550100"))
        office.step(lambda p: remote.call(p.co.line_number(1), name="ALICE SMITH"))
        office.until(lambda p: p.phone("201").is_ringing and p.phone("201").caller_id is not None)
        card = page.locator('#ports-fxs [data-port="fxs1"]')
        expect(card).to_contain_text("Ringing")
        expect(card).to_contain_text("ALICE SMITH")
        row = page.locator("#calls tbody tr[data-call-id]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("ALICE SMITH (5550100)")
        expect(page.locator("#summary")).to_contain_text("1 ringing")

        # ---- answered: two ports in call, one call
        office.step(lambda p: p.phone("201").off_hook())
        office.until(lambda p: p.state("fxs1") == "in-call")
        expect(card).to_contain_text("In call")
        expect(card).to_contain_text("ALICE SMITH")
        expect(page.locator("#summary")).to_contain_text("1 call")
        expect(page.locator("#summary")).not_to_contain_text("2 calls")
        expect(page.locator("#summary")).not_to_contain_text("ringing")
        expect(row.locator(".badge")).to_have_text("In call")

        # ---- the administrator hangs it up (after confirming)
        page.once("dialog", lambda d: d.accept())
        row.get_by_role("button", name="Hang up").click()
        expect(page.locator("#calls")).to_contain_text("No calls right now.")
        office.until(lambda p: p.state("fxo1") == "idle" and not p.board.fxo(1).is_off_hook, 5)
        expect(page.locator('#ports-fxo [data-port="fxo1"]')).to_contain_text("Idle")
        office.step(lambda p: p.phone("201").on_hook())

        # ---- 202 calls out: "Ringing out" until the far end answers (as the engine reports it)
        office.until(lambda p: p.state("fxs1") == "idle", 5)
        office.step(lambda p: p.phone("202").off_hook())
        office.until(lambda p: p.state("fxs2") == "dialtone", 3)
        office.step(lambda p: p.phone("202").dial("95550123"))
        far = office.step(lambda p: p.co.remote("5550123"))
        office.until(lambda p: far.is_ringing and p.state("fxs2") == "ringback", 15)
        out_card = page.locator('#ports-fxs [data-port="fxs2"]')
        expect(out_card).to_contain_text("Ringing out")
        expect(page.locator("#calls tbody tr[data-call-id]")).to_contain_text("Ringing out")
        office.step(lambda p: p.run(13))          # the exchange's ringback is recognised
        office.step(lambda p: far.answer())
        expect(out_card.locator(".state-name")).to_have_text("In call", timeout=15000)
        office.step(lambda p: p.phone("202").on_hook())
        assert not page.console_errors, page.console_errors


def test_phone_screen_menu_button_and_accessibility_on_every_page(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        page.goto(base + "/status")
        pages = _pages(page)
        assert len(pages) >= 15
        # ---- desktop: skip link, aria-current, accessible names, contrast on every page
        problems: dict[str, list[str]] = {}
        for path in [*pages, "/account"]:
            page.goto(base + path)
            current = page.locator('#site-nav [aria-current="page"]')
            if path != "/account":
                expect(current).to_have_count(1)
                expect(current).to_have_attribute("href", path)
            found = accessibility_problems(page)
            if found:
                problems[path] = found
        assert not problems, "\n".join(f"{p}: {x}" for p, xs in problems.items() for x in xs)

        page.goto(base + "/extensions")
        page.keyboard.press("Tab")
        skip = page.locator(".skip-link")
        expect(skip).to_be_focused()
        expect(skip).to_be_visible()
        page.keyboard.press("Enter")
        expect(page.locator("main#content")).to_be_focused()

        # ---- a phone: 390 x 844
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "/lines")
        button = page.get_by_role("button", name="Menu", exact=True)
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#site-nav")).to_be_hidden()
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")
        current = page.locator('#site-nav [aria-current="page"]')
        expect(current).to_be_visible()
        expect(current).to_be_focused()
        box = current.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        page.keyboard.press("Escape")
        expect(page.locator("#site-nav")).to_be_hidden()
        button.click()
        page.locator("#site-nav").get_by_role("link", name="Call history").click()
        page.wait_for_url(base + "/history")

        for path in [*pages, "/account"]:
            page.goto(base + path)
            widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"{path} is {widths[0]} px wide on a {widths[1]} px screen"
            top = page.locator("main.content").bounding_box()["y"]
            assert top < 140, f"{path}: the content starts {top:.0f} px down"
            # every table cell fits the screen (tables become one card per row)
            cells = page.evaluate("""[...document.querySelectorAll('table.data td')].filter(c => c.offsetParent)
                .map(c => c.getBoundingClientRect()).filter(r => r.right > innerWidth + 1 || r.left < -1).length""")
            assert cells == 0, f"{path}: {cells} table cells run off the screen"
            found = accessibility_problems(page)
            assert not found, f"{path} at 390 px: {found}"
        assert not page.console_errors, page.console_errors
