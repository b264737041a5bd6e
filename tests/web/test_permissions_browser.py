"""Permissions page in real Chromium against the simulated board: the owner makes 201 internal-only,
a premium call from 201 is then refused on the board, and the call history shows the denial with
its reason; hostile caller ID is shown as text (no script runs)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from webui.app import create_app

from .live_server import create_admin, serve, setup_code, setup_code_in

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ADMIN, PASSWORD = "owner", "Quiet-Harbour-Lantern-8"
HOSTILE = '<img src=x onerror="window.pwned=1">$(reboot)`id`'


def test_owner_restricts_an_extension_and_sees_the_denial(tmp_path: Path) -> None:
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
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            expect(page).to_have_url(base + "/status")

            # ---- 201 becomes internal-only
            page.click("nav >> text=Permissions")
            row = page.locator('#extension-classes tr[data-number="201"]')
            row.locator("select[name=class]").select_option("internal")
            row.locator("button[type=submit]").click()
            expect(page.locator(".alert.ok")).to_have_text("Saved.")
            expect(page.locator('#extension-classes tr[data-number="201"] select[name=class]')).to_have_value("internal")

            # ---- a mistyped pattern is refused with a hint; a code is added and never shown again
            form = page.locator("#class-local")
            form.locator("textarea[name=allow]").fill("NXXXXXX\n1800*")
            form.locator("button[type=submit]").first.click()
            expect(page.locator(".alert.error")).to_contain_text("'1800*'")
            codes = page.locator("#add-code")
            codes.locator("input[name=label]").fill("Boss")
            codes.locator("input[name=code]").fill("48015736")
            codes.locator("button[type=submit]").click()
            expect(page.locator(".alert.ok")).to_have_text("Authorisation code added.")
            expect(page.locator("#code-list")).to_contain_text("Boss")
            assert "48015736" not in page.content()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "permissions.png"), full_page=True)

            # ---- on the board: 201 dials a premium number and is refused
            pbx.run(0.2)                                   # the engine picks up the new config
            assert pbx.engine.outside_policy.class_of("201") == "internal"
            phone = pbx.phone("201")
            phone.off_hook()
            pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)
            pbx.run(0.3)
            phone.dial("919005551234#")
            pbx.run_until(lambda: not phone.busy_dialling, 10)
            pbx.run_until(lambda: pbx.state("fxs1") == "congestion", 3)
            assert not pbx.board.fxo(1).is_off_hook
            phone.on_hook()
            # ---- and an inbound caller with hostile caller ID
            pbx.co.caller_id_enabled = False
            pbx.co.remote("5550100").call(pbx.co.line_number(1))
            pbx.run_until(lambda: pbx.state("fxo1") == "ringing", 10)
            pbx.engine.on_caller_id(pbx.engine.channels["fxo1"], "5550100", HOSTILE)
            pbx.run(0.5)
            pbx.co.remote("5550100").hang_up()
            pbx.run(10)
            pbx.records.flush()

            page.click("nav >> text=Call history")
            denied = page.locator("#history tbody tr", has_text="19005551234")
            expect(denied).to_contain_text("Denied")
            expect(denied).to_contain_text("premium number denied for class internal")
            inbound = page.locator("#history tbody tr", has_text="5550100")
            expect(inbound).to_contain_text("5550100 <img src=x")      # shown as text (truncated)
            assert page.evaluate("window.pwned") is None and dialogs == []
            browser.close()
    finally:
        pbx.close()


def test_saving_one_row_warns_about_unsaved_edits_in_other_rows(tmp_path: Path) -> None:
    """Issue 9, item 13: saving one extension's row reloaded the page and silently dropped edits
    typed in another row. Now the other row is marked unsaved and the save asks first."""
    from playwright.sync_api import expect

    from .browser_kit import chromium_page, office_and_server
    with office_and_server(tmp_path) as (office, base), chromium_page() as page:
        create_admin(page, base, ADMIN, PASSWORD, setup_code_in(office.web_dir))
        page.goto(base + "/permissions")
        r201 = page.locator('#extension-classes tr[data-number="201"]')
        r202 = page.locator('#extension-classes tr[data-number="202"]')
        r201.locator("select[name=class]").select_option("internal")
        r202.locator("input[name=max_minutes]").fill("15")
        expect(r202.locator(".unsaved-note")).to_have_text("unsaved")
        expect(r201.locator(".unsaved-note")).to_have_text("unsaved")
        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        r201.locator("button[type=submit]").click()
        expect(r202.locator("input[name=max_minutes]")).to_have_value("15")     # nothing was sent
        assert asked and "202" in asked[0] and "will be lost" in asked[0], asked
        # saving 202 itself (201 still unsaved): asked again, accepted, 202 is saved
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        r202.locator("button[type=submit]").click()
        expect(page.locator(".alert.ok")).to_have_text("Saved.")
        assert "201" in asked[-1]
        expect(page.locator('#extension-classes tr[data-number="202"] input[name=max_minutes]')).to_have_value("15")
        expect(page.locator('#extension-classes tr[data-number="201"] .unsaved-note')).to_have_count(0)
        # 201's edit was never sent (the owner chose to drop it, having been told)
        expect(page.locator('#extension-classes tr[data-number="201"] select[name=class]')).not_to_have_value("internal")
        # an edit taken back is not "unsaved"
        r203 = page.locator('#extension-classes tr[data-number="203"]')
        r203.locator("input[name=calls_per_hour]").fill("5")
        expect(r203.locator(".unsaved-note")).to_have_count(1)
        r203.locator("input[name=calls_per_hour]").fill("")
        expect(r203.locator(".unsaved-note")).to_have_count(0)
        assert not page.console_errors, page.console_errors
