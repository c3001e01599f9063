"""In the browser: a search from the panel lists the expected pairs, a click opens one, the pair keys step through
the results, a URL with a query reopens it, and a click on the matrix of a 320-date frame opens that pair."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from tests.browser.conftest import served
from tests.browser.pages import LOAD_TIMEOUT_MS, open_app, shows, url, wait_stable, wait_until
from thalia_viewer.core.catalog import Catalog

pytestmark = pytest.mark.browser

QUERY = "label:positive"
BIG = "162A_06192_060402"
#: Where a data point of the dates matrix is on the page: its figure found by name, Bokeh's own scales.
CELL_JS = """([x, y]) => {
  const fig = Bokeh.documents[0].get_model_by_name('thalia-dates-matrix');
  const view = Bokeh.index.find_one(fig);
  const r = view.canvas_view.el.getBoundingClientRect();
  return [r.left + view.frame.x_scale.compute(x), r.top + view.frame.y_scale.compute(y)];
}"""
VIEW_JS = """() => {
  const fig = Bokeh.documents[0].get_model_by_name('thalia-dates-matrix');
  return fig ? [fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end] : null;
}"""


def query_of(page) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url(page)).query))


def shown_pair(page) -> str:
    q = query_of(page)
    return f"{q.get('frame')}/{q.get('pair')}"


def result_rows(page):
    return page.locator(".thalia-search-results .tabulator-row")


def search(page, text: str) -> None:
    box = page.locator(".thalia-search-input input").first
    box.fill(text)
    box.press("Enter")


@pytest.fixture(scope="module")
def expected(tiny_root) -> list[str]:
    found = Catalog.from_root(tiny_root).search(QUERY)
    assert found["valid"].all() and found["frame"].nunique() > 1  # every result opens; they span frames
    return found["key"].tolist()


def test_search_lists_the_pairs_a_click_opens_one_and_the_pair_keys_step(page, app_url, expected):
    open_app(page, app_url)
    search(page, QUERY)
    wait_until(lambda: shows(page, f"{len(expected)} pairs in"), "the result count")
    rows = result_rows(page)
    wait_until(lambda: rows.count() == min(len(expected), 10), "the result rows")

    def cell(i: int, field: str) -> str:
        return rows.nth(i).locator(f".tabulator-cell[tabulator-field='{field}']").first.inner_text().strip()

    shown = [(cell(i, "frame"), cell(i, "primary")[:10].replace("-", "")) for i in range(rows.count())]
    assert shown == [(k.split("/")[0], k.split("/")[1][:8]) for k in expected[:10]]
    rows.nth(2).click()
    wait_until(lambda: shown_pair(page) == expected[2], "the clicked result to open")
    assert query_of(page).get("q") == QUERY  # the search is in the URL
    page.locator(".thalia-search-status").first.click()  # leave the search box: keys go to the app again
    page.keyboard.press("j")
    wait_until(lambda: shown_pair(page) == expected[3], "j to open the next result")
    page.keyboard.press("j")
    wait_until(lambda: shown_pair(page) == expected[4], "j again (possibly in another frame)")
    page.keyboard.press("k")
    wait_until(lambda: shown_pair(page) == expected[3], "k to go back one result")
    assert not page.console_errors


def test_a_url_with_a_query_reopens_the_search(page, app_url, tiny_root):
    frames = sorted({k.split("/")[0] for k in Catalog.from_root(tiny_root).table["key"]})
    query = f"label:positive frame:{frames[-1]}"  # not the frame the app opens by default
    found = Catalog.from_root(tiny_root).search(query)["key"].tolist()
    open_app(page, f"{app_url}?{urllib.parse.urlencode({'q': query})}")
    wait_until(lambda: shows(page, f"{len(found)} pairs in"), "the shared search's results")
    wait_until(lambda: shown_pair(page) == found[0], "the first result on screen")
    assert page.locator(".thalia-search-input input").first.input_value() == query
    assert query_of(page).get("q") == query
    assert not page.console_errors


@pytest.fixture(scope="module")
def catalogue_url(catalogue_root, tmp_path_factory):
    with served(str(catalogue_root), tmp_path_factory.mktemp("serve-catalogue") / "panel.log") as u:
        yield u


def test_clicking_the_matrix_of_a_320_date_frame_opens_that_pair(page, catalogue_url, catalogue_root):
    page.goto(f"{catalogue_url}?frame={BIG}", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && "
        "Bokeh.documents[0].get_model_by_name('thalia-dates-matrix') !== null",
        timeout=LOAD_TIMEOUT_MS,
    )
    wait_stable(page)
    page.locator(".thalia-section-matrix").first.scroll_into_view_if_needed()
    wait_stable(page)
    cat = Catalog.from_root(catalogue_root)
    frame_rows = cat.table[(cat.table["frame"] == BIG)]
    dates = sorted(
        set(frame_rows["primary"].dt.strftime("%Y%m%d")) | set(frame_rows["secondary"].dt.strftime("%Y%m%d"))
    )
    assert len(dates) >= 320
    index = {d: i for i, d in enumerate(dates)}
    valid = frame_rows[frame_rows["valid"]]
    opened = 0
    for _ in range(3):  # click after click
        x0, x1, y0, y1 = page.evaluate(VIEW_JS)
        lo_x, hi_x, lo_y, hi_y = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        current = shown_pair(page)
        candidates = [
            key
            for key, p, s in zip(
                valid["key"],
                valid["primary"].dt.strftime("%Y%m%d"),
                valid["secondary"].dt.strftime("%Y%m%d"),
                strict=True,
            )
            if lo_x + 1 < index[s] < hi_x - 1 and lo_y + 1 < index[p] < hi_y - 1 and key != current
        ]
        assert candidates, "no cell in view"
        target = candidates[len(candidates) // 2]
        p, s = target.split("/")[1].split("_")
        sx, sy = page.evaluate(CELL_JS, [index[s], index[p]])
        page.mouse.click(sx, sy)
        wait_until(lambda t=target: shown_pair(page) == t, f"the click to open {target}")
        opened += 1
        time.sleep(0.3)
    assert opened == 3
    assert not [e for e in page.console_errors if "pending_writes" in e]
