"""Test charts for fax: bilevel A4 pages 1728 pixels wide, generated (no files shipped).

Three kinds, each stressing the T.4/T.6 coder and the modem differently:
- "lineart": rulings, boxes, diagonals, circles and a resolution wedge (long runs, edges);
- "text": lines of glyph-like 5x7 characters at a 10-point pitch (short runs, many transitions);
- "halftone": a clustered-dot screen of a grey ramp and a shaded disc (hard on compression).

A4 is 297 mm: 1146 rows at 98 lpi (standard), 2292 at 196 lpi (fine).
"""
from __future__ import annotations

import numpy as np

__all__ = ["CHART_KINDS", "WIDTH", "a4_rows", "chart", "document"]

WIDTH = 1728
CHART_KINDS = ("lineart", "text", "halftone")


def a4_rows(y_lpi: int) -> int:
    return round(297 / 25.4 * y_lpi)


def _lineart(rows: int, seed: int) -> np.ndarray:
    p = np.zeros((rows, WIDTH), np.uint8)
    p[40:44, 60:WIDTH - 60] = 1
    p[rows - 44:rows - 40, 60:WIDTH - 60] = 1
    p[40:rows - 40, 60:64] = 1
    p[40:rows - 40, WIDTH - 64:WIDTH - 60] = 1
    cy, cx = rows // 3, WIDTH // 2
    y0, x0 = max(cy - 420, 0), cx - 420
    yy, xx = np.mgrid[y0:cy + 420, x0:cx + 420]
    dist = np.hypot(yy - cy, xx - cx)
    for k in range(6):                                    # concentric circles
        r = 80 + 60 * k + seed % 7
        p[y0:cy + 420, x0:cx + 420] |= (np.abs(dist - r) < 1.5).astype(np.uint8)
    top = rows // 2
    h = min(600, rows - top - 60)
    yy, xx = np.mgrid[top:top + h, 200:800]
    for k in range(0, 400, 40):                           # diagonals
        p[top:top + h, 200:800] |= (np.abs((xx - 200) - (yy - top - k)) < 1).astype(np.uint8)
    for i, w in enumerate((1, 2, 3, 4, 6, 8)):            # resolution wedge: bars w pixels wide
        x0 = 900 + i * 120
        for x in range(x0, x0 + 100, 2 * w):
            p[top:top + min(300, h), x:x + w] = 1
    return p


def _text(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    glyphs = (rng.random((64, 7, 5)) < 0.45).astype(np.uint8)
    glyphs[0] = 0                                         # a space
    p = np.zeros((rows, WIDTH), np.uint8)
    scale = 3 if rows > 1500 else 2                       # about 10 pt at either resolution
    sx = 3
    gh, gw = 7 * scale, 5 * sx
    y = 80
    while y + gh < rows - 80:
        x = 100
        n = int(rng.integers(40, (WIDTH - 200) // (gw + sx)))
        for code in rng.integers(0, 64, n):
            code = 0 if rng.random() < 0.17 else int(code)
            g = np.kron(glyphs[code], np.ones((scale, sx), np.uint8))
            p[y:y + gh, x:x + gw] = g
            x += gw + sx
        y += gh + 2 * scale + (scale * 6 if rng.random() < 0.1 else 0)
    return p


_CELL = 8                                                 # clustered-dot screen: 8 px cells (~25 lpi)


def _halftone(rows: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:rows, 0:WIDTH]
    grey = xx / WIDTH                                     # ramp left to right
    disc = np.hypot(yy - rows * 0.6, xx - WIDTH / 2) < WIDTH / 4
    grey = np.where(disc, 0.5 + 0.4 * np.sin(yy / (37.0 + seed)) * np.cos(xx / 53.0), grey)
    # Distance from the cell centre, normalised to 0..1: a dot grows from the centre as grey rises.
    dy, dx = (yy % _CELL) - (_CELL - 1) / 2, (xx % _CELL) - (_CELL - 1) / 2
    threshold = np.hypot(dy, dx) / np.hypot((_CELL - 1) / 2, (_CELL - 1) / 2)
    return (grey > threshold).astype(np.uint8)


def chart(kind: str, y_lpi: int = 196, seed: int = 0) -> np.ndarray:
    """One page, (rows, 1728) uint8, 1 = black."""
    rows = a4_rows(y_lpi)
    if kind == "lineart":
        return _lineart(rows, seed)
    if kind == "text":
        return _text(rows, seed)
    if kind == "halftone":
        return _halftone(rows, seed)
    raise ValueError(f"unknown chart {kind!r}: use one of {', '.join(CHART_KINDS)}")


def document(kinds: list[str] | tuple[str, ...], y_lpi: int = 196) -> list[np.ndarray]:
    """Pages of the given kinds, in order (page i uses seed i, so repeated kinds differ)."""
    return [chart(k, y_lpi, seed=i) for i, k in enumerate(kinds)]
