"""Errors stay local: a damaged pair, frame, annotations file or store shows a notification and a placeholder
where it is, and the rest of the page works (never a blank page).

Roots made with the project's generator, then damaged (``tests.app_roots``): a corrupt phase chunk on one
pair, mask codes outside the schema on another, a ``<frame>.zarr`` that is not a Zarr store (listed first),
a malformed ``annotations.json``; stores that disappear while the server runs, or cannot be created.
Set ``THALIA_SHOTS=DIR`` to keep screenshots of what the user sees.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_roots import (
    BOGUS_FRAME,
    add_non_zarr_store,
    break_annotations,
    copy_root,
    corrupt_chunk,
    write_codes,
)
from tests.browser.conftest import served
from tests.browser.pages import MIN_PLOT_COLOURS, distinct_colours, map_pixels, shows, wait_stable, wait_until
from tests.browser.views import open_page, wait_for_views
from thalia_viewer.core.annotations import STORE_ENV
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair

pytestmark = pytest.mark.browser

EXPLORE_VIEWS = ("url", "pickers", "card", "strip", "marker")
UNWRITABLE = "/sys/thalia-viewer-test-store"  # cannot be created, even by root (sysfs)


def shot(page, name: str) -> None:
    folder = os.environ.get("THALIA_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def at(url: str, pair: Pair, mode: str = "explore") -> str:
    return f"{url}?mode={mode}&frame={pair.frame}&pair={pair.name}"


def problem(page) -> str:
    """The text of the map's placeholder line ('' when hidden)."""
    line = page.locator(".thalia-map-problem .thalia-problem")
    return line.first.inner_text() if line.count() and line.first.is_visible() else ""


class Damaged:
    def __init__(
        self, url: str, root: Path, store: Path, pairs: list[Pair], corrupt: Pair, codes: Pair
    ) -> None:
        self.url, self.root, self.store, self.pairs, self.corrupt, self.codes = (
            url,
            root,
            store,
            pairs,
            corrupt,
            codes,
        )


@pytest.fixture(scope="module")
def damaged(tiny_root, tmp_path_factory) -> Iterator[Damaged]:
    base = tmp_path_factory.mktemp("damaged")
    root = copy_root(tiny_root, base / "root")
    ds = ThaliaDataset(root)
    pairs = ds.frame(ds.frames[0]).pairs
    corrupt, codes = pairs[3], pairs[6]
    corrupt_chunk(root, corrupt)
    write_codes(root, codes)
    add_non_zarr_store(root)
    store = base / "annotations"
    with served(str(root), base / "panel.log", env={STORE_ENV: str(store)}) as url:
        yield Damaged(url, root, store, pairs, corrupt, codes)


@pytest.fixture(scope="module")
def broken_json(tiny_root, tmp_path_factory) -> Iterator[tuple[str, Pair]]:
    base = tmp_path_factory.mktemp("badjson")
    root = copy_root(tiny_root, base / "root")
    ds = ThaliaDataset(root)
    pair = ds.frame(ds.frames[-1]).pairs[4]
    break_annotations(root)
    with served(str(root), base / "panel.log", env={STORE_ENV: UNWRITABLE}) as url:
        yield url, pair


def test_a_corrupt_pair_shows_a_placeholder_and_the_rest_of_the_page_works(page, damaged):
    bad = damaged.corrupt
    open_page(page, at(damaged.url, bad))  # a shared link to the damaged pair
    wait_until(lambda: "cannot be read" in problem(page), "the map to say the pair's phase cannot be read")
    assert "wrapped phase" in problem(page).lower() and str(bad) in problem(page)
    wait_for_views(page, bad, EXPLORE_VIEWS)  # pickers, card, strip, matrix and URL all work, on that pair
    assert shows(page, "error during blosc decompression")  # the notification
    wait_until(
        lambda: page.locator(".thumb.current .problem").count() == 1, "its thumbnail to say it cannot be read"
    )
    shot(page, "corrupt_pair")
    page.keyboard.press("j")  # the other pairs open as usual
    wait_for_views(page, damaged.pairs[4], EXPLORE_VIEWS)
    wait_until(lambda: problem(page) == "", "the placeholder to go with the damaged pair")
    wait_until(
        lambda: distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS, "the next pair's phase on the map"
    )
    page.keyboard.press("k")  # and back to it with the keys
    wait_for_views(page, bad, EXPLORE_VIEWS)
    wait_until(lambda: "cannot be read" in problem(page), "the placeholder again")


