"""The post-update health check's probes against the real thing: the engine service (simulated
board) with its API socket, the web UI over HTTPS with the appliance's certificate, the self-test
call. Healthy when all answer; a stopped engine or a web UI presenting another certificate fails
with the reason (that is what rolls a release back)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from firmware.tls import ensure_certificate
from firmware.update.health import run_health_check
from tests.web.live_server import serve
from webui.app import create_app
from webui.tls_info import tls_options


def test_health_check_probes_engine_web_and_selftest(tmp_path: Path) -> None:
    from firmware.service import build_service
    data = Path(tempfile.mkdtemp(dir="/tmp", prefix="lbx-hc-"))     # short path: the socket name limit
    svc = build_service(data, board_kind="sim")
    svc.start_engine(api_socket=True, realtime="off")
    try:
        ensure_certificate(data / "tls")
        app = create_app(control=svc.control, config=svc.config, records=svc.records, data_dir=tmp_path / "web")
        with serve(app, tls=tls_options(data / "tls")) as base:
            port = urlsplit(base).port
            report = run_health_check(data, web_port=port, within_s=10)
            assert report.ok, report.failures()
            assert "1000 Hz" in report.checks["selftest"][1]
            # a web UI presenting another certificate than the appliance's is not this appliance's web UI
            other = tmp_path / "other-tls"
            ensure_certificate(other)
            with serve(app, tls=tls_options(other)) as impostor:
                bad = run_health_check(data, web_port=urlsplit(impostor).port, within_s=1)
            assert not bad.ok and "another certificate" in bad.failures()
    finally:
        svc.stop()
    try:
        down = run_health_check(data, web_port=port, within_s=1)    # engine stopped, web gone
        assert not down.ok
        assert "engine:" in down.failures() and "web:" in down.failures()
    finally:
        shutil.rmtree(data, ignore_errors=True)
