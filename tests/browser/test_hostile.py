"""No script injected: hostile text in every URL parameter, every annotation field, a frame folder, a model card
and the annotation store's author and message, in every mode (and through a save), reaches the page as text.

Each payload, if some view rendered it as markup, would set ``window.__pwned``, open a dialog, or leave an
element or a handler that :func:`tests.browser.views.injected` finds (shadow roots included). The payload
text itself must be on the page (as text): the test checks that it got there.
"""

from __future__ import annotations

import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_roots import FRAME_PAYLOAD, MARKER_TEXT, PAYLOAD, copy_root, hostile_card, plant_payloads
from tests.browser.conftest import served
from tests.browser.pages import LOAD_TIMEOUT_MS, shows, wait_stable, wait_until
from tests.browser.views import injected, open_page
from thalia_viewer.core.annotations import STORE_ENV, AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair
from thalia_viewer.ml.zoo import ZOO_ENV

pytestmark = pytest.mark.browser

MODES = ("explore", "annotate", "review", "train")


class Hostile:
    def __init__(self, url: str, root: Path, target: Pair, saved: Pair, clean: Pair) -> None:
        self.url, self.root = url, root
        self.target = target  # every field of its record is a payload
        self.saved = saved  # saved in the store by an author and with a message that are payloads
        self.clean = clean  # for a save from the browser

    def at(self, pair: Pair, mode: str, **extra: str) -> str:
        query = {"mode": mode, "frame": pair.frame, "pair": pair.name, **extra}
        return f"{self.url}?{urllib.parse.urlencode(query)}"


@pytest.fixture(scope="module")
def hostile(tiny_root, browser_zoo, tmp_path_factory) -> Iterator[Hostile]:
    base = tmp_path_factory.mktemp("hostile")
    root = copy_root(tiny_root, base / "root")
    ds = ThaliaDataset(root)
    pairs = ds.frame(ds.frames[0]).pairs
    target, saved, clean = pairs[2], pairs[3], pairs[5]
    store_path = base / "annotations"
    store = AnnotationStore(store_path, dataset=ds)
    ann = store.read_merged(saved)
    store.save_pair(saved, ann.masks, ann.record, author=PAYLOAD, message=PAYLOAD, base=ann.version)
    plant_payloads(root, target)
    zoo = base / "zoo"
    shutil.copytree(browser_zoo, zoo)
    hostile_card(zoo)
    log = base / "panel.log"
    with served(str(root), log, env={STORE_ENV: str(store_path), ZOO_ENV: str(zoo)}) as url:
        yield Hostile(url, root, target, saved, clean)


@pytest.fixture
def watched(page):
    """The page, with every dialog recorded (and dismissed)."""
    page.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog) -> None:
        page.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def assert_clean(page, where: str) -> None:
    wait_stable(page)
    found = injected(page)
    assert not page.dialogs, f"{where}: a payload opened dialogs {page.dialogs}"
    assert found["pwned"] is None, f"{where}: a payload ran (window.__pwned = {found['pwned']})"
    assert not found["found"], f"{where}: payload markup in the page: {found['found']}"


def wait_text(page, text: str, what: str) -> None:
    wait_until(lambda: shows(page, text), what, timeout=60)


