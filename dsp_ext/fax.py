"""T.30 fax terminal over 8 kHz audio (spandsp, `fax_src/faxterm.c`) and TIFF-F files.

`FaxTerminal` is one end of a fax call: feed it what the line delivers with
`receive(samples)`, take what it sends with `transmit(n)`, and poll `report()`
until `report().done`. The per-sample work is C; each call allocates only the
output array.

spandsp reads and writes the TIFF files from inside receive/transmit (at page
boundaries), so a real-time owner runs the terminal on a worker thread fed
through buffers (see firmware/fax), never on the media tick.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from dsp_ext._fax import ffi, lib
from dsp_ext._ffi import as_int16

__all__ = ["MODEMS", "t30_codes", "page_carrier_guard", "FaxReport", "FaxTerminal", "FaxFileError", "result_text",
           "FaxEvent", "frame_name",
           "write_tiff", "tiff_pages", "read_tiff_page", "TiffPage"]

MODEMS = {"v27ter": lib.FAXTERM_V27TER, "v29": lib.FAXTERM_V29, "v17": lib.FAXTERM_V17}
# The fastest modem named, and every slower one (what a fax machine offers).
_MODEM_LADDER = {"v17": lib.FAXTERM_V17 | lib.FAXTERM_V29 | lib.FAXTERM_V27TER,
                 "v29": lib.FAXTERM_V29 | lib.FAXTERM_V27TER,
                 "v27ter": lib.FAXTERM_V27TER}


class FaxFileError(ValueError):
    """A TIFF-F file that cannot be read or written as a fax document."""


@dataclass(frozen=True)
class FaxReport:
    done: bool
    result: int                 # T.30 completion code, 0 = OK (meaningful when done)
    result_text: str
    remote_ident: str
    pages_tx: int
    pages_rx: int
    pages_in_file: int
    bit_rate: int
    ecm: bool
    ecm_retries: int
    bad_rows: int
    longest_bad_row_run: int
    x_dpi: int
    y_lpi: int
    width: int
    length: int
    negotiated: bool            # the far end's capabilities arrived (phase B reached)
    bad_rows_total: int         # over every page received
    carrier_holds: int = 0      # page carriers our receiver could not train on (ECM: block sent again; no ECM: RTN)
    stale_carriers: int = 0     # carriers T.30 thought present with no receiver running, reported gone (faxterm.h)


def t30_codes() -> dict[str, int]:
    """spandsp's T.30 completion codes that Linebox acts on, by name without the T30_ERR_ prefix."""
    return {name[8:]: int(getattr(lib, name)) for name in dir(lib) if name.startswith("T30_ERR_")}


def page_carrier_guard() -> bool:
    """True if the terminal holds T.30's T2 while an untrained page carrier is on the line (built against
    the spandsp release whose internals it knows; see fax_src/faxterm.h, "Lost trainings")."""
    return bool(lib.faxterm_page_carrier_guard())


def result_text(code: int) -> str:
    return ffi.string(lib.faxterm_result_text(int(code))).decode("ascii", "replace")


_EVENT_KINDS = {lib.FAXTERM_EV_FRAME_IN: "frame_in", lib.FAXTERM_EV_FRAME_OUT: "frame_out",
                lib.FAXTERM_EV_PHASE_B: "phase_b", lib.FAXTERM_EV_PHASE_D: "phase_d",
                lib.FAXTERM_EV_PHASE_E: "phase_e"}


@dataclass(frozen=True)
class FaxEvent:
    """One thing a terminal did: `kind` frame_in / frame_out (`name`: the T.30 frame, e.g. DIS, MCF),
    phase_b, phase_d (`code`: pages so far) or phase_e (`code`: the completion code)."""
    at: float
    kind: str
    code: int
    name: str = ""


# The V.21 carrier cut-off an installer may set (faxterm_set_v21_cutoff): spandsp's default is
# -45.5 dBm0; from -50 (more sensitive) to -30 dBm0 (a line's far end is rarely weaker than that).
V21_CUTOFF_DEFAULT_DBM0 = -45.5
V21_CUTOFF_MIN_DBM0, V21_CUTOFF_MAX_DBM0 = -50.0, -30.0


