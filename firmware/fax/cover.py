"""The fax cover page: a one-page PDF written by our own code (from, to, date, subject, page count,
note), drawn into fax pages by the same renderer as any document.

Every field is untrusted text from the sender (or a caller's number): it is reduced to printable
Latin-1 (others become '?'), cut to a sane length, and escaped for a PDF string, so no field can
end the string or add PDF operators.
"""
from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .pdf import pdf_file

__all__ = ["CoverPage", "write_cover_pdf", "pdf_text"]

A4 = (595.28, 841.89)
NOTE_WIDTH = 75                 # characters per note line (12 pt Helvetica on A4 with margins)
NOTE_LINES = 30


@dataclass(frozen=True)
class CoverPage:
    sender: str                 # "Reception (201)" / the station id
    to: str                     # the number dialled
    date: str
    pages: int                  # with the cover
    subject: str = ""
    note: str = ""
    sender_number: str = ""     # the office's fax number, if known


def pdf_text(value: str, limit: int = 200) -> bytes:
    """A PDF literal string body: printable Latin-1 only, with backslash and parentheses escaped."""
    clean = "".join(c if c.isprintable() and ord(c) < 256 else "?" for c in str(value).replace("\t", " "))[:limit]
    raw = clean.encode("latin-1")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _lines(cover: CoverPage) -> list[tuple[str, float, float, float, bytes]]:
    """(font, size, x, y, text) from the top of the page down."""
    out: list[tuple[str, float, float, float, bytes]] = [("F2", 40, 72, 760, b"FAX")]
    y = 700.0
    rows = [("From", cover.sender), ("Fax number", cover.sender_number), ("To", cover.to),
            ("Date", cover.date), ("Pages", f"{cover.pages} (with this cover page)"), ("Subject", cover.subject)]
    for label, value in rows:
        if not value:
            continue
        out.append(("F2", 14, 72, y, pdf_text(label + ":", 40)))
        out.append(("F1", 14, 190, y, pdf_text(value, 90)))
        y -= 26
    if cover.note.strip():
        y -= 20
        out.append(("F2", 14, 72, y, b"Note:"))
        y -= 24
        wrapped: list[str] = []
        for para in cover.note.replace("\r\n", "\n").split("\n"):
            wrapped += textwrap.wrap(para, NOTE_WIDTH) or [""]
        for line in wrapped[:NOTE_LINES]:
            out.append(("F1", 12, 72, y, pdf_text(line, NOTE_WIDTH + 8)))
            y -= 16
    return out


def write_cover_pdf(cover: CoverPage, path: str | os.PathLike) -> Path:
    ops = []
    for font, size, x, y, text in _lines(cover):
        ops.append(b"BT /%s %d Tf %.1f %.1f Td (%s) Tj ET" % (font.encode(), size, x, y, text))
    ops.append(b"2 w 72 740 m 523 740 l S")
    content = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >>"
        b" /Contents 6 0 R >>" % A4,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    p = Path(path)
    p.write_bytes(pdf_file(objects, root=1))
    return p
