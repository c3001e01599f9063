"""The time-series strip: the pairs of the primary date on screen, ordered by secondary date, as thumbnails.

Each thumbnail is the pair's wrapped phase (Datashader circular mean at thumbnail size, cyclic colours)
with the outlines of its deformation mask, and its label; a click opens the pair. The strip scrolls, and its
images load lazily: the cards (dates, label, baseline) come at once, the images only for the cards in or
near view (the browser asks as they scroll in) and around the pair on screen, each pushed as soon as it is
drawn (one at a time on a background worker: a decimated read, ~0.1-0.3 s per pair on a 4096^2 frame), so a
primary date with 30+ secondary dates shows its first thumbnails in a fraction of a second, not all of them
after tens of seconds. Thumbnails are source data only, so they are cached per process and shared by every
session.
"""

from __future__ import annotations

import base64
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Final

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent
from panel.viewable import Viewer
from PIL import Image

from thalia_viewer.app import background
from thalia_viewer.app.background import Lane
from thalia_viewer.app.data import open_dataset
from thalia_viewer.app.later import batched, later
from thalia_viewer.app.messages import escape
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz.elements import STATUS_COLORS, pair_status, pretty_date, thumbnail_rgba

THUMBNAIL_WIDTH: Final = 150  # px
MAX_THUMBNAILS: Final = 4096  # per process (10-20 KB each)
THUMBNAIL_QUALITY: Final = 85  # WebP: noisy phase is ~4x smaller than PNG, the mask outlines stay crisp
OVERSAMPLING: Final = 3  # source pixels per thumbnail pixel kept (a thumbnail is a preview: decimated first)
NO_DATA_RGB: Final = (246, 248, 250)  # thumbnail background where the frame has no data
PREFETCH: Final = 4  # thumbnails drawn on each side of the pair on screen before the browser asks
MAX_REQUEST: Final = 64  # thumbnails one browser message may ask for
SCROLL_HINT: Final = 8  # series longer than this say "scroll for more"


