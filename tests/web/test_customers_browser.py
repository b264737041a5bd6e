"""Customers, work orders and the knowledge base in real Chromium against a real uvicorn server:
an agent adds a customer (caller ID with markup shown as text), the owner imports a CSV (a bad
file is refused with its report by line, a good one imported), exports it (a formula cell comes
back neutralised), merges a duplicate; a work order goes submitted → reviewed → dispatched (by a
supervisor, with a due time) → in progress → resolved (by the agent it was dispatched to), the
follow-up call is recorded, and an agent cannot dispatch; the owner writes an article and
disposition codes, the agent finds the article suggested for its disposition."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from .live_server import serve

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PW = "Violet-Anchor-Moss-93"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _session(browser, base: str, username: str, errors: list[str]):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.on("console", lambda m: errors.append(f"{username}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(f"{username}: {e}"))
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PW)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def test_customers_import_export_merge(env, browser, tmp_path):
    from playwright.sync_api import expect
    env.config.seed_defaults(["fxs1", "fxs2"], [])
    app = env.app()
    accounts = app.state.web.accounts
    accounts.create("owner", PW, "admin", first_admin=True)
    accounts.create("ann", PW, "agent", "201")
    errors: list[str] = []
    with serve(app) as base:
        ann = _session(browser, base, "ann", errors)
        ann.goto(base + "/customers?number=2125550101")                 # the desk's "new customer" link
        expect(ann.locator("#contact-form textarea[name=numbers]")).to_have_value("2125550101")
        ann.fill("#contact-form input[name=name]", "Ann <b>Smith</b>")
        ann.fill("#contact-form input[name=company]", "Acme")
        ann.fill("#contact-form input[name=tags]", "VIP")
        ann.click("#contact-form button[type=submit]")
        expect(ann.locator(".alert.ok")).to_have_text("Saved.")
        ann.goto(base + "/customers?q=212+555+0101")
        expect(ann.locator("#customers tbody tr")).to_have_count(1)
        expect(ann.locator("#customers tbody td").nth(1)).to_have_text("Ann <b>Smith</b>")
        assert ann.locator("#customers b").count() == 0
        assert ann.locator("#import-form").count() == 0                 # agents do not import
        # ---- a number that is not one: refused, what was typed kept
        ann.goto(base + "/customers")
        ann.fill("#contact-form input[name=name]", "Bad Number")
        ann.fill("#contact-form textarea[name=numbers]", "12")
        ann.click("#contact-form button[type=submit]")
        expect(ann.locator(".alert.error")).to_contain_text("not a phone number")
        expect(ann.locator("#contact-form input[name=name]")).to_have_value("Bad Number")

        owner = _session(browser, base, "owner", errors)
        owner.goto(base + "/customers")
        bad = tmp_path / "bad.csv"
        bad.write_bytes("name,numbers\r\nGood,2125550190\r\n,2125550191\r\nJosé,12\r\n".encode())
        owner.set_input_files("#import-form input[type=file]", str(bad))
        owner.click("#import-form button[type=submit]")
        expect(owner.locator("#import-message")).to_contain_text("2 row(s) have errors; nothing was imported")
        expect(owner.locator("#import-errors tbody tr")).to_have_count(2)
        expect(owner.locator("#import-errors tbody tr").first.locator("td").first).to_have_text("3")
        latin = tmp_path / "latin.csv"
        latin.write_bytes("name\r\nJosé\r\n".encode("latin-1"))
        owner.set_input_files("#import-form input[type=file]", str(latin))
        owner.click("#import-form button[type=submit]")
        expect(owner.locator("#import-message")).to_contain_text("not UTF-8")
        good = tmp_path / "good.csv"
        good.write_bytes('name,company,numbers,notes\r\nAnn Smith,Acme Inc,+1 212 555 0102,dup\r\n'
                         '"=HYPERLINK(""http://evil"")",,2125550103,\r\n'.encode("utf-8-sig"))
        owner.set_input_files("#import-form input[type=file]", str(good))
        owner.click("#import-form button[type=submit]")
        expect(owner.locator("#import-message")).to_have_text("2 contact(s) imported.")
        with owner.expect_download() as dl:
            owner.click("#export")
        rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text("utf-8-sig"))))
        assert rows[0][:3] == ["name", "company", "numbers"]
        assert ["'=HYPERLINK(\"http://evil\")"] == [r[0] for r in rows[1:] if "HYPERLINK" in r[0]]
        # ---- merge the duplicate (#2) into the agent's contact (#1)
        owner.fill("#merge-form input[name=keep]", "1")
        owner.fill("#merge-form input[name=drop]", "2")
        owner.click("#merge-form button[type=submit]")
        expect(owner.locator(".alert.ok")).to_have_text("Merged.")
        expect(owner.locator("#contact-form textarea[name=numbers]")).to_have_value("2125550101\n+1 212 555 0102")
        owner.goto(base + "/customers?edit=2")
        expect(owner.locator(".alert.error")).to_contain_text("no contact 2")
    assert errors == []


def test_work_order_life_cycle_and_knowledge_base(env, browser):
    from playwright.sync_api import expect
    env.config.seed_defaults(["fxs1", "fxs2"], [])
    app = env.app()
    accounts = app.state.web.accounts
    accounts.create("owner", PW, "admin", first_admin=True)
    accounts.create("sue", PW, "supervisor")
    accounts.create("ann", PW, "agent", "201")
    errors: list[str] = []
    with serve(app) as base:
        ann = _session(browser, base, "ann", errors)
        ann.goto(base + "/workorders")
        ann.fill("#new-workorder input[name=title]", "Replace handset")
        ann.fill("#new-workorder input[name=number]", "2125550142")
        ann.click("#new-workorder button[type=submit]")
        expect(ann.locator(".alert.ok")).to_have_text("Work order submitted.")
        api = app.state.web.api
        api.call_sync("customers.save", contact={"name": "Lee", "numbers": ["2125550142"]})
        api.call_sync("interactions.record", call_id="c1", number="2125550142", agent="ann",
                      disposition="complaint", notes="Handset <i>cracked</i>")
        wo_url = ann.url
        ann.goto(base + "/customers?edit=1")
        expect(ann.locator("#contact-calls tbody tr")).to_have_count(1)
        expect(ann.locator("#contact-calls tbody td").nth(3)).to_have_text("Handset <i>cracked</i>")
        ann.goto(wo_url)
        expect(ann.locator("#wo-state")).to_have_text("submitted")
        assert ann.locator("#transition form").count() == 0             # an agent cannot review
        url = ann.url.split("?")[0]
        sue = _session(browser, base, "sue", errors)
        sue.goto(url)
        sue.click("#transition .step-reviewed button")
        expect(sue.locator("#wo-state")).to_have_text("reviewed")
        sue.fill("#transition .step-dispatched input[name=assignee]", "ann")
        sue.fill("#transition .step-dispatched input[name=due]", "2020-01-01T09:00")   # already past: overdue
        sue.click("#transition .step-dispatched button")
        expect(sue.locator("#wo-state")).to_have_text("dispatched")
        expect(sue.locator("#wo-overdue")).to_be_visible()
        ann.goto(url)
        ann.click("#transition .step-in_progress button")
        expect(ann.locator("#wo-state")).to_have_text("in progress")
        ann.fill("#transition .step-resolved input[name=note]", "New handset sent")
        ann.click("#transition .step-resolved button")
        expect(ann.locator("#wo-state")).to_have_text("resolved")
        expect(ann.locator("#wo-history tbody tr")).to_have_count(5)
        assert ann.locator("#transition .step-closed").count() == 0     # closing is the supervisor's
        ann.goto(base + "/phone/messages")
        expect(ann.locator("#inbox")).to_contain_text("Replace handset")   # told when dispatched
        ann.goto(base + "/workorders")
        expect(ann.locator("#followups tbody tr")).to_have_count(1)
        ann.select_option("#followups select[name=satisfied]", "yes")
        ann.click("#followups button[type=submit]")
        expect(ann.locator(".alert.ok")).to_have_text("Follow-up recorded.")
        expect(ann.locator("#followups .empty")).to_be_visible()
        sue.goto(base + "/workorders?state=all")
        expect(sue.locator("#wo-figures")).to_contain_text("Work orders resolved")
        expect(sue.locator("#wo-figures tbody tr").nth(3).locator("td").nth(1)).to_have_text("1")
        expect(sue.locator("#wo-figures tbody tr").nth(4).locator("td").nth(1)).to_have_text("0 %")   # late

        # ---- work-order settings (administrators): a bad address is refused, a good one kept
        owner = _session(browser, base, "owner", errors)
        owner.goto(base + "/workorders")
        owner.fill("#wo-settings textarea[name=departments]", "Field | not an address")
        owner.click("#wo-settings button[type=submit]")
        expect(owner.locator(".alert.error")).to_contain_text("Field")
        owner.fill("#wo-settings input[name=fcr_window_days]", "3")
        owner.fill("#wo-settings textarea[name=departments]", "Field | field@example.com")
        owner.click("#wo-settings button[type=submit]")
        expect(owner.locator(".alert.ok")).to_have_text("Work-order settings saved.")
        expect(owner.locator("#wo-settings textarea[name=departments]")).to_have_value("Field | field@example.com")
        assert sue.locator("#wo-settings").count() == 0

        # ---- knowledge base and disposition codes
        owner.goto(base + "/knowledge")
        owner.fill("#codes-form textarea[name=codes]", "complaint | Complaint |\nbilling | Billing question |")
        owner.click("#codes-form button[type=submit]")
        expect(owner.locator(".alert.ok")).to_have_text("Disposition codes saved.")
        owner.fill("#article-form input[name=title]", "Invoice <script>explained</script>")
        owner.fill("#article-form textarea[name=body]", "Line 1\nLine 2")
        owner.check("#article-form input[value=billing]")
        owner.click("#article-form button[type=submit]")
        expect(owner.locator(".alert.ok")).to_have_text("Saved.")
        ann.goto(base + "/knowledge")
        assert ann.locator("#article-form").count() == 0                # agents read, not write
        ann.select_option("select[name=disposition]", "billing")
        ann.click("form[role=search] button")
        expect(ann.locator("#articles li")).to_have_count(1)
        ann.click("#articles a")
        expect(ann.locator("#article h3")).to_have_text("Invoice <script>explained</script>")
        ann.select_option("select[name=disposition]", "complaint")
        ann.click("form[role=search] button")
        expect(ann.locator("#articles .empty")).to_be_visible()
    assert errors == []
