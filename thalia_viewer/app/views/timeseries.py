"""The time-series strip: the pairs of the primary date on screen, ordered by secondary date, as thumbnails.

Each thumbnail is the pair's wrapped phase (Datashader circular mean at thumbnail size, cyclic colours)
with the outlines of its deformation mask, and its label; a click opens the pair. Thumbnails are source
data only, so they are cached per process and shared by every session. In a served app the missing ones
are drawn by a background worker (a full-resolution read per pair: ~0.3 s on a 4096^2 frame) and appear
when ready; the strip, its labels and its clicks work at once.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, Final

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent
from panel.viewable import Viewer
from PIL import Image

from thalia_viewer.app.data import open_dataset
from thalia_viewer.app.messages import escape
from thalia_viewer.app.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz.elements import STATUS_COLORS, pair_status, pretty_date, thumbnail_rgba

THUMBNAIL_WIDTH: Final = 150  # px
MAX_THUMBNAILS: Final = 4096  # per process (10-20 KB each)
THUMBNAIL_QUALITY: Final = 85  # WebP: noisy phase is ~4x smaller than PNG, the mask outlines stay crisp
OVERSAMPLING: Final = 3  # source pixels per thumbnail pixel kept (a thumbnail is a preview: decimated first)
NO_DATA_RGB: Final = (246, 248, 250)  # thumbnail background where the frame has no data


_cache: OrderedDict[tuple[str, str, int], str] = OrderedDict()
_cache_lock = threading.Lock()
_worker = ThreadPoolExecutor(1, thread_name_prefix="thalia-thumbnails")


def cached_thumbnail(root: str, key: str, width: int) -> str | None:
    """The cached data URI of a thumbnail, or ``None``."""
    with _cache_lock:
        return _cache.get((root, key, width))


def thumbnail_uri(root: str, key: str, width: int) -> str:
    """A WebP data URI of the pair ``key``'s phase with its deformation mask outlined (cached per process)."""
    uri = cached_thumbnail(root, key, width)
    if uri is None:
        uri = render_thumbnail(root, key, width)
        with _cache_lock:
            _cache[(root, key, width)] = uri
            while len(_cache) > MAX_THUMBNAILS:
                _cache.popitem(last=False)
    return uri


