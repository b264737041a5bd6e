"""Received faxes as PDF: the page size follows the fax resolution (98 and 196 lpi both give A4),
the image in the PDF is the fax page pixel for pixel, and the file's cross-reference table is right."""
from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from dsp_ext.fax import FaxFileError, write_tiff
from firmware.fax.charts import chart
from firmware.fax.pdf import tiff_to_pdf

A4_PT = (210 / 25.4 * 72, 297 / 25.4 * 72)


def _objects(pdf: bytes) -> dict[int, bytes]:
    xref = int(re.search(rb"startxref\n(\d+)\n%%EOF", pdf).group(1))
    assert pdf[xref:xref + 4] == b"xref"
    table = pdf[xref:].split(b"\n")
    count = int(table[1].split()[1])
    out = {}
    for i in range(1, count):
        offset = int(table[2 + i].split()[0])
        m = re.match(rb"(\d+) 0 obj\n", pdf[offset:])
        assert m and int(m.group(1)) == i           # every offset points at its object
        out[i] = pdf[offset + m.end(): pdf.index(b"\nendobj", offset)]
    return out


@pytest.mark.parametrize("lpi", [98, 196])
def test_pdf_pages_are_a4_and_carry_the_exact_image(tmp_path, lpi) -> None:
    pages = [chart("text", lpi), chart("lineart", lpi, seed=1)]
    write_tiff(tmp_path / "in.tif", pages, lpi)
    assert tiff_to_pdf(tmp_path / "in.tif", tmp_path / "out.pdf") == 2
    pdf = (tmp_path / "out.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4")
    objs = _objects(pdf)
    boxes = [tuple(map(float, m)) for m in re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)]
    assert len(boxes) == 2
    for w, h in boxes:
        # 1728 px at 204 dpi is 215 mm (the fax scan width), a little over A4's 210 mm
        assert w == pytest.approx(1728 / 204 * 72, abs=0.01) and abs(w - A4_PT[0]) < 16
        assert h == pytest.approx(A4_PT[1], abs=1.5)
    images = [b for b in objs.values() if b.startswith(b"<< /Type /XObject")]
    assert len(images) == 2
    for body, page in zip(images, pages, strict=True):
        assert b"/Width 1728" in body and b"/Height %d" % page.shape[0] in body
        stream = body[body.index(b"stream\n") + 7: body.rindex(b"\nendstream")]
        bits = np.unpackbits(np.frombuffer(zlib.decompress(stream), np.uint8)).reshape(page.shape[0], -1)
        assert np.array_equal(bits[:, :1728], page)


def test_a_bad_tiff_gives_a_clear_error_and_no_pdf(tmp_path) -> None:
    (tmp_path / "bad.tif").write_bytes(b"II*\0garbage")
    with pytest.raises(FaxFileError, match="not a readable TIFF"):
        tiff_to_pdf(tmp_path / "bad.tif", tmp_path / "out.pdf")
    assert not (tmp_path / "out.pdf").exists()
