"""The renderer's child process: a document (PDF, PNG, JPEG, TIFF) in, fax pages out.

Run only by `render.render_document` (`python -m firmware.fax.render_child SRC OUTDIR LPI MAX_PAGES`),
inside the limits it sets (address space, CPU seconds, file size, a wall-clock timeout on the
whole process group). Everything that parses the untrusted file happens here or in the Debian
tools it starts (poppler's pdfinfo / pdftoppm, netpbm's pngtopnm / jpegtopnm / tifftopnm), which
inherit the same limits. It writes into OUTDIR:

    document.tif      the pages as a G4 TIFF-F, 1728 pixels wide, A4, at LPI (98 or 196) lines per inch
    page-001.png ...  a grey thumbnail of each page, 216 pixels wide

and prints one JSON line: {"pages": N} or {"error": "what was wrong and what to do"}.
"""
from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

WIDTH = 1728                      # a fax line: 215 mm at 204 dpi
X_DPI = 204
PAGE_W_IN = WIDTH / X_DPI         # 8.47 in
A4_H_IN = 297 / 25.4              # 11.69 in
MAX_IMAGE_PIXELS = 60_000_000     # an image claiming more is refused before it is decoded
THUMB_W = 216
TOOL_TIMEOUT_S = 40


class DocumentError(Exception):
    """What is wrong with the document, in words for the person who sent it."""


def sniff(head: bytes) -> str:
    """The kind of document from its first bytes (never from its name)."""
    if not head:
        raise DocumentError("The file is empty. Choose the document again.")
    if head.lstrip(b"\x00\t\r\n\x0c ")[:5] == b"%PDF-":
        return "pdf"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    raise DocumentError("This file is not a PDF, PNG, JPEG or TIFF document (whatever its name says). "
                        "Save it as PDF and send that.")


# ---- image headers: refuse absurd sizes before any decoder allocates for them

def png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise DocumentError("This PNG image is damaged (no image header). Save it again and send that.")
    return struct.unpack(">II", data[16:24])


def jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seg = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seg
    raise DocumentError("This JPEG image is damaged (no frame header). Save it again and send that.")


def tiff_sizes(data: bytes, max_pages: int) -> list[tuple[int, int]]:
    """(width, height) of each image of a TIFF, from its directories (no pixel data read)."""
    order = "<" if data[:2] == b"II" else ">"
    sizes: list[tuple[int, int]] = []
    (offset,) = struct.unpack(order + "I", data[4:8])
    seen: set[int] = set()
    while offset and len(sizes) <= max_pages:
        if offset in seen or offset + 2 > len(data):
            raise DocumentError("This TIFF file is damaged (its page list is broken). Save it again and send that.")
        seen.add(offset)
        (n,) = struct.unpack(order + "H", data[offset:offset + 2])
        w = h = 0
        for k in range(n):
            e = offset + 2 + 12 * k
            if e + 12 > len(data):
                raise DocumentError("This TIFF file is damaged (a page header is cut off). Save it again.")
            tag, typ = struct.unpack(order + "HH", data[e:e + 4])
            if tag in (256, 257):
                value = struct.unpack(order + ("H" if typ == 3 else "I"), data[e + 8:e + (10 if typ == 3 else 12)])[0]
                if tag == 256:
                    w = value
                else:
                    h = value
        sizes.append((w, h))
        nxt = offset + 2 + 12 * n
        offset = struct.unpack(order + "I", data[nxt:nxt + 4])[0] if nxt + 4 <= len(data) else 0
    return sizes


def _check_pixels(w: int, h: int, what: str) -> None:
    if w < 1 or h < 1:
        raise DocumentError(f"This {what} says it has no pixels ({w} x {h}). Save it again and send that.")
    if w * h > MAX_IMAGE_PIXELS:
        raise DocumentError(f"This {what} claims {w} x {h} pixels, far more than a fax page can show "
                            f"(at most {MAX_IMAGE_PIXELS // 1_000_000} million). Scale it down and send it again.")


# ---- decoding

