"""The dates matrix: primary x secondary dates of the frame, each pair a cell coloured by its label.

Click a cell to open that pair; the pair on screen is framed in black. Unusable pairs (annotated but
corrupted, with a processing error or no information) are shown in grey and cannot be opened.
"""

from __future__ import annotations

import html
from typing import Any, ClassVar, Final

import holoviews as hv
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource
from panel.viewable import Viewer

from thalia_viewer.app.document import update_model
from thalia_viewer.app.state import AppState
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz.elements import (
    STATUS_COLORS,
    STATUS_DESCRIPTIONS,
    STATUS_ORDER,
    PairStatus,
    dates_matrix,
    pair_status,
    pretty_date,
)

CURRENT_COLOR: Final = "#111111"
POSITIVE_GLYPH: Final = "+"
MARKER_NAME: Final = "thalia-current-pair"  # the marker's data source, as browser tests find it


def matrix_cells(frame: Frame) -> pd.DataFrame:
    """One row per cell: valid pairs and annotated-but-unusable pairs of ``frame`` (``MATRIX_COLUMNS``)."""
    valid = set(frame.pairs)
    pairs = set(valid)
    for p, s in frame.records:
        pairs.add(Pair(frame.frame_id, p, s))
    rows = []
    for pair in sorted(pairs):
        status = pair_status(frame.annotation(pair), pair in valid)
        rows.append({
            "secondary": pretty_date(pair.secondary), "primary": pretty_date(pair.primary),
            "status_code": STATUS_ORDER.index(status), "status": status.value.replace("_", " "),
            "days": pair.baseline_days, "pair": f"{pair.primary}_{pair.secondary}",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["secondary", "primary", "status_code", "status", "days", "pair"])


def legend_html() -> str:
    """Swatches of the matrix statuses."""
    items = "".join(
        f"<span class='thalia-class' title='{html.escape(STATUS_DESCRIPTIONS[s])}'>"
        f"<span class='thalia-swatch' style='background:{STATUS_COLORS[s]}'></span>{html.escape(s.value.replace('_', ' '))}</span>"
        for s in STATUS_ORDER
    )
    return (f"<div class='thalia-classes'>{items}<span class='thalia-class'><b>{POSITIVE_GLYPH}</b>&nbsp;positive"
            f"</span><span class='thalia-class'><span class='thalia-swatch thalia-current'></span>on screen</span></div>")  # fmt: skip


class DatesMatrix(Viewer):
    """Primary x secondary matrix of the frame's pairs; a click opens a pair."""

    view_type: ClassVar[str] = "dates_matrix"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = 'Dates matrix'  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    height = param.Integer(default=380, bounds=(160, 2000), doc="Plot height, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._cells = pd.DataFrame()
        self._pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=self.height, linked_axes=False)
        self._layout = pn.Column(
            self._pane, pn.pane.HTML(legend_html(), sizing_mode="stretch_width", margin=(0, 10)),
            sizing_mode="stretch_width",
        )  # fmt: skip
        self._marker = ColumnDataSource(data={"x": [], "y": []}, name=MARKER_NAME)
        self.state.watch(lambda *_: self._rebuild(), "frame", "the dates matrix")
        self.state.watch(lambda *_: self._move_marker(), "pair", "the dates matrix's marker")
        self._rebuild()

    def _rebuild(self) -> None:
        frame = self.state.frame_obj
        if frame is None:
            self._pane.object = None
            return
        cells = matrix_cells(frame)
        self._cells = cells
        heatmap = dates_matrix(cells, height=self.height)
        positives = cells[cells.status.isin([PairStatus.DEFORMATION.value, PairStatus.EARTHQUAKE.value])]
        marks = hv.Labels(
            (positives.secondary, positives.primary, [POSITIVE_GLYPH] * len(positives)),
            kdims=["secondary", "primary"], vdims="text",
        ).opts(text_color="white", text_font_size="13px", text_font_style="bold")  # fmt: skip
        tap = hv.streams.Tap(source=heatmap, x=None, y=None)
        tap.add_subscriber(self._on_tap)
        self._move_marker()
        self._pane.object = (heatmap * marks).opts(responsive=True, height=self.height, title="", hooks=[self._add_marker])

    def _add_marker(self, plot: Any, element: Any) -> None:
        """Plot hook: a frame around the cell on screen, a plain Bokeh glyph (moving it sends two strings)."""
        fig = plot.state
        if not any(getattr(r, "data_source", None) is self._marker for r in fig.renderers):
            fig.rect(x="x", y="y", width=1, height=1, source=self._marker, fill_alpha=0, line_color=CURRENT_COLOR,
                     line_width=3)  # fmt: skip

    def _move_marker(self) -> None:
        pair = self.state.current
        data = {"x": [pretty_date(pair.secondary)], "y": [pretty_date(pair.primary)]} if pair else {"x": [], "y": []}
        if dict(self._marker.data) != data:
            update_model(self._marker, data=data)  # a key press or a tap runs outside the document lock

    def _on_tap(self, x: Any = None, y: Any = None, **_: Any) -> None:
        if x is None or y is None:
            return
        hit = self._cells[(self._cells.secondary == str(x)) & (self._cells.primary == str(y))]
        if hit.empty:
            return
        row = hit.iloc[0]
        if row.status == PairStatus.UNUSABLE.value:
            self.state.notify("warning", f"pair {row.pair} of {self.state.frame} is not usable ({STATUS_DESCRIPTIONS[PairStatus.UNUSABLE]}).")
            return
        self.state.go_key(f"{self.state.frame}/{row.pair}")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