def frame_name(fcf: int) -> str:
    """spandsp's name of T.30 frame type `fcf` (DIS, DCS, CFR, MCF, RTN, DCN, ...)."""
    return ffi.string(lib.faxterm_frame_name(int(fcf) & 0xFF)).decode("ascii", "replace")


def _header_bytes(header: str) -> bytes:
    return "".join(c for c in header if " " <= c <= "~")[:50].encode("ascii")


def _ident_bytes(ident: str) -> bytes:
    # T.30 idents are at most 20 characters of digits, '+' and space (T.30 5.3.6.2.4).
    clean = "".join(c for c in ident if c.isdigit() or c in "+ ")[:20]
    return clean.encode("ascii")


class FaxTerminal:
    """One fax terminal. `calling=True` is the side that placed the call (it sends CNG)."""

    def __init__(self, *, calling: bool, ident: str = "", ecm: bool = True, modem: str = "v17",
                 send: str | os.PathLike | None = None, receive: str | os.PathLike | None = None,
                 page_carrier_guard: bool = True, header: str = "", whole_buffers: bool = False,
                 v21_cutoff_dbm0: float | None = None) -> None:
        if modem not in _MODEM_LADDER:
            raise ValueError(f"unknown modem {modem!r}: use one of {', '.join(_MODEM_LADDER)}")
        if (send is None) == (receive is None):
            raise ValueError("a fax terminal either sends a document or receives one: give send= or receive=")
        t = lib.faxterm_new(1 if calling else 0, _ident_bytes(ident), 1 if ecm else 0, _MODEM_LADDER[modem])
        if t == ffi.NULL:
            raise MemoryError("spandsp could not create a fax terminal")
        self._t = ffi.gc(t, lib.faxterm_free)
        self._report = ffi.new("faxterm_report_t *")
        if not page_carrier_guard:          # tests: what the guard prevents (fax_src/faxterm.h)
            lib.faxterm_set_page_carrier_guard(self._t, 0)
        if whole_buffers:                   # tests: spandsp fed whole buffers (fax_src/faxterm.h)
            lib.faxterm_set_whole_buffers(self._t, 1)
        if v21_cutoff_dbm0 is not None:     # an installer's setting for a noisy line (fax_src/faxterm.h)
            if not V21_CUTOFF_MIN_DBM0 <= v21_cutoff_dbm0 <= V21_CUTOFF_MAX_DBM0:
                raise ValueError(f"V.21 carrier cut-off {v21_cutoff_dbm0} dBm0: give {V21_CUTOFF_MIN_DBM0:g} "
                                 f"to {V21_CUTOFF_MAX_DBM0:g} dBm0")
            lib.faxterm_set_v21_cutoff(self._t, float(v21_cutoff_dbm0))
        if header:                          # printed on each page sent (with date, station id, page)
            lib.faxterm_set_header(self._t, _header_bytes(header))
        self._events = ffi.new("faxterm_event_t[]", 64)
        if send is not None:
            path = os.fspath(send)
            if tiff_pages(path) < 1:
                raise FaxFileError(f"{path}: not a readable TIFF fax document")
            lib.faxterm_set_tx_file(self._t, path.encode())
        else:
            lib.faxterm_set_rx_file(self._t, os.fspath(receive).encode())   # type: ignore[arg-type]

    def receive(self, samples: np.ndarray) -> None:
        x = as_int16(samples)
        lib.faxterm_rx(self._t, ffi.from_buffer("int16_t[]", x), x.size)

    def transmit(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int16)
        lib.faxterm_tx(self._t, ffi.from_buffer("int16_t[]", out), n)
        return out

    def transmit_into(self, out: np.ndarray) -> None:
        """Fill `out` (C-contiguous int16) with the next samples, allocating nothing."""
        lib.faxterm_tx(self._t, ffi.from_buffer("int16_t[]", out), out.size)

    def hang_up(self) -> None:
        lib.faxterm_hangup(self._t)

    def events(self) -> list[FaxEvent]:
        """The T.30 frames and phases since the last call, oldest first, each with its time in
        seconds of audio received since the terminal was made (the session's clock)."""
        out: list[FaxEvent] = []
        while True:
            n = lib.faxterm_events(self._t, self._events, 64)
            for i in range(n):
                e = self._events[i]
                out.append(FaxEvent(e.sample / 8000.0, _EVENT_KINDS.get(e.kind, "?"), int(e.code),
                                    frame_name(e.code) if e.kind in (1, 2) else ""))
            if n < 64:
                return out

    @property
    def done(self) -> bool:
        lib.faxterm_report(self._t, self._report)
        return bool(self._report.done)

    def report(self) -> FaxReport:
        r = self._report
        lib.faxterm_report(self._t, r)
        return FaxReport(
            done=bool(r.done), result=int(r.result), result_text=result_text(r.result) if r.done else "in progress",
            remote_ident=ffi.string(lib.faxterm_remote_ident(self._t)).decode("ascii", "replace").strip(),
            pages_tx=r.pages_tx, pages_rx=r.pages_rx, pages_in_file=r.pages_in_file, bit_rate=r.bit_rate,
            ecm=bool(r.ecm), ecm_retries=r.ecm_retries, bad_rows=r.bad_rows,
            longest_bad_row_run=r.longest_bad_row_run,
            x_dpi=round(r.x_resolution * 0.0254), y_lpi=round(r.y_resolution * 0.0254),
            width=r.width, length=r.length, negotiated=bool(r.phase_b_seen),
            bad_rows_total=r.bad_rows_total, carrier_holds=r.carrier_holds, stale_carriers=r.stale_carriers)


