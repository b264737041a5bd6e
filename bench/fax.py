"""`python -m bench fax`: what a fax session costs.

1. The T.30 terminal (spandsp through dsp_ext.fax): one sender and one receiver back to back,
   10 ms frames, a 2-page A4 fine chart at 14400 bit/s with ECM: CPU microseconds per 10 ms
   frame per terminal and how many times faster than real time.
2. The engine's receive path in simulated time (firmware.harness.Pbx): a remote fax machine on
   the simulated exchange sends the same chart to a line routed to fax:201; the media tick
   (MediaLoop.step) is timed during the fax: median, p99 and max per tick. The fax thread does
   the terminal work; in simulated time the tick waits for it (lockstep), so this tick time
   includes the terminal's work and is an upper bound for the hardware tick.

3. The same path paced at 10 ms per tick in wall time without lockstep (as on hardware): how
   many frames the fax thread was late for (each would be 10 ms of silence in the fax signal).
   Takes the length of the fax in wall time (about a minute); `--quick` skips it.

4. A 50-page fax (text and line art, 98 lpi) over `linebox fax loopback`'s simulated line at
   -50 dBm0 noise, V.17 with ECM: pages, bit-exactness, simulated call time, how many page
   trainings our receiver lost (each block sent again; see dsp_ext/fax_src/faxterm.h), CPU.

5. With `--non-ecm`: the same 50 pages without ECM on V.17, V.29 and V.27ter, at -50 dBm0 noise
   with a 12 dB ERL echo: pages, rows with errors (the issue's check: at most 1 %), bit-exactness,
   the rate reached (each page whose training was lost is rejected with RTN and sent again after
   retraining one step slower), simulated call time (V.27ter: about an hour), CPU. About 40 s CPU.

Prints Markdown. Timing figures depend on the machine's load: re-measure on a quiet one.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dsp_ext.fax import FaxTerminal, write_tiff
from dsp_ext.levels import FRAME
from firmware.fax.charts import chart


def terminal_cost(tmp: Path) -> str:
    write_tiff(tmp / "doc.tif", [chart("lineart", 196), chart("text", 196, seed=1)], 196)
    tx = FaxTerminal(calling=True, send=tmp / "doc.tif")
    rx = FaxTerminal(calling=False, receive=tmp / "rx.tif")
    frames = 0
    t0 = time.process_time()
    while not (tx.done and rx.done) and frames < 60000:
        a, b = tx.transmit(FRAME), rx.transmit(FRAME)
        rx.receive(a)
        tx.receive(b)
        frames += 1
    cpu = time.process_time() - t0
    audio_s = frames * FRAME / 8000
    per_frame_us = cpu / frames / 2 * 1e6
    return (f"| terminal pair, 2 pages fine, V.17 ECM | {audio_s:.1f} s of fax audio | {cpu:.3f} s CPU | "
            f"{per_frame_us:.1f} us per 10 ms frame per terminal | {audio_s / cpu:.0f}x real time |")


def engine_tick(tmp: Path) -> str:
    from firmware.fax import service_of
    from firmware.harness import Pbx
    write_tiff(tmp / "doc2.tif", [chart("lineart", 196), chart("text", 196, seed=1)], 196)
    with Pbx(data_dir=tmp / "pbx", seed=2) as pbx:
        pbx.config.set_inbound_route("fxo1", "fax:201")
        pbx.run(0.2)
        fax = pbx.co.fax_machine("5550190")
        fax.send_document(tmp / "doc2.tif", to=pbx.co.line_number(1))
        ticks = []
        step = pbx.media.step
        clock = time.perf_counter
        while not fax.done and len(ticks) < 60000:
            t0 = clock()
            step()
            ticks.append(clock() - t0)
        service_of(pbx.engine).worker.flush(10)
        ok = fax.report is not None and fax.report.result == 0
    us = np.array(ticks) * 1e6
    return (f"| engine receive path (Pbx, simulated time, lockstep) | {len(ticks) / 100:.1f} s simulated | "
            f"tick median {np.median(us):.0f} us, p99 {np.percentile(us, 99):.0f} us, max {us.max():.0f} us | "
            f"result {'OK' if ok else 'FAILED'} |")


def paced(tmp: Path) -> str:
    """As on hardware: ticks paced at 10 ms of wall time, the tick never waits for the fax thread."""
    from firmware.fax import service_of
    from firmware.harness import Pbx
    write_tiff(tmp / "doc3.tif", [chart("text", 98)], 98)
    with Pbx(data_dir=tmp / "pbx3", seed=2) as pbx:
        pbx.config.set_inbound_route("fxo1", "fax:201")
        pbx.run(0.2)
        svc = service_of(pbx.engine)
        svc.lockstep = False
        fax = pbx.co.fax_machine("5550190")
        fax.send_document(tmp / "doc3.tif", to=pbx.co.line_number(1))
        step, clock = pbx.media.step, time.perf_counter
        start = clock()
        n = 0
        links = []
        while not fax.done and n < 12000:
            step()
            n += 1
            h = pbx.engine.channels["fxo1"].handler
            if getattr(h, "link", None) is not None and h.link not in links:
                links.append(h.link)
            delay = start + n * 0.01 - clock()
            if delay > 0:
                time.sleep(delay)
        svc.worker.flush(10)
        ok = fax.report is not None and fax.report.result == 0
    under = sum(link.underruns for link in links)
    return (f"| engine receive path paced in real time (no lockstep, as on hardware) | {n / 100:.1f} s | "
            f"{under} underruns (frames the fax thread was late for) | result {'OK' if ok else 'FAILED'} |")


def long_fax(tmp: Path, modem: str = "v17", ecm: bool = True, echo_erl_db: float | None = None) -> str:
    from firmware.fax.charts import document
    from firmware.fax.loopback import run_loopback
    if not (tmp / "long.tif").exists():
        write_tiff(tmp / "long.tif", document(["text", "lineart"] * 25, 98), 98)
    t0 = time.process_time()
    r = run_loopback(tmp / "long.tif", tmp / f"long-{modem}.tif", noise_dbm0=-50.0, modem=modem, ecm=ecm,
                     echo_erl_db=echo_erl_db)
    cpu = time.process_time() - t0
    exact = r.differing_pixels == 0 and r.pages == 50
    line = "-50 dBm0 noise" + (f", {echo_erl_db:g} dB ERL echo" if echo_erl_db is not None else "")
    bad = f"{r.bad_rows} of {r.rows} rows bad ({100 * r.bad_rows / max(r.rows, 1):.2f} %), " if not ecm else ""
    return (f"| 50-page fax, {modem.upper().replace('V', 'V.')} {'ECM' if ecm else 'no ECM'}, {line} (loopback) | "
            f"{r.seconds:.0f} s simulated | {cpu:.1f} s CPU | {r.pages}/50 pages at {r.rate} bit/s, {bad}"
            f"{'bit-exact' if exact else f'NOT bit-exact ({r.differing_pixels} px)'}, "
            f"{r.lost_trainings} lost trainings recovered | result {r.result} |")


def main(args: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="linebox-bench-fax-") as tmp_:
        tmp = Path(tmp_)
        print("| what | audio | cost | | |\n|---|---|---|---|---|")
        print(terminal_cost(tmp))
        print(engine_tick(tmp))
        print(long_fax(tmp))
        if "--non-ecm" in args:
            for modem in ("v17", "v29", "v27ter"):
                print(long_fax(tmp, modem, ecm=False, echo_erl_db=12.0))
        if "--quick" not in args:
            print(paced(tmp))


if __name__ == "__main__":
    main(sys.argv[1:])
