"""HTTPS by default: the web UI served with the certificate the first boot makes (firmware.tls)
in real Chromium; the setup page shows that certificate's fingerprint, and it is the one the
server really presents on the wire; the owner's first-boot setup then works over HTTPS."""
from __future__ import annotations

import hashlib
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from firmware.harness import Pbx
from firmware.tls import ensure_certificate
from webui.app import create_app
from webui.tls_info import tls_options

from .live_server import create_admin, serve, setup_code
from .test_browser import ADMIN, CHROMIUM, CHROMIUM_ARGS, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


def served_fingerprint(base: str) -> str:
    url = urlsplit(base)
    pem = ssl.get_server_certificate((url.hostname, url.port))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, 64, 2))


def test_https_setup_page_shows_the_served_certificate(pbx: Pbx, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    fp = ensure_certificate(web_dir / "tls")
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app, tls=tls_options(web_dir / "tls")) as base, sync_playwright() as pw:
        assert base.startswith("https://")
        assert served_fingerprint(base) == fp
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(ignore_https_errors=True)     # self-signed: the owner compares
        page = context.new_page()
        page.goto(base + "/setup")
        expect(page.locator("#tls-fingerprint")).to_contain_text(fp)
        create_admin(page, base, ADMIN, PASSWORD, setup_code(app))
        expect(page).to_have_url(base + "/status")
        context.close()
        browser.close()


def test_missing_certificate_is_a_clear_error(tmp_path: Path) -> None:
    assert tls_options(None) == {}
    with pytest.raises(FileNotFoundError, match="python -m firmware.tls"):
        tls_options(tmp_path / "nothing")
