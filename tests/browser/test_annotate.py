"""The annotate mode in a browser: draw with the mouse, save, reload, and find the edit and its version."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.browser.conftest import BROWSER_MODEL
from tests.browser.pages import (
    changed_fraction,
    map_pixels,
    open_app,
    shows,
    wait_for_new_map,
    wait_stable,
    wait_until,
)
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair

pytestmark = pytest.mark.browser

AUTHOR, MESSAGE = "Ada Lovelace", "widen the Mogi mask to the north"
SAME_VIEW = 0.02  # fraction of map pixels that may differ between two renderings of the same masks


def current_pair(page) -> Pair:
    """The pair on screen, from the URL the app keeps in sync."""
    query = page.evaluate("() => Object.fromEntries(new URLSearchParams(window.location.search))")
    return Pair.parse(query["pair"], frame=query["frame"])


def map_box(page) -> dict[str, float]:
    """The map canvas's box on screen, scrolled into view first (the time-series strip may scroll it away)."""
    canvas = page.locator(".thalia-map canvas").first
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def drag(page, points: list[tuple[float, float]]) -> None:
    """A mouse drag through ``points`` (fractions of the map canvas)."""
    box = map_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def click_polygon(page, points: list[tuple[float, float]]) -> None:
    """Click each vertex, double-click the last one (closes and fills the polygon)."""
    box = map_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    for x, y in xy[:-1]:
        page.mouse.click(x, y)
        time.sleep(0.5)  # separate clicks, not a double click
        wait_stable(page, 0.2)
    page.mouse.dblclick(*xy[-1])


def test_draw_save_reload_and_find_the_edit_in_history(page, annotate_url, annotate_store, tiny_root):
    open_app(page, annotate_url)
    pair = current_pair(page)
    untouched = map_pixels(page)

    name = page.get_by_placeholder("saved with every version")
    name.fill(AUTHOR)
    name.press("Enter")

    drag(
        page, [(0.35 + 0.02 * i, 0.30 + 0.015 * (i % 4)) for i in range(12)]
    )  # the brush is the default tool
    stroked = wait_for_new_map(page, untouched)
    assert changed_fraction(stroked, untouched) > 0.002

    page.get_by_role("button", name="Polygon", exact=True).click()
    wait_stable(page)
    click_polygon(
        page, [(0.22, 0.08), (0.36, 0.08), (0.36, 0.20), (0.22, 0.20)]
    )  # outside the masks already there
    # the vertices' markers may redraw the map before the filled polygon does: wait for the fill itself
    wait_until(lambda: changed_fraction(map_pixels(page), stroked) > 0.005, "the polygon's fill on the map")
    wait_stable(page)
    edited = map_pixels(page)
    assert shows(page, "unsaved edits")

    message = page.get_by_placeholder("e.g. trim the dyke mask")
    message.fill(MESSAGE)
    message.press("Enter")
    wait_stable(page)
    page.get_by_role("button", name="Save version", exact=True).click()
    wait_until(
        lambda: shows(page, MESSAGE) and shows(page, AUTHOR), "the save to appear in the pair's history"
    )

    store = AnnotationStore(annotate_store, dataset=ThaliaDataset(tiny_root))
    (version,) = store.history(pair=pair)
    assert (version.author, version.message) == (AUTHOR, MESSAGE)
    saved = store.read_pair(pair)
    source = ThaliaDataset(tiny_root).frame(pair.frame).read(pair, ["activity"])["activity"]
    painted = saved.masks[schema.ACTIVITY_MASK] != np.asarray(source)
    assert painted.sum() > 50  # the stroke and the polygon, rasterised at native resolution
    assert set(np.unique(saved.masks[schema.ACTIVITY_MASK][painted])) == {
        schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").code
    }

    page.reload()
    open_app(page, page.evaluate("() => window.location.href"))
    wait_until(lambda: shows(page, MESSAGE), "the history to list the save after a reload")
    assert shows(page, version.short_id)
    reloaded = map_pixels(page)
    assert changed_fraction(reloaded, edited) < SAME_VIEW
    assert changed_fraction(reloaded, untouched) > 0.005
    assert not page.console_errors


def test_predict_shows_overlay_and_scores_and_accepting_puts_it_in_the_editor(page, annotate_url):
    open_app(page, annotate_url)
    before = map_pixels(page)
    page.locator(f"select:has(option:text-is('{BROWSER_MODEL}'))").first.select_option(label=BROWSER_MODEL)
    wait_stable(page)
    page.get_by_role("button", name="Predict this pair", exact=True).click()
    wait_until(lambda: shows(page, "IoU") and shows(page, "Precision"), "the pair's scores", timeout=120)
    overlaid = wait_for_new_map(page, before)
    assert changed_fraction(overlaid, before) > 0.05  # prediction everywhere: green / yellow over the frame
    assert shows(page, BROWSER_MODEL)

    page.get_by_role("button", name="Use prediction as the mask", exact=True).click()
    wait_until(lambda: shows(page, "unsaved edits"), "the accepted prediction to be an unsaved edit")
    wait_until(lambda: shows(page, f"accepted the {BROWSER_MODEL} prediction"), "the editor's status line")
    assert not page.console_errors
