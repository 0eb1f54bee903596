"""End to end in a real browser: a published site, served by ``stig serve``, opened in
headless Chromium at phone size — the trace text is rendered and visible (innerText leaves
out anything hidden), the page needs no sideways scrolling, and text has enough contrast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.running import stig
from tests.publish.browser import chromium, require_chromium
from tests.publish.serving import served

pytestmark = pytest.mark.slow

TEXT = "Solidarity picket at the bus depot from 6am — bring warm drinks"
COLOURS = """JSON.stringify([document.body, document.querySelector('main a')].map(
  e => [getComputedStyle(e).color, getComputedStyle(document.body).backgroundColor]))"""


def luminance(rgb: str) -> float:
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_index_shows_the_trace_in_a_real_browser(tmp_path: Path) -> None:
    require_chromium()
    home = tmp_path / "home"
    stig(home, "init")
    trace = stig(home, "post", "-k", "callout", "-t", "transport", TEXT).stdout.strip()
    site = tmp_path / "site"
    stig(home, "publish", "--out", str(site))
    with served(site) as base, chromium(tmp_path / "profile") as browser:
        tab = browser.open(base)
        visible = browser.evaluate(tab, "document.body.innerText")
        assert TEXT in visible
        assert "#transport" in visible and "fades in" in visible
        assert browser.evaluate(tab, "document.documentElement.lang") == "en"
        assert browser.evaluate(tab, "document.documentElement.scrollWidth <= window.innerWidth"), (
            "the page scrolls sideways on a phone"
        )
        assert browser.evaluate(tab, "document.styleSheets.length") == 1  # style.css loaded
        for fg, bg in json.loads(browser.evaluate(tab, COLOURS)):
            assert contrast(fg, bg) >= 4.5, (fg, bg)

        page = browser.open(f"{base}t/{trace}.html")
        assert TEXT in browser.evaluate(page, "document.body.innerText")
        assert browser.evaluate(page, "document.querySelector('h1').innerText").startswith(
            "call-out"
        )
