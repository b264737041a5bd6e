"""Permissions page in real Chromium against the simulated board: the owner makes 201 internal-only,
a premium call from 201 is then refused on the board, and the call history shows the denial with
its reason; hostile caller ID is shown as text (no script runs)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from webui.app import create_app

from .live_server import create_admin, serve, setup_code

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
