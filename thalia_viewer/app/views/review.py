"""Review mode views: run a model over pairs, the table of disagreements, annotator and model side by side."""

from __future__ import annotations

import math
import urllib.parse
from typing import Any, ClassVar, Final

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.aggregates import code_aggregate, compute_aggregate
from thalia_viewer.app.messages import Level, describe, escape, placeholder_html
from thalia_viewer.app.session.review import ReviewSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.roles import Action
from thalia_viewer.viz import elements
from thalia_viewer.viz.overlays import truth_prediction_codes
from thalia_viewer.viz.shade import data_extent, data_span

SIDE_MAX_PX: Final = 1024  # longest side of each side-by-side image, px (a 4096^2 frame is averaged 4x4)
SCORE_NAMES: Final = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("iou", "IoU"))


def aggregate_html(agg: dict[str, Any]) -> str:
    """The set's scores as in the paper's tables: micro (summed confusion) and the mean per pair, in %."""
    if not agg.get("count"):
        return "<p class='thalia-muted'>Scores of the set appear as pairs are reviewed.</p>"
    head = "<tr><th></th>" + "".join(f"<th>{t}</th>" for _, t in SCORE_NAMES) + "</tr>"

    def row(name: str, scores: dict[str, float]) -> str:
        cells = "".join(
            f"<td>{'—' if math.isnan(scores[k]) else f'{100 * scores[k]:.1f}'}</td>" for k, _ in SCORE_NAMES
        )
        return f"<tr><th>{name}</th>{cells}</tr>"

    return (
        f"<table class='thalia-record thalia-scores'>{head}{row('all pixels', agg['micro'])}"
        f"{row('mean per pair', agg['macro'])}</table>"
        f"<div class='thalia-muted'>deformation class, {agg['count']} pairs</div>"
    )