_cache: OrderedDict[tuple[str, str, int], str] = OrderedDict()
_cache_lock = threading.Lock()


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
    """A horizontal, scrolling strip of clickable thumbnails whose images load lazily.

    ``items`` lists the cards (no image); the browser asks for the images of the cards in or near view
    (``{"want": [keys]}`` messages, handled by ``on_want``) and shows those pushed in ``loaded`` (each update
    holds only the new ones). ``value`` is the key of the highlighted card; a click sets it.
    """

    items = param.List(default=[], doc="Dicts with key, title, label, color, tooltip")
    value = param.String(default="", doc="Key of the highlighted thumbnail; set by a click")
    loaded = param.Dict(default={}, doc="Images pushed in the latest update: key -> data URI")
    failed = param.List(default=[], doc="Keys whose thumbnail cannot be drawn, pushed in the latest update")

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
      const srcs = new Map();
      const requested = new Set();
      let cards = new Map();
      let pending = new Set();
      let timer = null;
      function flush() {
        timer = null;
        const keys = [...pending].filter((k) => !srcs.has(k) && !requested.has(k));
        pending.clear();
        keys.forEach((k) => requested.add(k));
        if (keys.length) { model.send_msg({want: keys}); }
      }
      const io = new IntersectionObserver((entries) => {
        for (const e of entries) {
          if (e.isIntersecting) { pending.add(e.target.dataset.key); }
        }
        if (pending.size && timer === null) { timer = setTimeout(flush, 60); }
      }, {root: strip, rootMargin: '0px 450px 0px 450px'});
      function show(card, key) {
        const src = srcs.get(key);
        if (!src || !String(src).startsWith('data:image/')) { return; }
        const img = node('img', 'img');
        img.src = src;
        img.alt = card.dataset.title;
        card.querySelector('.img').replaceWith(img);
      }
      function fail(card) {
        card.querySelector('.img').replaceWith(node('div', 'img pending problem', 'cannot be read'));
      }
      function highlight() {
        for (const [k, c] of cards) { c.classList.toggle('current', k === model.value); }
        const cur = cards.get(model.value);
        if (cur) {
          const a = cur.offsetLeft, b = a + cur.offsetWidth;
          if (a < strip.scrollLeft || b > strip.scrollLeft + strip.clientWidth) {
            strip.scrollLeft = Math.max(0, a - (strip.clientWidth - cur.offsetWidth) / 2);
          }
        }
      }
      function draw() {
        io.disconnect();
        strip.replaceChildren();
        cards = new Map();
        srcs.clear();
        requested.clear();
        if (!model.items.length) {
          strip.appendChild(node('div', 'empty', 'No pair to show.'));
        }
        for (const it of model.items) {
          const card = node('button', 'thumb');
          card.title = it.tooltip;
          card.dataset.key = it.key;
          card.dataset.title = it.title;
          card.appendChild(node('div', 'img pending'));
          card.appendChild(node('div', 't', it.title));
          const line = node('div', 's');
          const chip = node('span', 'chip');
          chip.style.background = it.color;
          line.append(chip, document.createTextNode(it.label));
          card.appendChild(line);
          card.addEventListener('click', () => { model.value = it.key; });
          strip.appendChild(card);
          cards.set(it.key, card);
          io.observe(card);
        }
        highlight();
      }
      model.on('items', draw);
      model.on('value', highlight);
      function loaded() {
        for (const [k, v] of Object.entries(model.loaded)) {
          srcs.set(k, v);
          requested.delete(k);
          const c = cards.get(k);
          if (c) { show(c, k); }
        }
      }
      function failed() {
        for (const k of model.failed) {
          const c = cards.get(k);
          if (c) { fail(c); }
        }
      }
      model.on('loaded', loaded);
      model.on('failed', failed);
      draw();
      loaded();  // images pushed before this page drew the strip (cached thumbnails): the server sends them once
      failed();
      return strip;
    }
    """

    _stylesheets: ClassVar[list[str]] = [
        """
        .strip { display: flex; gap: 8px; overflow-x: auto; padding: 4px 2px 8px 2px; scroll-behavior: smooth; }
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
        .img.pending.problem { display: flex; align-items: center; justify-content: center; background: #fff5f5;
                               border-color: #d1242f; color: #82071e; }
        .img.pending { width: var(--thumb-width, 150px); height: calc(var(--thumb-width, 150px) * 0.8);
                       background: linear-gradient(90deg, #f6f8fa, #eef1f4, #f6f8fa); border: 1px dashed #d0d7de; }
        """
    ]

    def __init__(self, on_want: Callable[[list[str]], None] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.on_want = on_want  # called with the keys the browser wants images of; not sent to the browser

    def _handle_msg(self, msg: Any) -> None:
        keys = msg.get("want") if isinstance(msg, dict) else None
        if isinstance(keys, list) and self.on_want is not None:
            self.on_want([str(k) for k in keys][:MAX_REQUEST])


class TimeseriesStrip(Viewer):
    """Thumbnails of the pairs sharing the primary date on screen, ordered by secondary date (loaded lazily)."""

    view_type: ClassVar[str] = "timeseries_strip"  # name in layouts/*.yaml
    section_title: ClassVar[str | None] = "Time series"  # card title in the app (None: no card)

    state = param.ClassSelector(class_=AppState, doc="The session's state")
    thumbnail_width = param.Integer(default=THUMBNAIL_WIDTH, bounds=(60, 400), doc="Thumbnail width, px")
    prefetch = param.Integer(
        default=PREFETCH,
        bounds=(0, 50),
        doc="Thumbnails drawn on each side of the pair on screen before the browser asks",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._primary: tuple[str | None, str | None] = (None, None)
        self._series: list[Pair] = []
        self._requested: set[str] = set()
        #: Images pushed to the browser for the series on screen: key (``PRIMARY_SECONDARY``) -> data URI.
        self.sources: dict[str, str] = {}
        self._title = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10))
        self.strip = ThumbnailStrip(
            on_want=self.request,
            sizing_mode="stretch_width",
            margin=(0, 10),
            styles={"--thumb-width": f"{self.thumbnail_width}px"},
        )
        self.strip.param.watch(batched(self._on_click), "value")
        self._layout = pn.Column(self._title, self.strip, sizing_mode="stretch_width")
        update = self.state.guarded(self._update, "the time-series strip")
        # after the step's own patch (the map, the pickers, the address): app/later.py
        self.state.watch(
            lambda *_: later((self, "strip"), update), ["pair", "frame"], "the time-series strip"
        )
        self._update()

    def _update(self) -> None:
        s, cur = self.state, self.state.pair
        frame = s.frame_obj
        if cur is None or frame is None:
            self._series, self._primary, self._requested, self.sources = [], (None, None), set(), {}
            self.strip.param.update(items=[], value="", loaded={}, failed=[])
            self._title.object = ""
            return
        key = cur.name
        if self._primary != (s.frame, cur.primary):
            self._primary = (s.frame, cur.primary)
            self._series = series = frame.timeseries(cur.primary)
            self._requested, self.sources = set(), {}
            self._title.object = (
                f"<div class='thalia-subhead'>Time series of primary date {escape(pretty_date(cur.primary))}: "
                f"{len(series)} pair{'s' if len(series) != 1 else ''}, by secondary date"
                f"{' (scroll for more)' if len(series) > SCROLL_HINT else ''}</div>"
            )
            self.strip.param.update(items=self._items(series), value=key, loaded={}, failed=[])
            self._prefetch(cur)
        else:
            self.strip.value = key
            self._prefetch(cur)

    def _prefetch(self, cur: Pair) -> None:
        """Ask for the thumbnails around the pair on screen (the browser asks for the rest as they scroll in)."""
        keys = [p.name for p in self._series]
        here = keys.index(cur.name) if cur.name in keys else 0
        self.request(keys[max(0, here - self.prefetch) : here + self.prefetch + 1])

    def request(self, keys: list[str]) -> None:
        """Push the images of ``keys`` (of the series on screen): cached ones at once, the others as they are drawn
        (here when not served, else on the worker, closest to the pair on screen first)."""
        series = {p.name: p for p in self._series}
        wanted = [k for k in keys if k in series and k not in self._requested]
        if not wanted:
            return
        self._requested.update(wanted)
        ready = {
            k: uri
            for k in wanted
            if (uri := cached_thumbnail(self.state.root, series[k].key, self.thumbnail_width))
        }
        if ready:
            self._push(self._primary, ready, {})
        missing = [series[k] for k in wanted if k not in ready]
        if not missing:
            return
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self._push(self._primary, *self._render(missing, self._primary))
            return
        token = self._primary

        def job() -> None:
            for pair in missing:  # one push per thumbnail: the first appear while the others are drawn
                if token != self._primary:
                    return
                images, errors = self._render([pair], token)
                background.on_next_tick(doc, partial(self._push, token, images, errors))

        background.submit(Lane.THUMBNAILS, job)

    def _render(
        self, pairs: list[Pair], token: tuple[str | None, str | None]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Draw thumbnails: images and what could not be drawn, by key ``P_S``."""
        images, errors = {}, {}
        for p in pairs:
            if token != self._primary:
                break
            key = p.name
            try:
                images[key] = thumbnail_uri(self.state.root, p.key, self.thumbnail_width)
            except ThaliaError as exc:
                errors[key] = str(exc)
            except Exception as exc:  # a worker thread: report, never lose it
                errors[key] = f"thumbnail of {p} could not be drawn ({type(exc).__name__}: {exc})."
        return images, errors

    def _push(
        self, token: tuple[str | None, str | None], images: dict[str, str], errors: dict[str, str]
    ) -> None:
        """Send newly drawn images of the series ``token`` to the browser (if it still shows it); a pair that
        cannot be drawn says so in its place, and in a notification (the map says it too, where it shows)."""
        if errors:
            self.state.notify("warning", next(iter(errors.values())))
        if token != self._primary:
            return
        if images:
            self.sources.update(images)
            self.strip.loaded = dict(images)
        if errors:
            self.strip.failed = list(errors)

    def _items(self, series: list[Pair]) -> list[dict]:
        items = []
        for p in series:
            record = self.state.record(p)
            status = pair_status(record, valid=True)
            caption = str((record or {}).get("caption", "")) or "no annotation"
            items.append(
                {
                    "key": p.name,
                    "title": pretty_date(p.secondary),
                    "label": f"{status.value.replace('_', ' ')} · {p.baseline_days} d",
                    "color": STATUS_COLORS[status],
                    "tooltip": caption,
                }
            )
        return items

    def _on_click(self, event: param.parameterized.Event) -> None:
        cur = self.state.pair
        if event.new and (cur is None or event.new != cur.name):
            self.state.go_key(f"{self.state.frame}/{event.new}")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
