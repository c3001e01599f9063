"""The page's icon: ``assets/logo-64.png``, embedded in the page, and still ``logo.svg`` as drawn by Chromium.

Chromium loads the icon again after every address change (every pair step): from a data URI that is nearly
free, from a URL it cost a page 10 to 20 ms of CPU a step (``app/theme.py``).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from tests.browser.pages import open_app
from thalia_viewer.app import theme

pytestmark = pytest.mark.browser

PNG_URI = "data:image/png;base64,"


def _rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"), dtype=np.int16)


def test_the_png_icon_is_the_svg_logo_drawn(browser):
    svg = (theme.ASSETS_DIR / "logo.svg").read_text(encoding="utf-8")
    page = browser.new_page(viewport={"width": 64, "height": 64}, device_scale_factor=1)
    try:
        page.set_content(f"<html><body style='margin:0;background:transparent'>{svg}</body></html>")
        drawn = _rgba(page.locator("svg").screenshot(omit_background=True))
    finally:
        page.close()
    shipped = _rgba((theme.ASSETS_DIR / theme.FAVICON).read_bytes())
    assert shipped.shape == drawn.shape == (64, 64, 4)
    # the same picture (anti-aliasing may differ a little between Chromium versions): redraw it like this
    # test does when logo.svg changes
    assert np.abs(shipped - drawn).mean() < 3.0, "assets/logo-64.png no longer shows assets/logo.svg"


def test_the_page_embeds_the_png_icon(page, app_url):
    open_app(page, app_url)
    hrefs = page.eval_on_selector_all("link[rel='icon']", "links => links.map((l) => l.href)")
    assert len(hrefs) == 1 and hrefs[0].startswith(PNG_URI), hrefs[:1]
    embedded = base64.b64decode(hrefs[0].removeprefix(PNG_URI))
    assert embedded == (theme.ASSETS_DIR / theme.FAVICON).read_bytes()
    assert not page.console_errors
