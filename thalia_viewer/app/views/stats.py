"""The statistics view: the dataset's Table 1 and class-balance figures as plots, recomputed from the records and
the corrections, for the whole catalogue or for the results of the session's search."""

from __future__ import annotations

import html
from typing import Any, ClassVar

import holoviews as hv
import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.session.search import search_session
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.stats import DatasetStats, dataset_stats
from thalia_viewer.viz import stats as plots


def totals_html(stats: DatasetStats, query: str) -> str:
    t = stats.totals
    share = 100 * t["positive"] / max(t["pairs"], 1)
    scope = f"pairs matching <code>{html.escape(query)}</code>" if query else "the whole catalogue"
    cells = [
        ("records", t["records"]),
        ("valid pairs", t["pairs"]),
        ("positive", f"{t['positive']:,} ({share:.1f} %)"),
        ("frames", t["frames"]),
        ("unusable records", t["unusable"]),
        ("corrected", t["corrected"]),
    ]
    items = "".join(
        f"<div class='k'><div class='n'>{v if isinstance(v, str) else f'{v:,}'}</div><div class='l'>{k}</div></div>"
        for k, v in cells
    )
    return (
        f"<div class='thalia-totals'>{items}</div><div class='thalia-muted' style='font-size:12px'>Statistics of {scope}, "
        "from the annotation records with the annotation store's corrections.</div>"
    )


TOTALS_CSS = """
.thalia-totals { display: flex; flex-wrap: wrap; gap: 10px 28px; margin: 4px 0 6px 0; }
.thalia-totals .n { font-size: 22px; font-weight: 650; color: #1f2328; }
.thalia-totals .l { font-size: 12px; color: #57606a; }
"""


SIDE_COLUMN_PX = 540  # the class balance and flags beside the (wider) per-frame bars


class StatsView(Viewer):
    """Counts by frame, split, label, activity type, intensity, phase and flag, and positives over time per frame."""

    view_type: ClassVar[str] = "stats_view"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Dataset statistics"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    follow_search = param.Boolean(
        default=True, doc="Show the statistics of the search results when a search is on"
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.session = search_session(self.state)
        self.stats: DatasetStats | None = None
        self._totals = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[TOTALS_CSS], margin=(0, 10))
        self._panes = {
            name: pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False, margin=(4, 8))
            for name in (
                "frames",
                "splits",
                "activity",
                "intensity",
                "phase",
                "flags",
                "confidence",
                "monthly",
            )
        }
        self._panes["frames"].min_width = 560
        p = self._panes
        self._layout = pn.Column(
            self._totals,
            pn.Row(
                p["frames"],
                pn.Column(p["splits"], p["flags"], width=SIDE_COLUMN_PX),
                sizing_mode="stretch_width",
            ),
            pn.Row(p["activity"], p["intensity"], sizing_mode="stretch_width"),
            pn.Row(p["phase"], p["confidence"], sizing_mode="stretch_width"),
            p["monthly"],
            sizing_mode="stretch_width",
            css_classes=["thalia-stats"],
        )
        self.session.param.watch(lambda *_: self.update(), "revision")
        self.update()

    def update(self) -> None:
        """Recompute from the search results (or the whole catalogue) and redraw."""
        s = self.session
        try:
            cat = s.catalog if s.active and s.catalog is not None else s.current_catalog()
        except (ThaliaError, TimeoutError) as exc:
            self._totals.object = f"<span class='thalia-muted'>{html.escape(str(exc))}</span>"
            return
        if cat is None:
            self._totals.object = "<span class='thalia-muted'>No dataset is open.</span>"
            return
        following = self.follow_search and s.active
        table = cat.table.iloc[s.rows] if following else cat.table
        self.stats = stats = dataset_stats(table)
        self._totals.object = totals_html(stats, s.query if following else "")
        t = stats.tables
        n_frames = len(t["frames"])
        side = max(300, 18 * n_frames + 80)
        flags_h = max(22 * len(t["flags"]) + 80, side // 2 - 10)  # a readable row per flag
        splits_h = max(220, side // 2 - 10)
        side = max(side, flags_h + splits_h + 20)  # the frames' plot spans both on its right
        self._panes["frames"].object = plots.frames_bars(t["frames"], height=side)
        self._panes["splits"].object = plots.split_bars(t["splits"], height=splits_h)
        self._panes["flags"].object = plots.flag_bars(t["flags"], height=flags_h)
        self._panes["activity"].object = plots.class_bars(
            t["activity"], schema.ACTIVITY_TYPES, "Activity types (pairs with a pattern of each, by split)"
        )
        self._panes["intensity"].object = plots.class_bars(
            t["intensity"],
            schema.INTENSITY_LEVELS,
            "Intensity levels (pairs with a pattern of each, by split)",
        )
        self._panes["phase"].object = plots.phase_bars(t["phase"])
        conf = t["confidence"].reset_index().melt(id_vars="confidence", var_name="label", value_name="pairs")
        conf["confidence"] = conf["confidence"].map(lambda v: f"{v:.2f}")
        self._panes["confidence"].object = hv.Bars(conf, kdims=["confidence", "label"], vdims=["pairs"]).opts(
            stacked=True,
            cmap={"positive": plots.POSITIVE, "negative": plots.NEGATIVE},
            color="label",
            height=300,
            responsive=True,
            title="Annotator confidence",
            xlabel="",
            legend_position="right",
            **plots.BASE_OPTS,
        )
        self._panes["monthly"].object = plots.monthly_heatmap(t["monthly"])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
