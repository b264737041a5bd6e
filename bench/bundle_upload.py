"""`python -m bench.bundle_upload [MIB [ROUNDS]]`: an update bundle's upload, streamed into the spool
(webui/bundle_upload.py, what /update/upload does now) against the former way, in one run.

Both sides run in one real web app (`webui.app.create_app`, the HttpGuard and uvicorn as the
appliance runs them, over a local socket, plain HTTP) with its data folder on this machine's disk:
* **streamed**: `spool_bundle`, the file part written once into DATA/spool as it arrives;
* **form + copy** (the peer, session 7's route): `request.form()` (Starlette keeps the part in a
  temporary file in DATA/spool/parts, `form_parts_on_data_partition`), then `spool_upload` copies
  it into DATA/spool.
Each round uploads a MIB MiB file with each (alternating, ROUNDS rounds, default 3); prints the
median wall time of the whole request and the most the data folder's file system held at once
beyond what it held before (statvfs, sampled every 10 ms), per uploaded byte. Give it a file
system of its own (BENCH_DIR, e.g. a tmpfs) so that nothing else writes there meanwhile. The CSRF token is the pre-login one (cookie and field), as a form sends it.
"""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import PlainTextResponse

BOUNDARY = "linebox-bench-upload"


def _used(folder: Path) -> int:
    """Bytes in use on `folder`'s file system (Starlette's temporary files have no name to list)."""
    st = os.statvfs(folder)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _post(base: str, path: str, token: str, payload: Path) -> tuple[int, float, int]:
    """(HTTP status, seconds, the most the spool held at once) for one upload."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="b.bundle"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    data = Path(payload.parent) / "data"
    base_used = _used(data)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _used(data) - base_used)
            stop.wait(0.01)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(head) + payload.stat().st_size + len(tail)))
    conn.putheader("Cookie", f"lb_pre={token}")
    conn.endheaders()
    conn.send(head)
    with open(payload, "rb") as f:
        while chunk := f.read(1 << 20):
            conn.send(chunk)
    conn.send(tail)
    status = conn.getresponse().status
    seconds = time.perf_counter() - t
    stop.set()
    sampler.join()
    conn.close()
    return status, seconds, peak[0]


def main(argv: list[str]) -> int:
    mib = int(argv[0]) if argv else 256
    rounds = int(argv[1]) if len(argv) > 1 else 3
    from firmware.config import Config
    from firmware.control import EngineControl
    from firmware.records import CallRecords
    from firmware.service import form_parts_on_data_partition
    from tests.web.live_server import serve
    from webui import http_guard
    from webui.app import create_app
    from webui.bundle_upload import spool_bundle
    from webui.engine_calls import spool_upload
    from webui.guards import CSRF_FIELD, check_csrf_token

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        payload = root / "bundle"
        with open(payload, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        form_parts_on_data_partition(data)
        records = CallRecords(data / "records.db")
        app = create_app(control=EngineControl(), config=Config(data / "config.json"), records=records,
                         data_dir=data)

        async def streamed(request: Request) -> PlainTextResponse:
            name = await spool_bundle(request, 3 << 30)
            (data / "spool" / name).unlink()
            return PlainTextResponse("ok")

        async def form_copy(request: Request) -> PlainTextResponse:
            form = await request.form()
            check_csrf_token(request, str(form.get(CSRF_FIELD)))
            name = await spool_upload(request, form["file"], 3 << 30)
            await form.close()
            (data / "spool" / name).unlink()
            return PlainTextResponse("ok")
        app.add_api_route("/bench/streamed", streamed, methods=["POST"])
        app.add_api_route("/bench/form-copy", form_copy, methods=["POST"])
        http_guard.UPLOAD_LIMITS += tuple((re.compile(f"^/bench/{n}$"), 4 << 30) for n in ("streamed", "form-copy"))
        token = secrets.token_urlsafe(32)
        results: dict[str, list[tuple[float, int]]] = {"streamed": [], "form-copy": []}
        with serve(app) as base:
            for _ in range(rounds):
                for name in results:
                    status, seconds, peak = _post(base, f"/bench/{name}", token, payload)
                    assert status == 200, (name, status)
                    results[name].append((seconds, peak))
        records.close()
        free = shutil.disk_usage(root).free
    size = mib << 20
    print(f"{mib} MiB bundle, {rounds} rounds, data folder on {os.environ.get('BENCH_DIR', '/var/tmp')} "
          f"({free >> 20} MiB free after); load average {open('/proc/loadavg').read().split()[:3]}")
    print("| route | median s | MiB/s | most on disk at once / bundle |\n|---|---|---|---|")
    for name, rows in results.items():
        s = statistics.median(r[0] for r in rows)
        print(f"| {name} | {s:.2f} | {mib / s:.0f} | {max(r[1] for r in rows) / size:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
