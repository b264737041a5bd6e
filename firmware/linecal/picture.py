"""A picture of an echo path's impulse response: self-contained SVG, drawn server-side.

No script, no style sheet (the pages' CSP allows none inline), no CDN: a line plot of the response (linear amplitude,
normalised to its peak) over the first `ms` milliseconds, a millisecond grid, the
bulk delay and the tail marked, and the ERL in the caption. Every number put into
the SVG is formatted here (no text from outside goes in unescaped).
"""
from __future__ import annotations

from html import escape

import numpy as np

from dsp_ext.levels import RATE

WIDTH, HEIGHT = 720, 260
PAD_L, PAD_R, PAD_T, PAD_B = 48, 16, 28, 36


def impulse_response_svg(ir: list[float] | np.ndarray, erl_db: float | None = None,
                         delay_ms: float | None = None, tail_ms: float | None = None,
                         title: str = "Echo path impulse response", ms: float | None = None) -> str:
    h = np.asarray(ir, dtype=np.float64)
    if ms is None:
        span = (tail_ms or h.size * 1000 / RATE) * 1.5 + 4
        ms = float(min(h.size * 1000 / RATE, max(16.0, 8 * np.ceil(span / 8))))
    n = max(2, min(h.size, int(round(ms * RATE / 1000))))
    h = h[:n]
    peak = float(np.max(np.abs(h))) or 1.0
    y = h / peak
    pw, ph = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    xs = PAD_L + np.arange(n) * pw / (n - 1)
    ys = PAD_T + ph / 2 - y * ph / 2
    points = " ".join(f"{x:.1f},{v:.1f}" for x, v in zip(xs, ys, strict=True))
    step = 1 if ms <= 16 else 2 if ms <= 32 else 4 if ms <= 64 else 8 if ms <= 128 else 16
    grid = []
    t = 0.0
    while t <= ms + 1e-9:
        gx = PAD_L + t / ms * pw
        grid.append(f'<line x1="{gx:.1f}" y1="{PAD_T}" x2="{gx:.1f}" y2="{PAD_T + ph}" stroke="#dddddd" stroke-width="1"/>'
                    f'<text x="{gx:.1f}" y="{HEIGHT - PAD_B + 16}" font-family="sans-serif" font-size="11" fill="#333333" text-anchor="middle">{t:g}</text>')
        t += step
    marks = []
    if delay_ms is not None and 0 <= delay_ms <= ms:
        mx = PAD_L + delay_ms / ms * pw
        marks.append(f'<line x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{PAD_T + ph}" stroke="#c62828" stroke-dasharray="4 3"/>'
                     f'<text x="{mx + 4:.1f}" y="{PAD_T + 12}" font-family="sans-serif" font-size="11" fill="#333333">delay {delay_ms:.1f} ms</text>')
    if tail_ms is not None and 0 <= tail_ms <= ms:
        mx = PAD_L + tail_ms / ms * pw
        marks.append(f'<line x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{PAD_T + ph}" stroke="#2e7d32" stroke-dasharray="4 3"/>'
                     f'<text x="{mx + 4:.1f}" y="{PAD_T + ph - 6}" font-family="sans-serif" font-size="11" fill="#333333">tail {tail_ms:.0f} ms</text>')
    caption = escape(title) + (f" — ERL {erl_db:.1f} dB" if erl_db is not None else "")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{caption}" class="echo-ir">'
        f'<text x="{PAD_L}" y="16" font-family="sans-serif" font-size="12" font-weight="bold" fill="#333333">{caption}</text>'
        + "".join(grid)
        + f'<line x1="{PAD_L}" y1="{PAD_T + ph / 2:.1f}" x2="{PAD_L + pw}" y2="{PAD_T + ph / 2:.1f}" stroke="#888888" stroke-width="1"/>'
        + "".join(marks)
        + f'<polyline points="{points}" fill="none" stroke="#1565c0" stroke-width="1.5" class="ir"/>'
        f'<text x="{PAD_L + pw / 2:.1f}" y="{HEIGHT - 4}" font-family="sans-serif" font-size="11" fill="#333333" text-anchor="middle">time after we send (ms)</text>'
        "</svg>"
    )