def test_mask_codes_outside_the_schema_leave_the_phase_on_the_map(page, damaged):
    open_page(page, at(damaged.url, damaged.codes))
    wait_until(
        lambda: "deformation mask cannot be read" in problem(page).lower(), "the map to name the bad mask"
    )
    assert "not class codes" in problem(page)
    wait_until(lambda: distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS, "the phase under the bad mask")
    wait_for_views(page, damaged.codes, EXPLORE_VIEWS)


def test_a_store_that_is_not_zarr_is_reported_and_the_next_frame_opens(page, damaged):
    open_page(page, damaged.url)  # the broken frame sorts first
    wait_until(lambda: shows(page, f"opening frame {BOGUS_FRAME}"), "the broken frame to be reported")
    frame = page.locator(".thalia-section-navigator select").first
    assert frame.input_value() == damaged.pairs[0].frame
    wait_until(lambda: distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS, "the next frame's map")
    frame.select_option(BOGUS_FRAME)  # picked by hand: refused, the view stays
    wait_until(lambda: frame.input_value() == damaged.pairs[0].frame, "the frame picker to come back")


def test_a_store_removed_while_the_server_runs_is_reported_on_save_and_recovers(page, browser, damaged):
    pair = damaged.pairs[1]
    open_page(page, at(damaged.url, pair, "annotate"))
    name = page.get_by_placeholder("saved with every version")
    name.fill("ana")
    name.press("Enter")
    caption = page.locator(".thalia-label-form textarea").first
    caption.fill("a first caption")  # the store is created by the first save (browsing never writes)
    caption.press("Tab")
    wait_until(lambda: shows(page, "unsaved edits"), "the first edit to be unsaved")
    page.get_by_role("button", name="Save version", exact=True).click()
    wait_until(lambda: page.locator(".thalia-version").count() > 0, "the first save")
    versions = page.locator(".thalia-version").count()
    assert damaged.store.is_dir()
    caption.fill("a caption that must not be lost")
    caption.press("Tab")
    wait_until(lambda: shows(page, "unsaved edits"), "the edit to be unsaved")
    away = damaged.store.with_name("annotations-away")
    shutil.move(damaged.store, away)
    try:
        page.get_by_role("button", name="Save version", exact=True).click()
        wait_until(lambda: shows(page, "is gone"), "the failed save to be reported")
        assert shows(page, "Your edits are kept (unsaved)") and shows(page, "unsaved edits")
        wait_stable(page)
        shot(page, "failed_save")
        other = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
        open_page(other, at(damaged.url, damaged.pairs[2], "annotate"))  # a new page meanwhile: not blank
        wait_until(lambda: shows(other, "Editing is off"), "the new page to say why editing is off")
        wait_for_views(other, damaged.pairs[2], ("url", "pickers", "strip"))
        other.context.close()
    finally:
        shutil.move(away, damaged.store)  # put back: the same page saves
    page.get_by_role("button", name="Save version", exact=True).click()
    wait_until(
        lambda: page.locator(".thalia-version").count() > versions,
        "the save to reach the store once it is back",
    )
    assert shows(page, "no unsaved edits")


def test_a_link_on_a_root_with_broken_json_and_no_writable_store_still_browses(page, broken_json):
    url, pair = broken_json
    open_page(page, at(url, pair))
    wait_for_views(page, pair, ("url", "pickers", "strip", "marker"))
    wait_until(lambda: shows(page, "Labels cannot be read"), "the label card's placeholder")
    assert shows(page, "is not valid JSON")
    wait_until(lambda: distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS, "the pair's phase on the map")
    open_page(
        page, at(url, pair, "annotate")
    )  # no store can be created there: said up front, browsing goes on
    wait_until(
        lambda: shows(page, "Corrections cannot be saved to"), "annotate to say corrections cannot be saved"
    )
    wait_for_views(page, pair, ("url", "pickers", "strip"))
    wait_until(lambda: distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS, "the map in annotate")
