"""Documents for the fax-send tests, made here (no files shipped): small PDFs written by hand,
grey images through our PNG writer, JPEG and TIFF through netpbm."""
from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import numpy as np

from firmware.fax.render_child import write_png


def pdf(path: Path, pages: list[bytes], size: tuple[float, float] = (595.28, 841.89), extra_catalog: bytes = b"",
        trailer_extra: bytes = b"", images: dict[bytes, bytes] | None = None) -> Path:
    """A PDF of `pages` (content streams) on pages of `size` points, Helvetica as /F1."""
    objects: list[bytes] = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    xobjects = b""
    for name, body in (images or {}).items():
        objects.append(body)
        xobjects += b"/%s %d 0 R " % (name, len(objects))
    kids = []
    for content in pages:
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        c = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 3 0 R >>"
                       b" /XObject << %s>> >> /Contents %d 0 R >>" % (size[0], size[1], xobjects, c))
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>"
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    path.write_bytes(bytes(out))
    return path


def text_page(lines: int = 30) -> bytes:
    ops = [b"BT /F1 12 Tf 72 %d Td (Line %d: The quick brown fox jumps over the lazy dog 0123456789) Tj ET"
           % (780 - 20 * i, i) for i in range(lines)]
    ops.append(b"4 w 72 60 m 523 60 l S")
    return b"\n".join(ops)


def grey_ramp(w: int = 800, h: int = 600) -> np.ndarray:
    """Left black to right white, uint8."""
    return np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))


def png(path: Path, grey: np.ndarray) -> Path:
    write_png(path, grey)
    return path


def _netpbm(tool: list[str], pgm: bytes, path: Path) -> Path:
    out = subprocess.run(tool, input=pgm, capture_output=True, check=True).stdout
    path.write_bytes(out)
    return path


def pgm_bytes(grey: np.ndarray) -> bytes:
    h, w = grey.shape
    return b"P5\n%d %d\n255\n" % (w, h) + grey.astype(np.uint8).tobytes()


def jpeg(path: Path, grey: np.ndarray) -> Path:
    return _netpbm(["pnmtojpeg", "-quality=90"], pgm_bytes(grey), path)


def tiff(path: Path, grey: np.ndarray) -> Path:
    return _netpbm(["pamtotiff"], pgm_bytes(grey), path)


def grey_image_pdf(path: Path, grey: np.ndarray) -> Path:
    """A PDF with one page showing a grey photo (an image XObject) across the page."""
    h, w = grey.shape
    data = zlib.compress(grey.astype(np.uint8).tobytes())
    img = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8"
           b" /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data)) + data + b"\nendstream")
    return pdf(path, [b"q 451 0 0 338 72 400 cm /Im1 Do Q"], images={b"Im1": img})
