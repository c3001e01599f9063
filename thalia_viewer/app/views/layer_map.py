"""The map: the pair's layers, relief and masks at screen resolution, composited in the browser.

One Bokeh figure per session, built once: an image renderer per layer slot (three value slots, the relief,
one per mask kind, one per code overlay) and, in annotate mode, the drawing renderers. Nothing in it is
rebuilt on a pair, layer or frame switch: the server computes each layer's image for the view (a
Datashader aggregate of the screen's size, :mod:`thalia_viewer.app.aggregates`), encodes it compactly
(:mod:`thalia_viewer.viz.encode`: uint16 value codes, uint8 class codes, zlib) and sends it once to the
browser's image pool (:mod:`.map_client`); then one small *show* message says which image each renderer
shows, with its colour map, span, opacity and mask palette, all applied in the browser. So:

- an opacity, mask-opacity or colour change re-sends no pixel;
- going back to an image the browser holds (a layer toggled back, a pair seen before) re-sends none;
- the next and previous pairs are prefetched at this view into the browser's pool, and ``j`` / ``k``
  swap them in the browser at once (the server's show follows and changes nothing);
- a frame switch moves the axes to the new frame's extent at once, its images follow.

Images are computed off the session's thread; the newest request wins, older results only fill the caches.
A layer that cannot be read (a corrupt chunk, codes outside the schema) is shown blank, named in a line
above the map while its pair is on screen and notified once; the other layers still show.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from functools import cache, partial
from typing import Any, ClassVar, Final

import numpy as np
import panel as pn
import param
import xarray as xr
from bokeh.events import RangesUpdate, Reset
from bokeh.models import (
    BoxZoomTool,
    ColumnDataSource,
    GlyphRenderer,
    Label,
    PanTool,
    Range1d,
    ResetTool,
    SaveTool,
    WheelZoomTool,
)
from bokeh.plotting import figure
from panel.io.state import set_curdoc
from panel.viewable import Viewer

from thalia_viewer.app import background
from thalia_viewer.app.aggregates import AggregateCache, code_aggregate, compute_aggregate
from thalia_viewer.app.messages import describe, log_unexpected, placeholder_html
from thalia_viewer.app.session.state import MASK_LAYERS, NONE, VALUE_LAYERS, AppState
from thalia_viewer.app.shortcuts import SHORTCUTS
from thalia_viewer.app.views import readout
from thalia_viewer.app.views.legend import legend_html
from thalia_viewer.app.views.map_client import MapClient, put_item
from thalia_viewer.app.views.map_drawing import MapDrawing
from thalia_viewer.core import schema
from thalia_viewer.core.frame import eager_reads
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.schema import Layer
from thalia_viewer.viz import elements
from thalia_viewer.viz.encode import Encoded, encode_alpha, encode_codes, encode_values
from thalia_viewer.viz.geometry import bounds, image_size, plot_area, still_sharp, visible_part
from thalia_viewer.viz.overview import Overview, build_overview, native_per_screen, overview_factor
from thalia_viewer.viz.shade import Extent, data_span, grid_extent

DEFAULT_WIDTH: Final = 900  # px of the plot area when nothing else is known
MAX_SIDE: Final = 2400  # px, cap of an aggregate side (a 4K screen); bounds every message by screen size
MAX_FRAME_WIDTH: Final = 1100  # px of the plot area at most (a wide frame gets a lower plot)
PLOT_CHROME_PX: Final = 80  # toolbar above and axis below the plot area, px
VALUE_DIGITS: Final[dict[str, int]] = {"phase": 2, "coherence": 2, "dem": 0}
DEFAULT_DIGITS: Final = 3
RELIEF: Final = "relief"
HIDDEN_UNITS: Final = ("", "0-1")  # units not worth repeating after a value
RANGE_DEBOUNCE_MS: Final = 60  # a wheel zoom sends a burst of range events: aggregate once it pauses
#: Bokeh reports the new ranges this long after the last pan / zoom event (its default, 500 ms, is felt).
LOD_TIMEOUT_MS: Final = 120
#: A drafted layer's exact image waits at most this long for the switch's first images to be on screen.
REFINE_AFTER_S: Final = 2.0
KNOWN_IMAGES: Final = 96  # images kept to answer the browser's "missing" without recomputing
SPAN_ITEMS: Final = 4096  # colour spans of data-scaled layers kept per process
#: Shortcut actions whose outcome the browser shows at once (``neighbours`` entries of the map client).
AHEAD_ACTIONS: Final = {"next_pair": "next", "previous_pair": "prev", "toggle_masks": "masks"}

# Blank layers are one NaN pixel; numpy warns about their all-NaN min / max.
warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)


class SlotKind(Enum):
    """What an image renderer of the map shows."""

    VALUE = "value"  # a value layer slot of the state (phase, coherence, ...), by index (0 = bottom)
    RELIEF = "relief"  # the hillshade of the DEM
    MASK = "mask"  # a mask layer, by key
    OVERLAY = "overlay"  # a code overlay (a version diff, a prediction vs the labels), by index


@dataclass(frozen=True)
class Slot:
    """One image renderer of the map; ``name`` is how the messages to the browser call it."""

    kind: SlotKind
    index: int = 0  # VALUE, OVERLAY
    mask: str = ""  # MASK: the mask layer's key

    @property
    def name(self) -> str:
        if self.kind is SlotKind.MASK:
            return f"mask:{self.mask}"
        if self.kind is SlotKind.RELIEF:
            return RELIEF
        return f"{self.kind.value}{self.index}"


def value_slot(i: int) -> str:
    """Renderer name of the i-th value layer slot (0 = bottom)."""
    return Slot(SlotKind.VALUE, i).name


def mask_slot(key: str) -> str:
    """Renderer name of a mask layer."""
    return Slot(SlotKind.MASK, mask=key).name


def overlay_slot(i: int) -> str:
    """Renderer name of the i-th code overlay (a version diff, a prediction vs the labels)."""
    return Slot(SlotKind.OVERLAY, i).name


@dataclass(frozen=True)
class MapImage:
    """One layer's image for one view: its key (content address), encoding, outer bounds and what it shows."""

    key: str
    encoded: Encoded
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1 (pixel edges)
    values: np.ndarray  # the north-up aggregate: float values, or uint8 class codes before the mask style
    span: tuple[float, float] | None = None  # colour span of a value layer, display units

    @property
    def nbytes(self) -> int:
        """Bytes it holds (what the process-wide aggregate cache counts against its budget)."""
        return int(self.values.nbytes) + len(self.encoded.data)


