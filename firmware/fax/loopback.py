"""The installer's line check: a document over a simulated analog line, in simulated time.

A remote fax machine (a spandsp terminal) calls and sends the document; our
receiving terminal answers. Between them, frame by frame (10 ms):

    remote ──G.711──► + echo of what we send (hybrid IR at `echo_erl_db`) + noise ──► our receiver
    remote ◄──G.711── + noise ◄──────────────────────────────────────────────────── our receiver

Both sides use the sim's line models (drivers/sim/echo.py). The result says
what a real fax would report: pages, rate, ECM, the T.30 result, how long the
call lasted, and how the received pages compare with the sent ones.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
from dataclasses import asdict, dataclass

import numpy as np

from drivers.sim.echo import EchoPath, LineNoise, hybrid_ir
from dsp_ext.fax import FaxTerminal, read_tiff_page, tiff_pages
from dsp_ext.g711 import alaw_decode, alaw_encode
from dsp_ext.levels import FRAME, RATE

__all__ = ["LoopbackResult", "run_loopback", "compare_documents"]

MAX_CALL_S = 2 * 60 * 60        # a 50-page fax at 4800 bit/s (V.27ter) takes about an hour
# T.30's T1 is 35 s; spandsp's timers wait while it hears a carrier, so noise above its carrier
# threshold would hold a session open for ever. Like a fax machine, give up if the capabilities
# have not been exchanged by then.
NEGOTIATE_S = 60


@dataclass(frozen=True)
class LoopbackResult:
    result: str                 # "OK" or the T.30 reason in words
    result_code: int
    pages: int                  # pages received
    pages_sent: int
    rate: int                   # bit/s of the image data
    ecm: bool
    seconds: float              # simulated call time
    remote_ident: str
    bad_rows: int               # rows received with errors, all pages (0 with ECM)
    rows: int                   # rows received, all pages
    differing_pixels: int | None    # vs the sent document (None: page counts or sizes differ)
    lost_trainings: int = 0     # page carriers our receiver could not train on (ECM: PPR; no ECM: RTN, sent again)
    stale_carriers: int = 0     # carriers left "present" with no receiver running, reported gone (faxterm.h)

    def as_json(self) -> dict:
        return asdict(self)


def _line_codec(x: np.ndarray) -> np.ndarray:
    return alaw_decode(alaw_encode(x))


def compare_documents(sent: str | os.PathLike, received: str | os.PathLike) -> tuple[int, int | None]:
    """(rows received, differing pixels or None if the documents do not have the same pages/sizes)."""
    n_sent, n_rx = tiff_pages(sent), tiff_pages(received)
    if n_rx < 1:
        return 0, None
    rows = 0
    diff: int | None = 0 if n_sent == n_rx else None
    for i in range(n_rx):
        b = read_tiff_page(received, i)
        rows += b.height
        if diff is not None:
            a = read_tiff_page(sent, i)
            if a.pixels.shape != b.pixels.shape:
                diff = None
            else:
                diff += int(np.count_nonzero(a.pixels != b.pixels))
    return rows, diff


def run_loopback(document: str | os.PathLike, received: str | os.PathLike | None = None, *,
                 noise_dbm0: float | None = None, echo_erl_db: float | None = None,
                 ecm: bool = True, modem: str = "v17", seed: int = 1,
                 page_carrier_guard: bool = True, whole_buffers: bool = False,
                 v21_cutoff_dbm0: float | None = None) -> LoopbackResult:
    """Send `document` (TIFF-F) from a simulated remote fax to our receiver; keep what arrives in `received`."""
    with tempfile.TemporaryDirectory(prefix="linebox-fax-") as tmp:
        out = pathlib.Path(received) if received is not None else pathlib.Path(tmp) / "received.tif"
        remote = FaxTerminal(calling=True, ident="+1 555 0199", ecm=ecm, modem=modem, send=document)
        ours = FaxTerminal(calling=False, ident="Linebox", ecm=ecm, modem=modem, receive=out,
                           page_carrier_guard=page_carrier_guard, whole_buffers=whole_buffers,
                           v21_cutoff_dbm0=v21_cutoff_dbm0)
        rng = np.random.default_rng(seed)
        noise_in, noise_out = LineNoise(rng, noise_dbm0), LineNoise(rng, noise_dbm0)
        echo = EchoPath(hybrid_ir(erl_db=echo_erl_db)) if echo_erl_db is not None else None
        to_us = np.zeros(FRAME, np.int16)
        to_remote = np.zeros(FRAME, np.int16)
        frames = 0
        while frames < MAX_CALL_S * RATE // FRAME:
            frames += 1
            ours.receive(to_us)
            remote.receive(to_remote)
            if ours.done and remote.done:
                break
            if frames == NEGOTIATE_S * RATE // FRAME and not ours.report().negotiated:
                break
            sent_by_us = ours.transmit(FRAME)
            sent_by_remote = remote.transmit(FRAME)
            mix = _line_codec(sent_by_remote).astype(np.float64)
            if echo is not None:
                mix += echo.process(sent_by_us)
            n = noise_in.frame()
            if n is not None:
                mix += n
            to_us = np.clip(np.rint(mix), -32768, 32767).astype(np.int16)
            back = _line_codec(sent_by_us).astype(np.float64)
            n = noise_out.frame()
            if n is not None:
                back += n
            to_remote = np.clip(np.rint(back), -32768, 32767).astype(np.int16)
        if not ours.done:
            ours.hang_up()
            remote.hang_up()
        mine, theirs = ours.report(), remote.report()
        rows, diff = compare_documents(document, out) if out.exists() else (0, None)
        bad_rows = mine.bad_rows_total
        return LoopbackResult(
            result=mine.result_text, result_code=mine.result, pages=mine.pages_rx, pages_sent=theirs.pages_tx,
            rate=mine.bit_rate, ecm=mine.ecm, seconds=round(frames * FRAME / RATE, 2),
            remote_ident=mine.remote_ident, bad_rows=bad_rows, rows=rows, differing_pixels=diff,
            lost_trainings=mine.carrier_holds, stale_carriers=mine.stale_carriers)
