"""One navigation everywhere: pair keys in every mode at any rate, Back / Forward, matrix clicks, bad URLs.

Served on a frame with 40+ pairs (30 dates), so 30 steps never reach its end. After every sequence the
address bar, the pickers, the label card, the time-series strip and the dates matrix's marker must all show
the same pair, and the server must have logged no error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import served
from tests.browser.pages import open_app, shows, wait_until
from tests.browser.views import (
    SETTLE_TIMEOUT_S,
    click_matrix_cell,
    open_page,
    query,
    scroll_offsets,
    wait_for_views,
)
from thalia_viewer.core.annotations import STORE_ENV
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.synth.writer import write_dataset
from thalia_viewer.ml.zoo import ZOO_ENV

pytestmark = pytest.mark.browser

EXPLORE_VIEWS = ("url", "pickers", "card", "strip", "marker")
EDIT_VIEWS = ("url", "pickers", "strip")  # annotate: the label form instead of the card, no matrix
STEPS = 30


class Served:
    """A served app, its root's pairs, and its server log (to check that nothing failed there)."""

    def __init__(self, url: str, root: Path, log: Path) -> None:
        self.url, self.root, self.log = url, root, log
        ds = ThaliaDataset(root)
        self.frame = max(ds.frames, key=lambda f: len(ds.frame(f).pairs))
        self.pairs: list[Pair] = ds.frame(self.frame).pairs
        self._log_at = 0

    def at(self, pair: Pair, mode: str = "explore") -> str:
        return f"{self.url}?mode={mode}&frame={pair.frame}&pair={pair.name}"

    def mark_log(self) -> None:
        self._log_at = self.log.stat().st_size

    def new_errors(self) -> list[str]:
        text = self.log.read_text(errors="replace")[self._log_at :]
        return [line for line in text.splitlines() if "Error" in line and "WebSocket" not in line]


@pytest.fixture(scope="module")
def nav(tmp_path_factory, browser_zoo) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("nav") / "root"
    write_dataset(root, n_frames=1, shape=(128, 128), n_dates=30, seed=3)
    log = tmp_path_factory.mktemp("serve-nav") / "panel.log"
    store = tmp_path_factory.mktemp("nav-store") / "annotations"
    with served(str(root), log, env={STORE_ENV: str(store), ZOO_ENV: str(browser_zoo)}) as url:
        app = Served(url, root, log)
        assert len(app.pairs) > STEPS + 1
        yield app


def test_j_thirty_times_with_no_delay_every_view_agrees(page, nav):
    """A burst of 30 ``j`` right after the page settles, then 10 ``k``, each as soon as the address bar shows
    the previous step; every view agrees at the end, and the server logged no error.

    Before the fix a step could reach the pickers and raise in the dates matrix (``_pending_writes should be
    non-None``, when the key arrived while the browser's address-bar echo was being handled): the address
    bar, strip and marker kept the old pair until a later step. On that code this test fails: the server
    log holds those errors after the burst, and a paced step's address bar stays behind.
    """
    start = nav.pairs[0]
    open_app(page, nav.at(start))
    nav.mark_log()
    for _ in range(STEPS):
        page.keyboard.press("j")
    wait_for_views(page, nav.pairs[STEPS], EXPLORE_VIEWS)
    for i in range(STEPS - 1, STEPS - 11, -1):  # the next key as soon as the address bar shows the last step
        page.keyboard.press("k")
        key = nav.pairs[i].name
        page.wait_for_function(
            f"() => window.location.search.includes('pair={key}')",
            polling=20,
            timeout=SETTLE_TIMEOUT_S * 1000,
        )
    wait_for_views(page, nav.pairs[STEPS - 10], EXPLORE_VIEWS)
    assert scroll_offsets(page) == 0  # the keys never scroll the page
    assert not nav.new_errors()


def test_back_and_forward_move_between_visited_pairs(page, nav):
    a, b, c = nav.pairs[3], nav.pairs[4], nav.pairs[5]
    open_app(page, nav.at(a))
    page.keyboard.press("j")
    wait_for_views(page, b, EXPLORE_VIEWS)
    page.keyboard.press("j")
    wait_for_views(page, c, EXPLORE_VIEWS)
    page.evaluate("() => history.back()")
    wait_for_views(page, b, EXPLORE_VIEWS)
    page.evaluate("() => history.back()")
    wait_for_views(page, a, EXPLORE_VIEWS)
    page.evaluate("() => history.forward()")
    wait_for_views(page, b, EXPLORE_VIEWS)
    page.keyboard.press("j")  # a new step after Back continues from there
    wait_for_views(page, c, EXPLORE_VIEWS)


def test_ten_matrix_clicks_in_a_row_each_move_the_strip_and_the_marker(page, nav):
    open_app(page, nav.at(nav.pairs[0]))
    nav.mark_log()
    targets = [nav.pairs[i] for i in (12, 3, 25, 7, 33, 18, 1, 29, 9, 22)]
    for pair in targets:
        click_matrix_cell(page, pair)
        wait_for_views(page, pair, EXPLORE_VIEWS)
    assert not nav.new_errors()


@pytest.mark.parametrize("mode", ["annotate", "review", "train"])
def test_pair_keys_step_in_every_mode(page, nav, mode):
    start = nav.pairs[10]
    open_page(page, nav.at(start, mode))
    present = EDIT_VIEWS if mode == "annotate" else ("url", "pickers")
    wait_for_views(page, start, present)
    page.keyboard.press("j")
    wait_for_views(page, nav.pairs[11], present)
    page.keyboard.press("k")
    page.keyboard.press("k")
    wait_for_views(page, nav.pairs[9], present)
    page.keyboard.press("]")  # next primary date (the pair of the closest baseline there)
    wait_until(
        lambda: query(page).get("pair", "") > f"{nav.pairs[9].primary}_~",
        f"] to step the primary date in {mode}",
    )
    wait_for_views(page, Pair.parse(query(page)["pair"], frame=nav.frame), present)
    assert query(page).get("mode") == mode
    assert scroll_offsets(page) == 0


def test_unknown_mode_and_frame_in_the_url_say_so_and_fall_back_visibly(page, nav):
    open_app(page, f"{nav.url}?mode=bogus&frame=999X_00000_000000")
    wait_until(lambda: shows(page, "unknown mode 'bogus'"), "the unknown mode to be reported")
    wait_until(lambda: shows(page, "no frame '999X_00000_000000'"), "the unknown frame to be reported")
    assert (
        page.locator(".thalia-modes b").first.inner_text() == "Explore"
    )  # the mode shown, in the mode links
    assert (
        page.locator(".thalia-section-navigator select").first.input_value() == nav.frame
    )  # the fallback frame
    wait_until(
        lambda: query(page).get("mode") == "explore" and query(page).get("frame") == nav.frame,
        "the URL to name what is shown",
    )