@dataclass(frozen=True)
class LayerRequest:
    """One layer's image to compute: its key, the pair and layer, the layer's identity, the view and its size."""

    key: str
    pair: Pair
    layer_key: str
    identity: tuple
    view: Extent
    size: tuple[int, int]  # columns, rows (screen px)


@dataclass(frozen=True)
class Job:
    """How to get one renderer's image: its key and the function computing it (run off the session thread)."""

    key: str
    compute: Callable[[], MapImage]
    identity: tuple  # what the error of a failed layer is reported under (once)
    inline: bool = False  # computed at once in the session (a mask being edited: its box only)
    title: str = ""  # what the layer is called in the message of a failure (e.g. "wrapped phase")
    drafts: bool = False  # ``compute`` takes ``on_draft``: a first image handed over before the exact one


def image_key(*parts: Any) -> str:
    """A short content address of an image from what it depends on."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=10).hexdigest()


class _Spans:
    """Colour spans of data-scaled layers by layer identity, shared by the sessions of a process (their images
    are shared too, through the aggregate cache): fixed at the first view anyone drew, so zooming keeps the
    colours and every session sees the same ones; least recently used first out past ``max_items``."""

    def __init__(self, max_items: int = SPAN_ITEMS) -> None:
        self.max_items = max_items
        self._items: OrderedDict[tuple, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identity: tuple, values: np.ndarray, symmetric: bool) -> tuple[float, float]:
        with self._lock:
            span = self._items.get(identity)
            if span is None:
                span = self._items[identity] = data_span(values, symmetric=symmetric)
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
            self._items.move_to_end(identity)
            return span


_spans = _Spans()


@cache
def _palettes() -> dict[str, list[str]]:
    return {k: elements.layer_palette(k) for k in VALUE_LAYERS}


class LayerMap(Viewer):
    """The pair's layer stack, relief and masks in native lon/lat, re-aggregated on every zoom and pan."""

    view_type: ClassVar[str] = "layer_map"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = None  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    edit = param.Parameter(
        default=None, doc="The annotate session (an EditSession) whose tools draw on the map"
    )
    overlays = param.List(
        default=[], doc="Code overlays drawn on top (``app.overlay.CodeOverlay``: a diff, a prediction)"
    )
    height = param.Integer(default=640, bounds=(240, 2000), doc="Plot height, px")
    max_side = param.Integer(default=MAX_SIDE, bounds=(64, 8192), doc="Largest aggregate side, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        state = self.state
        self._aggs = AggregateCache()
        self._known: OrderedDict[str, MapImage] = OrderedDict()
        self._token = uuid.uuid4().hex  # keeps this session's overlay images apart in the process-wide cache
        self._reported: set[tuple] = set()
        self._bars: dict[int, tuple[Layer, tuple[float, float]]] = {}
        self._lock = threading.Lock()
        self._serial = 0  # of the latest show asked for
        self._inflight = False
        self._ack = 0  # drawing gestures handled
        self._acked = 0  # ... and acknowledged to the browser
        self._shown: dict[str, MapImage | None] = {}
        self._edited: dict[
            tuple[Pair, str], tuple[int, Overview]
        ] = {}  # (pair, mask) -> (revision, overview)
        self._last_pair: Pair | None = None
        self._refining: Future = Future()  # done once the images on screen are the exact ones
        self._refining.set_result(None)
        self._last_masks = list(self.state.masks) or [MASK_LAYERS[0]]  # what "m" brings back
        self._direction = 1  # the way the user steps through the pairs
        self._doc = (
            pn.state.curdoc if pn.state.curdoc is not None and pn.state.curdoc.session_context else None
        )
        self._debounce: Any = None
        self._extent = Extent(0.0, 1.0, 0.0, 1.0)
        self._extent_frame: str | None = None  # the frame whose extent the axes show
        self._ranges: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._render: tuple[Extent, tuple[int, int]] | None = (
            None  # geometry of the images shown (None: the view's)
        )
        self._screen = (DEFAULT_WIDTH, max(self.height - PLOT_CHROME_PX, 100))
        self._frame_failed = False  # the frame's grid cannot be read: nothing to draw
        self._build_figure()
        self.client = MapClient(
            figure_id=self.figure.id,
            ids=self._ids,
            palettes=_palettes(),
            on_ready=self._on_ready,
            on_missing=self._on_missing,
            height=0,
            width=0,
            margin=0,
        )
        self._drawing = (
            MapDrawing(
                self.edit, self.client, self.figure, on_start=self._gesture_start, on_done=self._gesture_done
            )
            if self.edit is not None
            else None
        )
        self.client.on_gesture = self._drawing.handle if self._drawing is not None else None
        self.readout = readout.readout_div()
        readout.attach_readout(self.figure, self.readout, *self._readout_args, list(MASK_LAYERS))
        self._pane = pn.Column(
            pn.pane.Bokeh(self.figure, margin=0), css_classes=["thalia-map"], margin=(5, 10)
        )
        self._legend = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self._failures: dict[
            str, str
        ] = {}  # renderer name -> why its layer cannot be shown (see "damaged layers")
        self._problem = pn.pane.HTML(
            "", visible=False, sizing_mode="stretch_width", margin=(0, 10), css_classes=["thalia-map-problem"]
        )
        self.layout = pn.Column(
            self._problem,
            self._pane,
            pn.pane.Bokeh(self.readout, sizing_mode="stretch_width", height=22),
            self._legend,
            self.client,
            sizing_mode="stretch_width",
        )
        state.watch(
            lambda *_: self._on_frame() if self._extent_frame != self.state.frame else None,
            "frame",
            "the map",
        )
        state.watch(
            lambda *_: self._refresh(), ["pair", "masks", "relief", "mask_style", "mask_opacity"], "the map"
        )
        for slot in state.slots:
            slot.param.watch(lambda *_: self._refresh(), ["layer", "opacity"])
            slot.param.watch(lambda *_: self._update_legend(), ["layer", "opacity"])
        state.watch(lambda *_: self._update_legend(), ["masks", "mask_style"], "the map legend")
        state.watch(
            lambda e: setattr(self, "_last_masks", list(e.new)) if e.new else None, "masks", "the map"
        )
        if self.edit is not None:
            self.edit.param.watch(lambda *_: self._refresh(), "revision")
        for overlay in self.overlays:
            overlay.param.watch(lambda *_: self._refresh(), "overlay_revision")
        if self._doc is not None:
            pn.state.on_session_destroyed(lambda _: self._aggs.clear())
        self._on_frame()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout

    # ------------------------------------------------------------------------------------ figure
    def _build_figure(self) -> None:
        """The figure and every renderer it will ever need (hidden until shown)."""
        w, h = self._screen
        self._pan = PanTool()
        wheel = WheelZoomTool()
        fig = figure(
            frame_width=w,
            frame_height=h,
            x_range=Range1d(0, 1),
            y_range=Range1d(0, 1),
            match_aspect=True,
            tools=[self._pan, wheel, BoxZoomTool(match_aspect=True), ResetTool(), SaveTool()],
            active_drag=self._pan,
            active_scroll=wheel,
            toolbar_location="above",
            x_axis_label="Longitude (°)",
            y_axis_label="Latitude (°)",
            background_fill_color="#f6f8fa",
            border_fill_color=None,
            output_backend="canvas",
            lod_timeout=LOD_TIMEOUT_MS,
        )
        fig.grid.visible = False
        self.figure = fig
        self.renderers: dict[str, GlyphRenderer] = {}
        self._ids: dict[str, dict[str, str | None]] = {}
        for name in self._image_names():  # RGBA images: the browser colours each layer itself (map_client.js)
            source = ColumnDataSource(_blank_data())
            renderer = fig.image_rgba(
                image="image", x="x", y="y", dw="dw", dh="dh", source=source, visible=False
            )
            self.renderers[name] = renderer
            self._ids[name] = {
                "renderer": renderer.id,
                "source": source.id,
                "glyph": renderer.glyph.id,
                "mapper": None,
            }
        self._empty = Label(
            x=0.5,
            y=0.5,
            x_units="data",
            y_units="data",
            text="No pair to show",
            text_align="center",
            text_color="#57606a",
            visible=False,
        )
        fig.add_layout(self._empty)
        values = [self.renderers[value_slot(i)] for i in range(len(self.state.slots))]
        masks = [self.renderers[mask_slot(k)] for k in MASK_LAYERS]
        self._readout_args = (values, masks)
        fig.on_event(RangesUpdate, self._on_ranges)
        fig.on_event(Reset, self._on_reset)
        if self.edit is not None:
            self._ids.update(MapDrawing.renderers(fig))

    def _image_slots(self) -> list[Slot]:
        """Image renderers, bottom to top: value slot 0, the relief, the other value slots, masks, overlays."""
        n = len(self.state.slots)
        return [
            Slot(SlotKind.VALUE, 0),
            Slot(SlotKind.RELIEF),
            *(Slot(SlotKind.VALUE, i) for i in range(1, n)),
            *(Slot(SlotKind.MASK, mask=k) for k in MASK_LAYERS),
            *(Slot(SlotKind.OVERLAY, i) for i in range(len(self.overlays))),
        ]

    def _image_names(self) -> list[str]:
        return [slot.name for slot in self._image_slots()]

    # --------------------------------------------------------------------------------- geometry
    def _on_frame(self) -> None:
        """A new frame: axes at its extent and a plot area of its aspect at once (no old image left on it)."""
        frame = self.state.frame_obj
        self._extent_frame = self.state.frame
        self._failures.clear()
        self._frame_failed = False
        if frame is not None:
            try:
                self._extent = grid_extent(frame.x, frame.y)
            except Exception as exc:  # a damaged frame: the map stays empty, the rest of the page goes on
                self._frame_failed = True
                self._layer_failed(
                    value_slot(0),
                    (frame.frame_id,),
                    "coordinates",
                    exc,
                    what=f"frame {frame.frame_id}'s coordinates cannot be read",
                )
        e = self._extent
        w, h, aspect_scale = plot_area(e, max(self.height - PLOT_CHROME_PX, 100), MAX_FRAME_WIDTH)
        fig = self.figure
        fig.update(frame_width=w, frame_height=h, aspect_scale=aspect_scale)
        fig.x_range.update(start=e.x0, end=e.x1, reset_start=e.x0, reset_end=e.x1)
        fig.y_range.update(start=e.y0, end=e.y1, reset_start=e.y0, reset_end=e.y1)
        self._empty.update(x=(e.x0 + e.x1) / 2, y=(e.y0 + e.y1) / 2)
        self._screen = (w, h)
        self._ranges = self._render = None
        if self._drawing is not None:
            self._drawing.sync_brush()
        # the old frame's images go and the axes move at once (the message leaves before the other views' work)
        extent = {"x": [e.x0, e.x1], "y": [e.y0, e.y1], "width": self._screen[0], "height": self._screen[1]}
        self._send_show(self._serial, {}, clear=True, extent=extent)
        self._refresh()

    def set_screen_size(self, width: int, height: int) -> None:
        """Set the plot area's size in px (scripts, tests and benchmarks; the app sizes it from the frame)."""
        self._screen = (int(width), int(height))
        self._render = None
        self.figure.update(frame_width=int(width), frame_height=int(height))
        self._refresh()

    def set_view(self, x_range: tuple[float, float] | None, y_range: tuple[float, float] | None) -> None:
        """Show this part of the map (data units), as a pan or zoom in the browser does.

        The images are made again only when the browser's stretched ones no longer do: the new view leaves
        them, or they have fewer than ``viz.geometry.SHARP_ENOUGH`` of their pixels per screen pixel (a small zoom keeps
        them, and with them the prefetched neighbours)."""
        shown = self.geometry()
        self._ranges = (tuple(sorted(x_range)), tuple(sorted(y_range))) if x_range and y_range else None  # type: ignore[assignment]
        wanted = self._wanted_geometry()
        if shown is not None and wanted is not None and still_sharp(shown, wanted):
            return
        self._render = wanted
        self._refresh()

    def _on_ranges(self, event: RangesUpdate) -> None:
        ranges = ((event.x0, event.x1), (event.y0, event.y1))
        if None in (event.x0, event.x1, event.y0, event.y1) or ranges == self._ranges:
            return
        doc = self._doc
        if doc is None:
            self.set_view(*ranges)
            return
        if self._debounce is not None:
            with contextlib.suppress(ValueError):  # already run
                doc.remove_timeout_callback(self._debounce)
        self._debounce = doc.add_timeout_callback(partial(self._debounced_view, ranges), RANGE_DEBOUNCE_MS)

    def _debounced_view(self, ranges: tuple) -> None:
        self._debounce = None
        with set_curdoc(self._doc):
            self.set_view(*ranges)

    def _on_reset(self, _: Reset) -> None:
        self._in_session(lambda: self.set_view(None, None))

    def _view(self) -> Extent | None:
        """The visible part of the frame (``None`` when the view misses it)."""
        return visible_part(self._extent, self._ranges)

    def _size(self, view: Extent) -> tuple[int, int]:
        """(width, height) px of the aggregate: the screen size of the visible part, at most native pixels."""
        frame = self.state.frame_obj
        native = frame.shape if frame is not None else self._screen[::-1]
        return image_size(view, self._extent, self._ranges, self._screen, native, self.max_side)

    def _wanted_geometry(self) -> tuple[Extent, tuple[int, int]] | None:
        view = self._view()
        return None if view is None else (view, self._size(view))

    def geometry(self) -> tuple[Extent, tuple[int, int]] | None:
        """The view and aggregate size of the images the map shows now."""
        return self._render if self._render is not None else self._wanted_geometry()

    # ------------------------------------------------------------------------------------- plan
    def active_names(self) -> list[str]:
        """The renderers showing something now, bottom to top."""
        return [n for n, job in self._plan(self.state.pair).items() if job is not None]

    def _plan(self, pair: Pair | None, masks: list[str] | None = None) -> dict[str, Job | None]:
        """Every image renderer's job for ``pair`` at the current view (``None``: hidden); ``masks`` instead of
        the state's mask overlays."""
        plan: dict[str, Job | None] = dict.fromkeys(self._image_names())
        geometry, frame, state = self.geometry(), self.state.frame_obj, self.state
        if (
            pair is None
            or geometry is None
            or frame is None
            or pair.frame != frame.frame_id
            or self._frame_failed
        ):
            return plan
        view, size = geometry
        for i, slot in enumerate(state.slots):
            if slot.layer != NONE and (identity := state.layer_identity(slot.layer, pair)) is not None:
                key = image_key("value", identity, view, size)
                request = LayerRequest(key, pair, slot.layer, identity, view, size)
                plan[value_slot(i)] = Job(
                    key,
                    partial(self._value_image, request),
                    identity,
                    title=schema.layer(slot.layer).title.lower(),
                    drafts=True,
                )
        if state.relief and (identity := state.layer_identity("dem", pair)) is not None:
            key = image_key("relief", identity, view, size)
            plan[RELIEF] = Job(
                key,
                partial(self._relief_image, LayerRequest(key, pair, "dem", identity, view, size)),
                identity,
                title="relief (elevation)",
                drafts=True,
            )
        edited = self._edited_pair() == pair
        shown_masks = state.masks if masks is None else masks
        for k in MASK_LAYERS:
            if k in shown_masks and (identity := state.layer_identity(k, pair)) is not None:
                key = image_key("mask", identity, state.mask_style, view, size)
                request = LayerRequest(key, pair, k, identity, view, size)
                compute = partial(self._mask_image, request, state.mask_style)
                plan[mask_slot(k)] = Job(
                    key, compute, identity, inline=edited, title=schema.layer(k).title.lower()
                )
        for i, overlay in enumerate(self.overlays):
            token = overlay.overlay_token(pair)
            if token is not None:
                key = image_key("overlay", self._token, i, overlay.overlay_revision, token, view, size)
                compute = partial(self._code_image, key, overlay, view, size)
                plan[overlay_slot(i)] = Job(
                    key, compute, (overlay_slot(i), token), title=overlay.overlay_title.split(" (")[0].lower()
                )
        return plan

    # ----------------------------------------------------------------------- images (off-thread)
    def _whole(self, layer_key: str, pair: Pair) -> xr.DataArray:
        """Layer ``layer_key`` of ``pair`` read whole into memory (one Zarr read, no dask graph): what an
        overview is built from."""
        with eager_reads():
            return self.state.layer(layer_key, pair).load()

    def _aggregate(
        self, request: LayerRequest, draft: Callable[[xr.DataArray], None] | None = None
    ) -> xr.DataArray:
        """The requested layer's aggregate at its view, from the layer's process-wide overview (read whole when
        built); ``draft`` gets a first aggregate while the overview is built."""
        r = request
        return compute_aggregate(
            self.state.layer(r.layer_key, r.pair),
            r.layer_key,
            r.view,
            r.size,
            r.identity,
            load=partial(self._whole, r.layer_key, r.pair),
            draft=draft,
        )

    def _drafted_image(
        self,
        request: LayerRequest,
        image: Callable[[xr.DataArray, str], MapImage],
        on_draft: Callable[[MapImage], None] | None,
    ) -> MapImage:
        """``image`` of the requested aggregate; a first image goes to ``on_draft`` while the overview is built."""
        return image(self._aggregate(request, _drafter(on_draft, request.key, image)), request.key)

    def _value_image(
        self, request: LayerRequest, on_draft: Callable[[MapImage], None] | None = None
    ) -> MapImage:
        layer = schema.layer(request.layer_key)
        view = request.view

        def image(agg: xr.DataArray, image_key: str) -> MapImage:
            values = np.asarray(agg.values, dtype=np.float32)
            span = layer.span or _spans.get(request.identity, values, layer.delta)
            return MapImage(
                image_key, encode_values(values), bounds(view), values, (float(span[0]), float(span[1]))
            )

        return self._drafted_image(request, image, on_draft)

    def _relief_image(
        self, request: LayerRequest, on_draft: Callable[[MapImage], None] | None = None
    ) -> MapImage:
        def image(agg: xr.DataArray, image_key: str) -> MapImage:
            alpha = elements.relief_rgba(agg)[..., 3]
            return MapImage(image_key, encode_alpha(alpha), bounds(request.view), alpha)

        return self._drafted_image(request, image, on_draft)

    def _mask_image(self, request: LayerRequest, style: str) -> MapImage:
        r = request
        agg = self._edited_aggregate(r.pair, r.layer_key, r.view, r.size)
        if agg is None:
            agg = self._aggregate(r)
        codes = np.asarray(agg.values, dtype=np.uint8)
        variable = schema.layer(r.layer_key).variable
        return MapImage(
            r.key, encode_codes(elements.mask_codes(codes, variable, style)), bounds(r.view), codes
        )

    def _code_image(self, key: str, overlay: Any, view: Extent, size: tuple[int, int]) -> MapImage:
        frame = self.state.frame_obj
        codes = overlay.overlay_codes()
        if codes is None or frame is None or codes.shape != frame.shape:
            codes = np.zeros(frame.shape if frame is not None else (2, 2), np.uint8)
        agg = code_aggregate(frame.raster(codes, "codes"), view, size) if frame is not None else codes
        agg = np.asarray(agg, dtype=np.uint8)
        return MapImage(key, encode_codes(agg), bounds(view), agg)

    # ---------------------------------------------------------------------------- masks being edited
    def _edited_pair(self) -> Pair | None:
        """The pair whose masks this session edits on screen (``None``: no editing, or a version is previewed)."""
        edit = self.edit
        if edit is None or edit.preview is not None:
            return None
        return edit.pair

    def _edited_aggregate(
        self, pair: Pair, layer_key: str, view: Extent, size: tuple[int, int]
    ) -> xr.DataArray | None:
        """A mask being edited, aggregated from its overview, which each edit updates in its box only;
        ``None`` where that does not apply (no editing, a small frame, a view finer than the overview)."""
        frame = self.state.frame_obj
        if pair != self._edited_pair() or frame is None or pair.frame != frame.frame_id:
            return None
        factor = overview_factor(frame.shape)
        if factor <= 1 or native_per_screen(view, size, frame.shape, self._extent) < factor:
            return None
        edit, layer = self.edit, schema.layer(layer_key)
        editor, revision = edit.editor, edit.revision
        if editor is None:
            return None
        values = editor.masks[layer.variable]
        with self._lock:
            held = self._edited.get((pair, layer.variable))
            last = edit.last_edit
            if held is not None and held[0] == revision:
                ov = held[1]
            elif held is not None and last is not None and last[0] == revision and held[0] == revision - 1:
                ov = held[1]
                ov.update(values, *last[1].slices)
            else:
                ov = build_overview(frame.raster(values, layer.key), layer, factor)
            self._edited = {
                k: v for k, v in self._edited.items() if k[0] == pair
            }  # other pairs: rebuilt if edited again
            self._edited[(pair, layer.variable)] = (revision, ov)
        return ov.aggregate(view, size, layer)

    # ---------------------------------------------------------------------------------- showing
    def _refresh(self) -> None:
        """Show the pair on screen as the state says: images from the caches, else computed off-thread; the
        newest request wins. Then the neighbours are prefetched."""
        if (
            self._extent_frame != self.state.frame
        ):  # a pair of another frame: its axes first (this comes back)
            self._on_frame()
            return
        self._serial += 1
        serial, pair = self._serial, self.state.pair
        pairs = self.state.pairs
        if (
            pair is not None
            and self._last_pair is not None
            and pair != self._last_pair
            and pair in pairs
            and self._last_pair in pairs
        ):
            self._direction = 1 if pairs.index(pair) > pairs.index(self._last_pair) else -1
        self._last_pair = pair
        plan = self._plan(pair)
        self._empty.visible = pair is None
        for job in plan.values():
            if job is not None and job.inline and job.key not in self._aggs:
                with contextlib.suppress(Exception):  # reported with the others below
                    self._aggs.get(job.key, job.compute)
        futures: dict[str, Future] = {}  # each layer's exact image
        firsts: dict[str, Future] = {}  # ... or its draft, whichever comes first
        shown = threading.Event()  # set once the first images are sent: the exact ones may take the cores
        for name, job in plan.items():
            if job is None:
                continue
            if (
                job.drafts and self._aggs.future(job.key) is None
            ):  # computed here, now: a draft may come first
                first: Future = Future()
                futures[name] = self._aggs.submit(
                    job.key, partial(job.compute, on_draft=partial(_drafted, first, shown))
                )
                futures[name].add_done_callback(partial(_settle_from, first))
                firsts[name] = first
            else:
                futures[name] = firsts[name] = self._aggs.submit(job.key, job.compute)
        self._inflight = True
        refined: Future = Future()  # done once the exact images replaced the drafts (or need not)
        self._refining = refined

        def images_of(results: dict[str, Future]) -> dict[str, MapImage | None]:
            return {
                name: self._result(name, results[name], plan[name]) if name in results else None
                for name in plan
            }

        def refine() -> None:
            try:
                if serial == self._serial:
                    self._send_show(serial, images_of(futures))
                    self._show_failures()
                    self._prefetch(pair)
            finally:
                refined.set_result(None)

        def done() -> None:
            shown.set()
            if serial != self._serial:
                refined.set_result(None)
                return
            drafted = False
            try:
                if not self._frame_failed:  # (a damaged frame's line stays while it is on screen)
                    self._failures = {}  # what the layers of this show say, below
                images = images_of(firsts)
                self._inflight = False
                self._send_show(serial, images)
                self._show_failures()
                exact = {name: job.key for name, job in plan.items() if job is not None}
                drafted = any(img is not None and img.key != exact.get(name) for name, img in images.items())
            finally:
                if not drafted:
                    refined.set_result(None)
            if drafted:  # the exact images follow by themselves (then the neighbours' prefetch)
                self._when_all(list(futures.values()), refine, wait=False)
            else:
                self._prefetch(pair)

        self._when_all(list(firsts.values()), done)

    def wait_refined(self, timeout: float | None = None) -> None:
        """Block until the images on screen are the exact ones (a draft shown first was replaced): scripts,
        tests and benchmarks; a served map replaces them by itself."""
        self._refining.result(timeout)

    def _result(self, name: str, future: Future, job: Job | None) -> MapImage | None:
        """The image of a finished job; a failed layer is reported (once), named above the map and shown blank."""
        exc = future.exception()
        if exc is None:
            return future.result()
        if job is not None:
            self._layer_failed(name, job.identity, job.title or "layer", exc)
        return None

    def _when_all(self, futures: list[Future], callback: Callable[[], None], wait: bool = True) -> None:
        """Run ``callback`` in the session (document locked) once every future is done; at once if they are.

        Without a served session (a script, a test) it waits for them here, unless ``wait`` is false: then
        ``callback`` runs in the thread that finishes the last one."""
        if all(f.done() for f in futures):
            callback()
            return
        if self._doc is None and wait:  # a script or a test: wait here
            for f in futures:
                f.exception()
            callback()
            return
        remaining = [len(futures)]
        lock = threading.Lock()

        def one_done(_: Future) -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self._in_session(callback)

        for f in futures:
            f.add_done_callback(one_done)

    def _in_session(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the session's event loop with its document locked (from any thread)."""
        doc = self._doc
        if doc is None:
            callback()
            return
        background.on_next_tick(doc, callback)

    def _entry(self, name: str, image: MapImage) -> dict[str, Any]:
        """How renderer ``name`` shows ``image``: colours, span, opacity, readout label."""
        state = self.state
        slot = next((s for s in self._image_slots() if s.name == name), Slot(SlotKind.RELIEF))
        kind = slot.kind
        if kind is SlotKind.VALUE:
            i = slot.index
            layer = schema.layer(state.slots[i].layer)
            span = image.span or (0.0, 1.0)
            units = "" if layer.units in HIDDEN_UNITS else layer.units
            label = readout.value_label(layer.title, units, VALUE_DIGITS.get(layer.key, DEFAULT_DIGITS))
            return {
                "key": image.key,
                "cmap": layer.key,
                "low": span[0],
                "high": span[1],
                "alpha": state.slots[i].opacity,
                "label": label,
            }
        if kind is SlotKind.MASK:
            key = slot.mask
            layer = schema.layer(key)
            palette = elements.mask_palette(layer.variable, fill_alpha=state.mask_opacity)
            return {
                "key": image.key,
                "palette": palette,
                "low": -0.5,
                "high": len(palette) - 0.5,
                "label": readout.mask_label(layer.title, key),
            }
        if kind is SlotKind.OVERLAY:
            overlay = self.overlays[slot.index]
            colors = list(overlay.overlay_colors)
            return {
                "key": image.key,
                "palette": colors,
                "low": -0.5,
                "high": len(colors) - 0.5,
                "label": overlay.overlay_title,
            }
        return {"key": image.key, "label": ""}

    def _show_message(
        self, serial: int, pair: Pair | None, images: dict[str, MapImage | None]
    ) -> dict[str, Any]:
        layers = {name: self._entry(name, img) if img is not None else None for name, img in images.items()}
        return {"op": "show", "serial": serial, "pair": _pair_key(pair), "ack": self._ack, "layers": layers}

    def _send(self, msg: dict[str, Any]) -> None:
        if msg["op"] == "show":
            self._acked = max(self._acked, msg["ack"])
        self.client.send(msg)

    def _put(self, images: list[MapImage]) -> None:
        """Send the images the browser does not hold (one message)."""
        items = []
        for img in images:
            self._known[img.key] = img
            self._known.move_to_end(img.key)
            if img.key not in self.client.pool:
                self.client.pool.add(img.key, img.encoded.decoded_nbytes)
                items.append(put_item(img.key, img.encoded, img.bounds))
        while len(self._known) > KNOWN_IMAGES:
            self._known.popitem(last=False)
        if items:
            self.client.send({"op": "put", "items": items})

    def _send_show(
        self,
        serial: int,
        images: dict[str, MapImage | None],
        clear: bool = False,
        extent: dict[str, Any] | None = None,
    ) -> None:
        pair = None if clear else self.state.pair
        shown = {name: images.get(name) for name in self._image_names()}
        self._put([img for img in shown.values() if img is not None])
        msg = self._show_message(serial, pair, shown)
        if extent is not None:
            msg["extent"] = extent
        self._send(msg)
        self._shown = shown
        if not clear:
            self._after_show(shown)

    def _after_show(self, shown: dict[str, MapImage | None]) -> None:
        """Legend spans and a warning for a pair without phase data in view."""
        state = self.state
        for i, slot in enumerate(state.slots):
            img = shown.get(value_slot(i))
            if img is None or img.span is None:
                continue
            layer = schema.layer(slot.layer)
            if self._bars.get(i) != (layer, img.span):
                self._bars[i] = (layer, img.span)
                self._update_legend()
            identity = state.layer_identity(slot.layer)
            if layer.key == "phase" and identity not in self._reported and not np.isfinite(img.values).any():
                self._reported.add(identity)
                state.notify("warning", f"pair {state.pair} holds no phase data in this view.")

    def shown(self) -> dict[str, MapImage | None]:
        """What every image renderer shows now (as last sent to the browser)."""
        return dict(self._shown)

    def _on_ready(self) -> None:
        """A browser (re)mounted the map: its pool is empty; send what is on screen."""
        self._send_show(self._serial, self._shown)
        self._prefetch(self.state.pair)

    def _on_missing(self, keys: list[str]) -> None:
        self._put([self._known[k] for k in keys if k in self._known])

    def _gesture_start(self, seq: int) -> None:
        """A drawing gesture is being handled: the show its edit sends acknowledges it (its live drawing goes)."""
        self._ack = max(self._ack, int(seq))

    def _gesture_done(self, seq: int) -> None:
        """A drawing gesture was handled: if no show carried its acknowledgement and none is coming, send it."""
        self._ack = max(self._ack, int(seq))
        if self._acked < self._ack and not self._inflight:
            self._acked = self._ack
            self.client.send({"op": "ack", "seq": self._ack})

    # ---------------------------------------------------------------------------- damaged layers
    def _layer_failed(
        self, name: str, identity: tuple, title: str, exc: BaseException, what: str | None = None
    ) -> None:
        """Layer ``title`` of the pair on screen cannot be read (a corrupt chunk, codes outside the schema): a
        notification once per identity (zooming must not repeat it), and a line above the map while it is
        on screen; the other layers still show."""
        if what is None:
            pair = self.state.pair
            what = f"{'this pair' if pair is None else pair}'s {title} cannot be read"
        text = describe(exc, what).replace(f"{what} failed:", f"{what}:")
        self._failures[name] = text
        if identity not in self._reported:
            self._reported.add(identity)
            log_unexpected(exc, what)
            self.state.notify("error", text)

    def _show_failures(self) -> None:
        """The line above the map: what cannot be shown of the pair on screen (hidden when all is well).

        Set on the next tick in a served session: the map may be drawn before the page's models are
        registered, and Panel drops an update made then (the line would stay hidden for good)."""
        texts = list(dict.fromkeys(self._failures.values()))
        html = placeholder_html(" · ".join(texts)) if texts else ""
        if self._doc is not None:
            self._in_session(partial(self._set_problem, html))
        else:
            self._set_problem(html)

    def _set_problem(self, html: str) -> None:
        if self._problem.object != html:
            self._problem.object = html
        if self._problem.visible != bool(html):
            self._problem.visible = bool(html)

    # ---------------------------------------------------------------------------------- prefetch
    def _prefetch(self, pair: Pair | None) -> None:
        """Compute the next and previous pair's images at this view in the background, put them in the
        browser's pool and tell it their shows, so a step key swaps them in at once."""
        pairs = self.state.pairs
        if pair is None or pair not in pairs:
            self.client.neighbours = {}
            return
        i = pairs.index(pair)
        neighbours = {d: pairs[j] for d, j in (("next", i + 1), ("prev", i - 1)) if 0 <= j < len(pairs)}
        plans = {d: self._plan(p) for d, p in neighbours.items()}
        neighbours["masks"] = pair  # the pair on screen with its mask overlays toggled, as "m" does
        plans["masks"] = self._plan(pair, masks=[] if self.state.masks else self._last_masks)
        jobs = [job for plan in plans.values() for job in plan.values() if job is not None]
        ahead = i + 2 * self._direction  # one more pair the way the user is stepping: ready on the server
        warm = (
            [job for job in self._plan(pairs[ahead]).values() if job is not None]
            if 0 <= ahead < len(pairs)
            else []
        )
        self._aggs.prefetch([(job.key, job.compute) for job in jobs + warm])
        futures = {job.key: self._aggs.future(job.key) for job in jobs}
        if any(f is None for f in futures.values()):  # evicted already (a tiny cache): nothing to offer
            return
        serial = self._serial

        def done() -> None:
            if serial != self._serial or any(
                f.cancelled() or f.exception() is not None for f in futures.values()
            ):
                return
            shows, images = {}, []
            for d, plan in plans.items():
                layer_images = {
                    name: futures[job.key].result() if job is not None else None for name, job in plan.items()
                }
                images += [img for img in layer_images.values() if img is not None]
                shows[d] = self._show_message(serial, neighbours[d], layer_images)
            self._put(images)
            self.client.neighbours = {"origin": _pair_key(pair), "keys": _ahead_keys(), **shows}

        self._when_all_quiet(list(futures.values()), done)

    def _when_all_quiet(self, futures: list[Future], callback: Callable[[], None]) -> None:
        """Like :meth:`_when_all`, but never blocks a script or a test (prefetches are optional)."""
        if self._doc is None and not all(f.done() for f in futures):
            return
        self._when_all(futures, callback)

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


_settled = threading.Lock()


def _settle(first: Future, image: MapImage) -> None:
    """Resolve a layer's first image with ``image`` unless it is resolved already."""
    with _settled:
        if not first.done():
            first.set_result(image)


def _drafted(first: Future, shown: threading.Event, image: MapImage) -> None:
    """A layer's draft is ready: it is the layer's first image (unless that came already); the exact image is
    made once every layer's first image is on screen (the drafted layers' overviews would slow the others'
    reads) or after ``REFINE_AFTER_S``, whatever happens to the session."""
    _settle(first, image)
    shown.wait(REFINE_AFTER_S)


def _settle_from(first: Future, exact: Future) -> None:
    """Resolve a layer's first image with its exact one (or its error) unless a draft came before."""
    with _settled:
        if first.done():
            return
        if exact.cancelled() or exact.exception() is not None:
            first.set_exception(exact.exception() if not exact.cancelled() else RuntimeError("cancelled"))
        else:
            first.set_result(exact.result())


def _drafter(
    on_draft: Callable[[MapImage], None] | None, key: str, image: Callable[[xr.DataArray, str], MapImage]
) -> Callable[[xr.DataArray], None] | None:
    """The ``draft`` callback of :func:`compute_aggregate`: the first aggregate made into an image under a key
    of its own, handed to ``on_draft``."""
    if on_draft is None:
        return None
    draft_key = image_key("draft", key)
    return lambda agg: on_draft(image(agg, draft_key))


def _pair_key(pair: Pair | None) -> str:
    return pair.key if pair is not None else ""


def _blank_data() -> dict[str, list]:
    return {
        "image": [np.zeros((1, 1), np.uint32)],
        "values": [np.full((1, 1), np.nan, np.float32)],
        "x": [0.0],
        "y": [0.0],
        "dw": [1e-9],
        "dh": [1e-9],
    }


def _ahead_keys() -> dict[str, str]:
    """Shortcut keys whose show the browser may apply before the server answers -> ``neighbours`` entry."""
    return {k: AHEAD_ACTIONS[s.action] for s in SHORTCUTS if s.action in AHEAD_ACTIONS for k in s.keys}
