"""Predict the pair on screen with a zoo model: progress, truth / prediction toggles, the pair's scores, accept."""

from __future__ import annotations

import html
from typing import Any, ClassVar

import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.session.predict import PredictSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.viz.elements import TRUTH_PREDICTION_COLORS

SCORES: tuple[tuple[str, str], ...] = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("iou", "IoU"),
)


def metrics_html(metrics: dict[str, Any] | None) -> str:
    """The pair's deformation-class scores and confusion counts as a small table."""
    if not metrics:
        return "<p class='thalia-muted'>Scores appear after a prediction of a labelled pair.</p>"
    cells = "".join(
        f"<tr><th>{title}</th><td>{100 * float(metrics[key]):.1f}</td></tr>" for key, title in SCORES
    )
    counts = " · ".join(f"{k.upper()} {int(metrics[k]):,}" for k in ("tp", "fp", "fn") if k in metrics)
    return (
        f"<table class='thalia-record thalia-scores'>{cells}</table>"
        f"<div class='thalia-muted'>deformation class, % · {html.escape(counts)} px</div>"
    )


def swatch(color: str, text: str) -> str:
    return f"<span class='thalia-swatch' style='background:{color[:7]}'></span>{html.escape(text)}"


class PredictPanel(Viewer):
    """Model picker, Predict with a progress bar, overlay toggles, scores, and (annotate mode) accept."""

    view_type: ClassVar[str] = "predict_panel"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Model prediction"

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    predict = param.ClassSelector(class_=PredictSession, doc="The session's predictions")
    edit = param.Parameter(default=None, doc="The annotate session, if any (enables accepting a prediction)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.predict
        model = pn.widgets.Select.from_param(p.param.model, label="Model", sizing_mode="stretch_width")
        reload = pn.widgets.Button(label="↻", width=40, align="end", description="Re-read the model zoo")
        reload.on_click(lambda _: p.refresh_models())
        self._run = pn.widgets.Button(
            label="Predict this pair",
            color="primary",
            sizing_mode="stretch_width",
            description="Run the model on the pair on screen (in the background)",
        )
        self._run.on_click(lambda _: p.predict())
        self._bar = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", visible=False, height=14
        )
        truth = pn.widgets.Checkbox.from_param(p.param.show_truth)
        pred = pn.widgets.Checkbox.from_param(p.param.show_prediction)
        legend = pn.pane.HTML(
            " ".join(
                swatch(c, t)
                for c, t in zip(
                    TRUTH_PREDICTION_COLORS[1:], ("truth only", "prediction only", "both"), strict=True
                )
            ),
            margin=(0, 10),
        )
        self._scores = pn.pane.HTML(metrics_html(None), sizing_mode="stretch_width", margin=(4, 10))
        self._status = pn.pane.HTML(
            "", sizing_mode="stretch_width", margin=(0, 10), css_classes=["thalia-muted"]
        )
        items: list[Any] = [
            pn.Row(model, reload, sizing_mode="stretch_width"),
            self._run,
            self._bar,
            truth,
            pred,
            legend,
            self._scores,
            self._status,
        ]
        if self.edit is not None:
            accept = pn.widgets.Button(
                label="Use prediction as the mask",
                variant="outline",
                sizing_mode="stretch_width",
                description="Replace the masks by the prediction, in the class picked in the tools (undoable)",
            )
            accept.on_click(lambda _: p.accept())
            items.append(accept)
        self._layout = pn.Column(*items, sizing_mode="stretch_width")
        p.param.watch(lambda *_: self._update(), ["running", "progress", "status", "overlay_revision"])
        self._update()

    def _update(self) -> None:
        p = self.predict
        self._bar.visible = p.running
        self._bar.value = p.progress
        self._run.disabled = p.running
        self._run.label = f"Predicting… {p.progress}%" if p.running else "Predict this pair"
        self._status.object = html.escape(p.status)
        self._scores.object = metrics_html(p.metrics())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
