"""Update bundles fetched from the owner's URL, against a real local HTTPS server (its own
certificate, trusted the way an installer's private update server is: /etc/linebox/update-ca.pem):
HTTPS only (http:// and a redirect to http:// refused), a size cap (announced and actual), a
truncated download refused, an untrusted certificate refused; a wrongly signed bundle is refused
before anything reaches the inactive slot; a good one is verified and written to it. The owner's
policy (URL, install window, auto-install) is validated, and automatic installation happens only
inside the window and never while a call is up."""
from __future__ import annotations

import datetime as dt
import http.server
import os
import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.api import ApiError, EngineApi, LocalClient
from firmware.harness import Pbx
from firmware.tls import ensure_certificate
from firmware.update import site
from firmware.update.fetch import FetchRefused, fetch_bundle
from tests.update.test_updates import SimulatedPi, keys, make_bundle  # noqa: F401 (fixture)


class BundleServer:
    """A local HTTPS server with a few misbehaving routes."""

    def __init__(self, folder: Path, files: dict[str, bytes]) -> None:
        self.cert = folder / "tls" / "cert.pem"
        ensure_certificate(folder / "tls", hostname="localhost")
        files_ = files

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                port = self.server.server_address[1]
                if self.path == "/to-http":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{port}/good.bundle")
                    self.end_headers()
                elif self.path == "/to-good":
                    self.send_response(302)
                    self.send_header("Location", f"https://localhost:{port}/good.bundle")
                    self.end_headers()
                elif self.path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(50 * 1024 ** 3))
                    self.end_headers()
                    self.wfile.write(b"x" * 1024)
                elif self.path == "/endless":                     # no length: cut off at the cap
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(64):
                        self.wfile.write(b"y" * 65536)
                elif self.path == "/truncated":
                    data = files_["good.bundle"]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                elif self.path.lstrip("/") in files_:
                    data = files_[self.path.lstrip("/")]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_error(404)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, folder / "tls" / "key.pem")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}/{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path, keys: dict[str, Path]) -> Iterator[BundleServer]:  # noqa: F811
    files = {"good.bundle": make_bundle(tmp_path / "good.bundle", keys["release"]).read_bytes(),
             "evil.bundle": make_bundle(tmp_path / "evil.bundle", keys["other"]).read_bytes()}
    s = BundleServer(tmp_path / "server", files)
    yield s
    s.close()


@pytest.mark.parametrize("path, cap, reason", [
    ("huge", 10 ** 6, "larger than any Linebox update"),
    ("endless", 10 ** 6, "larger than any Linebox update; it was stopped"),
    ("truncated", 10 ** 9, "download stopped after"),
    ("missing", 10 ** 9, "HTTP 404"),
    ("to-http", 10 ** 9, "redirected the download to a non-HTTPS address"),
])
def test_bad_downloads_are_refused_and_leave_nothing(server: BundleServer, tmp_path: Path, path: str, cap: int,
                                                     reason: str) -> None:
    dest = tmp_path / "in" / "incoming.bundle"
    with pytest.raises(FetchRefused, match=reason):
        fetch_bundle(server.url(path), dest, max_bytes=cap, cafile=server.cert)
    assert not dest.exists() and not list(dest.parent.glob("*"))


def test_only_https_with_a_trusted_certificate(server: BundleServer, tmp_path: Path) -> None:
    dest = tmp_path / "incoming.bundle"
    for url, reason in ((f"http://localhost:{server.port}/good.bundle", "must start with https://"),
                        ("https://user:pw@localhost/x", "no user name or password"),
                        ("https:///x", "names no server"), ("https://exa mple.com/x", "spaces or control")):
        with pytest.raises(FetchRefused, match=reason):
            fetch_bundle(url, dest, max_bytes=10 ** 9, cafile=server.cert)
    with pytest.raises(FetchRefused, match="certificate could not be verified"):
        fetch_bundle(server.url("good.bundle"), dest, max_bytes=10 ** 9)       # the system CAs do not know it
    assert not dest.exists()
    size = fetch_bundle(server.url("to-good"), dest, max_bytes=10 ** 9, cafile=server.cert)
    assert dest.read_bytes() == (tmp_path / "good.bundle").read_bytes() and size == dest.stat().st_size


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[Pbx]:
    p = Pbx(data_dir=tmp_path / "pbx")
    p.run(0.1)
    yield p
    p.close()


@pytest.fixture
def pi(tmp_path: Path, keys: dict[str, Path], server: BundleServer,  # noqa: F811
       monkeypatch: pytest.MonkeyPatch) -> SimulatedPi:
    pi = SimulatedPi(tmp_path / "pi")
    monkeypatch.setattr(site, "boot_environment", lambda: pi.env)
    monkeypatch.setattr(site, "keys_dir", lambda: keys["trusted"])
    monkeypatch.setattr(site, "board", lambda: "rpi5")
    monkeypatch.setattr(site, "update_cafile", lambda: server.cert)
    return pi


@pytest.fixture
def api(pbx: Pbx) -> Iterator[LocalClient]:
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield LocalClient(engine_api, timeout=60)
    engine_api.close()


def staged_outcome(api: LocalClient) -> dict:
    for _ in range(200):
        staging = api.call_sync("update.status")["staging"]
        if not staging["busy"] and staging.get("ok") is not None:
            return staging
        time.sleep(0.05)
    raise AssertionError("staging did not finish")


