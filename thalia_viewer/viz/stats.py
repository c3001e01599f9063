"""HoloViews plots of the dataset statistics (:mod:`thalia_viewer.core.stats`): bars and a frame x month heatmap.

Colours are the format's (``schema``) and the dates matrix's (``elements.STATUS_COLORS``), so a class looks
the same everywhere in the app.
"""

from __future__ import annotations

from typing import Final

import holoviews as hv
import pandas as pd
from bokeh.models import HoverTool

from thalia_viewer.core import schema
from thalia_viewer.core.catalog import BOTH_LABELS, NO_SPLIT, UNLABELLED
from thalia_viewer.viz.elements import STATUS_COLORS, PairStatus

POSITIVE: Final = STATUS_COLORS[PairStatus.DEFORMATION]
NEGATIVE: Final = STATUS_COLORS[PairStatus.NON_DEFORMATION]
LABEL_COLORS: Final = {
    schema.Label.DEFORMATION.value: STATUS_COLORS[PairStatus.DEFORMATION],
    schema.Label.EARTHQUAKE.value: STATUS_COLORS[PairStatus.EARTHQUAKE],
    BOTH_LABELS: "#a23b72",
    schema.Label.NON_DEFORMATION.value: STATUS_COLORS[PairStatus.NON_DEFORMATION],
    UNLABELLED: STATUS_COLORS[PairStatus.UNLABELLED],
}
SPLIT_COLORS: Final = {
    schema.Split.TRAIN.value: "#57606a",
    schema.Split.VAL.value: "#8fb3d9",
    schema.Split.TEST.value: "#1f6feb",
    NO_SPLIT: "#d0d7de",
}
HEAT_CMAP: Final = ["#ffffff", "#fde0d6", "#f9b49b", "#f08160", "#e4572e", "#b8371a", "#7f1d0a"]
BASE_OPTS: Final = {
    "tools": ["hover"],
    "toolbar": None,
    "fontsize": {"title": 12, "labels": 11, "xticks": 10, "yticks": 10},
    "show_grid": True,
    "default_tools": [],
}


def frames_bars(frames: pd.DataFrame, height: int = 640) -> hv.Bars:
    """Valid pairs per frame, positives and negatives stacked, the largest frame on top (Table 1 as bars)."""
    rows = []
    for frame, r in frames.iloc[::-1].iterrows():
        name = f"{frame} · {r['volcano']}"
        rows += [(name, "positive", int(r["positive"])), (name, "negative", int(r["pairs"] - r["positive"]))]
    data = pd.DataFrame(rows, columns=["frame", "label", "pairs"])
    return hv.Bars(data, kdims=["frame", "label"], vdims=["pairs"]).opts(
        stacked=True,
        invert_axes=True,
        cmap={"positive": POSITIVE, "negative": NEGATIVE},
        color="label",
        height=height,
        responsive=True,
        title="Valid pairs per frame",
        xlabel="",
        ylabel="pairs",
        xticks=5,
        legend_position="bottom_right",
        **BASE_OPTS,
    )


def split_bars(splits: pd.DataFrame, height: int = 300) -> hv.Bars:
    """Class balance: valid pairs per split, stacked by label."""
    labels = [c for c in splits.columns if c != "positive %"]
    data = splits[labels].reset_index().melt(id_vars="split", var_name="label", value_name="pairs")
    return hv.Bars(data, kdims=["split", "label"], vdims=["pairs"]).opts(
        stacked=True,
        cmap={k: LABEL_COLORS.get(k, "#999999") for k in labels},
        color="label",
        height=height,
        responsive=True,
        title="Class balance per split (valid pairs)",
        xlabel="",
        legend_position="right",
        **BASE_OPTS,
    )


def class_bars(
    table: pd.DataFrame, classes: tuple[schema.ClassCode, ...], title: str, height: int = 300
) -> hv.Bars:
    """Pairs per class (activity types or intensity levels), stacked by split, bars edged in the class colour."""
    splits = [c for c in table.columns if c != "pairs"]
    data = table[splits].reset_index().melt(id_vars="class", var_name="split", value_name="pairs")
    return hv.Bars(data, kdims=["class", "split"], vdims=["pairs"]).opts(
        stacked=True,
        cmap={s: SPLIT_COLORS.get(s, "#999999") for s in splits},
        color="split",
        height=height,
        responsive=True,
        title=title,
        xlabel="",
        legend_position="right",
        **BASE_OPTS,
    )


