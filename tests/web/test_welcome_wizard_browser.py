"""The setup wizard after the first login (issue 9, item 14), in real Chromium against the simulated
board and a real SMTP server (aiosmtpd on 127.0.0.1): country and timezone (the engine then
evaluates business hours in it), line and extension names, e-mail with a test message, and a
refused step that keeps what was typed."""
from __future__ import annotations

import email
import email.policy
import socket
from pathlib import Path

import pytest

from .browser_kit import ADMIN, PASSWORD, accessibility_problems, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wizard_sets_country_timezone_names_and_mail_with_a_test_message(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from playwright.sync_api import expect

    from firmware.apps.ivr import service_of
    inbox = Inbox()
    smtp_port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        with office_and_server(tmp_path) as (office, base), chromium_page() as page:
            create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
            page.goto(base + "/status")
            card = page.locator("#welcome-card")
            expect(card).to_contain_text("it is UTC now")
            card.get_by_role("link", name="Start the setup").click()

            # ---- 1: country and timezone (a wrong pick is impossible in the select; the site name is checked)
            expect(page.locator('.stepper [aria-current="step"]')).to_contain_text("Where is this Linebox?")
            page.select_option("select[name=country]", "DE")
            page.select_option("select[name=timezone]", "Europe/Berlin")
            page.fill("input[name=site_name]", "")
            page.locator("input[name=site_name]").evaluate("e => e.removeAttribute('required')")
            page.get_by_role("button", name="Save and continue").click()
            expect(page.locator(".alert.error")).to_contain_text("site name")
            expect(page.locator("select[name=timezone]")).to_have_value("Europe/Berlin")   # kept
            expect(page.locator("select[name=country]")).to_have_value("DE")
            page.fill("input[name=site_name]", "Bäckerei Vogel")
            page.get_by_role("button", name="Save and continue").click()
            assert office.step(lambda p: p.config.settings())["timezone"] == "Europe/Berlin"
            # the engine's business hours now run on Berlin time
            office.until(lambda p: service_of(p.engine).timezone == "Europe/Berlin", 2)

            # ---- 2: lines
            expect(page.locator('.stepper [aria-current="step"]')).to_contain_text("Your phone lines")
            page.get_by_label("Name of fxo1").fill("Shop line")
            page.get_by_label("Phone number of fxo1").fill("030 1234567")
            page.get_by_role("button", name="Save and continue").click()
            line = next(ln for ln in office.step(lambda p: p.config.lines()) if ln["port"] == "fxo1")
            assert (line["name"], line["number"]) == ("Shop line", "0301234567")   # stored as digits

            # ---- 3: extensions
            page.get_by_label("Name of extension 202").fill("Reception")
            page.get_by_role("button", name="Save and continue").click()
            assert office.step(lambda p: p.config.extension("202"))["name"] == "Reception"

            # ---- 4: e-mail: saved, then a test message that really arrives
            expect(page.locator('.stepper [aria-current="step"]')).to_contain_text("E-mail")
            assert not accessibility_problems(page)
            page.fill("input[name=smtp_host]", "127.0.0.1")
            page.fill("input[name=smtp_port]", str(smtp_port))
            page.select_option("select[name=smtp_security]", "none")
            page.fill("input[name=smtp_from]", "pbx@example.com")
            page.get_by_role("button", name="Save", exact=True).click()
            page.fill("#test-mail-form input[name=to]", "owner@example.com")
            page.get_by_role("button", name="Send a test e-mail").click()
            expect(page.locator("#test-mail-result")).to_contain_text("Sent to owner@example.com")
            assert len(inbox.envelopes) == 1
            msg = email.message_from_bytes(inbox.envelopes[0].content, policy=email.policy.default)
            assert msg["To"] == "owner@example.com" and msg["Subject"] == "Linebox test message"
            # a server that is not there: said plainly
            page.fill("input[name=smtp_port]", str(_free_port()))
            page.get_by_role("button", name="Save", exact=True).click()
            page.fill("#test-mail-form input[name=to]", "owner@example.com")
            page.get_by_role("button", name="Send a test e-mail").click()
            expect(page.locator("#test-mail-result")).to_contain_text("Could not send through 127.0.0.1")
            page.get_by_role("button", name="Save and continue").click()

            # ---- done: the status page stops offering the wizard
            expect(page.locator(".panel")).to_contain_text("Linebox is set up")
            page.get_by_role("button", name="Finish").click()
            expect(page).to_have_url(base + "/status")
            expect(page.locator("#welcome-card")).to_have_count(0)
            assert not page.console_errors, page.console_errors
    finally:
        smtp.stop()
