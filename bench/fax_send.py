"""`python -m bench.fax_send`: what sending a fax costs.

1. Rendering (firmware/fax/render.py: a limited child process running poppler / netpbm): wall
   seconds per document and per page, for a text PDF, a PDF with a photo, a PNG photo and our cover
   page, at fine (196 lpi) and standard (98 lpi) resolution. This runs on the render thread, never
   on the media tick; the figure says how long a sender waits for the preview.
2. The engine's send path in simulated time (firmware.harness.Pbx): a 3-page fine document sent
   to a fax machine on the simulated exchange; the media tick (MediaLoop.step) timed during the
   whole attempt: median, p99, max. In simulated time the tick waits for the fax thread
   (lockstep), so this includes the T.30 transmitter's work and is an upper bound for the
   hardware tick. Also: simulated seconds of the call, wall seconds to run it.

Prints Markdown. Timing figures depend on the machine's load: re-measure on a quiet one.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _docs():
    sys.path.insert(0, str(ROOT))
    from tests.fax import docs
    return docs


def render_costs(tmp: Path) -> str:
    from firmware.fax.cover import CoverPage, write_cover_pdf
    from firmware.fax.render import render_document
    docs = _docs()
    sources = {
        "text PDF, 5 pages": docs.pdf(tmp / "text.pdf", [docs.text_page()] * 5),
        "PDF with a photo, 1 page": docs.grey_image_pdf(tmp / "photo.pdf", docs.grey_ramp(1200, 900)),
        "PNG photo 2400x1800": docs.png(tmp / "photo.png", (np.random.default_rng(1).random((1800, 2400)) * 255)
                                        .astype(np.uint8)),
        "cover page": write_cover_pdf(CoverPage("Reception (201)", "5550190", "2026-01-01 10:00 UTC", 4,
                                                "Invoice", "Please find it attached."), tmp / "cover.pdf"),
    }
    rows = ["| document | lpi | pages | wall s | s per page |", "|---|---|---|---|---|"]
    for name, src in sources.items():
        for lpi in (196, 98):
            t = time.perf_counter()
            r = render_document(src, tmp / f"out-{src.stem}-{lpi}", lpi)
            s = time.perf_counter() - t
            rows.append(f"| {name} | {lpi} | {r.pages} | {s:.2f} | {s / r.pages:.2f} |")
    return "\n".join(rows)


def send_tick(tmp: Path) -> str:
    from firmware.apps.permissions import Origin
    from firmware.fax import service_of
    from firmware.harness import Pbx
    docs = _docs()
    with Pbx(country="US", seed=3, data_dir=tmp / "data") as pbx:
        pbx.run(0.2)
        pbx.co.fax_machine("5550190").receive_into(tmp / "received.tif")
        out = service_of(pbx.engine).outbox
        src = docs.pdf(tmp / "letter.pdf", [docs.text_page(30 - 5 * i) for i in range(3)])
        token = out.prepare(src.read_bytes(), owner="bench", box="201", to="5550190", lpi=196)
        while out.draft(token)["state"] == "rendering":
            time.sleep(0.05)
        job = out.on_store(lambda: out.submit(token, authorise=lambda b, n: pbx.engine.authorise_outside(
            Origin(extension=b, via="fax"), n))).result(10)
        ticks: list[float] = []
        start_sim, start_wall = pbx.now, time.perf_counter()
        step = pbx.media.step
        state = "queued"
        while state in ("queued", "sending") and pbx.now - start_sim < 600:
            for _ in range(100):
                t = time.perf_counter()
                step()
                ticks.append(time.perf_counter() - t)
            out.on_store(lambda: None).result(10)
            state = out.store.get(job.id).state
        wall = time.perf_counter() - start_wall
        (attempt,) = out.store.attempts(job.id)
    ms = np.array(ticks) * 1000
    return (f"3 fine pages: {state}, {attempt['pages_sent']} pages at {attempt['rate']} bit/s, ECM "
            f"{'on' if attempt['ecm'] else 'off'}; {pbx.now - start_sim:.0f} s simulated in {wall:.1f} s wall.\n\n"
            f"Media tick during the send (ms, {len(ms)} ticks): median {statistics.median(ms):.3f}, "
            f"p99 {np.percentile(ms, 99):.3f}, max {ms.max():.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fax-send-") as d:
        tmp = Path(d)
        print("## Fax send\n\n### Rendering (child process, poppler / netpbm)\n")
        print(render_costs(tmp))
        print("\n### The send path in simulated time\n")
        print(send_tick(tmp))


if __name__ == "__main__":
    main()
