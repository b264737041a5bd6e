"""Phone services pages in real Chromium against a real uvicorn server: a message sent from the web
appears live on its recipient's page (and not on anyone else's); ring groups, forwarding/DND and
the address book are configured through the forms."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmware.apps import forward, ringgroups, speeddial

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
    context = browser.new_context(viewport={"width": 1280, "height": 820})
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


def test_messages_live_groups_forwarding_and_address_book(env, browser):
    from playwright.sync_api import expect
    env.config.seed_defaults(["fxs1", "fxs2", "fxs3"], [])
    app = env.app()
    accounts = app.state.web.accounts
    accounts.create("owner", PW, "admin", first_admin=True)
    accounts.create("ann", PW, "agent", "201")
    accounts.create("bob", PW, "agent", "202")
    errors: list[str] = []
    with serve(app) as base:
        ann = _session(browser, base, "ann", errors)
        bob = _session(browser, base, "bob", errors)
        owner = _session(browser, base, "owner", errors)
        for p in (ann, bob):
            p.goto(base + "/phone/messages")
            expect(p.locator("#inbox-empty")).to_be_visible()
        ann.wait_for_timeout(300)                  # both event streams open before the message goes

        # ---- a message from the owner shows on ann's open page without a reload
        owner.goto(base + "/phone/messages")
        owner.select_option("select[name=to]", "ann")
        owner.fill("textarea[name=body]", "Mrs Lee <b>called</b>, please ring back")
        owner.click("#message-form button[type=submit]")
        expect(owner.locator(".alert.ok")).to_have_text("Message sent.")
        expect(ann.locator("#inbox .message .body").first).to_have_text(
            "Mrs Lee <b>called</b>, please ring back", timeout=5000)
        expect(ann.locator("#inbox .message .from").first).to_have_text("owner")
        bob.wait_for_timeout(500)
        expect(bob.locator("#inbox .message")).to_have_count(0)     # not for bob
        assert ann.locator("#inbox b").count() == 0                 # shown as text, never as HTML

        # ---- ring group through the form; a bad one is refused with a clear line
        owner.goto(base + "/phone/groups")
        owner.fill("input[name=number]", "600")
        owner.fill("input[name=name]", "Sales")
        owner.select_option("select[name=strategy]", "order")
        owner.check("input[name=members][value='201']")
        owner.check("input[name=members][value='203']")
        owner.click("#group-form button[type=submit]")
        expect(owner.locator("#groups tr[data-number='600']")).to_contain_text("in order")
        owner.fill("input[name=number]", "201")
        owner.check("input[name=members][value='202']")
        owner.click("#group-form button[type=submit]")
        expect(owner.locator(".alert.error")).to_contain_text("already an extension")
        assert [g["members"] for g in ringgroups.load_groups(env.config)] == [["201", "203"]]

        # ---- forwarding / DND of an extension (owner) and ann's own address book
        owner.goto(base + "/phone/services?ext=202")
        owner.check("input[name=dnd]")
        owner.fill("input[name=fwd_busy]", "203")
        owner.click("#phone-services button.primary")
        expect(owner.locator(".alert.ok")).to_have_text("Saved.")
        p = forward.prefs_of(env.config, "202")
        assert p.dnd and p.fwd_busy == "203"
        ann.goto(base + "/phone/addressbook")
        ann.fill("input[name=name]", "Reception")
        ann.fill("input[name=number]", "203")
        ann.fill("input[name=speed]", "3")
        ann.click("#book-form button[type=submit]")
        expect(ann.locator("#addressbook")).to_contain_text("*743")
        assert speeddial.load_book(env.config, "201")[0]["number"] == "203"
        bob.goto(base + "/phone/groups")
        expect(bob.locator("body")).to_contain_text("may not open this page")
    assert errors == []
