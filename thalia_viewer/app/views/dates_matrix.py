"""The dates matrix: the frame's primary x secondary dates, each pair a cell coloured by its label.

Readable from ten to hundreds of dates: both axes index the frame's acquisitions in date order (so the pairs
run along the diagonal), with ticks thinned in the browser to months, quarters or years as the zoom allows
and the exact dates, label, flags and caption on hover. A frame with more dates than fit at a few pixels a
cell opens zoomed on the pair on screen (wheel zoom and pan inside the grid, reset to come back) beside a
year-by-month overview coloured by the share of positive pairs; a click there zooms the matrix to that
month. Flags are glyphs in the cells (when the cells are large enough to hold one), corrected pairs are
outlined, the pair on screen is framed in black with a cross-hair along its row and column, and the view
follows it when it leaves the window. A click on any cell (or close to one) opens that pair; unusable pairs
(annotated but corrupted, with a processing error or no information) are dark grey and cannot be opened.

Bokeh models already on the page are only written from the session's own next tick (never during a
callback that Panel holds, never into a document being built), so clicks work any number of times.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Final

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.core.property.descriptors import UnsetValueError
from bokeh.events import Tap
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    CustomJSTicker,
    CustomJSTickFormatter,
    HoverTool,
    PanTool,
    Range1d,
    ResetTool,
    Span,
    WheelZoomTool,
)
from bokeh.plotting import figure
from panel.viewable import Viewer

from thalia_viewer.app import background
from thalia_viewer.app.later import batched, later
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.pairs import Pair, pair_name
from thalia_viewer.viz.elements import (
    STATUS_COLORS,
    STATUS_DESCRIPTIONS,
    STATUS_ORDER,
    PairStatus,
    pair_status,
)

MATRIX_NAME: Final = "thalia-dates-matrix"  # the figure's Bokeh name (browser tests find it by it)
MARKER_NAME: Final = "thalia-current-pair"  # the marker's source (browser tests read the pair it frames)
CELLS_NAME: Final = "thalia-matrix-cells"  # the cells' source
CURRENT_COLOR: Final = "#111111"
CORRECTED_COLOR: Final = "#1f6feb"
MIN_CELL_PX: Final = 7  # below this a frame opens zoomed in, with the overview beside it
CELL_PX: Final = 12  # cell size when zoomed in, px
MIN_WINDOW: Final = 6  # the closest zoom, dates
AXIS_PX: Final = 64  # room of the axis labels inside the figure
LABEL_PX: Final = 52  # one axis label per this many pixels
GLYPH_MIN_PX: Final = 9  # flag glyphs show from this cell size on
SNAP_PX: Final = 8  # a click this close to a cell opens it
OVERVIEW_CELL_PX: Final = 26
#: Flag glyphs, most telling first (one glyph per cell): (name, marker, legend symbol, what it marks).
FLAG_GLYPHS: Final = (
    (schema.FLAG_ATMOSPHERIC, "triangle", "▲", "atmospheric fringes"),
    (schema.FLAG_LOW_COHERENCE, "circle", "●", "low coherence"),
    (schema.FLAG_ORBITAL, "diamond", "◆", "orbital fringes"),
    (schema.FLAG_GLACIER, "square", "■", "glacier fringes"),
    (schema.FLAG_IMAGE_ARTIFACTS, "x", "✕", "image artifacts"),
)
POSITIVE_STATUSES: Final = (PairStatus.DEFORMATION, PairStatus.EARTHQUAKE)
#: Overview colours: share of positive pairs in a month, none to all.
DENSITY_PALETTE: Final = ("#dde6ef", "#fbd3c3", "#f6a98c", "#ef7b58", "#e4572e", "#b8371a")
CELL_COLUMNS: Final = (
    "x",
    "y",
    "pair",
    "primary",
    "secondary",
    "days",
    "status",
    "status_code",
    "color",
    "label",
    "flags",
    "marker",
    "corrected",
    "caption",
)

_TICKER_JS: Final = """
const s = cb_data.start, e = cb_data.end;
const lo = Math.min(s, e), hi = Math.max(s, e);
const inside = (a) => a.filter((t) => t >= lo && t <= hi);
let length = side;  // the plot's size once laid out (unset before: reading it throws)
try { length = (horizontal ? fig.inner_width : fig.inner_height) || side; } catch (err) { length = side; }
const gap = min_px * (hi - lo) / Math.max(length, 1);  // index units between two labels
let level = years;
for (const l of [months, quarters, years]) {
  if (inside(l).length <= max_labels) { level = l; break; }
}
const kept = [];
const fits = (t) => kept.every((k) => Math.abs(k - t) >= gap);
for (const t of inside(years)) { if (fits(t)) { kept.push(t); } }
for (const t of inside(level)) { if (fits(t)) { kept.push(t); } }
return kept.sort((a, b) => a - b);
"""
_FORMAT_JS: Final = "const k = String(tick); return (k in labels) ? labels[k] : '';"
_ZOOM_JS: Final = """
const span = Math.abs(xr.end - xr.start);
let width = side;
try { width = fig.inner_width || side; } catch (err) { width = side; }
const px = Math.max(width, 1) / Math.max(span, 1e-9);
marks.visible = px >= glyph_px;
marks.glyph.size = Math.max(5, Math.min(12, px * 0.45));
"""
_OVERVIEW_TAP_JS: Final = """
const m = Math.round(cb_obj.x), y = Math.round(cb_obj.y);
const d = src.data;
for (let k = 0; k < d.month.length; k++) {
  if (d.month[k] === m && d.year[k] === y) {
    const c = (d.i0[k] + d.i1[k]) / 2;
    const half = Math.max(window / 2, (d.i1[k] - d.i0[k]) / 2 + 2);
    const a = Math.max(lo, c - half), b = Math.min(hi, c + half);
    xr.setv({start: a, end: b});
    yr.setv({start: b, end: a});
    return;
  }
}
"""


# ---------------------------------------------------------------------------------------------- cells
def frame_dates(cells: pd.DataFrame) -> list[str]:
    """Every acquisition date (``YYYYMMDD``) of the cells, in order: the matrix axes."""
    return sorted(set(cells["primary_key"]) | set(cells["secondary_key"])) if len(cells) else []


def _marker(record: dict | None) -> str:
    for name, marker, _, _ in FLAG_GLYPHS:
        if schema.flag_value(record, name):
            return marker
    return ""


def _flags(record: dict | None) -> str:
    if not record:
        return ""
    out = []
    for name, values in schema.FLAG_FIELDS.items():
        v = schema.flag_value(record, name)
        if v:
            out.append(
                name.replace("_", " ") + ("" if values.get(v) in ("yes", None) else f": {values.get(v)}")
            )
    return ", ".join(out)


def matrix_cells(
    frame: Frame,
    record: Callable[[Pair], dict | None] | None = None,
    corrected: Callable[[Pair], str] | None = None,
) -> pd.DataFrame:
    """One row per cell: the valid pairs and the annotated-but-unusable pairs of ``frame``.

    ``record`` gives a pair's current record (default: the source's), ``corrected`` who corrected it (``""``:
    nobody). Columns: :data:`CELL_COLUMNS` (``x`` / ``y``: secondary / primary date index in
    :func:`frame_dates`) plus ``primary_key`` / ``secondary_key`` (``YYYYMMDD``).
    """
    record = record or frame.annotation
    valid = {(p.primary, p.secondary): p for p in frame.pairs}  # Pair objects made once by the frame
    rows = []
    for key in sorted(set(valid) | set(frame.records)):
        pair = valid.get(key)
        rec = record(pair) if pair is not None else frame.records.get(key)
        status = pair_status(rec, pair is not None)
        labels = ", ".join(rec.get("label", [])) if rec else "no annotation"
        patterns = (
            ", ".join(
                f"{a} ({i})"
                for a, i in zip(rec.get("activity_type", []), rec.get("intensity_level", []), strict=False)
            )
            if rec
            else ""
        )
        p, s = key
        rows.append(
            {
                "primary_key": p,
                "secondary_key": s,
                "pair": pair_name(p, s),
                "primary": _pretty(p),
                "secondary": _pretty(s),
                "status": status.value.replace("_", " "),
                "status_code": STATUS_ORDER.index(status),
                "color": STATUS_COLORS[status],
                "label": labels + (f": {patterns}" if patterns else ""),
                "flags": _flags(rec) or "none",
                "marker": _marker(rec),
                "corrected": (corrected(pair) if corrected and pair is not None else "") or "",
                "caption": _short(str((rec or {}).get("caption", ""))),
            }
        )
    cells = pd.DataFrame(
        rows,
        columns=["primary_key", "secondary_key", *[c for c in CELL_COLUMNS if c not in ("x", "y", "days")]],
    )
    index = {d: i for i, d in enumerate(frame_dates(cells))}
    days = (
        pd.to_datetime(cells["secondary_key"], format="%Y%m%d")
        - pd.to_datetime(cells["primary_key"], format="%Y%m%d")
    ).dt.days
    cells.insert(cells.columns.get_loc("status"), "days", days.astype(int) if len(cells) else days)
    cells.insert(0, "x", cells["secondary_key"].map(index).astype(float))
    cells.insert(1, "y", cells["primary_key"].map(index).astype(float))
    return cells


def _pretty(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def axis_ticks(dates: list[str]) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Tick positions (boundaries before the first date of each month / quarter / year, in index units) and their
    labels (the year at January, else the month's abbreviation)."""
    levels: dict[str, list[float]] = {"months": [], "quarters": [], "years": []}
    labels: dict[str, str] = {}
    last = None
    for i, d in enumerate(dates):
        y, m = int(d[:4]), int(d[4:6])
        if (y, m) == last:
            continue
        first_of_year = last is None or y != last[0]
        last = (y, m)
        pos = i - 0.5
        levels["months"].append(pos)
        if first_of_year or m in (1, 4, 7, 10) or (m - 1) % 3 == 0:
            levels["quarters"].append(pos)
        if first_of_year:
            levels["years"].append(pos)
        labels[str(pos)] = str(y) if first_of_year else pd.Timestamp(year=y, month=m, day=1).strftime("%b")
    return levels, labels


