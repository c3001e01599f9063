"""What the browser tests do on a page: open the app, wait for it, read the map's pixels and the page's text."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import IDLE

LOAD_TIMEOUT_MS = 90_000  # the first session also compiles Datashader's kernels
CHANGE_TIMEOUT_S = 30
MIN_PLOT_COLOURS = 150  # a wrapped-phase view has hundreds of distinct colours; a blank plot a handful


def open_app(page, url: str) -> None:
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    page.locator(".thalia-map canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_stable(page)


def wait_stable(page, seconds: float = 0.6) -> None:
    """Idle, then idle again after a pause (a server round trip may still be on its way)."""
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    time.sleep(seconds)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)


def map_pixels(page, attempts: int = 5) -> np.ndarray:
    """RGB pixels of the map's plot area (the canvas of the HoloViews pane).

    Showing or hiding a layer rebuilds the plot, so the element may be replaced while we look: retry.
    """
    for attempt in range(attempts):
        try:
            png = page.locator(".thalia-map").first.screenshot(timeout=10_000)
            return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        except PlaywrightError:
            if attempt == attempts - 1:
                raise
            wait_stable(page)
    raise AssertionError("unreachable")


def distinct_colours(rgb: np.ndarray) -> int:
    return len(np.unique(rgb.reshape(-1, 3), axis=0))


def shows(page, text: str) -> bool:
    """Whether some element shows ``text`` (Playwright's locators see inside Panel's shadow roots)."""
    return page.get_by_text(text).count() > 0


def caption(page) -> str:
    return page.locator(".thalia-caption").first.inner_text()


def url(page) -> str:
    """The page's URL as the browser has it now (``page.url`` only updates when Playwright pumps events)."""
    return page.evaluate("() => window.location.href")


def wait_until(predicate, what: str, timeout: float = CHANGE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


def wait_for_new_map(page, before: np.ndarray) -> np.ndarray:
    holder: dict[str, np.ndarray] = {}

    def changed() -> bool:
        holder["now"] = map_pixels(page)
        return holder["now"].shape != before.shape or not np.array_equal(holder["now"], before)

    wait_until(changed, "the map to change")
    wait_stable(page)
    return map_pixels(page)


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels that differ between two map screenshots (1.0 when their sizes differ)."""
    if a.shape != b.shape:
        return 1.0
    return float((a != b).any(axis=-1).mean())


def element_pixels(page, selector: str) -> np.ndarray:
    """RGB pixels of the first element matching ``selector`` (e.g. a section holding a plot)."""
    png = page.locator(selector).first.screenshot(timeout=30_000)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