def test_fetch_from_the_owner_url_refuses_a_bad_signature_and_stages_a_good_one(
        api: LocalClient, pi: SimulatedPi, server: BundleServer) -> None:
    running = (pi.dev(2).read_bytes(), pi.dev(5).read_bytes())
    empty_b = (pi.dev(3).read_bytes(), pi.dev(6).read_bytes())
    with pytest.raises(ApiError, match="Set the update URL first"):
        api.call_sync("update.fetch")
    api.call_sync("update.policy.set", url=server.url("evil.bundle"))
    api.call_sync("update.fetch")
    outcome = staged_outcome(api)
    assert outcome["ok"] is False and "signature does not match any trusted" in outcome["message"]
    assert (pi.dev(3).read_bytes(), pi.dev(6).read_bytes()) == empty_b           # nothing reached slot B
    assert api.call_sync("update.status")["phase"] == "idle"

    api.call_sync("update.policy.set", url=server.url("good.bundle"))
    api.call_sync("update.fetch")
    outcome = staged_outcome(api)
    assert outcome["ok"] is True and "2026.12.1 was verified and written to slot B" in outcome["message"]
    assert pi.starts(3) and pi.dev(6).read_bytes().startswith(b"ROOT 2026.12.1")
    assert (pi.dev(2).read_bytes(), pi.dev(5).read_bytes()) == running
    assert not list((Path(api.api.data_dir) / "update").glob("incoming*"))       # the download is gone


def test_policy_is_validated(api: LocalClient) -> None:
    for kwargs, reason in (({"url": "http://example.com/x.bundle"}, "must start with https://"),
                           ({"window_start": "02:00"}, "needs a start and an end"),
                           ({"window_start": "25:00", "window_end": "03:00"}, "24-hour clock"),
                           ({"window_start": "02:00", "window_end": "02:00"}, "same time"),
                           ({"auto_install": True}, "needs an install window")):
        with pytest.raises(ApiError, match=reason):
            api.call_sync("update.policy.set", **kwargs)
    assert api.call_sync("update.policy") == {"url": "", "window": "", "auto_install": False}   # nothing kept
    saved = api.call_sync("update.policy.set", url=" https://u.example.com/l.bundle ", window_start="02:00",
                          window_end="04:30", auto_install=True)
    assert saved == {"url": "https://u.example.com/l.bundle", "window": "02:00-04:30", "auto_install": True}
    assert api.call_sync("update.status")["policy"] == saved


def test_auto_install_only_inside_the_window_and_never_during_a_call(
        api: LocalClient, pbx: Pbx, pi: SimulatedPi, server: BundleServer) -> None:
    now = dt.datetime.now()
    inside = ((now - dt.timedelta(minutes=2)).strftime("%H:%M"), (now + dt.timedelta(minutes=5)).strftime("%H:%M"))
    outside = ((now + dt.timedelta(hours=2)).strftime("%H:%M"), (now + dt.timedelta(hours=3)).strftime("%H:%M"))
    api.call_sync("update.policy.set", url=server.url("good.bundle"), window_start=outside[0],
                  window_end=outside[1], auto_install=True)
    assert api.call_sync("update.auto")["why"] == "no staged release"
    api.call_sync("update.fetch")
    assert staged_outcome(api)["ok"] is True
    assert "waiting for the install window" in api.call_sync("update.auto")["why"]
    api.call_sync("update.policy.set", url=server.url("good.bundle"), window_start=inside[0],
                  window_end=inside[1], auto_install=False)
    assert api.call_sync("update.auto") == {"installing": False, "why": "automatic installation is off"}
    api.call_sync("update.policy.set", url=server.url("good.bundle"), window_start=inside[0],
                  window_end=inside[1], auto_install=True)
    pbx.phone("201").off_hook()
    pbx.run(0.3)
    assert "call(s) or phone(s) in use" in api.call_sync("update.auto")["why"]
    assert pi.boots[-1] == (2, False)                               # nothing happened to the board
    pbx.phone("201").on_hook()                                      # (a flash is told apart first)
    pbx.run_until(lambda: all(p.state == "idle" for p in pbx.control.snapshot()))
    outcome = api.call_sync("update.auto")
    assert outcome["installing"] is True, outcome
    assert pi.boots[-1] == (3, True)                                # one tryboot into slot B
    assert api.call_sync("update.status")["phase"] == "trying"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")
def test_a_download_that_does_not_fit_is_refused_with_the_room_it_needs(server: BundleServer, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same room check as the web's upload: the announced length against the free space minus the
    margin, before a byte is read; a disk that fills up meanwhile (ENOSPC) is refused the same way."""
    from firmware.update import fetch, room
    from tests.storage.test_full_disk import small_filesystem
    size = len((tmp_path / "good.bundle").read_bytes())
    with small_filesystem(tmp_path / "data", 1) as data:
        dest = data / "update" / "incoming.bundle"
        monkeypatch.setattr(room, "MARGIN_BYTES", shutil.disk_usage(data).free - size // 2)
        with pytest.raises(FetchRefused, match=f"No room for the update bundle on the data partition: it needs "
                                               f"{room.mib(size)}"):
            fetch_bundle(server.url("good.bundle"), dest, max_bytes=10 ** 9, cafile=server.cert)
        assert not list(dest.parent.glob("*"))
        monkeypatch.setattr(fetch, "room_for", lambda folder, needed: 1 << 40)   # room there, then taken
        (data / "filler").write_bytes(b"\xa5" * (shutil.disk_usage(data).free - size // 2))
        with pytest.raises(FetchRefused, match="No room for the update bundle"):
            fetch_bundle(server.url("good.bundle"), dest, max_bytes=10 ** 9, cafile=server.cert)
        assert not list(dest.parent.glob("*"))
