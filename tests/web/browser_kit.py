"""Shared pieces of the owner-first-hour browser tests: Chromium, a simulated office whose engine
keeps ticking in the background (engine API commands on the media thread need it), and the
page checks for accessibility (accessible names, contrast)."""
from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from webui.app import create_app

from .live_server import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ADMIN, PASSWORD = "owner", "Quiet-Harbour-Lantern-8"


class TickingOffice:
    """The simulated board and engine, stepped 10 ms at a time by a background thread (the way the
    media thread runs in `linebox run`), in simulated time. The test drives phones with `step()`,
    which holds the harness's engine lock, so the scenario and the web's engine API calls never race."""

    def __init__(self, tmp: Path) -> None:
        from firmware.harness import Pbx
        self.pbx = Pbx(data_dir=tmp / "pbx")
        self.lock = self.pbx.engine_lock
        self._stop = threading.Event()
        self.pbx.run(0.1)
        self._thread = threading.Thread(target=self._pump, name="test-media", daemon=True)
        self._thread.start()
        self.web_dir = Path(tempfile.mkdtemp(dir=tmp))

    def _pump(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                self.pbx.media.step()
            time.sleep(0.002)

    def step(self, fn: Callable[[Any], Any]) -> Any:
        with self.lock:
            return fn(self.pbx)

    def until(self, predicate: Callable[[Any], bool], timeout_s: float = 10.0) -> None:
        with self.lock:
            self.pbx.run_until(lambda: predicate(self.pbx), timeout_s)

    def app(self):
        p = self.pbx
        return create_app(control=p.control, config=p.config, records=p.records, data_dir=self.web_dir,
                          clock=lambda: p.now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.pbx.close()


@contextmanager
def chromium_page(viewport: dict | None = None) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 860})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.console_errors = errors
        try:
            yield page
        finally:
            context.close()
            browser.close()


@contextmanager
def office_and_server(tmp: Path) -> Iterator[tuple[TickingOffice, str]]:
    office = TickingOffice(tmp)
    try:
        with serve(office.app()) as base:
            yield office, base
    finally:
        office.close()


# Every visible form control must have an accessible name: its <label>, aria-label or
# aria-labelledby (a placeholder or title alone is not a label).
UNNAMED_CONTROLS_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => {
    const by = (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || '').join(' ');
    const labels = [...(e.labels || [])].map(l => l.textContent).join(' ');
    return !((e.getAttribute('aria-label') || '') + by + labels).trim();
  })
  .map(e => e.outerHTML.slice(0, 160))"""

# Text colour against the first opaque background behind it, for every visible text node's element
# (WCAG 2 relative luminance; 4.5:1 for normal text, 3:1 for large text: 24 px, or 18.66 px bold).
LOW_CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const v = m[1].split(',').map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = ({r, g, b}) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bgOf = (el) => { for (let n = el; n; n = n.parentElement) { const s = getComputedStyle(n);
      if (s.backgroundImage !== 'none') return null;         // gradients: not measured here
      const c = parse(s.backgroundColor); if (c && c.a >= 0.99) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (!el.offsetParent && s.position !== 'fixed' || box.width < 2 || box.height < 2) continue;
    if (s.visibility === 'hidden' || parseFloat(s.opacity) < 1 || el.closest('[disabled], .port.state-disabled')) continue;
    const fg = parse(s.color), bg = bgOf(el);
    if (!fg || !bg) continue;
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${s.color} on rgb(${bg.r},${bg.g},${bg.b}) = ${ratio.toFixed(2)}`);
  }
  return out; }"""


def accessibility_problems(page) -> list[str]:
    return [f"no accessible name: {x}" for x in page.evaluate(UNNAMED_CONTROLS_JS)] + \
           [f"contrast: {x}" for x in page.evaluate(LOW_CONTRAST_JS)]