def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise DocumentError(f"Reading this {what} took too long (over {TOOL_TIMEOUT_S} s). "
                            "It may be damaged or far too complex; print it to a simpler PDF and send that.") from None
    except OSError as exc:
        raise DocumentError(f"The {cmd[0]} tool is missing on this Linebox ({exc.strerror}); "
                            "the installer must install poppler-utils and netpbm.") from None
    return done


def read_pnm(blob: bytes) -> list[np.ndarray]:
    """Grey images (0 black .. 1 white, float32) from a (multi-image) PNM stream: P4, P5, P6."""
    out: list[np.ndarray] = []
    pos = 0
    token = re.compile(rb"(?:\s|#[^\n]*\n)*(\S+)")
    while pos < len(blob) and blob[pos:].strip():
        fields: list[bytes] = []
        magic_m = token.match(blob, pos)
        if magic_m is None:
            break
        magic = magic_m.group(1)
        pos = magic_m.end()
        need = 2 if magic == b"P4" else 3
        for _ in range(need):
            m = token.match(blob, pos)
            if m is None:
                raise DocumentError("The image could not be decoded. Save it again as PNG and send that.")
            fields.append(m.group(1))
            pos = m.end()
        pos += 1                                  # the single whitespace before the pixels
        w, h = int(fields[0]), int(fields[1])
        _check_pixels(w, h, "image")
        if magic == b"P4":
            stride = (w + 7) // 8
            raw = np.frombuffer(blob, np.uint8, stride * h, pos).reshape(h, stride)
            pos += stride * h
            out.append(1.0 - np.unpackbits(raw, axis=1)[:, :w].astype(np.float32))
            continue
        maxval = int(fields[2])
        dt = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        ch = 3 if magic == b"P6" else 1
        if magic not in (b"P5", b"P6"):
            raise DocumentError("The image could not be decoded. Save it again as PNG and send that.")
        n = w * h * ch
        a = np.frombuffer(blob, dt, n, pos).astype(np.float32).reshape(h, w, ch) / maxval
        pos += n * dt.itemsize
        grey = a[..., 0] if ch == 1 else a @ np.array([0.299, 0.587, 0.114], np.float32)
        out.append(grey)
    if not out:
        raise DocumentError("The image could not be decoded. Save it again as PNG and send that.")
    return out


def _pdf_info(src: Path, max_pages: int) -> list[tuple[float, float]]:
    done = _run(["pdfinfo", "-l", str(max_pages + 1), str(src)], "PDF")
    text = done.stdout.decode("latin-1", "replace")
    err = done.stderr.decode("latin-1", "replace")
    if done.returncode != 0:
        if "password" in err.lower() or "encrypt" in err.lower():
            raise DocumentError("This PDF is protected by a password. Open it, save or print an unprotected copy "
                                "and send that.")
        raise DocumentError("This PDF is damaged and cannot be read. Open it and save or print it to a new PDF, "
                            "then send that.")
    if re.search(r"^Encrypted:\s+yes", text, re.M):
        raise DocumentError("This PDF is encrypted (protected). Save or print an unprotected copy and send that.")
    m = re.search(r"^Pages:\s+(\d+)", text, re.M)
    pages = int(m.group(1)) if m else 0
    if pages < 1:
        raise DocumentError("This PDF has no pages. Check it is the right file.")
    if pages > max_pages:
        raise DocumentError(f"This PDF has {pages} pages; a fax can take at most {max_pages}. "
                            "Split it and send the parts as separate faxes.")
    sizes = [(float(w), float(h)) for w, h in
             re.findall(r"^Page\s+\d+\s+size:\s+([\d.]+)\s+x\s+([\d.]+)\s+pts", text, re.M)]
    if not sizes:
        sizes = [(float(w), float(h)) for w, h in re.findall(r"^Page size:\s+([\d.]+)\s+x\s+([\d.]+)", text, re.M)]
        sizes = sizes * pages if sizes else []
    if len(sizes) != pages:
        raise DocumentError("This PDF is damaged (its page sizes cannot be read). Print it to a new PDF and send that.")
    return sizes


