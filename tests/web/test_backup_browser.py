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
