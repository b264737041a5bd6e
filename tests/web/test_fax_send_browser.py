"""Sending a fax from the web in real Chromium against a real server, the engine ticking in
simulated time behind it: an agent uploads a PDF, sees the cover and pages as the fax machine will
print them, sends it to a fax machine on the simulated exchange, and the outbox shows it sent with
the transcript; a hostile upload and a number the agent may not call are refused in words; the
administrator sees every sender's jobs, the agent only their own, and can cancel and retry."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.fax import docs

from .browser_kit import ADMIN, PASSWORD, chromium_page, office_and_server
from .live_server import create_admin, setup_code_in

pytestmark = pytest.mark.browser

AGENT, AGENT_PASSWORD = "dana", "Orange-Kettle-Bridge-7"


def _log_in(page, base: str, user: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _until_state(page, base: str, job: str, state: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.goto(base + "/fax/send")
        if page.locator(f"#fax-jobs tr[data-job='{job}'] .fax-job-state").inner_text() == state:
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job} never became {state}")


def test_sending_a_fax_from_the_web(tmp_path: Path) -> None:
    from playwright.sync_api import expect
    received = tmp_path / "received.tif"
    letter = docs.pdf(tmp_path / "letter.pdf", [docs.text_page(), docs.text_page(8)])
    junk = tmp_path / "invoice.pdf"
    junk.write_bytes(b"MZ\x90\x00 this is a program, not a document")
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        office.step(lambda p: p.co.fax_machine("5550190", ident="+1 555 0190").receive_into(received))
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        # the owner adds an agent on extension 201
        page.goto(base + "/users")
        add = page.locator("form[action='/users']")
        add.locator("input[name=username]").fill(AGENT)
        add.locator("select[name=role]").select_option("agent")
        add.locator("input[name=password]").fill(AGENT_PASSWORD)
        add.locator("input[name=extension]").fill("201")
        add.locator("button[type=submit]").click()
        page.click("text=Log out")
        _log_in(page, base, AGENT, AGENT_PASSWORD)
        page.click("nav >> text=Send a fax")
        expect(page).to_have_url(base + "/fax/send")
        # a program named .pdf is refused in words, nothing queued
        page.set_input_files("#fax-form input[name=file]", str(junk))
        page.fill("#fax-form input[name=to]", "5550190")
        page.click("#fax-form button[type=submit]")
        expect(page.locator("#fax-draft-error")).to_contain_text("not a PDF, PNG, JPEG or TIFF")
        page.goto(base + "/fax/send")
        expect(page.locator("#fax-jobs")).to_contain_text("No faxes sent yet.")
        # a premium-rate number: the preview works, sending is refused by the outbound permissions
        page.set_input_files("#fax-form input[name=file]", str(letter))
        page.fill("#fax-form input[name=to]", "19005550100")
        page.click("#fax-form button[type=submit]")
        expect(page.locator("#fax-draft[data-state=ready]")).to_be_visible(timeout=60000)
        page.click("#fax-send-form button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("may not be called from extension 201")
        # the real one, with a cover page
        page.goto(base + "/fax/send")
        page.set_input_files("#fax-form input[name=file]", str(letter))
        page.fill("#fax-form input[name=to]", "5550190")
        page.check("#fax-form input[name=cover]")
        page.fill("#fax-form input[name=subject]", "<b>Quote</b> & terms")
        page.fill("#fax-form textarea[name=note]", "Three pages in all.")
        page.select_option("#fax-form select[name=lpi]", "98")
        page.click("#fax-form button[type=submit]")
        expect(page.locator("#fax-draft[data-state=ready]")).to_be_visible(timeout=60000)
        previews = page.locator("#fax-preview img")
        expect(previews).to_have_count(3)
        for i in range(3):   # each thumbnail really loaded (a PNG, 216 px wide)
            assert page.evaluate("(img) => img.complete && img.naturalWidth", previews.nth(i).element_handle()) == 216
        page.click("#fax-send-form button[type=submit]")
        expect(page.locator(".alert.ok")).to_contain_text("The fax is queued")
        row = page.locator("#fax-jobs tbody tr").first
        job = row.get_attribute("data-job")
        expect(row).to_contain_text("<b>Quote</b> & terms")            # shown as text, not markup
        _until_state(page, base, job, "sent")
        page.click(f"#fax-jobs tr[data-job='{job}'] a")
        expect(page.locator("#fax-job .fax-job-state")).to_have_text("sent")
        transcript = page.locator(".fax-attempt .fax-transcript")
        expect(transcript).to_contain_text("fax answer tone (CED)")
        expect(transcript).to_contain_text(re.compile(r"3 of 3 page\(s\) sent at \d+ bit/s"))
        # every T.30 step with its time: capabilities, training, each page confirmed, disconnect
        for step in ("DIS received", "DCS sent", "CFR received", "page 3 of 3 through", "DCN sent"):
            expect(transcript).to_contain_text(re.compile(r"\d+\.\d s  " + step))
        expect(page.locator(".fax-attempt")).to_contain_text("to +1 555 0190")
        # another job to a number that never answers: cancel it, then retry it
        page.goto(base + "/fax/send")
        page.set_input_files("#fax-form input[name=file]", str(letter))
        page.fill("#fax-form input[name=to]", "5550177")
        page.click("#fax-form button[type=submit]")
        expect(page.locator("#fax-draft[data-state=ready]")).to_be_visible(timeout=60000)
        page.click("#fax-send-form button[type=submit]")
        second = page.locator("#fax-jobs tbody tr").first
        second_id = second.get_attribute("data-job")
        second.locator("button:has-text('Cancel')").click()
        expect(page.locator(f"#fax-jobs tr[data-job='{second_id}'] .fax-job-state")).to_have_text("cancelled")
        page.locator(f"#fax-jobs tr[data-job='{second_id}'] button:has-text('Retry')").click()
        expect(page.locator(f"#fax-jobs tr[data-job='{second_id}'] .fax-job-state")).to_have_text(
            re.compile("queued|sending"))
        page.locator(f"#fax-jobs tr[data-job='{second_id}'] button:has-text('Cancel')").click()
        assert page.console_errors == []
        # the administrator sees the agent's jobs; another user would not
        page.click("text=Log out")
        _log_in(page, base, ADMIN, PASSWORD)
        page.goto(base + "/fax/send")
        expect(page.locator(f"#fax-jobs tr[data-job='{job}']")).to_contain_text(f"{AGENT} (201)")