def overview_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Year x month of the primary date: valid pairs, positives, their share, and the date-index span."""
    valid = cells[cells["status"] != PairStatus.UNUSABLE.value.replace("_", " ")]
    if valid.empty:
        return pd.DataFrame(
            columns=["year", "month", "pairs", "positive", "share", "color", "i0", "i1", "text", "label"]
        )
    positive = valid["status_code"].isin([STATUS_ORDER.index(s) for s in POSITIVE_STATUSES])
    g = valid.assign(
        year=valid["primary_key"].str[:4].astype(int),
        month=valid["primary_key"].str[4:6].astype(int),
        positive=positive,
    ).groupby(["year", "month"])
    out = g.agg(
        pairs=("pair", "size"), positive=("positive", "sum"), i0=("y", "min"), i1=("y", "max")
    ).reset_index()
    out["share"] = out["positive"] / out["pairs"]
    levels = np.minimum(
        (np.ceil(out["share"] * (len(DENSITY_PALETTE) - 1))).astype(int), len(DENSITY_PALETTE) - 1
    )
    out["color"] = [DENSITY_PALETTE[k] for k in levels]
    out["text"] = [str(int(p)) if p else "" for p in out["positive"]]
    out["label"] = [f"{y}-{m:02d}" for y, m in zip(out["year"], out["month"], strict=True)]
    out["month"] = out["month"].astype(float)
    out["year"] = out["year"].astype(float)
    return out


def legend_html() -> str:
    """Swatches of the statuses, the flag glyphs, the corrected outline and the on-screen frame."""
    items = "".join(
        f"<span class='thalia-class' title='{html.escape(STATUS_DESCRIPTIONS[s])}'>"
        f"<span class='thalia-swatch' style='background:{STATUS_COLORS[s]}'></span>{html.escape(s.value.replace('_', ' '))}</span>"
        for s in STATUS_ORDER
    )
    glyphs = "".join(
        f"<span class='thalia-class'><b>{sym}</b>&nbsp;{html.escape(what)}</span>"
        for _, _, sym, what in FLAG_GLYPHS
    )
    return (
        f"<div class='thalia-classes'>{items}</div><div class='thalia-classes' style='margin-top:3px'>{glyphs}"
        f"<span class='thalia-class'><span class='thalia-swatch' style='background:transparent;border:2px solid {CORRECTED_COLOR}'>"
        f"</span>corrected</span><span class='thalia-class'><span class='thalia-swatch thalia-current'></span>on screen</span></div>"
    )


def _current_pair_spans() -> tuple[Span, Span]:
    """The faint row and column lines through the pair on screen (hidden until placed), on the overlay level:
    moving them repaints that level only, not the matrix's cells."""
    row, col = (
        Span(
            location=-10,
            dimension=dimension,
            line_color=CURRENT_COLOR,
            line_alpha=0.3,
            line_width=1,
            level="overlay",
        )
        for dimension in ("width", "height")
    )
    return row, col


