"""Received fax (TIFF-F) to PDF, our own small writer: one page per fax page, the bilevel image
Flate-compressed (zlib, standard library), the page sized from the fax resolution so the aspect
is right for both 98 and 196 lines per inch (a 1728 x 1146 standard page and a 1728 x 2292 fine
page are both A4: 8.47 x 11.69 inches).

Runs on the fax thread, never on the media tick.
"""
from __future__ import annotations

import os
import zlib

import numpy as np

from dsp_ext.fax import read_tiff_page, tiff_pages

from ..atomic import atomic_write

__all__ = ["tiff_to_pdf", "page_size_points"]


def pdf_file(objects: list[bytes], root: int) -> bytes:
    """A PDF file of numbered `objects` (object i+1 is objects[i]) with its cross-reference table;
    `root` is the catalog's object number."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def page_size_points(width: int, height: int, x_dpi: float, y_dpi: float) -> tuple[float, float]:
    """PDF page size in points (1/72 inch) of a fax page; missing resolutions count as 204 x 196."""
    x_dpi = x_dpi if x_dpi > 0 else 204.0
    y_dpi = y_dpi if y_dpi > 0 else 196.0
    return round(width / x_dpi * 72, 2), round(height / y_dpi * 72, 2)


def tiff_to_pdf(tiff: str | os.PathLike, pdf: str | os.PathLike) -> int:
    """Write `pdf` from every page of `tiff`; returns the page count (FaxFileError on a bad TIFF)."""
    n = tiff_pages(tiff)
    if n < 1:
        from dsp_ext.fax import FaxFileError
        raise FaxFileError(f"{os.fspath(tiff)}: not a readable TIFF fax document")
    objects: list[bytes] = []          # object i+1

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")                 # filled in below
    pages_obj = add(b"")
    kids = []
    for i in range(n):
        page = read_tiff_page(tiff, i)
        w_pt, h_pt = page_size_points(page.width, page.height, page.x_dpi, page.y_dpi)
        packed = np.packbits(page.pixels != 0, axis=1).tobytes()       # 1 = black
        data = zlib.compress(packed, 6)
        image = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 1 /Decode [1 0] /Filter /FlateDecode /Length %d >>\nstream\n"
                    % (page.width, page.height, len(data)) + data + b"\nendstream")
        draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
        content = add(b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject "
                        b"<< /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (pages_obj, w_pt, h_pt, image, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                              + b"] /Count %d >>" % len(kids))
    atomic_write(pdf, pdf_file(objects, catalog), mode=0o644)      # whole or absent, fsynced
    return n
