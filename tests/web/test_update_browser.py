"""The Update page in real Chromium, on the simulated board and a simulated Pi boot (the slots are
files, the firmware's tryboot rule modelled: tests/update/test_updates.SimulatedPi): a bundle
signed by another key is refused with the reason and nothing is written; a good bundle is verified
and written to the inactive slot; "Install now" reboots once into it with tryboot."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.harness import Pbx
from firmware.update import site
from tests.update.test_updates import SimulatedPi, keys, make_bundle  # noqa: F401 (fixture)
from webui.app import create_app

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, PASSWORD, browser_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


def test_update_upload_refuse_stage_install(pbx: Pbx, browser_page, keys, tmp_path: Path,  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect
    page = browser_page
    page.on("dialog", lambda d: d.accept())
    pi = SimulatedPi(tmp_path / "pi")
    monkeypatch.setattr(site, "boot_environment", lambda: pi.env)
    monkeypatch.setattr(site, "keys_dir", lambda: keys["trusted"])
    monkeypatch.setattr(site, "board", lambda: "rpi5")
    running = (pi.dev(2).read_bytes(), pi.dev(5).read_bytes())
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Update")
        expect(page.locator("#update-state")).to_contain_text("Running slot A on rpi5")

        page.set_input_files("#update-form input[type=file]", str(make_bundle(tmp_path / "evil.bundle", keys["other"])))
        page.click("#update-form button[type=submit]")
        for _ in range(50):
            if "refused" in (page.locator("#update-staging").text_content() or ""):
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(page.locator("#update-staging")).to_contain_text("signature does not match any trusted")
        assert (pi.dev(2).read_bytes(), pi.dev(5).read_bytes()) == running
        assert not pi.starts(3)

        page.set_input_files("#update-form input[type=file]", str(make_bundle(tmp_path / "good.bundle", keys["release"])))
        page.click("#update-form button[type=submit]")
        for _ in range(50):
            if "written to slot B" in (page.locator("#update-staging").text_content() or ""):
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(page.locator("#update-staging")).to_contain_text("Release 2026.12.1 was verified and written to slot B")
        expect(page.locator("#update-phase")).to_have_text("staged")
        assert pi.starts(3) and (pi.dev(2).read_bytes(), pi.dev(5).read_bytes()) == running
        pbx.run(0.1)
        page.click("text=Install now")
        expect(page.locator("body")).to_contain_text("restarts into the new release")
        assert pi.boots[-1] == (3, True)                      # one tryboot into slot B
        assert pi.env.default_slot() == "A"                   # not committed until its health check
        assert list(Path(pbx.data_dir / "backups").glob("*before-update.tar.gz"))
    assert page.console_errors == []


def test_update_source_and_install_window_set_on_the_page(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    """The owner's update URL, install window and auto-install toggle: refused input says what is
    wrong and keeps what was typed (nothing saved); good input is saved and summarised."""
    from playwright.sync_api import expect
    page = browser_page
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.goto(base + "/update")
        expect(page.locator("#policy-summary")).to_contain_text("No install window")
        expect(page.locator("#fetch-form")).to_have_count(0)
        form = page.locator("#policy-form")
        form.locator("input[name=url]").fill("https://updates.example.com/linebox.bundle")
        form.locator("input[name=window_start]").fill("02:00")
        form.locator("input[name=auto_install]").check()
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("needs a start and an end time")
        expect(form.locator("input[name=url]")).to_have_value("https://updates.example.com/linebox.bundle")
        assert pbx.config.table("update_policy").get(doc_id=1) is None            # nothing saved

        form.locator("input[name=window_end]").fill("04:30")
        form.locator("input[name=url]").fill("http://updates.example.com/linebox.bundle")
        form.locator("button[type=submit]").click()
        expect(page.locator(".alert.error")).to_contain_text("must start with https://")

        form.locator("input[name=url]").fill("https://updates.example.com/linebox.bundle")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(base + "/update")
        expect(page.locator("#policy-summary")).to_have_text("Install window 02:00-04:30, installs by itself.")
        expect(page.locator("#fetch-form")).to_have_count(1)
        expect(form.locator("input[name=window_start]")).to_have_value("02:00")
        expect(form.locator("input[name=auto_install]")).to_be_checked()
        assert dict(pbx.config.table("update_policy").get(doc_id=1)) == {
            "url": "https://updates.example.com/linebox.bundle", "window": "02:00-04:30", "auto_install": True}

        form.locator("input[name=auto_install]").uncheck()
        form.locator("input[name=window_start]").fill("")
        form.locator("input[name=window_end]").fill("")
        form.locator("button[type=submit]").click()
        expect(page.locator("#policy-summary")).to_contain_text("No install window")
    assert page.console_errors == []