@dataclass(frozen=True)
class TiffPage:
    width: int
    height: int
    x_dpi: float
    y_dpi: float
    pixels: np.ndarray          # (height, width) uint8, 1 = black


def write_tiff(path: str | os.PathLike, pages: list[np.ndarray], y_lpi: int = 196) -> None:
    """Write bilevel pages ((height, width) arrays, nonzero = black, all the same shape) as a G4 TIFF-F."""
    if not pages:
        raise FaxFileError("a fax document needs at least one page")
    shape = pages[0].shape
    if any(p.shape != shape for p in pages) or len(shape) != 2:
        raise FaxFileError("every page of a fax document must have the same 2-D shape")
    height, width = shape
    packed = np.ascontiguousarray(np.stack([np.packbits(p != 0, axis=1) for p in pages]))
    rc = lib.faxtiff_write(os.fspath(path).encode(), ffi.from_buffer("uint8_t[]", packed),
                           len(pages), width, height, y_lpi)
    if rc != 0:
        raise FaxFileError(f"{os.fspath(path)}: could not write the TIFF (code {rc}); "
                           "check the folder exists and is writable and the resolution is 98, 196 or 391 lpi")


def tiff_pages(path: str | os.PathLike) -> int:
    """Number of pages (0 or less: not a TIFF libtiff can open)."""
    return int(lib.faxtiff_pages(os.fspath(path).encode()))


# A fax page is at most 2432 pixels wide (A3 at 204 dpi, 303 mm) and, for an
# A4 at 391 lpi, ~4600 rows; anything claiming more is lying or not a fax.
MAX_WIDTH = 4864
MAX_HEIGHT = 20000


def read_tiff_page(path: str | os.PathLike, page: int) -> TiffPage:
    p = os.fspath(path).encode()
    w, h = ffi.new("int *"), ffi.new("int *")
    xr, yr = ffi.new("float *"), ffi.new("float *")
    rc = lib.faxtiff_page_info(p, page, w, h, xr, yr)
    if rc != 0:
        raise FaxFileError(f"{os.fspath(path)}: page {page + 1} is missing or not a bilevel fax page (code {rc})")
    if not (8 <= w[0] <= MAX_WIDTH and 1 <= h[0] <= MAX_HEIGHT):
        raise FaxFileError(f"{os.fspath(path)}: page {page + 1} claims {w[0]}x{h[0]} pixels, "
                           f"beyond a fax page (at most {MAX_WIDTH}x{MAX_HEIGHT})")
    stride = (w[0] + 7) // 8
    buf = np.zeros((h[0], stride), dtype=np.uint8)
    rc = lib.faxtiff_read_page(p, page, ffi.from_buffer("uint8_t[]", buf), w[0], h[0])
    if rc != 0:
        raise FaxFileError(f"{os.fspath(path)}: page {page + 1} could not be decoded (code {rc})")
    pixels = np.unpackbits(buf, axis=1)[:, :w[0]]
    return TiffPage(w[0], h[0], float(xr[0]), float(yr[0]), pixels)
