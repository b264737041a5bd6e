"""The recordings pages in real Chromium against a real server and the simulated board: tick
"always record" for an extension, make a call, find it on the recordings page, play it (HTML5
audio knows its length), download it, delete it."""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.apps import recording_store as store
from firmware.apps.recording import service_of
from firmware.harness import Pbx
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, _shot, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


def recorded_call(pbx: Pbx) -> None:
    """201 calls 202, both talk (1 kHz / 1.5 kHz) for 2 s, 201 hangs up."""
    a, b = pbx.phone("201"), pbx.phone("202")
    a.off_hook()
    pbx.run(0.5)
    a.dial("202")
    pbx.run_until(lambda: b.is_ringing, 5)
    b.off_hook()
    pbx.run(0.3)
    a.play_tone([1000], 2000, -12)
    b.play_tone([1500], 2000, -12)
    pbx.run(2.1)
    a.on_hook()
    b.on_hook()
    pbx.run(2.0)
    assert service_of(pbx.engine).writer.flush(10)
    pbx.records.flush()


def test_recordings_policy_listen_download_delete(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    page.on("dialog", lambda d: d.accept())            # the delete confirmation
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Recordings")
        expect(page.locator("#recordings")).to_contain_text("No recordings")
        page.click("text=Recording settings")
        # ---- a bad value first: refused with the reason, then the policy for 201
        page.check("input[name=extensions][value='201']")
        page.fill("input[name=retention_days]", "ten")
        page.click("text=Save recording settings")
        expect(page.locator(".alert.error")).to_contain_text("whole number")
        page.check("input[name=extensions][value='201']")
        page.fill("input[name=retention_days]", "30")
        page.click("text=Save recording settings")
        expect(page.locator(".alert.ok")).to_have_text("Recording settings saved.")
        assert store.settings(pbx.config)["extensions"] == ["201"]
        pbx.run(0.1)                                   # the engine picks up the new config
        recorded_call(pbx)
        page.click("nav >> text=Call history")         # from the call history to its recording
        page.locator("#history a.rec-link").first.click()
        expect(page).to_have_url(re.compile(r"/recordings\?call="))
        row = page.locator("#recordings tr[data-recording]")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("201")
        expect(row).to_contain_text("always")
        duration = page.evaluate("""() => new Promise((ok, fail) => {
            const a = document.querySelector('#recordings tr[data-recording] audio');
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail('audio error ' + (a.error && a.error.code)));
            a.preload = 'auto'; a.load();
        })""")
        (rec,) = store.listing(service_of(pbx.engine).root)
        assert 2.0 < duration == pytest.approx(rec.seconds, abs=0.05)
        _shot(page, "recordings")
        with page.expect_download() as dl:
            row.locator("text=Download").click()
        saved = tmp_path / "download.wav"
        dl.value.save_as(saved)
        assert saved.read_bytes() == rec.path.read_bytes()
        row.locator("text=Delete").click()
        expect(page.locator(".alert.ok")).to_have_text("Recording deleted.")
        expect(page.locator("#recordings")).to_contain_text("No recordings")
        assert not rec.path.exists()
    assert page.console_errors == []
