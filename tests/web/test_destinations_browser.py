"""One destination picker with plain names, and deletes that ask and say what still uses the thing
(issue 9, items 10 and 11), in real Chromium. The chosen route then really takes a call."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmware.apps.ivr_store import save_menu

from .browser_kit import ADMIN, PASSWORD, accessibility_problems, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser

MENU = {"id": "main", "name": "Main menu", "language": "en", "greeting": "", "timeout_s": 5, "retries": 2,
        "direct_dial": True, "fallback": "hangup:", "options": {"2": "voicemail:202"}}


def test_line_route_picked_by_kind_and_name_and_a_used_menu_is_not_deleted_blindly(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        office.step(lambda p: save_menu(p.config, dict(MENU)))
        office.step(lambda p: save_menu(p.config, {**MENU, "id": "spare", "name": "Spare", "options": {}}))

        # ---- Lines: no free text; kind, then the target by its plain name
        page.goto(base + "/lines/fxo1/edit")
        assert page.locator("input[name=destination]").count() == 0
        form = page.locator("#line-form")
        kind = form.locator("select.dest-kind")
        expect(kind).to_have_value("extension")                 # first-run route: 201
        expect(form.locator("select[name=destination]")).to_have_value("201")
        kind.select_option(label="Sub-menu")
        target = form.locator("select[name=destination]")
        expect(target.locator("option")).to_have_count(3)       # placeholder, main, spare: no extensions
        target.select_option(label="Menu: Main menu (main)")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.ok")).to_be_visible()
        expect(page.locator('#lines tr[data-port="fxo1"]')).to_contain_text("Menu: Main menu (main)")
        expect(page.locator('#lines tr[data-port="fxo2"]')).to_contain_text("Ring 201")
        routes = {r["line"]: r["destination"] for r in office.step(lambda p: p.config.inbound_routes())}
        assert routes["fxo1"] == "ivr:main"
        assert not accessibility_problems(page)

        # ---- IVR: the menu says what uses it; its option reads "Voicemail of 202 ..."
        page.goto(base + "/ivr")
        row = page.locator("tr[data-menu=main]")
        expect(row).to_contain_text("used by Line 1")
        expect(row).to_contain_text("2 → Voicemail of 202")
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        row.get_by_role("button", name="Delete").click()
        expect(row).to_be_visible()
        assert asked and "still used by Line 1" in asked[0], asked
        # an unused menu: asked, then deleted
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        page.locator("tr[data-menu=spare]").get_by_role("button", name="Delete").click()
        expect(page.locator(".alert.ok")).to_have_text("Deleted.")
        expect(page.locator("tr[data-menu=spare]")).to_have_count(0)
        assert "Nothing uses it" in asked[-1]
        assert not accessibility_problems(page)

        # ---- the route is real: a call on line 1 is answered by the menu
        remote = office.step(lambda p: p.co.remote("5550100"))
        office.step(lambda p: remote.call(p.co.line_number(1)))
        office.until(lambda p: p.board.fxo(1).is_off_hook, 15)
        assert not office.step(lambda p: p.phone("201").is_ringing)
        assert not page.console_errors, page.console_errors
