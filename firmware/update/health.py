"""The health check of a freshly tried release (run by `linebox update check` at boot):
the engine answers on its API socket, the web UI answers over HTTPS with this appliance's own
certificate, and the self-test call on the built-in simulator passes."""
from __future__ import annotations

import hashlib
import http.client
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from .decision import HealthReport
from .selftest import selftest_folder, simulated_call_selftest


def _retry(probe: Callable[[], str], within_s: float, pause_s: float = 2.0) -> tuple[bool, str]:
    deadline = time.monotonic() + within_s
    last = "not tried"
    while True:
        try:
            return True, probe()
        except Exception as exc:  # noqa: BLE001 - any failure is a "not healthy yet" with its reason
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + pause_s > deadline:
            return False, last
        time.sleep(pause_s)


def engine_probe(data_dir: Path) -> str:
    from ..api_client import ApiConnection
    from ..api_wire import SOCKET_NAME
    with ApiConnection(Path(data_dir) / SOCKET_NAME, client="update-check", timeout=10.0) as api:
        api.call("api.ping")
        calls = api.call("calls.list")
    return f"engine answered api.ping ({len(calls)} call(s) up)"


def web_probe(host: str, port: int, cert_pem: Path | None) -> str:
    """GET /login over HTTPS; the certificate presented must be this appliance's (pinned by hash)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE                  # self-signed: pinned below instead
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    try:
        conn.request("GET", "/login")
        status = conn.getresponse().status
        der = conn.sock.getpeercert(binary_form=True) if conn.sock else None
    finally:
        conn.close()
    if cert_pem is not None and der is not None:
        want = hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(cert_pem).read_text("ascii"))).digest()
        if hashlib.sha256(der).digest() != want:
            raise RuntimeError("the web UI presents another certificate than DATA/tls/cert.pem")
    if status not in (200, 303):                    # 303: to /setup before the owner's setup
        raise RuntimeError(f"/login answered HTTP {status}")
    return f"web UI answered HTTPS {status} on port {port}"


def run_health_check(data_dir: Path, *, web_host: str = "127.0.0.1", web_port: int = 443,
                     within_s: float = 300.0) -> HealthReport:
    """`within_s` for the engine and then the web to answer: generous (a Pi 4 starts both in well under
    a minute; the cost of waiting is only a later rollback of a broken release), so a slow first
    start (an SD card's cold cache, or the boot test's emulated CPU) is not taken for a broken one."""
    data_dir = Path(data_dir)
    cert = data_dir / "tls" / "cert.pem"
    return HealthReport({
        "engine": _retry(lambda: engine_probe(data_dir), within_s),
        "web": _retry(lambda: web_probe(web_host, web_port, cert if cert.is_file() else None), within_s),
        "selftest": simulated_call_selftest(selftest_folder(data_dir)),
    })
