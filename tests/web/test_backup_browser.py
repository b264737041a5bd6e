"""Backup & restore in real Chromium against a real server and the simulated board: make a
backup, download it, change the configuration, try a hostile archive ('../' member: refused with
the reason, nothing changed), restore the downloaded archive and see the old configuration back."""
from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from firmware.harness import Pbx
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


def traversal_archive(path: Path) -> None:
    data = b'{"settings": {"1": {"site_name": "evil"}}}'
    manifest = json.dumps({"format": "linebox-backup", "version": 1, "files": {}}).encode()
    with tarfile.open(path, "w:gz") as tf:
        for name, body in (("manifest.json", manifest), ("../../config.json", data)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))


def test_backup_download_and_restore(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect
    page = browser_page
    page.on("dialog", lambda d: d.accept())            # the restore confirmation
    pbx.config.save_extension({"name": "Front desk"}, original_number="201")
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app) as base:
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        page.click("nav >> text=Backup & restore")
        expect(page.locator("#archives")).to_contain_text("No archives yet")
        page.click("text=Back up now")
        expect(page.locator(".alert.ok")).to_contain_text("Backup made")
        link = page.locator("#archive-table a").first
        with page.expect_download() as dl:
            link.click()
        saved = tmp_path / dl.value.suggested_filename
        dl.value.save_as(saved)
        with tarfile.open(saved) as tf:
            assert tf.getnames()[0] == "manifest.json" and "config.json" in tf.getnames()

        pbx.config.save_extension({"name": "Renamed"}, original_number="201")
        config_before = (pbx.data_dir / "config.json").read_bytes()
        bad = tmp_path / "hostile.tar.gz"
        traversal_archive(bad)
        page.set_input_files("#restore-form input[type=file]", str(bad))
        page.click("#restore-form button[type=submit]")
        expect(page.locator(".alert.error")).to_contain_text("climbs out of the archive")
        assert (pbx.data_dir / "config.json").read_bytes() == config_before
        assert not (pbx.data_dir.parent / "config.json").exists()

        page.set_input_files("#restore-form input[type=file]", str(saved))
        page.click("#restore-form button[type=submit]")
        expect(page.locator(".alert.ok")).to_contain_text("Backup restored")
        assert pbx.config.extension("201")["name"] == "Front desk"
        expect(page.locator("#archive-table tr[data-archive]")).to_have_count(2)   # + the state before
        expect(page.locator("#archive-table")).to_contain_text("before-restore")
    assert page.console_errors == []


def test_a_long_backup_shows_its_progress_then_the_download_link(pbx: Pbx, browser_page, tmp_path: Path) -> None:  # noqa: F811
    """A card full of recordings: the archive takes longer than the web's API timeout (injected
    short: 0.3 s instead of 10 s, rather than writing gigabytes). The page answers at once with a
    progress bar, then offers the finished archive for download."""
    from playwright.sync_api import expect

    from firmware.api import EngineApi, LocalClient
    page = browser_page
    folder = pbx.data_dir / "recordings" / "2026-01-01"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(9)
    for k in range(12):                                   # 12 x 1.5 MB of noise: slow to compress
        (folder / f"call-{k}.wav").write_bytes(rng.integers(0, 256, 1_500_000, dtype=np.uint8).tobytes())
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=web_dir, control=pbx.control)
    api = LocalClient(engine_api)
    app = create_app(api=api, control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    try:
        with serve(app) as base:
            create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
            page.goto(base + "/backup")
            api.timeout = 0.3             # the web's engine API timeout from here on
            page.click("text=Back up now")
            expect(page.locator("#backup-job progress")).to_be_visible()      # the page came back at once
            expect(page.locator("button", has_text="Back up now")).to_have_count(0)
            expect(page.locator(".alert.ok")).to_contain_text("Backup made", timeout=120_000)
            job = api.call_sync("backup.job", job=0)
            assert job["state"] == "done" and job["seconds"] > api.timeout        # longer than the timeout
            link = page.locator("#backup-ready a")
            expect(link).to_have_text(job["name"])
            with page.expect_download() as dl:
                link.click()
            saved = tmp_path / dl.value.suggested_filename
            dl.value.save_as(saved)
            with tarfile.open(saved) as tf:
                assert sum(n.startswith("recordings/2026-01-01/call-") for n in tf.getnames()) == 12
            expect(page.locator("button", has_text="Back up now")).to_have_count(1)
    finally:
        engine_api.close()
    assert page.console_errors == []