def counts_bars(
    table: pd.DataFrame,
    key: str,
    value: str,
    title: str,
    color: str = NEGATIVE,
    height: int = 300,
    horizontal: bool = False,
) -> hv.Bars:
    """One bar per row of ``table`` (index ``key``, column ``value``)."""
    data = table[[value]].reset_index().rename(columns={table.index.name or "index": key})
    return hv.Bars(data, kdims=[key], vdims=[value]).opts(
        color=color,
        height=height,
        responsive=True,
        title=title,
        xlabel="",
        invert_axes=horizontal,
        **BASE_OPTS,
    )


def flag_bars(flags: pd.DataFrame, height: int = 300) -> hv.Overlay:
    """Records per noise flag, with the positive ones among them."""
    data = flags.reset_index().rename(columns={"pairs": "all"})
    data["negative"] = data["all"] - data["positive"]
    long = data.melt(
        id_vars="flag", value_vars=["positive", "negative"], var_name="label", value_name="pairs"
    )
    order = list(data["flag"])[::-1]
    long["flag"] = pd.Categorical(long["flag"], categories=order, ordered=True)
    return hv.Bars(long.sort_values("flag"), kdims=["flag", "label"], vdims=["pairs"]).opts(
        stacked=True,
        invert_axes=True,
        cmap={"positive": POSITIVE, "negative": NEGATIVE},
        color="label",
        height=height,
        responsive=True,
        title="Noise flags (records; positives in red)",
        xlabel="",
        show_legend=False,
        xticks=4,
        **BASE_OPTS,
    )


def phase_bars(phase: pd.DataFrame, height: int = 300) -> hv.Bars:
    """Volcanic phase of the positive pairs, stacked by label (the negatives, nearly all at rest, in the title)."""
    labels = [c for c in phase.columns if c not in (schema.Label.NON_DEFORMATION.value, UNLABELLED)]
    resting = int(phase.drop(columns=labels).to_numpy().sum())
    data = phase[labels].reset_index().melt(id_vars="phase", var_name="label", value_name="pairs")
    data = data[data["pairs"] > 0]
    return hv.Bars(data, kdims=["phase", "label"], vdims=["pairs"]).opts(
        stacked=True,
        cmap={k: LABEL_COLORS.get(k, "#999999") for k in labels},
        color="label",
        height=height,
        responsive=True,
        title=f"Volcanic phase of the positive pairs ({resting:,} negatives not shown)",
        xlabel="",
        legend_position="right",
        **BASE_OPTS,
    )


def monthly_heatmap(monthly: pd.DataFrame, height: int | None = None) -> hv.HeatMap:
    """Positive pairs per frame (rows) and month of the primary date (columns); years labelled."""
    months = list(monthly.columns)
    data = monthly.reset_index().melt(id_vars="frame", var_name="month", value_name="positive")
    data["index"] = data["month"].map({m: i for i, m in enumerate(months)}).astype(int)
    vmax = max(int(data["positive"].max()), 1) if len(data) else 1
    ticks = (
        [(i, m[:4]) for i, m in enumerate(months) if m.endswith("-01")] or [(0, months[0][:4])]
        if months
        else []
    )
    rows = len(monthly.index)
    heat = hv.HeatMap(
        data,
        kdims=[hv.Dimension("index", label="Month of the primary date"), "frame"],
        vdims=["positive", "month"],
    )
    return heat.opts(
        cmap=HEAT_CMAP,
        clim=(0, vmax),
        colorbar=True,
        height=height or max(260, 16 * rows + 90),
        responsive=True,
        title="Positive pairs per frame and month",
        xticks=ticks,
        toolbar=None,
        line_color="#f3f4f6",
        tools=[
            HoverTool(tooltips=[("Frame", "@frame"), ("Month", "@month"), ("Positive pairs", "@positive")])
        ],
        line_width=0.5,
        fontsize={"title": 12, "labels": 11, "xticks": 10, "yticks": 9},
        xlabel="",
        ylabel="",
        invert_yaxis=True,
        default_tools=[],
    )
