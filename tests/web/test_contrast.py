"""WCAG AA contrast of the colour pairs in webui/static/app.css (issue 9, item 16: the muted grey
measured 4.25 on the page background and 4.44 on table heads). Every rule that sets both a text
colour and a solid background is measured, and so are the pairs that meet through inheritance
(muted text on panels, table heads and the page; sidebar text on the sidebar). The browser test
(test_live_calls_phone_a11y_browser.py) measures what Chromium really draws on every page."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "webui" / "static" / "app.css").read_text()
AA = 4.5


def _root_vars() -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", CSS).group(1)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root))


VARS = _root_vars()


def _hex(value: str) -> str | None:
    value = value.strip()
    m = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if m:
        value = VARS.get(m.group(1), "")
    if value in ("#fff", "white"):
        return "#ffffff"
    return value if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rule(selector: str) -> dict[str, str]:
    m = re.search(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS, re.M)
    assert m, f"no rule {selector}"
    return dict((k.strip(), v.strip()) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", m.group(1)))


def test_the_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#6b7588", "#f3f5f9") == pytest.approx(4.25, abs=0.01)    # the old muted grey


def test_every_rule_with_text_and_background_colours_passes_aa() -> None:
    checked = 0
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS):
        decls = dict((k.strip(), v.strip()) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
        fg = _hex(decls.get("color", ""))
        bg = _hex(decls.get("background", decls.get("background-color", "")))
        if fg and bg:
            checked += 1
            assert contrast(fg, bg) >= AA, f"{selector.strip()}: {fg} on {bg} = {contrast(fg, bg):.2f}"
    assert checked >= 12


@pytest.mark.parametrize(("text", "background"), [
    ("var(--muted)", "var(--panel)"), ("var(--muted)", "var(--bg)"), ("var(--muted)", "#f8fafc"),
    ("var(--text)", "var(--bg)"), ("var(--brand)", "var(--bg)"), ("var(--bad)", "var(--panel)"),
    ("var(--side-text)", "var(--side)"),
])
def test_inherited_pairs_pass_aa(text: str, background: str) -> None:
    fg, bg = _hex(text), _hex(background)
    assert fg and bg
    assert contrast(fg, bg) >= AA, f"{text} on {background} = {contrast(fg, bg):.2f}"


@pytest.mark.parametrize("selector", [".nav-section", ".sidebar-foot"])
def test_sidebar_small_text_passes_aa(selector: str) -> None:
    colour = _hex(_rule(selector)["color"])
    assert colour and contrast(colour, VARS["--side"]) >= AA
