"""The fax settings page in real Chromium against a real server, the engine ticking in simulated
time behind it: the owner sets the station identifier, header line, retries, faxes at once and
retention; a station id with letters, a number that is no number and more faxes at once than lines
are refused in words and save nothing; the engine uses what was saved."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmware.fax import service_of
from firmware.fax.settings import fax_settings

from .browser_kit import ADMIN, PASSWORD, UNNAMED_CONTROLS_JS, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser


def test_fax_settings_page(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        page.click("nav >> text=Fax settings")
        form = page.locator("#fax-settings")
        expect(form.locator("input[name=max_attempts]")).to_have_value("5")
        expect(form.locator("input[name=job_days]")).to_have_value("90")
        expect(page.locator("#fax-sending-limit")).to_contain_text("2 lines: up to 1 fax at once")
        assert page.evaluate(UNNAMED_CONTROLS_JS) == []

        # a station id with letters (the browser's own pattern check is bypassed: the server decides)
        form.evaluate("f => f.noValidate = true")
        form.locator("input[name=ident]").fill("ACME 555")
        form.locator("input[name=header]").fill("ACME Ltd")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("at most 20 characters, digits, spaces and '+'")
        expect(page.locator("#fax-settings input[name=header]")).to_have_value("ACME Ltd")   # what was typed stays
        assert office.step(lambda p: fax_settings(p.config).header) == ""                   # nothing saved

        form = page.locator("#fax-settings")
        form.evaluate("f => f.noValidate = true")
        form.locator("input[name=ident]").fill("+1 555 0100")
        form.locator("input[name=retry_busy_min]").fill("soon")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("is not a whole number")

        form = page.locator("#fax-settings")
        form.locator("input[name=retry_busy_min]").fill("2")
        form.locator("input[name=max_sending]").fill("3")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("more than the 2 line(s)")

        form = page.locator("#fax-settings")
        form.locator("input[name=max_sending]").fill("2")
        form.locator("input[name=inbox_days]").fill("365")
        form.locator("input[name=keep_line_free]").check()
        form.locator("button[type=submit]").click()
        expect(page.locator("text=Fax settings saved.")).to_be_visible()
        expect(page.locator("#fax-sending-limit")).to_contain_text("up to 2 faxes at once")
        expect(page.locator("#fax-settings input[name=ident]")).to_have_value("+1 555 0100")
        saved = office.step(lambda p: fax_settings(p.config))
        assert (saved.ident, saved.header, saved.retry_busy_min, saved.max_sending, saved.inbox_days,
                saved.keep_line_free) == ("+1 555 0100", "ACME Ltd", 2, 2, 365, True)
        office.until(lambda p: service_of(p.engine).ident == "+1 555 0100", 5)   # the engine took it
        assert office.step(lambda p: service_of(p.engine).settings) == saved
        assert page.console_errors == []