class ReviewControls(Viewer):
    """Model and pair set, Run / Cancel with a progress bar, and the set's aggregate scores."""

    view_type: ClassVar[str] = "review_controls"
    section_title: ClassVar[str | None] = "Review a model"

    state = param.ClassSelector(class_=AppState)
    review = param.ClassSelector(class_=ReviewSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        r = self.review
        self._run = pn.widgets.Button(label="Run review", color="primary", sizing_mode="stretch_width")
        self._run.on_click(lambda _: r.start())
        cancel = pn.widgets.Button(label="Cancel", sizing_mode="stretch_width")
        cancel.on_click(lambda _: r.cancel())
        self._bar = pn.indicators.Progress(
            value=0, max=100, height=14, sizing_mode="stretch_width", visible=False
        )
        self._status = pn.pane.HTML(
            "", css_classes=["thalia-muted"], sizing_mode="stretch_width", margin=(0, 10)
        )
        self._scores = pn.pane.HTML("", sizing_mode="stretch_width", margin=(4, 10))
        self._layout = pn.Column(
            pn.widgets.Select.from_param(r.param.model, label="Model", sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(r.param.scope, label="Pairs", sizing_mode="stretch_width"),
            pn.Row(self._run, cancel, sizing_mode="stretch_width"),
            self._bar,
            self._status,
            self._scores,
            sizing_mode="stretch_width",
        )
        r.param.watch(lambda *_: self._update(), ["running", "progress", "status", "rows_revision"])
        self._update()

    def _update(self) -> None:
        r = self.review
        self._bar.visible, self._bar.value = r.running, r.progress
        self._run.disabled = r.running
        self._run.label = f"Reviewing… {r.done}/{r.total}" if r.running else "Run review"
        self._status.object = escape(r.status)
        self._scores.object = aggregate_html(r.aggregate())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class ReviewTable(Viewer):
    """Reviewed pairs, most disagreement first; a click opens the pair side by side, ``j`` / ``k`` step along
    the rows (``app.navigation``); the row of the pair on screen is selected."""

    view_type: ClassVar[str] = "review_table"
    section_title: ClassVar[str | None] = "Pairs ranked by disagreement"

    state = param.ClassSelector(class_=AppState)
    review = param.ClassSelector(class_=ReviewSession)
    height = param.Integer(default=420, bounds=(150, 2000))

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        r = self.review
        self._rows: list[Pair] = []
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(
                columns=["frame", "pair", "split", "IoU", "F1", "false +", "false −", "labelled px"]
            ),
            disabled=True,
            selectable=1,
            show_index=False,
            height=self.height,
            sizing_mode="stretch_width",
            formatters={"IoU": {"type": "money", "precision": 3}, "F1": {"type": "money", "precision": 3}},
            header_filters={
                "frame": {"type": "input", "func": "like", "placeholder": "filter"},
                "split": {"type": "list", "values": ["", *(s.value for s in schema.Split)]},
            },
            css_classes=["thalia-review-table"],
        )
        self._table.on_click(self._clicked)
        show = pn.widgets.RadioButtonGroup.from_param(
            r.param.show, variant="outline", sizing_mode="stretch_width"
        )
        self._layout = pn.Column(show, self._table, sizing_mode="stretch_width")
        r.param.watch(lambda *_: self._update(), ["rows_revision", "show"])
        self.state.watch(lambda *_: self._select(), "pair", "the review table")
        self._update()

    def _update(self) -> None:
        rows = self.review.ranked()
        self._rows = [row.pair for row in rows]
        columns = list(self._table.value.columns)
        self._table.value = pd.DataFrame([row.as_record() for row in rows], columns=columns)
        self._select()

    def _select(self) -> None:
        """Select the row of the pair on screen (none when it is not in the table)."""
        cur = self.state.pair
        selection = [self._rows.index(cur)] if cur in self._rows else []
        if self._table.selection != selection:
            self._table.selection = selection

    def _clicked(self, event: Any) -> None:
        if 0 <= event.row < len(self._rows):
            self.review.open(self._rows[event.row])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class SideBySide(Viewer):
    """Annotator mask (red) and model mask (green) over the phase, side by side, zoomed together."""

    view_type: ClassVar[str] = "side_by_side"
    section_title: ClassVar[str | None] = "Annotator | model"

    state = param.ClassSelector(class_=AppState)
    review = param.ClassSelector(class_=ReviewSession)
    edit = param.Parameter(default=None, doc="The edit session: an accepted mask shows on the annotator side")
    height = param.Integer(default=460, bounds=(200, 2000))

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.edit is not None:
            self.edit.param.watch(lambda *_: self._update(force=True), "revision")
        # two panes in one layout: Panel links their axes (linked_axes), each keeps half the width
        self._left = pn.pane.HoloViews(
            None, height=self.height, sizing_mode="stretch_width", linked_axes=True
        )
        self._right = pn.pane.HoloViews(
            None, height=self.height, sizing_mode="stretch_width", linked_axes=True
        )
        self._title = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        self._layout = pn.Column(
            self._title,
            pn.Row(self._left, self._right, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        self.state.watch(lambda *_: self._update(), ["pair", "frame"], "the side-by-side view")
        self.review.param.watch(lambda *_: self._update_if_missing(), "rows_revision")
        self._shown: tuple | None = None
        self._update()

    def _update_if_missing(self) -> None:
        if self._shown is None or not self._shown[1]:
            self._update()

    def _update(self, force: bool = False) -> None:
        pair, frame = self.state.pair, self.state.frame_obj
        if force:
            self._shown = None
        if pair is None or frame is None:
            self._left.object = self._right.object = self._shown = None
            return
        has_model = self.review.has_mask(pair)
        if self._shown == (pair, has_model):
            return
        try:
            sides = self._sides(pair, frame)
        except Exception as exc:  # a damaged pair: say so here, the table and the rest go on
            self.state.report(exc, f"drawing {pair} side by side")
            self._title.object = placeholder_html(describe(exc, f"{pair} cannot be drawn side by side"))
            self._left.object = self._right.object = self._shown = None
            return
        self._shown = (pair, has_model)
        self._title.object = f"<b>{escape(pair.key)}</b> · scroll or box-zoom one side: the other follows"
        self._left.object, self._right.object = sides

    def _sides(self, pair: Pair, frame: Any) -> tuple[hv.Overlay, hv.Overlay]:
        phase = self.state.layer("phase", pair)
        view = data_extent(phase)
        rows, cols = frame.shape
        scale = max(rows, cols) / SIDE_MAX_PX
        size = (max(2, round(cols / max(scale, 1))), max(2, round(rows / max(scale, 1))))
        agg = compute_aggregate(phase, "phase", view, size)
        kdims = [elements.geo_dimension("x", frame.x_dim), elements.geo_dimension("y", frame.y_dim)]
        base = elements.layer_image(agg, "phase", view, schema.layer("phase").span or data_span(agg), kdims)
        truth = np.asarray(self.state.layer("deformation", pair).values) > 0
        mask = self.review.mask(pair) if self.review.has_mask(pair) else None
        colors = elements.TRUTH_PREDICTION_COLORS
        left = base * self._codes(truth_prediction_codes(truth, None), view, size, colors, kdims, frame)
        right = base.clone() * (
            self._codes(truth_prediction_codes(None, mask), view, size, colors, kdims, frame)
            if mask is not None
            else hv.Text(view.x0, view.y1, " not reviewed yet").opts(text_align="left", text_baseline="top")
        )
        opts = {
            "responsive": True,
            "height": self.height - 40,
            "data_aspect": 1 / max(math.cos(math.radians((view.y0 + view.y1) / 2)), 0.05),
            "tools": ["hover"],
            "active_tools": ["wheel_zoom"],
        }
        return left.opts(title="Annotator (red)", **opts), right.opts(
            title=f"Model {self.review.model} (green)", **opts
        )

    @staticmethod
    def _codes(
        codes: np.ndarray, view: Any, size: tuple[int, int], colors: tuple[str, ...], kdims: list, frame: Any
    ) -> hv.Image:
        return elements.code_image(
            code_aggregate(frame.raster(codes), view, size), view, colors, kdims, "mask"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class AcceptPrediction(Viewer):
    """Accept the model's mask of the pair on screen as the starting mask (an edit, saved like any other)."""

    view_type: ClassVar[str] = "accept_prediction"
    needs_edit: ClassVar[bool] = True
    section_title: ClassVar[str | None] = "Correct"

    state = param.ClassSelector(class_=AppState)
    review = param.ClassSelector(class_=ReviewSession)
    edit = param.Parameter(default=None)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        accept = pn.widgets.Button(
            label="Accept the model's mask as the starting mask",
            color="primary",
            sizing_mode="stretch_width",
        )
        accept.on_click(lambda _: self.accept())
        link = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        self._link = link
        self.state.watch(lambda *_: self._update_link(), ["pair", "frame"], "the annotate link")
        self._update_link()
        self._layout = pn.Column(
            pn.pane.HTML(
                "<div class='thalia-muted'>The model's pixels keep the pair's classes (those of the mask "
                "they overlap, else the nearest); pick a class below to paint them all with it.</div>",
                sizing_mode="stretch_width",
            ),
            pn.widgets.Select.from_param(self.edit.param.activity, sizing_mode="stretch_width"),
            pn.widgets.Select.from_param(self.edit.param.intensity, sizing_mode="stretch_width"),
            accept,
            link,
            sizing_mode="stretch_width",
        )
        if not self.edit.identity.can(Action.SAVE):
            self._layout[:] = [link]  # a viewer cannot keep an accepted mask: no button that leads nowhere

    def _update_link(self) -> None:
        pair = self.state.pair
        if pair is not None:
            href = "?" + urllib.parse.urlencode({"mode": "annotate", "frame": pair.frame, "pair": pair.name})
            self._link.object = (
                f"<a href='{escape(href)}' target='_blank'>Open this pair in annotate mode ↗</a>"
            )

    def accept(self) -> bool:
        """Replace the pair's masks by the model's, in the class picked here (undoable; save to keep it)."""
        pair, edit = self.state.pair, self.edit
        mask = self.review.mask(pair) if pair is not None else None
        if mask is None:
            self.state.notify(Level.WARNING, "Review this pair first: no model mask to accept.")
            return False
        return edit.accept_mask(mask, f"{self.review.model} mask") is not None

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