@pytest.mark.parametrize("mode", MODES)
def test_hostile_url_parameters_are_shown_as_text(watched, hostile, mode):
    bad = {"mode": mode, "frame": PAYLOAD, "pair": PAYLOAD, PAYLOAD: PAYLOAD}
    open_page(watched, f"{hostile.url}?{urllib.parse.urlencode(bad)}")
    wait_text(watched, "no frame '", "the bad frame to be reported")
    assert_clean(watched, f"{mode}: URL payloads")
    assert shows(watched, f"no frame '{MARKER_TEXT}"), "the payload is not on the page as text"
    # a valid frame with a hostile pair
    open_page(
        watched,
        f"{hostile.url}?{urllib.parse.urlencode({'mode': mode, 'frame': hostile.target.frame, 'pair': PAYLOAD})}",
    )
    wait_text(watched, "window.__pwned=2", "the bad pair to be reported")
    assert_clean(watched, f"{mode}: pair payload")
    assert shows(watched, MARKER_TEXT), "the payload is not on the page as text"
    # a hostile mode
    open_page(watched, f"{hostile.url}?{urllib.parse.urlencode({'mode': PAYLOAD})}")
    wait_text(watched, "unknown mode '", "the bad mode to be reported")
    assert_clean(watched, f"{mode}: mode payload")
    assert shows(watched, f"unknown mode '{MARKER_TEXT}"), "the payload is not on the page as text"


@pytest.mark.parametrize("mode", MODES)
def test_hostile_annotations_frame_card_and_store_are_shown_as_text(watched, hostile, mode):
    open_page(watched, hostile.at(hostile.target, mode))
    if mode == "explore":  # the label card: every field of the record
        wait_text(watched, "[click me](javascript:", "the label card's payload fields, as text")
    wait_text(watched, "evil.yaml", "the broken model card's error, as text")
    assert_clean(watched, f"{mode}: annotation and card payloads")
    # the frame folder named by a payload: listed, cannot be opened, said as text; the picker comes back
    picker = watched.locator(".thalia-section-navigator select").first
    picker.select_option(FRAME_PAYLOAD)
    wait_text(watched, f"opening frame {FRAME_PAYLOAD}", "the hostile frame's error, as text")
    wait_until(lambda: picker.input_value() == hostile.target.frame, "the frame picker to come back")
    assert_clean(watched, f"{mode}: frame payload")
    if mode in (
        "annotate",
        "review",
    ):  # the history of a pair saved by a hostile author, with a hostile message
        open_page(watched, hostile.at(hostile.saved, mode))
        wait_until(lambda: watched.locator(".thalia-version").count() > 0, "the pair's history", timeout=60)
        wait_text(watched, "[click me](javascript:", "the hostile author and message in the history, as text")
        assert_clean(watched, f"{mode}: store metadata payloads")


def test_a_save_with_hostile_author_message_and_caption(watched, hostile):
    open_page(watched, hostile.at(hostile.clean, "annotate"))
    name = watched.get_by_placeholder("saved with every version")
    name.fill(PAYLOAD)
    name.press("Enter")
    message = watched.get_by_placeholder("e.g. trim the dyke mask")
    message.fill(PAYLOAD)
    message.press("Enter")
    caption = watched.locator(".thalia-label-form textarea").first
    caption.fill(PAYLOAD)
    caption.press("Tab")
    wait_until(lambda: shows(watched, "unsaved edits"), "the caption edit to be unsaved", timeout=60)
    watched.get_by_role("button", name="Save version", exact=True).click()
    wait_until(
        lambda: watched.locator(".thalia-version").count() > 0, "the save in the pair's history", timeout=90
    )
    wait_text(watched, "[click me](javascript:", "the hostile author in the history, as text")
    assert_clean(watched, "annotate: after a hostile save")
    # the pair whose record is all payloads: saving it is refused with its values quoted, as text
    watched.goto(hostile.at(hostile.target, "annotate"), timeout=LOAD_TIMEOUT_MS)
    open_page(watched, hostile.at(hostile.target, "annotate"))
    name = watched.get_by_placeholder("saved with every version")
    name.fill("ana")
    name.press("Enter")
    caption = watched.locator(".thalia-label-form textarea").first
    caption.fill(PAYLOAD + " again")
    caption.press("Tab")
    wait_until(lambda: shows(watched, "unsaved edits"), "the caption edit to be unsaved", timeout=60)
    watched.get_by_role("button", name="Save version", exact=True).click()
    wait_text(watched, "not saved", "the refused save to be reported")
    assert_clean(watched, "annotate: a refused hostile save")