def render_thumbnail(root: str, key: str, width: int) -> str:
    """Draw the thumbnail of pair ``key`` (no cache)."""
    pair = Pair.parse(key)
    frame = open_dataset(root).frame(pair.frame)
    # every step-th pixel (about OVERSAMPLING x the thumbnail size), read into memory, then Datashader as usual
    step = max(1, min(frame.shape) // (width * OVERSAMPLING))
    window = {frame.y_dim: slice(None, None, step), frame.x_dim: slice(None, None, step)}
    phase = frame.layer(pair, "phase").isel(window).load()
    masks = []
    if schema.DEFORMATION_MASK in frame.ds.data_vars:
        masks.append((schema.DEFORMATION_MASK, frame.layer(pair, "deformation").isel(window).load()))
    rgba = thumbnail_rgba(phase, masks, width)
    rgb = Image.new("RGB", (rgba.shape[1], rgba.shape[0]), NO_DATA_RGB)
    rgb.paste(Image.fromarray(np.ascontiguousarray(rgba), "RGBA"), mask=Image.fromarray(rgba[..., 3], "L"))
    buf = io.BytesIO()
    rgb.save(buf, format="WEBP", quality=THUMBNAIL_QUALITY, method=4)
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ThumbnailStrip(JSComponent):
    """A horizontal strip of clickable thumbnails; ``value`` is the key of the highlighted / clicked one."""

    items = param.List(default=[], doc="Dicts with key, src, title, label, color, tooltip")
    value = param.String(default="", doc="Key of the highlighted thumbnail; set by a click")

    _esm = """
    export function render({ model, el }) {
      const strip = document.createElement('div');
      strip.className = 'strip';
      function node(tag, cls, text) {  // data goes in as text, never as markup
        const n = document.createElement(tag);
        if (cls) { n.className = cls; }
        if (text !== undefined) { n.textContent = text; }
        return n;
      }
      function draw() {
        strip.replaceChildren();
        if (!model.items.length) {
          strip.appendChild(node('div', 'empty', 'No pair to show.'));
        }
        for (const it of model.items) {
          const card = node('button', 'thumb' + (it.key === model.value ? ' current' : ''));
          card.title = it.tooltip;
          card.dataset.key = it.key;
          if (it.src && String(it.src).startsWith('data:image/')) {
            const img = node('img');
            img.src = it.src;
            img.alt = it.title;
            card.appendChild(img);
          } else if (it.problem) {
            card.appendChild(node('div', 'pending problem', 'cannot be read'));
          } else {
            card.appendChild(node('div', 'pending', 'drawing…'));
          }
          card.appendChild(node('div', 't', it.title));
          const line = node('div', 's');
          const chip = node('span', 'chip');
          chip.style.background = it.color;
          line.append(chip, document.createTextNode(it.label));
          card.appendChild(line);
          card.addEventListener('click', () => { model.value = it.key; });
          strip.appendChild(card);
        }
        // bring the current thumbnail into the strip's view, sideways only: the page itself never scrolls
        const cur = strip.querySelector('.current');
        if (cur) {
          const c = cur.getBoundingClientRect(), b = strip.getBoundingClientRect();
          if (c.left < b.left) { strip.scrollLeft -= b.left - c.left; }
          else if (c.right > b.right) { strip.scrollLeft += c.right - b.right; }
        }
      }
      model.on(['items', 'value'], draw);
      draw();
      return strip;
    }
    """

    _stylesheets: ClassVar[list[str]] = [
        """
        .strip { display: flex; gap: 8px; overflow-x: auto; padding: 4px 2px 8px 2px; }
        .thumb { flex: 0 0 auto; display: flex; flex-direction: column; align-items: stretch; gap: 2px;
                 padding: 4px; border: 2px solid transparent; border-radius: 6px; background: #ffffff;
                 cursor: pointer; font: 12px/1.3 system-ui, sans-serif; color: #1f2328; text-align: left; }
        .thumb:hover { border-color: #8fb3d9; }
        .thumb.current { border-color: #111111; background: #fff8e6; }
        .thumb img { display: block; border: 1px solid #d0d7de; image-rendering: auto; }
        .t { font-weight: 600; }
        .s { color: #57606a; display: flex; align-items: center; gap: 4px; }
        .chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; border: 1px solid #57606a; }
        .empty { color: #57606a; padding: 12px; font: 13px system-ui, sans-serif; }
        .pending { width: 150px; height: 120px; display: flex; align-items: center; justify-content: center;
                   background: #f6f8fa; border: 1px dashed #d0d7de; color: #57606a; }
        .pending.problem { background: #fff5f5; border-color: #d1242f; color: #82071e; }
        """
    ]


class TimeseriesStrip(Viewer):
    """Thumbnails of the pairs sharing the primary date on screen, ordered by secondary date."""

    view_type: ClassVar[str] = "timeseries_strip"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = 'Time series'  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    thumbnail_width = param.Integer(default=THUMBNAIL_WIDTH, bounds=(60, 400), doc="Thumbnail width, px")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._primary: tuple[str | None, str | None] = (None, None)
        self._series: list[Pair] = []
        self._failed: dict[str, str] = {}  # pair key -> why its thumbnail cannot be drawn
        self._title = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.strip = ThumbnailStrip(sizing_mode="stretch_width", margin=(0, 10))
        self.strip.param.watch(self._on_click, "value")
        self._layout = pn.Column(self._title, self.strip, sizing_mode="stretch_width")
        self.state.watch(lambda *_: self._update(), ["pair", "frame"], "the time-series strip")
        self._update()

    def _update(self) -> None:
        s, cur = self.state, self.state.current
        frame = s.frame_obj
        if cur is None or frame is None:
            self._series = []
            self.strip.param.update(items=[], value="")
            self._title.object = ""
            return
        if self._primary != (s.frame, cur.primary):
            self._primary = (s.frame, cur.primary)
            self._series = series = frame.timeseries(cur.primary)
            self._title.object = (f"<div class='thalia-subhead'>Time series of primary date {escape(pretty_date(cur.primary))}: "
                                  f"{len(series)} pair{'s' if len(series) != 1 else ''}, by secondary date</div>")  # fmt: skip
            self.strip.param.update(items=self._items(series), value=f"{cur.primary}_{cur.secondary}")
            self._draw_missing(series)
        else:
            self.strip.value = f"{cur.primary}_{cur.secondary}"

    def _draw_missing(self, series: list[Pair]) -> None:
        """Draw the thumbnails not cached yet: here (no server) or on the worker, then refresh the strip."""
        missing = [p for p in series if cached_thumbnail(self.state.root, p.key, self.thumbnail_width) is None]
        if not missing:
            return
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self._refresh(self._primary, self._render(missing))
            return
        token = self._primary
        future = _worker.submit(self._render, missing)
        future.add_done_callback(lambda f: doc.add_next_tick_callback(partial(self._refresh, token, f.result())))

    def _render(self, pairs: list[Pair]) -> dict[str, str]:
        """Draw thumbnails; what could not be drawn, by pair key ``P_S``."""
        errors = {}
        for p in pairs:
            try:
                thumbnail_uri(self.state.root, p.key, self.thumbnail_width)
            except ThaliaError as exc:
                errors[f"{p.primary}_{p.secondary}"] = str(exc)
            except Exception as exc:  # a worker thread: report, never lose it
                errors[f"{p.primary}_{p.secondary}"] = f"thumbnail of {p} could not be drawn ({type(exc).__name__}: {exc})."
        return errors

    def _refresh(self, token: tuple[str | None, str | None], errors: dict[str, str]) -> None:
        """Show the thumbnails drawn since (if the strip still shows the same primary date) and any error; a pair
        that cannot be drawn says so in its place."""
        self._failed.update(errors)
        if errors:
            self.state.notify("warning", next(iter(errors.values())))  # the map says it too, where it is
        if token == self._primary:
            self.strip.items = self._items(self._series)

    def _items(self, series: list[Pair]) -> list[dict]:
        items = []
        for p in series:
            src = cached_thumbnail(self.state.root, p.key, self.thumbnail_width) or ""
            record = self.state.record(p)
            status = pair_status(record, valid=True)
            caption = str((record or {}).get("caption", "")) or "no annotation"
            items.append({
                "key": f"{p.primary}_{p.secondary}", "src": src, "title": pretty_date(p.secondary),
                "label": f"{status.value.replace('_', ' ')} · {p.baseline_days} d",  # text: the strip never parses it
                "color": STATUS_COLORS[status], "tooltip": self._failed.get(f"{p.primary}_{p.secondary}", caption),
                "problem": f"{p.primary}_{p.secondary}" in self._failed,
            })  # fmt: skip
        return items

    def _on_click(self, event: param.parameterized.Event) -> None:
        cur = self.state.current
        if event.new and (cur is None or event.new != f"{cur.primary}_{cur.secondary}"):
            self.state.go_key(f"{self.state.frame}/{event.new}")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
