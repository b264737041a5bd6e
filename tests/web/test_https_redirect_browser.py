"""Plain HTTP on the appliance redirects to HTTPS (firmware/tls/redirect.py, the image's
linebox-http-redirect.service): in real Chromium, typing http://ADDRESS/setup lands on the HTTPS
setup page with the certificate's fingerprint; the Host header is untrusted (no header injection,
no redirect to another scheme or a path that leaves the host)."""
from __future__ import annotations

import asyncio
import queue
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.harness import Pbx
from firmware.tls import ensure_certificate
from firmware.tls.redirect import HttpsRedirectServer, https_location
from webui.app import create_app
from webui.tls_info import tls_options

from .live_server import serve
from .test_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


@pytest.fixture
def redirect_to():  # noqa: ANN201 - a factory
    servers: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []

    def start(https_port: int) -> int:
        loop = asyncio.new_event_loop()
        ports: queue.Queue[int] = queue.Queue()

        def run() -> None:                     # the server's own loop in its own thread
            asyncio.set_event_loop(loop)
            ports.put(loop.run_until_complete(HttpsRedirectServer("127.0.0.1", 0, https_port).start()))
            loop.run_forever()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        servers.append((loop, thread))
        return ports.get(timeout=10)
    yield start
    for loop, thread in servers:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def raw_get(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return out


def test_redirect_answers_and_refuses_bad_hosts(redirect_to) -> None:  # noqa: ANN001
    port = redirect_to(8443)
    ok = raw_get(port, b"GET /setup?x=1 HTTP/1.1\r\nHost: linebox.local\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 308 ") and b"\r\nLocation: https://linebox.local:8443/setup?x=1\r\n" in ok
    v6 = raw_get(port, b"GET / HTTP/1.1\r\nHost: [fe80::1]:80\r\n\r\n")
    assert b"\r\nLocation: https://[fe80::1]:8443/\r\n" in v6
    for bad in (b"evil.com%0d%0aSet-Cookie: x=1", b"a b", b"evil.com/path", b"", b"-x-"):
        out = raw_get(port, b"GET / HTTP/1.1\r\nHost: " + bad + b"\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 ") and b"Location" not in out and b"Set-Cookie: x" not in out.split(
            b"\r\n\r\n")[0]
    assert raw_get(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert https_location("linebox", "//evil.com/x", 443) == "https://linebox/"          # no scheme-relative hop
    assert https_location("linebox:80", "/a b\r\nX: y", 443) == "https://linebox/a%20b%0D%0AX:%20y"


def test_http_reaches_the_https_setup_page_in_chromium(pbx: Pbx, tmp_path: Path, redirect_to) -> None:  # noqa: ANN001
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright
    web_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    fp = ensure_certificate(web_dir / "tls")
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=web_dir,
                     clock=lambda: pbx.now)
    with serve(app, tls=tls_options(web_dir / "tls")) as base, sync_playwright() as pw:
        https_port = int(base.rsplit(":", 1)[1])
        http_port = redirect_to(https_port)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(ignore_https_errors=True)     # self-signed: the owner compares
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{http_port}/setup")
        expect(page).to_have_url(f"https://127.0.0.1:{https_port}/setup")
        expect(page.locator("#tls-fingerprint")).to_contain_text(fp)
        context.close()
        browser.close()
