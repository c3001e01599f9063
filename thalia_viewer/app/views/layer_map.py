"""The map: the pair's layers, relief and masks, aggregated by Datashader at screen resolution.

One ``DynamicMap`` per layer (three value slots, the relief, one per mask kind), overlaid in a fixed order,
so a pair switch only swaps data: the plot, its zoom and its tools stay. They listen to the plot's
``RangeXY`` / ``PlotSize`` (re-aggregate on zoom and pan) and to one shared *feed*: for every layer, the
identity of the data it shows (frame, layer, dates; mask style). One feed means one plot refresh per pair
switch; a layer whose identity and view did not change returns the very same element, so its data is
not sent again (the DEM, a primary-date ERA5 field). A new frame (new extent) rebuilds the plot.

Bytes on the wire per update: one value per screen pixel per changed value layer (float32), one byte
per pixel per mask; never more pixels than the frame has inside the view (zoomed in past native
resolution the browser upsamples with nearest).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Any, ClassVar, Final

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr
from panel.viewable import Viewer

from thalia_viewer.app.aggregates import AggregateCache, Job, code_aggregate, compute_aggregate
from thalia_viewer.app.messages import describe, log_unexpected, placeholder_html
from thalia_viewer.app.state import MASK_LAYERS, NONE, AppState
from thalia_viewer.app.views import readout
from thalia_viewer.app.views.legend import legend_html
from thalia_viewer.app.views.map_drawing import MapDrawing
from thalia_viewer.core import schema
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.schema import Layer
from thalia_viewer.viz import elements
from thalia_viewer.viz.shade import Extent, data_extent, data_span

DEFAULT_WIDTH: Final = 900  # px, before the browser reports the plot size
MAX_SIDE: Final = 2400  # px, cap of an aggregate side (a 4K screen); bounds every message by screen size
VALUE_DIGITS: Final[dict[str, int]] = {"phase": 2, "coherence": 2, "dem": 0}
DEFAULT_DIGITS: Final = 3
RELIEF: Final = "relief"
HIDDEN_UNITS: Final = ("", "0-1")  # units not worth repeating after a value

# Blank layers are one NaN pixel; HoloViews' range code warns about their all-NaN min / max.
warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning, "holoviews")


def value_slot(i: int) -> str:
    """Feed name of the i-th value layer slot (0 = bottom)."""
    return f"value{i}"


def mask_slot(key: str) -> str:
    """Feed name of a mask layer."""
    return f"mask:{key}"


def overlay_slot(i: int) -> str:
    """Feed name of the i-th code overlay (a version diff, a prediction vs the labels)."""
    return f"overlay{i}"


class _Feed(param.Parameterized):
    """What every layer of the map shows: feed name -> identity of its data (``None``: nothing)."""

    keys = param.Dict(default={})


class LayerMap(Viewer):
    """The pair's layer stack, relief and masks in native lon/lat, re-aggregated on every zoom and pan."""

    view_type: ClassVar[str] = "layer_map"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = None  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    edit = param.Parameter(default=None, doc="The annotate session (an EditSession) whose tools draw on the map")
    overlays = param.List(default=[], doc="Code overlays drawn on top (``app.overlay.CodeOverlay``: a diff, a prediction)")
    height = param.Integer(default=640, bounds=(240, 2000), doc="Plot height, px")
    max_side = param.Integer(default=MAX_SIDE, bounds=(64, 8192), doc="Largest aggregate side, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        state = self.state
        self._aggs = AggregateCache()
        self._feed = _Feed()
        self._memo: dict[str, tuple[tuple, hv.Element]] = {}  # feed name -> (inputs, element)
        self._spans: dict[tuple, tuple[float, float]] = {}
        self._reported: set[tuple] = set()
        self._labels: dict[str, str] = {}
        self._bars: dict[int, tuple[Layer, tuple[float, float]]] = {}
        self.size_streams: list[hv.streams.PlotSize] = []  # of the plot on screen, one per layer
        self._size_stream: hv.streams.PlotSize | None = None  # the bottom layer's: the plot's size and view
        self._range_stream: hv.streams.RangeXY | None = None
        self._built_names: list[str] | None = None  # layers of the plot on screen
        self.readout = readout.readout_div()
        self._pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=self.height, linked_axes=False,
                                       css_classes=["thalia-map"])  # fmt: skip
        self._legend = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._failures: dict[str, str] = {}  # layer name -> why it cannot be shown (see "damaged layers")
        self._problem = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=(0, 10),
                                     css_classes=["thalia-map-problem"])  # fmt: skip
        self.layout = pn.Column(self._problem, self._pane, pn.pane.Bokeh(self.readout, sizing_mode="stretch_width", height=22),
                                self._legend, sizing_mode="stretch_width")  # fmt: skip
        state.watch(lambda *_: self._rebuild(), "frame", "the map")
        state.watch(lambda *_: self._refresh_feed(), ["pair", "masks", "relief", "mask_style"], "the map")
        for slot in state.slots:
            slot.param.watch(lambda *_: self._refresh_feed(), "layer")
            slot.param.watch(lambda *_: self._update_legend(), ["layer", "opacity"])
        state.watch(lambda *_: self._update_legend(), ["masks", "mask_style"], "the map legend")
        self._drawing = MapDrawing(self.edit) if self.edit is not None else None
        if self.edit is not None:
            self.edit.param.watch(lambda *_: self._refresh_feed(), "revision")
        for overlay in self.overlays:
            overlay.param.watch(lambda *_: self._refresh_feed(), "overlay_revision")
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _: self._aggs.clear())
        self._rebuild()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout

    # -------------------------------------------------------------------------------------- feed
    def _feed_keys(self) -> dict[str, tuple | None]:
        state = self.state
        keys: dict[str, tuple | None] = {}
        for i, slot in enumerate(state.slots):
            keys[value_slot(i)] = state.layer_identity(slot.layer) if slot.layer != NONE else None
        keys[RELIEF] = state.layer_identity("dem") if state.relief else None
        for key in MASK_LAYERS:
            identity = state.layer_identity(key) if key in state.masks else None
            keys[mask_slot(key)] = (identity, state.mask_style) if identity is not None else None
        for i, overlay in enumerate(self.overlays):
            keys[overlay_slot(i)] = overlay.overlay_token(state.current) if state.current is not None else None
        return keys

    def _refresh_feed(self) -> None:
        """Point every layer at the data it must now show: the new aggregates are computed first, then
        one feed change refreshes the plot once. A layer shown or hidden rebuilds the plot at the same view."""
        if self.state.current is not None:
            self._aggs.warm(self._jobs(self.state.current))
        if self._built_names is not None and self._active_names() != self._built_names:
            self._rebuild(keep_view=True)
            return
        self._feed.keys = self._feed_keys()

    # -------------------------------------------------------------------------------------- plot
    def _rebuild(self, keep_view: bool = False) -> None:
        """A new plot for the frame on screen (its extent sets the axes; ``keep_view``: the current view)."""
        view = None
        if keep_view and self._range_stream is not None and self._range_stream.x_range is not None:
            view = (self._range_stream.x_range, self._range_stream.y_range)
        self._memo.clear()
        self._failures.clear()
        self._built_names = None
        self._feed.keys = self._feed_keys()
        frame = self.state.frame_obj
        if frame is None or not self.state.pair:
            self._size_stream = self._range_stream = None
            self._pane.object = self._empty()
            return
        try:
            self._extent = data_extent(self.state.layer("phase"))
        except Exception as exc:  # a damaged frame: the rest of the page goes on
            self._layer_failed(value_slot(0), (self.state.frame,), "phase", exc)
            self._show_failures()
            self._pane.object = self._empty()
            return
        self._kdims = [elements.geo_dimension("x", frame.x_dim), elements.geo_dimension("y", frame.y_dim)]
        self._pane.object = self._overlay(view)

    def _empty(self) -> hv.Element:
        return hv.Text(0, 0, "No pair to show").opts(
            xaxis=None, yaxis=None, toolbar=None, responsive=True, height=self.height, text_color="#57606a"
        )

    def _active_names(self) -> list[str]:
        """The layers on screen, bottom to top: value slot 0, the relief, the other value slots, the masks.

        Only these are in the plot (each costs an update per pair switch); showing or hiding one rebuilds it.
        """
        state = self.state
        names = [value_slot(0)] + ([RELIEF] if state.relief else [])
        names += [value_slot(i) for i, slot in enumerate(state.slots) if i and slot.layer != NONE]
        names += [mask_slot(k) for k in MASK_LAYERS if k in state.masks]
        return names + [overlay_slot(i) for i in range(len(self.overlays))]

    def _overlay(self, view: tuple | None = None) -> hv.DynamicMap:
        """One ``DynamicMap`` of the whole stack: one refresh per pair switch, zoom or opacity change."""
        state = self.state
        self._built_names = names = self._active_names()
        size, ranges = hv.streams.PlotSize(), hv.streams.RangeXY()
        self.size_streams = [size]
        self._size_stream, self._range_stream = size, ranges
        opacities = [hv.streams.Params(slot, ["opacity"], rename={"opacity": f"opacity{i}"}) for i, slot in enumerate(state.slots)]
        streams = [ranges, size, hv.streams.Params(self._feed, ["keys"]), hv.streams.Params(state, ["mask_opacity"]), *opacities]
        if self._drawing is not None:
            streams.append(hv.streams.Params(self._drawing, ["vertices"]))
        values = [i for i, n in enumerate(names) if n.startswith("value")]
        masks = [i for i, n in enumerate(names) if n.startswith("mask:")]
        hook = partial(self._overlay_hook, values, masks)
        e = self._extent
        lat = math.radians((e.y0 + e.y1) / 2)
        xlim, ylim = view if view is not None else ((e.x0, e.x1), (e.y0, e.y1))
        # options set on the first returned overlay: a DynamicMap's own .opts() re-applies them every frame
        self._plot_opts = {
            "responsive": True, "data_aspect": 1 / max(math.cos(lat), 0.05), "xlim": tuple(xlim), "ylim": tuple(ylim),
            "default_tools": ["pan", "wheel_zoom", "box_zoom", "reset", "save"], "active_tools": ["pan", "wheel_zoom"],
            "hooks": [hook], "toolbar": "above", "xlabel": "Longitude (°)", "ylabel": "Latitude (°)", "show_grid": False, "show_legend": False,
            "bgcolor": "#f6f8fa",
        }  # fmt: skip
        self._plot_ready = False
        return hv.DynamicMap(self._stack, streams=streams)

    def _stack(self, x_range: tuple | None = None, y_range: tuple | None = None, width: int | None = None,
               height: int | None = None, scale: float = 1.0, keys: dict | None = None, mask_opacity: float = 1.0,
               vertices: list | None = None, **opacities: float) -> hv.Overlay:  # fmt: skip
        """Every layer's element for this view, with its opacity (unchanged layers: the very same element)."""
        layers = []
        for name in self._built_names or []:
            element = self._element(name, x_range, y_range, width, height, scale, keys)
            if name.startswith("value"):
                element.opts(alpha=opacities.get(f"opacity{name.removeprefix('value')}", 1.0))
            elif name.startswith("mask:"):
                variable = schema.layer(name.removeprefix("mask:")).variable
                element.opts(cmap=elements.mask_palette(variable, fill_alpha=mask_opacity))
            layers.append(element)
        if self._drawing is not None:
            layers += self._drawing.elements(vertices)
        self._show_failures()
        overlay = hv.Overlay(layers)
        if not self._plot_ready:  # plot options are read when the plot is made; later frames skip the cost
            overlay = overlay.opts(**self._plot_opts)
            self._plot_ready = True
        return overlay

    def set_screen_size(self, width: int, height: int) -> None:
        """Tell every layer the plot's size in px, as the browser does (for scripts, tests and benchmarks)."""
        for stream in self.size_streams:
            stream.update(width=width, height=height)
        hv.streams.Stream.trigger(self.size_streams)

    # ---------------------------------------------------------------------------------- geometry
    def _view(self, x_range: tuple | None, y_range: tuple | None) -> Extent | None:
        """The visible part of the frame (``None`` when the view misses it)."""
        e = self._extent
        x0, x1 = sorted(x_range) if x_range else (e.x0, e.x1)
        y0, y1 = sorted(y_range) if y_range else (e.y0, e.y1)
        x0, x1, y0, y1 = max(x0, e.x0), min(x1, e.x1), max(y0, e.y0), min(y1, e.y1)
        if x1 <= x0 or y1 <= y0:
            return None
        return Extent(x0, x1, y0, y1)

    def _size(self, view: Extent, x_range: tuple | None, y_range: tuple | None, width: int | None,
              height: int | None) -> tuple[int, int]:  # fmt: skip
        """(width, height) px of the aggregate: the screen size of the visible part, at most native pixels."""
        e = self._extent
        frame = self.state.frame_obj
        rows, cols = frame.shape if frame is not None else (DEFAULT_WIDTH, DEFAULT_WIDTH)
        xr_ = sorted(x_range) if x_range else (e.x0, e.x1)
        yr_ = sorted(y_range) if y_range else (e.y0, e.y1)
        screen_w = width or DEFAULT_WIDTH
        screen_h = height or round(screen_w * (e.y1 - e.y0) / (e.x1 - e.x0))
        w = screen_w * (view.x1 - view.x0) / max(xr_[1] - xr_[0], 1e-12)
        h = screen_h * (view.y1 - view.y0) / max(yr_[1] - yr_[0], 1e-12)
        w = min(w, cols * (view.x1 - view.x0) / (e.x1 - e.x0), self.max_side)
        h = min(h, rows * (view.y1 - view.y0) / (e.y1 - e.y0), self.max_side)
        return max(math.ceil(w), 2), max(math.ceil(h), 2)

    def _geometry(self) -> tuple[Extent, tuple[int, int]] | None:
        """The view and aggregate size the plot shows now (from the bottom layer's streams)."""
        if self._range_stream is None or self._size_stream is None or self._size_stream.width is None:
            return None  # the browser has not reported the plot's size yet
        x_range, y_range = self._range_stream.x_range, self._range_stream.y_range
        view = self._view(x_range, y_range)
        if view is None:
            return None
        return view, self._size(view, x_range, y_range, self._size_stream.width, self._size_stream.height)

    # -------------------------------------------------------------------------------- aggregates
    def _aggregate(self, identity: tuple, key: str, view: Extent, size: tuple[int, int]) -> xr.DataArray:
        """The screen aggregate of layer ``key`` of the pair on screen (cached per session, shared with the
        prefetches); raises ``ThaliaError`` for a missing layer."""
        return self._aggs.get((identity, view, size), lambda: compute_aggregate(self.state.layer(key), key, view, size))

    def _visible_layers(self) -> list[str]:
        state = self.state
        keys = [s.layer for s in state.slots if s.layer != NONE] + [k for k in MASK_LAYERS if k in state.masks]
        return list(dict.fromkeys([*keys, "dem"] if state.relief else keys))

    def _jobs(self, pair: Pair) -> list[Job]:
        """What showing ``pair`` at the current view needs: one aggregate per visible layer."""
        geometry, frame = self._geometry(), self.state.frame_obj
        if geometry is None or frame is None or pair not in set(frame.pairs):
            return []
        view, size = geometry
        jobs: list[Job] = []
        for key in self._visible_layers():
            identity = self.state.layer_identity(key, pair)
            if identity is not None:
                jobs.append(((identity, view, size), partial(_layer_aggregate, self.state, pair, key, view, size)))
        return jobs

    def _prefetch_neighbours(self) -> None:
        """Queue the aggregates of the next and the previous pair (what ``j`` / ``k`` open) at this view."""
        pairs, cur = self.state.pairs, self.state.current
        if cur not in pairs:
            return
        i = pairs.index(cur)
        neighbours = [pairs[j] for j in (i + 1, i - 1) if 0 <= j < len(pairs)]
        self._aggs.prefetch([job for p in neighbours for job in self._jobs(p)])

    def _report(self, identity: tuple, exc: Exception) -> None:
        """Notify a failed layer once per identity (zooming must not repeat the same error)."""
        if identity not in self._reported:
            self._reported.add(identity)
            self.state.report(exc)

    # ---------------------------------------------------------------------------------- elements
    def _element(self, name: str, x_range: tuple | None = None, y_range: tuple | None = None, width: int | None = None,
                 height: int | None = None, scale: float = 1.0, keys: dict | None = None) -> hv.Element:  # fmt: skip
        """The element of layer ``name`` for this view; the previous one when nothing it depends on changed."""
        feed = (keys or {}).get(name)
        view = self._view(x_range, y_range)
        size = self._size(view, x_range, y_range, width, height) if view is not None else None
        inputs = (feed, view, size)
        memo = self._memo.get(name)
        if memo is not None and memo[0] == inputs:
            return memo[1]
        self._failures.pop(name, None)
        if feed is None or view is None or size is None:
            element = self._blank(name)
        elif name == RELIEF:
            element = self._relief_element(feed, view, size)
        elif name.startswith("mask:"):
            element = self._mask_element(name.removeprefix("mask:"), feed, view, size)
        elif name.startswith("overlay"):
            element = self._code_element(int(name.removeprefix("overlay")), view, size)
        else:
            element = self._value_element(int(name.removeprefix("value")), feed, view, size)
        self._memo[name] = (inputs, element)
        if name == value_slot(0) and feed is not None:
            self._prefetch_neighbours()
        return element

    def _blank(self, name: str) -> hv.Element:
        self._labels[name] = ""
        if name == RELIEF:
            return elements.blank_rgb(self._extent, self._kdims, label=_label(name))
        return elements.blank_image(self._extent, self._kdims, _label(name), label=_label(name))

    def _value_element(self, i: int, identity: tuple, view: Extent, size: tuple[int, int]) -> hv.Element:
        key = self.state.slots[i].layer
        layer = schema.layer(key)
        try:
            agg = self._aggregate(identity, key, view, size)
        except Exception as exc:
            self._layer_failed(value_slot(i), identity, key, exc)
            return self._blank(value_slot(i))
        if key == "phase" and not np.isfinite(agg.values).any() and identity not in self._reported:
            self._reported.add(identity)
            self.state.notify("warning", f"pair {self.state.current} holds no phase data in this view.")
        span = layer.span or self._span(identity, agg, layer.delta)
        if self._bars.get(i) != (layer, span):
            self._bars[i] = (layer, span)
            self._update_legend()
        units = "" if layer.units in HIDDEN_UNITS else layer.units
        self._labels[value_slot(i)] = readout.value_label(layer.title, units, VALUE_DIGITS.get(key, DEFAULT_DIGITS))
        return elements.layer_image(agg, layer, view, span, self._kdims, label=_label(value_slot(i)))

    def _relief_element(self, identity: tuple, view: Extent, size: tuple[int, int]) -> hv.Element:
        try:
            agg = self._aggregate(identity, "dem", view, size)
        except Exception as exc:
            self._layer_failed(RELIEF, identity, "dem", exc)
            return self._blank(RELIEF)
        return elements.relief_element(agg, view, self._kdims, label=_label(RELIEF))

    def _mask_element(self, key: str, feed: tuple, view: Extent, size: tuple[int, int]) -> hv.Element:
        identity, style = feed
        layer = schema.layer(key)
        try:
            agg = self._aggregate(identity, key, view, size)
        except Exception as exc:
            self._layer_failed(mask_slot(key), identity, key, exc)
            return self._blank(mask_slot(key))
        self._labels[mask_slot(key)] = readout.mask_label(layer.title, key)
        return elements.mask_image(agg.values, layer.variable, view, style, self._kdims, label=_label(mask_slot(key)))

    def _code_element(self, i: int, view: Extent, size: tuple[int, int]) -> hv.Element:
        """Code overlay ``i`` at this view (a labelled code wins over 0 where a screen pixel holds both)."""
        overlay, frame, name = self.overlays[i], self.state.frame_obj, overlay_slot(i)
        codes = overlay.overlay_codes()
        if codes is None or frame is None or codes.shape != frame.shape:
            return self._blank(name)
        agg = code_aggregate(frame.raster(codes, name), view, size)
        self._labels[name] = overlay.overlay_title
        return elements.code_image(agg, view, overlay.overlay_colors, self._kdims, overlay.overlay_title, label=_label(name))

    def _overlay_hook(self, values: list[int], masks: list[int], plot: Any, element: Any) -> None:
        """Plot hook, after every update: name each layer's glyph renderer for the readout; the first time,
        add the readout and make *reset* go back to the whole frame (a rebuilt plot may open zoomed in)."""
        for name, subplot in zip(self._built_names or [], plot.subplots.values(), strict=False):
            readout.name_renderer(subplot, self._labels.get(name, ""))
        fig, e = plot.state, self._extent
        if fig.x_range.reset_start is None:
            fig.x_range.update(reset_start=e.x0, reset_end=e.x1)
            fig.y_range.update(reset_start=e.y0, reset_end=e.y1)
        readout.attach_readout(plot, self.readout, values, masks, list(MASK_LAYERS))
        if self._drawing is not None:
            self._drawing.attach(fig)

    # ---------------------------------------------------------------------------- damaged layers
    def _layer_failed(self, name: str, identity: tuple, key: str, exc: Exception) -> None:
        """Layer ``key`` of the pair on screen cannot be read (a corrupt chunk, codes outside the schema): a
        notification once, and a line above the map while it is on screen; the other layers still show."""
        pair = self.state.current
        what = f"{'this pair' if pair is None else pair}'s {schema.layer(key).title.lower()} cannot be read"
        text = describe(exc, what).replace(f"{what} failed:", f"{what}:")
        self._failures[name] = text
        if identity not in self._reported:
            self._reported.add(identity)
            log_unexpected(exc, what)
            self.state.notify("error", text)

    def _show_failures(self) -> None:
        """The line above the map: what cannot be shown of the pair on screen (hidden when all is well).

        Set on the next tick in a served session: the plot may be drawn before the page's models are
        registered, and Panel drops an update made then (the line would stay hidden for good)."""
        texts = list(dict.fromkeys(self._failures.values()))
        html = placeholder_html(" · ".join(texts)) if texts else ""
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.execute(partial(self._set_problem, html), schedule=True)
        else:
            self._set_problem(html)

    def _set_problem(self, html: str) -> None:
        if self._problem.object != html:
            self._problem.object = html
        if self._problem.visible != bool(html):
            self._problem.visible = bool(html)

    # ------------------------------------------------------------------------------------ legend
    def _update_legend(self) -> None:
        """Colour bars of the visible layers (top first) and the legends of the masks on screen."""
        state = self.state
        bars = []
        for i in reversed(range(len(state.slots))):
            slot, bar = state.slots[i], self._bars.get(i)
            if bar is not None and slot.layer == bar[0].key:
                bars.append((bar[0], bar[1], slot.opacity))
        masks = [k for k in MASK_LAYERS if k in state.masks]
        html = legend_html(bars, masks, state.mask_style)
        if self._legend.object != html:
            self._legend.object = html

    def _span(self, identity: tuple, agg: xr.DataArray, symmetric: bool) -> tuple[float, float]:
        """Colour range of a data-scaled layer: fixed at its first view, so zooming keeps the colours."""
        if identity not in self._spans:
            self._spans[identity] = data_span(agg, symmetric=symmetric)
        return self._spans[identity]


def _label(name: str) -> str:
    """The element label of a layer (stable, so the overlay keeps matching each layer to its plot)."""
    return name.replace(":", "_")


def _layer_aggregate(state: AppState, pair: Pair, key: str, view: Extent, size: tuple[int, int]) -> xr.DataArray:
    """A prefetch job: layer ``key`` of ``pair`` aggregated at ``view``, as the state shows it (corrections
    and unsaved edits over the source)."""
    return compute_aggregate(state.layer(key, pair), key, view, size)
