"""Train mode views: set up and run a fine-tune, its live curves, and the before / after scores."""

from __future__ import annotations

import html
import math
from typing import Any, ClassVar, Final

import holoviews as hv
import panel as pn
import param
from panel.viewable import Viewer

from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.session.train import TrainSession
from thalia_viewer.core.roles import Action

SCORES: Final = (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("iou", "IoU"))
LOSS_COLOR, VAL_COLOR, IOU_COLOR, F1_COLOR = "#0969da", "#cf222e", "#1a7f37", "#8250df"


def before_after_html(parent: str, new: str, before: dict | None, after: dict | None) -> str:
    """Validation scores of the parent and the new model side by side (%), with the change."""
    if before is None and after is None:
        return "<p class='thalia-muted'>Validation scores of both models appear when a run ends.</p>"

    def cell(scores: dict | None, key: str) -> str:
        if scores is None:
            return "<td class='thalia-muted'>no weights</td>"
        if "error" in scores:
            return "<td class='thalia-muted'>—</td>"
        v = scores.get(key, math.nan)
        return f"<td>{100 * v:.1f}</td>" if isinstance(v, float) and not math.isnan(v) else "<td>—</td>"

    rows = []
    for key, title in SCORES:
        delta = ""
        if before and after and "error" not in before and "error" not in after:
            d = 100 * (after.get(key, math.nan) - before.get(key, math.nan))
            delta = (
                ""
                if math.isnan(d)
                else f"<span style='color:{'#1a7f37' if d >= 0 else '#cf222e'}'>{d:+.1f}</span>"
            )
        rows.append(f"<tr><th>{title}</th>{cell(before, key)}{cell(after, key)}<td>{delta}</td></tr>")
    notes = [s["error"] for s in (before, after) if s and "error" in s]
    head = f"<tr><th></th><th>{html.escape(parent)}</th><th>{html.escape(new)}</th><th>change</th></tr>"
    foot = "".join(f"<div class='thalia-muted'>{html.escape(n)}</div>" for n in notes)
    return (
        f"<table class='thalia-record thalia-scores'>{head}{''.join(rows)}</table>"
        f"<div class='thalia-muted'>validation split, deformation class, %</div>{foot}"
    )


class TrainControls(Viewer):
    """Parent model, labels, recipe; Start / Cancel with a progress bar."""

    view_type: ClassVar[str] = "train_controls"
    section_title: ClassVar[str | None] = "Fine-tune a model"

    state = param.ClassSelector(class_=AppState)
    train = param.ClassSelector(class_=TrainSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        t = self.train
        w = {"sizing_mode": "stretch_width"}
        self._start = pn.widgets.Button(label="Start fine-tune", color="primary", **w)
        self._start.on_click(lambda _: t.start())
        cancel = pn.widgets.Button(label="Cancel", **w)
        cancel.on_click(lambda _: t.cancel())
        refresh = pn.widgets.Button(
            label="↻", width=40, align="end", description="Re-read the zoo and the store's tags"
        )
        refresh.on_click(lambda _: t.refresh())
        self._bar = pn.indicators.Progress(value=0, max=100, height=14, visible=False, **w)
        self._phase = pn.pane.HTML("", css_classes=["thalia-muted"], margin=(0, 10), **w)
        self._status = pn.pane.HTML("", margin=(0, 10), **w)
        self._layout = pn.Column(
            pn.Row(pn.widgets.Select.from_param(t.param.model, label="Start from", **w), refresh, **w),
            pn.widgets.Select.from_param(t.param.labels, label="Labels", **w),
            pn.widgets.TextInput.from_param(t.param.out, **w),
            pn.Row(
                pn.widgets.IntInput.from_param(t.param.epochs, width=90),
                pn.widgets.IntInput.from_param(t.param.crop, width=90),
                pn.widgets.IntInput.from_param(t.param.batch_size, width=90),
            ),
            pn.widgets.FloatInput.from_param(t.param.lr, format="0.000000", **w),
            pn.Row(self._start, cancel, **w),
            self._bar,
            self._phase,
            self._status,
            **w,
        )
        if not t.identity.can(
            Action.TRAIN
        ):  # the session refuses it anyway; say why instead of a dead button
            who = t.identity.describe() or "this page"
            self._layout[:] = [
                pn.pane.HTML(
                    f"<div class='thalia-muted'>Signed in as <b>{html.escape(who)}</b>: only "
                    "trainers fine-tune models. Pick a model in Predict.</div>",
                    **w,
                )
            ]
        t.param.watch(lambda *_: self._update(), ["running", "progress", "phase", "status"])
        self._update()

    def _update(self) -> None:
        t = self.train
        self._bar.visible, self._bar.value = t.running, t.progress
        self._start.disabled = t.running
        self._start.label = f"Training… {t.progress}%" if t.running else "Start fine-tune"
        self._phase.object = html.escape(t.phase)
        self._status.object = html.escape(t.status)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class TrainCurves(Viewer):
    """Training loss per step, validation loss and IoU / F1 per epoch, drawn as the run goes."""

    view_type: ClassVar[str] = "train_curves"
    section_title: ClassVar[str | None] = "Loss and metrics"

    state = param.ClassSelector(class_=AppState)
    train = param.ClassSelector(class_=TrainSession)
    height = param.Integer(default=320, bounds=(150, 1200))

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HoloViews(self._plot(), height=self.height, sizing_mode="stretch_width")
        self.train.param.watch(lambda *_: self._update(), "revision")

    def _update(self) -> None:
        self._pane.object = self._plot()

    def _plot(self) -> hv.Layout:
        t = self.train
        steps = [(s["step"], s["loss"]) for s in t.steps]
        per_step = max(1, len(t.steps) // max(len(t.epochs_done), 1)) if t.epochs_done else 1
        val = [(e["epoch"] * per_step, e["val_loss"]) for e in t.epochs_done if "val_loss" in e]
        loss = hv.Curve(steps, "step", "loss", label="train loss").opts(color=LOSS_COLOR) * hv.Scatter(
            val, "step", "loss", label="val loss"
        ).opts(color=VAL_COLOR, size=8)
        iou = [(e["epoch"], e.get("iou", math.nan)) for e in t.epochs_done]
        f1 = [(e["epoch"], e.get("f1", math.nan)) for e in t.epochs_done]
        metrics = (
            hv.Curve(iou, "epoch", "score", label="val IoU").opts(color=IOU_COLOR)
            * hv.Curve(f1, "epoch", "score", label="val F1").opts(color=F1_COLOR)
            * hv.Scatter(iou, "epoch", "score").opts(color=IOU_COLOR, size=7)
        )
        opts = {
            "responsive": True,
            "height": self.height - 30,
            "show_grid": True,
            "legend_position": "top_right",
        }
        return (
            loss.opts(title="Loss", **opts) + metrics.opts(title="Validation scores", ylim=(0, 1), **opts)
        ).cols(2)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane


class BeforeAfter(Viewer):
    """Validation scores of the parent and the new model, side by side."""

    view_type: ClassVar[str] = "before_after"
    section_title: ClassVar[str | None] = "Before / after (validation split)"

    state = param.ClassSelector(class_=AppState)
    train = param.ClassSelector(class_=TrainSession)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML("", sizing_mode="stretch_width", margin=(4, 10))
        self.train.param.watch(lambda *_: self._update(), ["revision", "running"])
        self._update()

    def _update(self) -> None:
        t = self.train
        self._pane.object = before_after_html(t.model or "parent", t.new_model or t.out, t.before, t.after)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane
