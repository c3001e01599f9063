"""What a user sees in the served explore app: the map, switching pairs, overlays, shared links, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.conftest import IDLE
from tests.browser.pages import (
    LOAD_TIMEOUT_MS,
    MIN_PLOT_COLOURS,
    caption,
    distinct_colours,
    map_pixels,
    open_app,
    shows,
    url,
    wait_for_new_map,
    wait_until,
)
from thalia_viewer.core.dataset import ThaliaDataset

pytestmark = pytest.mark.browser


def test_page_loads_and_the_map_is_not_blank(page, app_url):
    open_app(page, app_url)
    rgb = map_pixels(page)
    assert rgb.shape[0] > 200 and rgb.shape[1] > 200
    assert distinct_colours(rgb) >= MIN_PLOT_COLOURS
    for expected in (
        "Thalia viewer",
        "Wrapped phase",
        "Label card",
        "Time series",
        "Dates matrix",
        "next pair",
    ):
        assert shows(page, expected), expected
    assert "pair=" in url(page) and "frame=" in url(page)
    assert not page.console_errors


def test_choosing_another_pair_changes_caption_and_image(page, app_url):
    open_app(page, app_url)
    before_caption, before_map = caption(page), map_pixels(page)
    page.get_by_role("button", name="pair ▶", exact=True).click()
    wait_until(lambda: caption(page) != before_caption, "the caption to change")
    wait_for_new_map(page, before_map)
    after_key = caption(page)
    page.keyboard.press("k")  # back with the keyboard
    wait_until(lambda: caption(page) == before_caption, "k to go back to the first pair")
    assert after_key != before_caption


def test_clicking_a_thumbnail_opens_that_pair(page, app_url):
    open_app(page, app_url)
    thumbs = page.locator(".thumb")
    wait_until(lambda: thumbs.count() > 1, "a time series of several pairs")
    target = thumbs.nth(1) if "current" in (thumbs.nth(0).get_attribute("class") or "") else thumbs.nth(0)
    key = target.get_attribute("data-key")
    before = caption(page)
    target.click()
    wait_until(lambda: caption(page) != before, "the caption to change")
    wait_until(lambda: f"pair={key}" in url(page), "the URL to name the pair")


def test_toggling_an_overlay_changes_the_image(page, app_url):
    open_app(page, app_url)  # opens at a positive pair: the deformation mask is drawn
    before = map_pixels(page)
    page.get_by_role("button", name="Deformation mask", exact=True).click()
    off = wait_for_new_map(page, before)
    assert distinct_colours(off) >= MIN_PLOT_COLOURS
    page.get_by_role("button", name="outline", exact=True).click()
    page.get_by_role("button", name="Deformation mask", exact=True).click()
    outline = wait_for_new_map(page, off)
    assert not np.array_equal(outline, before)  # outline only differs from fill + outline


def test_a_shared_url_reopens_the_same_pair(page, app_url, tiny_root):
    ds = ThaliaDataset(tiny_root)
    frame = ds.frames[-1]
    pair = ds.frame(frame).pairs[4]
    record = ds.annotation(pair)
    open_app(page, f"{app_url}?frame={frame}&pair={pair.name}")
    wait_until(lambda: caption(page).strip() == record["caption"].strip(), "the shared pair's caption")
    assert f"pair={pair.name}" in url(page) and f"frame={frame}" in url(page)
    assert page.locator("select").first.input_value() == frame


def test_a_bad_root_shows_an_error_notification(page, bad_root_url):
    page.goto(bad_root_url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    toast = page.locator(".notyf__toast--error")
    toast.first.wait_for(timeout=20_000)
    assert "does not exist" in toast.first.inner_text()
    assert shows(page, "No dataset to show")


def test_the_time_series_shows_its_thumbnails_on_every_page_load(browser, app_url):
    """Twice: the second page of a primary date gets its thumbnails from the server's cache, pushed before the
    page draws the strip (they were never shown: placeholders for good)."""
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        try:
            _every_thumbnail_drawn(context.new_page(), app_url)
        finally:
            context.close()


def _every_thumbnail_drawn(page, app_url: str) -> None:
    open_app(page, app_url)
    thumbs = page.locator(".thumb")
    wait_until(lambda: thumbs.count() > 1, "the time series")
    page.locator(".strip").first.scroll_into_view_if_needed()
    wait_until(lambda: page.locator(".thumb img").count() == thumbs.count(), "every thumbnail's image")
