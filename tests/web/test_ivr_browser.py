"""The IVR builder and the prompts page in real Chromium: upload a prompt (22 kHz stereo WAV),
preview it with the browser's own audio player, build a menu with options (rows added by
ivr.js), save, reload and see it; the running engine answers a line with that menu."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.apps.ivr import service_of
from firmware.apps.ivr_store import menu
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)
from .test_ivr_pages import wav_file

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


def test_upload_preview_then_build_a_menu(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    wav = tmp_path / "hello.wav"
    wav.write_bytes(wav_file(22050, 2, 1.2, 500.0))
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        # ---- prompts: a non-audio file is refused, a WAV is converted and plays in the browser
        page.click("nav >> text=Prompts")
        bad = tmp_path / "notes.wav"
        bad.write_bytes(b"hello, not audio")
        page.fill("input[name=name]", "notes")
        page.set_input_files("input[name=file]", str(bad))
        page.click("#prompt-upload button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("not a WAV or MP3")
        page.fill("input[name=name]", "hello")
        page.set_input_files("input[name=file]", str(wav))
        page.click("#prompt-upload button[type=submit]")
        expect(page.locator(".alert.ok")).to_contain_text("converted to 8 kHz")
        row = page.locator("tr[data-ref='custom/hello']")
        expect(row).to_contain_text("1.2 s")
        duration = row.locator("audio").evaluate(
            """a => new Promise((ok, bad) => { a.preload = 'auto';
                 a.addEventListener('loadedmetadata', () => ok(a.duration)); a.addEventListener('error', () => bad('error'));
                 a.load(); })""")
        assert abs(duration - 1.2) < 0.05
        _shot(page, "prompts")
        # ---- IVR builder: two options (the second row added by ivr.js), greeting = the upload
        page.click("nav >> text=Auto attendant")
        page.fill("input[name=id]", "main")
        page.fill("input[name=name]", "Main menu")
        page.select_option("#greeting", "custom/hello")
        expect(page.locator("#greeting-preview")).to_have_attribute("src", "/prompts/audio/custom/hello.wav?lang=en")
        rows = page.locator("tr.option-row")
        rows.nth(0).locator("select[name=opt_key]").select_option("1")
        # the destination picker: kind first, then the target, by plain names
        rows.nth(0).locator("select.dest-kind").select_option(label="Extension")
        rows.nth(0).locator("select[name=opt_dest]").select_option(label="Ring 202 Extension 202")
        page.click("#add-option")
        expect(rows).to_have_count(2)
        rows.nth(1).locator("select[name=opt_key]").select_option("2")
        expect(rows.nth(1).locator("select.dest-kind")).to_have_value("")       # a new row starts empty
        rows.nth(1).locator("select.dest-kind").select_option(label="Directory")
        rows.nth(1).locator("select[name=opt_dest]").select_option("directory:name")
        page.click("#add-option")
        rows.nth(2).locator(".remove-option").click()        # added by mistake: removed again
        expect(rows).to_have_count(2)
        page.click("#menu-form button[type=submit]")
        expect(page.locator(".alert.ok")).to_have_text("Saved.")
        page.reload()
        expect(page.locator("tr[data-menu=main]")).to_contain_text("1 → Ring 202 Extension 202")
        expect(page.locator("tr[data-menu=main]")).to_contain_text("2 → Directory: Dial by name")
        # the saved option shows up in the picker under its kind
        expect(rows.nth(0).locator("select.dest-kind")).to_have_value("extension")
        expect(rows.nth(0).locator("select[name=opt_dest]")).to_have_value("extension:202")
        expect(page.locator("#greeting")).to_have_value("custom/hello")
        _shot(page, "ivr")
        assert menu(pbx.config, "main")["options"] == {"1": "extension:202", "2": "directory:name"}
        assert not page.console_errors, page.console_errors
    # The engine has the new menu and its greeting (loaded off the media tick).
    pbx.run(0.2)
    svc = service_of(pbx.engine)
    assert svc.library.flush(10)
    assert "main" in svc.menus
    assert abs(len(svc.prompt("custom/hello")) / 8000 - 1.2) < 0.02