# ----------------------------------------------------------------------------------------------- view
class DatesMatrix(Viewer):
    """Primary x secondary matrix of the frame's pairs (zoomable, with a year-by-month overview); a click opens a pair."""

    view_type: ClassVar[str] = "dates_matrix"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Dates matrix"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    height = param.Integer(default=480, bounds=(200, 2000), doc="Matrix side, px (the matrix is square)")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._cells = pd.DataFrame(columns=CELL_COLUMNS)
        self._dates: list[str] = []
        self._index: dict[str, int] = {}
        self._fig: Any = None
        self._overview_fig: Any = None
        self._frame: str | None = None
        self._source = ColumnDataSource(data={c: [] for c in CELL_COLUMNS})
        self._flag_source = ColumnDataSource(data={"x": [], "y": [], "marker": []})
        self._marker = ColumnDataSource(data=self._no_marker(), name=MARKER_NAME)
        self._overview_source = ColumnDataSource(data={})
        self._overview_marker = ColumnDataSource(data={"x": [], "y": []})
        self._row_span, self._col_span = _current_pair_spans()
        self._pane = pn.pane.Bokeh(None, width=self.height, height=self.height, margin=(0, 10))
        self._overview = pn.pane.Bokeh(None, margin=(0, 10))
        self._overview_box = pn.Column(self._overview, margin=0, visible=False)
        self._info = pn.pane.HTML("", margin=(4, 10), css_classes=["thalia-summary"], width=380)
        self._legend = pn.pane.HTML(legend_html(), sizing_mode="stretch_width", margin=(4, 10))
        self._layout = pn.Column(
            pn.Row(
                self._pane, pn.Column(self._overview_box, self._info, margin=0), sizing_mode="stretch_width"
            ),
            self._legend,
            sizing_mode="stretch_width",
        )
        self.state.watch(lambda *_: self._rebuild(), "frame", "the dates matrix")
        marker = self.state.guarded(self._on_pair, "the dates matrix's marker")
        # after the step's own patch (the map, the pickers, the address): app/later.py
        self.state.watch(lambda *_: later((self, "marker"), marker), "pair", "the dates matrix's marker")
        self._rebuild()

    # ------------------------------------------------------------------------------------------ data
    def _corrected_by(self) -> Callable[[Pair], str]:
        """Who corrected each pair, from the session's catalogue when it is built (else nobody)."""
        try:
            from thalia_viewer.app.session.search import catalog_for, prepare_catalog

            if not self.state.root or not prepare_catalog(self.state.root).done():
                return lambda _: ""
            table = catalog_for(self.state.root).table
        except Exception:  # the matrix works without the catalogue
            return lambda _: ""
        done = table[table["corrected"] & (table["frame"] == self._frame)]
        who = dict(zip(done["key"], done["corrected_by"].astype(str), strict=True))
        return lambda pair: who.get(pair.key, "")

    def _rebuild(self) -> None:
        frame = self.state.frame_obj
        self._frame = frame.frame_id if frame is not None else None
        if frame is None or not (frame.pairs or frame.records):
            self._cells = pd.DataFrame(columns=CELL_COLUMNS)
            self._pane.object, self._overview_box.visible = None, False
            self._info.object = "<span class='thalia-muted'>No pair in this frame.</span>"
            return
        self._cells = cells = matrix_cells(frame, self.state.record, self._corrected_by())
        self._dates = frame_dates(cells)
        self._index = {d: i for i, d in enumerate(self._dates)}
        self._source = ColumnDataSource(data={c: cells[c].tolist() for c in CELL_COLUMNS}, name=CELLS_NAME)
        flagged = cells[cells["marker"] != ""]
        self._flag_source = ColumnDataSource(
            data={
                "x": flagged["x"].tolist(),
                "y": flagged["y"].tolist(),
                "marker": flagged["marker"].tolist(),
            }
        )
        self._marker = ColumnDataSource(data=self._marker_data(), name=MARKER_NAME)
        self._row_span, self._col_span = _current_pair_spans()
        self._fig = self._matrix_figure()
        self._move_spans()
        zoomed = self._zoomed
        self._overview_fig = self._overview_figure(overview_cells(cells)) if zoomed else None
        self._pane.object = self._fig
        self._overview.object = self._overview_fig
        self._overview_box.visible = zoomed
        self._info.object = self._info_html()

    @property
    def _zoomed(self) -> bool:
        """Whether the whole grid cannot fit at :data:`MIN_CELL_PX` (the matrix opens zoomed, with the overview)."""
        return len(self._dates) * MIN_CELL_PX > self.height - AXIS_PX

    @property
    def _window_dates(self) -> int:
        """Dates across the zoomed-in window: cells of about :data:`CELL_PX` screen pixels."""
        return max(MIN_WINDOW, (self.height - AXIS_PX) // CELL_PX)

    def _window(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y date-index windows to show: everything, or cells of :data:`CELL_PX` around the pair on
        screen (each axis centred on its date, so a long-baseline pair off the diagonal is in view too)."""
        n = len(self._dates)
        if not self._zoomed:
            return (-0.5, n - 0.5), (-0.5, n - 0.5)
        x, y = self._current_xy()
        if x is None or y is None:
            x = y = n / 2
        return self._centred(x), self._centred(y)

    def _centred(self, c: float, width: float | None = None) -> tuple[float, float]:
        n, width = len(self._dates), width or self._window_dates
        a = min(max(c - width / 2, -0.5), max(n - 0.5 - width, -0.5))
        return a, min(a + width, n - 0.5)

    def _current_xy(self) -> tuple[float | None, float | None]:
        pair = self.state.pair
        if (
            pair is None
            or pair.frame != self._frame
            or pair.primary not in self._index
            or pair.secondary not in self._index
        ):
            return None, None
        return float(self._index[pair.secondary]), float(self._index[pair.primary])

    def _marker_data(self) -> dict[str, list]:
        """The marker's cell and the pair's dates (``YYYY-MM-DD``, what the hover says)."""
        x, y = self._current_xy()
        pair = self.state.pair
        if x is None or pair is None:
            return self._no_marker()
        return {
            "x": [x],
            "y": [y],
            "primary": [_pretty(pair.primary)],
            "secondary": [_pretty(pair.secondary)],
        }

    @staticmethod
    def _no_marker() -> dict[str, list]:
        return {"x": [], "y": [], "primary": [], "secondary": []}

    # --------------------------------------------------------------------------------------- figures
    def _matrix_figure(self) -> Any:
        n, side = len(self._dates), self.height
        (a, b), (ya, yb) = self._window()
        bounds = (-0.5, n - 0.5)
        xr = Range1d(a, b, bounds=bounds, min_interval=MIN_WINDOW)
        yr = Range1d(yb, ya, bounds=bounds, min_interval=MIN_WINDOW)
        hover = HoverTool(
            tooltips=[
                ("Pair", "@primary → @secondary (@days days)"),
                ("Label", "@label"),
                ("Flags", "@flags"),
                ("Corrected by", "@corrected"),
                ("Caption", "@caption"),
            ]
        )
        wheel = WheelZoomTool()
        fig = figure(
            x_range=xr,
            y_range=yr,
            width=side,
            height=side,
            tools=[PanTool(), wheel, ResetTool(), hover],
            active_scroll=wheel,
            toolbar_location="above",
            x_axis_label="Secondary date",
            y_axis_label="Primary date",
            min_border=4,
            outline_line_color="#d0d7de",
            name=MATRIX_NAME,
        )
        cells = fig.rect(
            x="x", y="y", width=0.92, height=0.92, source=self._source, fill_color="color", line_color=None
        )
        hover.renderers = [cells]
        corrected = self._cells["corrected"] != ""
        if corrected.any():
            src = ColumnDataSource(
                data={"x": self._cells["x"][corrected].tolist(), "y": self._cells["y"][corrected].tolist()}
            )
            fig.rect(
                x="x",
                y="y",
                width=0.92,
                height=0.92,
                source=src,
                fill_alpha=0,
                line_color=CORRECTED_COLOR,
                line_width=2,
            )
        marks = fig.scatter(
            x="x",
            y="y",
            marker="marker",
            source=self._flag_source,
            size=7,
            fill_color="#ffffff",
            line_color="#1f2328",
            line_width=1,
        )
        fig.rect(
            x="x",
            y="y",
            width=1.0,
            height=1.0,
            source=self._marker,
            fill_alpha=0,
            line_color=CURRENT_COLOR,
            line_width=3,
            level="overlay",  # a step repaints the marker's layer only, not the whole grid of cells
        )
        fig.add_layout(self._row_span)
        fig.add_layout(self._col_span)
        levels, labels = axis_ticks(self._dates)
        max_labels = max(2, (side - AXIS_PX) // LABEL_PX)
        for axis, grid, horizontal in ((fig.xaxis, fig.xgrid, True), (fig.yaxis, fig.ygrid, False)):
            ticker = CustomJSTicker(
                major_code=_TICKER_JS,
                minor_code="return [];",
                args={
                    **levels,
                    "max_labels": max_labels,
                    "fig": fig,
                    "horizontal": horizontal,
                    "side": side - AXIS_PX,
                    "min_px": LABEL_PX,
                },
            )
            axis.ticker = ticker
            grid.ticker = ticker
            axis.formatter = CustomJSTickFormatter(code=_FORMAT_JS, args={"labels": labels})
            axis.major_label_text_font_size = "11px"
        fig.grid.grid_line_color = "#eaeef2"
        fig.xaxis.major_label_orientation = 0
        zoom = CustomJS(
            args={"xr": xr, "fig": fig, "marks": marks, "side": side - AXIS_PX, "glyph_px": GLYPH_MIN_PX},
            code=_ZOOM_JS,
        )
        xr.js_on_change("start", zoom)
        xr.js_on_change("end", zoom)
        marks.visible = (side - AXIS_PX) / max(b - a, 1e-9) >= GLYPH_MIN_PX
        marks.glyph.size = max(5, min(12, (side - AXIS_PX) / max(b - a, 1e-9) * 0.45))
        fig.on_event(Tap, self._on_tap_event)
        return fig

    def _overview_figure(self, ov: pd.DataFrame) -> Any:
        if ov.empty:
            return None
        years = sorted(set(ov["year"].astype(int)))
        y0, y1 = years[0], years[-1]
        self._overview_source = ColumnDataSource(data={c: ov[c].tolist() for c in ov.columns})
        self._overview_marker = ColumnDataSource(data=self._overview_marker_data())
        hover = HoverTool(
            tooltips=[
                ("Month", "@label"),
                ("Pairs", "@pairs (primary date in the month)"),
                ("Positive", "@positive"),
            ]
        )
        fig = figure(
            x_range=Range1d(0.5, 12.5),
            y_range=Range1d(y1 + 0.5, y0 - 0.5),
            width=12 * OVERVIEW_CELL_PX + 60,
            height=(y1 - y0 + 1) * OVERVIEW_CELL_PX + 50,
            tools=[hover],
            toolbar_location=None,
            title="Year by month: share of positive pairs (click to zoom)",
            min_border=4,
        )
        cells = fig.rect(
            x="month",
            y="year",
            width=0.92,
            height=0.88,
            source=self._overview_source,
            fill_color="color",
            line_color=None,
        )
        hover.renderers = [cells]
        fig.text(
            x="month",
            y="year",
            text="text",
            source=self._overview_source,
            text_align="center",
            text_baseline="middle",
            text_font_size="10px",
            text_color="#1f2328",
        )
        fig.rect(
            x="x",
            y="y",
            width=1.0,
            height=1.0,
            source=self._overview_marker,
            fill_alpha=0,
            line_color=CURRENT_COLOR,
            line_width=2,
            level="overlay",
        )
        fig.xaxis.ticker = list(range(1, 13))
        fig.xaxis.major_label_overrides = {m: "JFMAMJJASOND"[m - 1] for m in range(1, 13)}
        fig.yaxis.ticker = years
        fig.grid.visible = False
        fig.title.text_font_size = "12px"
        fig.title.text_font_style = "normal"
        n = len(self._dates)
        fig.js_on_event(
            "tap",
            CustomJS(
                args={
                    "src": self._overview_source,
                    "xr": self._fig.x_range,
                    "yr": self._fig.y_range,
                    "window": self._window_dates,
                    "lo": -0.5,
                    "hi": n - 0.5,
                },
                code=_OVERVIEW_TAP_JS,
            ),
        )
        return fig

    def _overview_marker_data(self) -> dict[str, list[float]]:
        pair = self.state.pair
        if pair is None or pair.frame != self._frame:
            return {"x": [], "y": []}
        return {"x": [float(int(pair.primary[4:6]))], "y": [float(int(pair.primary[:4]))]}

    def _info_html(self) -> str:
        cells = self._cells
        valid = cells[cells["status"] != PairStatus.UNUSABLE.value]
        pos = valid["status_code"].isin([STATUS_ORDER.index(s) for s in POSITIVE_STATUSES]).sum()
        primaries = valid["primary_key"].nunique()
        how = (
            "Wheel to zoom, drag to pan, ↺ for the start view; the overview zooms to a month."
            if self._zoomed
            else "Hover a cell for its dates, label and flags; click to open it."
        )
        return (
            f"<b>{len(self._dates)}</b> dates, <b>{primaries}</b> primary dates, <b>{len(valid)}</b> pairs "
            f"(<b>{pos}</b> positive), {len(cells) - len(valid)} unusable. <span class='thalia-muted'>{how}</span>"
        )

    # ---------------------------------------------------------------------------------- pair on screen
    def _on_pair(self) -> None:
        if self.state.frame != self._frame:
            return  # the frame watcher rebuilds
        doc = self._fig.document if self._fig is not None else None
        if doc is not None and doc.session_context is not None and pn.state.curdoc is not doc:
            self._after_tick(self._move_marker)  # not from the session's own tick
        else:
            self._move_marker()

    def _move_marker(self) -> None:
        """Frame the pair on screen and bring it into view (run from the session's own tick)."""
        data = self._marker_data()
        if dict(self._marker.data) != data:
            self._marker.data = data
        self._move_spans()
        ov = self._overview_marker_data()
        if self._overview_fig is not None and dict(self._overview_marker.data) != ov:
            self._overview_marker.data = ov
        x, y = self._current_xy()
        fig = self._fig
        if fig is None or x is None or y is None:
            return
        xr, yr = fig.x_range, fig.y_range
        lo_x, hi_x = sorted((xr.start, xr.end))
        lo_y, hi_y = sorted((yr.start, yr.end))
        if not lo_x + 0.5 <= x <= hi_x - 0.5:
            a, b = self._centred(x, max(hi_x - lo_x, MIN_WINDOW))
            xr.update(start=a, end=b)
        if not lo_y + 0.5 <= y <= hi_y - 0.5:
            a, b = self._centred(y, max(hi_y - lo_y, MIN_WINDOW))
            yr.update(start=b, end=a)

    def _move_spans(self) -> None:
        x, y = self._current_xy()
        self._row_span.location = y if y is not None else -10.0
        self._col_span.location = x if x is not None else -10.0

    def _after_tick(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` where it may write Bokeh models: at once when the figure is not on a served page, else on
        the session's next tick (the document locked and current)."""
        doc = self._fig.document if self._fig is not None else None
        if doc is None or doc.session_context is None:
            fn()
            return
        background.on_next_tick(doc, fn)

    # ----------------------------------------------------------------------------------------- clicks
    def _on_tap_event(self, event: Tap) -> None:
        """A click on the matrix (a Bokeh event): open the nearest cell on the next tick, in the session."""
        if event.x is None or event.y is None:
            return
        doc = self._fig.document if self._fig is not None else None
        if doc is None:
            self.open_at(event.x, event.y)
            return
        background.on_next_tick(doc, partial(batched(self.open_at), event.x, event.y))

    def open_at(self, x: float, y: float) -> bool:
        """Open the cell nearest to the data point (``x`` secondary, ``y`` primary date index) if it is close
        enough to the click; unusable pairs are refused with a warning. Returns whether a pair opened."""
        cells = self._cells
        if cells.empty:
            return False
        d = np.hypot(cells["x"].to_numpy() - x, cells["y"].to_numpy() - y)
        k = int(np.argmin(d))
        if d[k] > self._snap_radius():
            return False
        row = cells.iloc[k]
        if row["status"] == PairStatus.UNUSABLE.value:
            self.state.notify(
                "warning",
                f"pair {row['pair']} of {self.state.frame} is not usable ({STATUS_DESCRIPTIONS[PairStatus.UNUSABLE]}).",
            )
            return False
        return self.state.go_key(f"{self.state.frame}/{row['pair']}")

    def _snap_radius(self) -> float:
        """How far from a cell centre a click still opens it, in cells: half a cell, or :data:`SNAP_PX` on screen."""
        fig = self._fig
        if fig is None:
            return 0.75
        span = abs(fig.x_range.end - fig.x_range.start) or 1.0
        try:
            width = fig.inner_width or (self.height - AXIS_PX)
        except UnsetValueError:  # the browser has not laid it out (yet)
            width = self.height - AXIS_PX
        px = width / span
        return max(0.75, SNAP_PX / max(px, 1e-9)) if math.isfinite(px) else 0.75

    def open_dates(self, primary: str, secondary: str) -> bool:
        """Open the cell of these dates (``YYYYMMDD`` or ``YYYY-MM-DD``) as a click on it would."""
        p, s = schema.format_date(primary), schema.format_date(secondary)
        if p not in self._index or s not in self._index:
            return False
        return self.open_at(float(self._index[s]), float(self._index[p]))

    def cell_of(self, pair: Pair) -> tuple[float, float] | None:
        """Data coordinates (x, y) of a pair's cell, or ``None``."""
        if pair.primary not in self._index or pair.secondary not in self._index:
            return None
        return float(self._index[pair.secondary]), float(self._index[pair.primary])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["DatesMatrix", "axis_ticks", "frame_dates", "legend_html", "matrix_cells", "overview_cells"]
