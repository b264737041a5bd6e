"""Rendering documents into fax pages (firmware/fax/render.py): PDF, PNG, JPEG and TIFF become
1728-pixel A4 pages at 98 or 196 lines per inch, text thresholded and photos dithered, in a child
process under limits; hostile files get a clear sentence and leave nothing behind."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dsp_ext.fax import read_tiff_page, tiff_pages
from firmware.fax.cover import CoverPage, pdf_text, write_cover_pdf
from firmware.fax.render import RenderError, RenderLimits, render_document

from . import docs


def _pages(out: Path) -> list[np.ndarray]:
    return [read_tiff_page(out / "document.tif", i).pixels for i in range(tiff_pages(out / "document.tif"))]


def test_a_text_pdf_becomes_fine_and_standard_a4_fax_pages(tmp_path) -> None:
    src = docs.pdf(tmp_path / "letter.pdf", [docs.text_page(), docs.text_page(10)])
    fine = render_document(src, tmp_path / "fine", 196)
    std = render_document(src, tmp_path / "std", 98)
    assert (fine.pages, std.pages) == (2, 2)
    f, s = _pages(tmp_path / "fine"), _pages(tmp_path / "std")
    assert f[0].shape == (2292, 1728) and s[0].shape == (1146, 1728)
    page = read_tiff_page(fine.tiff, 0)
    assert (round(page.x_dpi), round(page.y_dpi)) == (204, 196)
    # Text is thresholded, not dithered: in the text band the page is mostly white with solid
    # strokes; the 4-point rule at the bottom is a solid black bar at the right height.
    top = f[0][0:1000]
    assert 0.01 < top.mean() < 0.2
    rule_row = round((841.89 - 60) / 72 * 196)
    assert f[0][rule_row - 2:rule_row + 3, 300:1400].mean() > 0.9
    # the second page has fewer lines: less ink
    assert f[1].mean() < f[0].mean()
    # thumbnails are PNGs, 216 pixels wide
    assert [p.name for p in fine.thumbnails] == ["page-001.png", "page-002.png"]
    assert fine.thumbnails[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_photos_are_dithered_so_grey_survives_as_dot_density(tmp_path) -> None:
    ramp = docs.grey_ramp(864, 600)
    for kind, src in (("png", docs.png(tmp_path / "ramp.png", ramp)), ("jpeg", docs.jpeg(tmp_path / "ramp.jpg", ramp)),
                      ("tiff", docs.tiff(tmp_path / "ramp.tif", ramp))):
        r = render_document(src, tmp_path / kind, 196)
        page = _pages(tmp_path / kind)[0]
        assert r.pages == 1 and page.shape == (2292, 1728)
        # fit to the page width, proportions kept: 600/864 of 8.47 in at 196 lpi
        rows = np.flatnonzero(page.any(axis=1))
        assert abs(len(rows) - round(600 / 864 * 1728 * 196 / 204)) < 40
        band = page[rows[10]:rows[-10]]
        for x, grey in ((216, 0.125), (864, 0.5), (1296, 0.75)):
            black = band[:, x - 20:x + 20].mean()
            assert abs(black - (1 - grey)) < 0.08, (kind, x, black)


def test_a_photo_in_a_pdf_is_dithered_and_text_next_to_it_stays_sharp(tmp_path) -> None:
    src = docs.grey_image_pdf(tmp_path / "photo.pdf", docs.grey_ramp(400, 300))
    render_document(src, tmp_path / "out", 196)
    page = _pages(tmp_path / "out")[0]
    # the image spans x 72..523 pt, y 400..738 pt (from the bottom): its middle is 50 % grey
    y = round((841.89 - 570) / 72 * 196)
    x = round((72 + 451 / 2) / 72 * 204) + (1728 - 1687) // 2
    assert 0.35 < page[y - 30:y + 30, x - 30:x + 30].mean() < 0.65


def test_a_cover_page_escapes_what_the_sender_typed(tmp_path) -> None:
    assert pdf_text("a) Tj (b\\") == b"a\\) Tj \\(b\\\\"
    assert pdf_text("caf\u00e9 \u4e2d\n") == b"caf\xe9 ??"
    cover = CoverPage("Reception (201)", "5550190", "2026-01-01 10:00 UTC", 3, subject="Invoice) Tj ET (x",
                      note="Line one\nLine two " + "long " * 40)
    src = write_cover_pdf(cover, tmp_path / "cover.pdf")
    r = render_document(src, tmp_path / "out", 98)
    page = _pages(tmp_path / "out")[0]
    assert r.pages == 1 and page.shape == (1146, 1728)
    assert page[40:120].mean() > 0.02           # the big "FAX" heading is drawn


def test_a_huge_page_is_drawn_small_not_refused(tmp_path) -> None:
    # 200 x 200 inches: rendered at its natural size it would be 40,000 x 40,000 pixels
    src = docs.pdf(tmp_path / "huge.pdf", [b"0 0 0 rg 0 0 7200 7200 re f"], size=(14400, 14400))
    t = time.monotonic()
    r = render_document(src, tmp_path / "out", 196)
    assert r.pages == 1 and time.monotonic() - t < 30
    page = _pages(tmp_path / "out")[0]
    assert page.shape == (2292, 1728) and 0.1 < page.mean() < 0.4    # the quarter drawn black


def _refused(tmp_path: Path, src: Path, match: str, limits: RenderLimits | None = None) -> None:
    out = tmp_path / ("out-" + src.name)
    with pytest.raises(RenderError, match=match):
        render_document(src, out, 196, limits or RenderLimits())
    assert not (out / "document.tif").exists() and not list(out.glob("*.png"))


def test_hostile_and_wrong_documents_get_a_clear_error(tmp_path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    _refused(tmp_path, empty, "The file is empty")
    words = tmp_path / "notes.pdf"
    words.write_bytes(b"Dear Sir, this is plain text with a .pdf name\n")
    _refused(tmp_path, words, "not a PDF, PNG, JPEG or TIFF")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ntrash trash\n%%EOF\n")
    _refused(tmp_path, broken, "damaged")
    locked = docs.pdf(tmp_path / "locked.pdf", [docs.text_page()],
                      trailer_extra=b"/Encrypt << /Filter /Standard /V 1 /R 2 /Length 40 /P -4 "
                                    b"/O <" + b"41" * 32 + b"> /U <" + b"42" * 32 + b"> >> "
                                    b"/ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] ")
    _refused(tmp_path, locked, "password|encrypted")
    many = docs.pdf(tmp_path / "many.pdf", [b"0 0 m"] * 3000)
    _refused(tmp_path, many, "3000 pages; a fax can take at most 50")
    # an image that lies about its size is refused before any decoder allocates for it
    liar = bytearray(docs.png(tmp_path / "small.png", docs.grey_ramp(20, 20)).read_bytes())
    liar[16:24] = (100000).to_bytes(4, "big") + (100000).to_bytes(4, "big")
    (tmp_path / "liar.png").write_bytes(bytes(liar))
    _refused(tmp_path, tmp_path / "liar.png", "claims 100000 x 100000 pixels")
    tif = bytearray(docs.tiff(tmp_path / "small.tif", docs.grey_ramp(20, 20)).read_bytes())
    tif_liar = _tiff_with_size(bytes(tif), 1_000_000, 1_000_000)
    (tmp_path / "liar.tif").write_bytes(tif_liar)
    _refused(tmp_path, tmp_path / "liar.tif", "claims 1000000 x 1000000 pixels")
    cut = tmp_path / "cut.png"
    cut.write_bytes((tmp_path / "small.png").read_bytes()[:40])
    _refused(tmp_path, cut, "damaged|could not be decoded")


def test_a_script_in_a_pdf_is_never_run_and_the_page_is_drawn(tmp_path) -> None:
    src = docs.pdf(tmp_path / "js.pdf", [b"0 0 0 rg 72 72 200 200 re f"],
                   extra_catalog=b"/OpenAction << /S /JavaScript /JS (app.alert\\('hi'\\); this.print\\(\\);) >> ")
    r = render_document(src, tmp_path / "out", 98)
    assert r.pages == 1 and _pages(tmp_path / "out")[0].mean() > 0.01


def test_a_png_named_pdf_is_read_as_what_it_is(tmp_path) -> None:
    src = docs.png(tmp_path / "scan.pdf", docs.grey_ramp(100, 100))
    assert render_document(src, tmp_path / "out", 98).pages == 1


def test_the_renderer_is_stopped_at_its_time_limit(tmp_path) -> None:
    src = docs.pdf(tmp_path / "letter.pdf", [docs.text_page()])
    _refused(tmp_path, src, "longer than 0 s", RenderLimits(timeout_s=0.05))
    _refused(tmp_path, src, "could not be drawn", RenderLimits(memory_mb=40))


def _tiff_with_size(data: bytes, w: int, h: int) -> bytes:
    """The same TIFF with its first directory claiming w x h (LONG values)."""
    import struct
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (n,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    out = bytearray(data)
    for k in range(n):
        e = ifd + 2 + 12 * k
        tag, _typ = struct.unpack(order + "HH", data[e:e + 4])
        if tag in (256, 257):
            out[e + 2:e + 12] = struct.pack(order + "HII", 4, 1, w if tag == 256 else h)
    return bytes(out)
