"""The search panel, its session, the statistics view and the scalable dates matrix, driven without a browser."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from thalia_viewer.app.session.search import search_session
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.dates_matrix import DatesMatrix, axis_ticks, overview_cells
from thalia_viewer.app.views.search import SearchPanel, results_frame, url_query
from thalia_viewer.app.views.stats import StatsView
from thalia_viewer.app.views.timeseries import TimeseriesStrip
from thalia_viewer.core import schema
from thalia_viewer.core.catalog import Catalog

BIG = "162A_06192_060402"


@pytest.fixture
def state(tiny_root):
    return AppState(str(tiny_root))


def test_search_session_results_and_the_pair_keys_walk_them(state, tiny_root):
    session = search_session(state)
    assert search_session(state) is session  # one per app session
    cat = Catalog.from_root(tiny_root)
    expected = cat.pairs(cat.select("label:positive"))
    assert session.run("label:positive")
    assert session.results == expected and len({p.frame for p in expected}) == 2
    assert session.valid_results == [p for p in expected if p in set(state.dataset.pairs())]
    walk = session.valid_results
    state.go(walk[0])
    for k in range(1, len(walk)):
        state.step(1)  # j
        assert state.pair == walk[k]  # across frames too
    state.step(1)
    assert state.pair == walk[-1] and "last result" in state.message.text
    state.step(-1)  # k
    assert state.pair == walk[-2]
    session.step_results = False
    state.step(1)
    assert state.pair == state.pairs[state.pairs.index(walk[-2]) + 1] or state.pair == state.pairs[-1]
    session.step_results = True
    assert not session.run("activty:dyke")
    assert "Did you mean 'activity'" in session.error and not session.active
    state.step(1)  # no active search: the frame's pairs
    assert session.run("")
    assert not session.active and session.results == []


def test_search_panel_lists_results_opens_a_row_and_escapes_the_query(state):
    panel = SearchPanel(state=state)
    panel.submit("label:negative")
    s = panel.session
    assert panel.table.visible and len(panel.table.value) == len(s.results) > 0
    assert "Counts per facet" in panel.facets.object and "Non_Deformation" in panel.facets.object
    assert f"<b>{len(s.results)}</b> pair" in panel.status.object and "<kbd>j</kbd>" in panel.status.object
    target = s.valid_results[-1]
    panel._clicked(SimpleNamespace(row=s.results.index(target)))
    assert state.pair == target
    assert panel.table.selection == [s.results.index(target)]  # the pair on screen is highlighted
    panel.submit('"<script>alert(1)</script>"')
    assert "<script>" not in panel.status.object and "&lt;script&gt;" in panel.status.object
    panel.submit("nonsense:1")
    assert "unknown field" in panel.status.object and not panel.table.visible
    panel.submit("")
    assert not panel.table.visible
    assert url_query({"q": [b"activity:dyke year:2018"], "pair": [b"x"]}) == ("activity:dyke year:2018", True)
    assert url_query({}) == ("", False)


def test_wide_results_link_to_explore_with_the_query(tiny_root):
    cat = Catalog.from_root(tiny_root)
    t = cat.search("label:positive")
    frame = results_frame(t, wide=True, query='a "b" <c>')
    assert list(frame.columns[:7]) == ["open", "frame", "volcano", "primary", "secondary", "days", "label"]
    link = frame["open"].iloc[0]
    assert "mode=explore" in link and "q=a+%22b%22+%3Cc%3E" in link and "<c>" not in link


def test_stats_view_follows_the_search(state):
    view = StatsView(state=state)
    total = view.stats.totals["pairs"]
    assert total == len(state.dataset.pairs()) and view._panes["monthly"].object is not None
    search_session(state).run(f"frame:{state.dataset.frames[0]}")
    assert view.stats.totals["frames"] == 1 and view.stats.totals["pairs"] < total
    assert "frame:" in view._totals.object


def test_dates_matrix_of_a_320_date_frame(catalogue_root):
    state = AppState(str(catalogue_root))
    state.go_frame(BIG)
    view = DatesMatrix(state=state)
    assert len(view._dates) >= 320 and view._zoomed and view._overview_box.visible
    fig = view._fig
    assert abs(fig.x_range.end - fig.x_range.start) * 10 <= view.height  # cells of about ten pixels or more
    x, y = view.cell_of(state.pair)
    assert fig.x_range.start <= x <= fig.x_range.end and min(fig.y_range.start, fig.y_range.end) <= y
    for k in (5, 400, 900, 20):  # click after click, anywhere in the grid
        target = state.pairs[k]
        assert view.open_at(*view.cell_of(target))
        assert state.pair == target
        x, y = view.cell_of(target)
        assert (view._marker.data["x"], view._marker.data["y"]) == ([x], [y])
        assert (
            min(fig.x_range.start, fig.x_range.end) <= x <= max(fig.x_range.start, fig.x_range.end)
        )  # followed
        assert min(fig.y_range.start, fig.y_range.end) <= y <= max(fig.y_range.start, fig.y_range.end)
    near = view.cell_of(state.pairs[50])
    assert view.open_at(near[0] + 0.3, near[1] - 0.3) and state.pair == state.pairs[50]  # close enough
    levels, labels = axis_ticks(view._dates)
    assert len(levels["years"]) >= 7 and labels[str(levels["years"][1])].isdigit()
    ov = overview_cells(view._cells)
    assert ov["pairs"].sum() == sum(1 for _ in state.pairs) and ov["share"].between(0, 1).all()
    assert Counter(view._cells["status"])["Unusable"] > 0


def test_dates_matrix_of_a_small_frame_shows_the_whole_grid(state):
    view = DatesMatrix(state=state)
    assert not view._zoomed and not view._overview_box.visible
    n = len(view._dates)
    assert (view._fig.x_range.start, view._fig.x_range.end) == (-0.5, n - 0.5)


def test_timeseries_strip_draws_only_the_thumbnails_asked_for(catalogue_root):
    state = AppState(str(catalogue_root))
    state.go_frame(BIG)
    frame = state.frame_obj
    primary = max(frame.primary_dates, key=lambda d: len(frame.timeseries(d)))
    series = frame.timeseries(primary)
    assert len(series) >= 8
    state.go(series[len(series) // 2])
    view = TimeseriesStrip(state=state, prefetch=1)
    keys = [i["key"] for i in view.strip.items]
    assert keys == [p.name for p in series]
    here = keys.index(state.pair.name)
    assert set(view.sources) == set(keys[here - 1 : here + 2])  # the pair on screen and its neighbours only
    view.request(keys[-2:])  # the browser scrolled to the end
    assert set(view.sources) == set(keys[here - 1 : here + 2]) | set(keys[-2:])
    assert all(v.startswith("data:image/webp") for v in view.sources.values())
    assert np.all([k in keys for k in view.strip.loaded])  # each update pushes only the new ones


def test_the_review_modes_run_feeds_model_and_disagree(state):
    import param

    from thalia_viewer.ml.review import ReviewRow

    class FakeReview(param.Parameterized):
        rows_revision = param.Integer(default=0)

    panel = SearchPanel(state=state)
    review = FakeReview()
    review.rows = []
    panel.attach_review(review)
    assert not panel.session.run("model:positive") and "review run" in panel.session.error
    negative = next(p for p in state.dataset.pairs() if not schema.is_positive(state.dataset.annotation(p)))
    review.rows = [ReviewRow(negative, tp=0, fp=120, fn=0, precision=0.0, recall=1.0, f1=0.0, iou=0.0)]
    review.rows_revision += 1
    panel.submit("model:positive disagree:yes")
    assert panel.session.results == [negative]
    assert "model IoU" not in panel.table.value.columns  # the compact table keeps three columns