def _pdf_pages(src: Path, lpi: int, max_pages: int, tmp: Path) -> list[np.ndarray]:
    out = []
    for i, (w_pt, h_pt) in enumerate(_pdf_info(src, max_pages), start=1):
        if w_pt <= 0 or h_pt <= 0:
            raise DocumentError(f"Page {i} of this PDF has no size. Print it to a new PDF and send that.")
        # Fit the page into a fax page (8.47 x 11.69 in), never enlarging it: a huge page is
        # rendered small, so its size costs nothing.
        scale = min(1.0, PAGE_W_IN / (w_pt / 72), A4_H_IN / (h_pt / 72))
        rx, ry = X_DPI * scale, lpi * scale
        root = tmp / f"p{i}"
        # No anti-aliasing: text and rules come out pure black and white, so only real greys
        # (photos, shading) are grey, and to_bilevel can tell them apart.
        done = _run(["pdftoppm", "-gray", "-aa", "no", "-aaVector", "no", "-f", str(i), "-l", str(i), "-rx", f"{rx:.4f}", "-ry", f"{ry:.4f}",
                     "-singlefile", str(src), str(root)], "PDF")
        pgm = root.with_suffix(".pgm")
        if done.returncode != 0 or not pgm.exists():
            raise DocumentError(f"Page {i} of this PDF could not be drawn (it is damaged or too complex). "
                                "Print it to a new PDF and send that.")
        out.append(read_pnm(pgm.read_bytes())[0])
        pgm.unlink()
    return out


def _image_pages(src: Path, kind: str, max_pages: int) -> list[np.ndarray]:
    data = src.read_bytes()
    if kind == "png":
        _check_pixels(*png_size(data), "PNG image")
        tool = ["pngtopnm", "-mix", "-background", "white"]
    elif kind == "jpeg":
        _check_pixels(*jpeg_size(data), "JPEG image")
        tool = ["jpegtopnm"]
    else:
        sizes = tiff_sizes(data, max_pages)
        if len(sizes) > max_pages:
            raise DocumentError(f"This TIFF has more than {max_pages} pages; a fax can take at most {max_pages}. "
                                "Split it and send the parts as separate faxes.")
        for w, h in sizes:
            _check_pixels(w, h, "TIFF image")
        tool = ["tifftopnm", "-byrow"]
    done = _run(tool + [str(src)], "image")
    if done.returncode != 0 or not done.stdout:
        raise DocumentError(f"This {kind.upper()} image could not be decoded (it is damaged). "
                            "Save it again and send that.")
    pages = read_pnm(done.stdout)
    if len(pages) > max_pages:
        raise DocumentError(f"This document has {len(pages)} pages; a fax can take at most {max_pages}.")
    return pages


# ---- to fax pages

def resample(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Box-filter resampling (the mean of the source pixels under each target pixel)."""
    def axis(a: np.ndarray, n_out: int, ax: int) -> np.ndarray:
        n_in = a.shape[ax]
        start = (np.arange(n_out) * n_in) // n_out
        end = np.maximum(((np.arange(n_out) + 1) * n_in) // n_out, start + 1)
        cs = np.cumsum(a, axis=ax, dtype=np.float64)
        cs = np.concatenate([np.zeros_like(np.take(cs, [0], axis=ax)), cs], axis=ax)
        total = np.take(cs, end, axis=ax) - np.take(cs, start, axis=ax)
        shape = [1, 1]
        shape[ax] = n_out
        return (total / (end - start).reshape(shape)).astype(np.float32)
    return axis(axis(img, out_h, 0), out_w, 1)


def fit_image(img: np.ndarray, lpi: int) -> np.ndarray:
    """A photo or scan (square pixels) scaled to fit a fax page, keeping its proportions."""
    h, w = img.shape
    rows = round(A4_H_IN * lpi)
    # In fax pixels the page is WIDTH x rows; one source pixel is 1/w of the width.
    sx = WIDTH / w
    sy = sx * lpi / X_DPI
    if h * sy > rows:
        sy = rows / h
        sx = sy * X_DPI / lpi
    return resample(img, max(1, round(h * sy)), max(1, round(w * sx)))


_BAYER = np.array([[0, 32, 8, 40, 2, 34, 10, 42], [48, 16, 56, 24, 50, 18, 58, 26],
                   [12, 44, 4, 36, 14, 46, 6, 38], [60, 28, 52, 20, 62, 30, 54, 22],
                   [3, 35, 11, 43, 1, 33, 9, 41], [51, 19, 59, 27, 49, 17, 57, 25],
                   [15, 47, 7, 39, 13, 45, 5, 37], [63, 31, 55, 23, 61, 29, 53, 21]], np.float32)
_BAYER = (_BAYER + 0.5) / 64.0
TILE = 32
PHOTO_MIDTONES = 0.3              # a tile with this share of grey pixels is a picture: dithered


def to_bilevel(grey: np.ndarray) -> np.ndarray:
    """1 = black. Text and line art are thresholded (sharp edges); tiles that are mostly mid-grey
    (photos, shading) get an ordered dither, so their tones survive as dot density."""
    h, w = grey.shape
    th, tw = -(-h // TILE), -(-w // TILE)
    padded = np.ones((th * TILE, tw * TILE), np.float32)
    padded[:h, :w] = grey
    mid = ((padded > 0.04) & (padded < 0.96)).reshape(th, TILE, tw, TILE).mean(axis=(1, 3))
    photo = np.kron(mid > PHOTO_MIDTONES, np.ones((TILE, TILE), bool))[:h, :w]
    threshold = np.tile(_BAYER, (-(-h // 8), -(-w // 8)))[:h, :w]
    return np.where(photo, grey < threshold, grey < 0.55).astype(np.uint8)


def place(page: np.ndarray, lpi: int) -> np.ndarray:
    """A rendered page (already at fax resolution) centred across and at the top of an A4 fax page."""
    rows = round(A4_H_IN * lpi)
    out = np.zeros((rows, WIDTH), np.uint8)
    h, w = page.shape
    src = page[:rows, max(0, (w - WIDTH) // 2):max(0, (w - WIDTH) // 2) + WIDTH]
    x0 = max(0, (WIDTH - src.shape[1]) // 2)
    out[:src.shape[0], x0:x0 + src.shape[1]] = src
    return out


def write_png(path: Path, grey: np.ndarray) -> None:
    """An 8-bit grey PNG (our own few lines: zlib and CRCs from the standard library)."""
    h, w = grey.shape
    raw = b"".join(b"\x00" + grey[r].tobytes() for r in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def thumbnail(page: np.ndarray, lpi: int) -> np.ndarray:
    """Grey preview of a bilevel fax page, THUMB_W wide, square pixels again."""
    h = round(page.shape[0] * X_DPI / lpi * THUMB_W / WIDTH)
    return (255 - resample(page.astype(np.float32), h, THUMB_W) * 255).round().astype(np.uint8)


def render(src: Path, outdir: Path, lpi: int, max_pages: int) -> int:
    from dsp_ext.fax import write_tiff
    with open(src, "rb") as f:
        head = f.read(16)
    kind = sniff(head)
    with tempfile.TemporaryDirectory(dir=outdir) as tmp:
        if kind == "pdf":
            pages = [place(to_bilevel(g), lpi) for g in _pdf_pages(src, lpi, max_pages, Path(tmp))]
        else:
            pages = [place(to_bilevel(fit_image(g, lpi)), lpi) for g in _image_pages(src, kind, max_pages)]
    for i, p in enumerate(pages, start=1):
        write_png(outdir / f"page-{i:03d}.png", thumbnail(p, lpi))
    write_tiff(outdir / "document.tif", pages, lpi)
    return len(pages)


def main(argv: list[str]) -> int:
    src, outdir, lpi, max_pages = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3])
    try:
        pages = render(src, outdir, lpi, max_pages)
    except DocumentError as exc:
        print(json.dumps({"error": str(exc)}))
        return 0
    except MemoryError:
        print(json.dumps({"error": "This document needs more memory to draw than a fax may take. "
                                   "Print it to a simpler PDF (fewer or smaller pictures) and send that."}))
        return 0
    print(json.dumps({"pages": pages}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
