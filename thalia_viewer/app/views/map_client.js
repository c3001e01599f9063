// The map's browser side: a pool of decoded layer images, the layers shown, instant pair steps, live drawing.
//
// The server (layer_map.py, map_client.py) sends messages:
//   {op: "put", items: [{key, kind, shape: [rows, cols], data: zlib bytes, v0, v1, x, y, dw, dh}]}
//       images for the pool (decoded here: viz/encode.py describes the encodings);
//   {op: "show", serial, pair, ack, layers: {name: null | {key, cmap | palette, low, high, alpha, label}}, extent?}
//       what every image renderer of the figure shows (null: hidden); `ack`: drawing gestures handled so far;
//       `extent` ({x, y, width, height}): a new frame's axes and plot size, set at once;
//   {op: "ack", seq}: gestures handled without a new image.
// It answers {op: "ready"} once mounted (the server then sends what is on screen) and {op: "missing", keys}
// for images the pool lost. Renderers are changed with setv(..., {sync: false}): images never travel back.
//
// Instant pair steps and toggles: `neighbours` holds the shows of the next and previous pair at this view
// and of the masks toggled, once their images are in the pool, and which key leads to which; such a key
// (when a shortcut on the page forwards it to the server) applies its show at once, before the server has
// even seen the key press (the server's own show follows and changes nothing). If the server shows nothing
// within CONFIRM_MS, the last confirmed show comes back.
//
// Drawing (annotate): pointer events on the figure's canvas, taken before Bokeh's own gestures (so a brush
// starts painting at once, without Bokeh's move threshold or its long-press timeout); the brush footprint
// follows the cursor and the stroke is drawn as it is dragged, at its real width in data pixels; on release
// the stroke goes to the server, and stays drawn until the server's mask (a show with ack >= its seq)
// replaces it. Polygon vertices are clicked, dragged, removed (Backspace) until a double click closes them;
// Escape drops them.

const CONFIRM_MS = 2500;
const VALUE_LEVELS = 65534;
const GRAB_PX = 9;  // a polygon vertex within this many screen px of the pointer is grabbed

function editing(e) {
  for (const n of (e.composedPath ? e.composedPath() : [e.target])) {
    if (!n || !n.tagName) { continue; }
    const tag = n.tagName.toLowerCase();
    if (tag === 'input' || tag === 'textarea' || tag === 'select' || n.isContentEditable) { return true; }
    if (n.getAttribute && n.getAttribute('role') === 'slider') { return true; }
  }
  return false;
}

function toBuffer(data) {
  if (data instanceof ArrayBuffer) { return data; }
  if (ArrayBuffer.isView(data)) { return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength); }
  if (typeof data === 'string') {  // base64 (a non-binary transport)
    const bin = atob(data);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  throw new Error('thalia map: unknown image payload');
}

/** A palette (#rrggbb or #rrggbbaa) as RGBA uint32 values (little-endian: r, g, b, a bytes). */
function paletteLut(palette) {
  const lut = new Uint32Array(palette.length);
  for (let i = 0; i < palette.length; i++) {
    const h = palette[i].replace('#', '');
    const r = parseInt(h.slice(0, 2), 16), g = parseInt(h.slice(2, 4), 16), b = parseInt(h.slice(4, 6), 16);
    const a = h.length >= 8 ? parseInt(h.slice(6, 8), 16) : 255;
    lut[i] = ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }
  return lut;
}

/** Replace a data source's columns in this browser only (never sent back to the server), and redraw.
 *  No equality check: the columns are new (Bokeh would compare a whole image element by element), and
 *  setv's own change signal redraws (one more emit would decode the images into the canvas twice). */
function setData(source, data) {
  if (source == null) { return; }
  source.setv({data}, {sync: false, check_eq: false});
}

/** zlib bytes inflated to an ArrayBuffer of `size` bytes (what the image's shape and kind say it holds).
 *  Written into the stream directly: a Blob's stream is registered with the browser process and read back
 *  through a loader (2 to 3 ms of a page's main thread a step, in a trace). The stream's chunks are copied
 *  into one buffer of the known size, not gathered and then joined (one copy of the image, not two). */
async function inflate(data, size) {
  const bytes = ArrayBuffer.isView(data) ? data : new Uint8Array(toBuffer(data));
  const stream = new DecompressionStream('deflate');
  const writer = stream.writable.getWriter();
  writer.write(bytes).catch(() => {});  // a failure shows on the reading side
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const out = new Uint8Array(size);
  let at = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) { break; }
    if (at + value.byteLength > size) { throw new Error(`thalia map: image larger than its shape (${size} bytes)`); }
    out.set(value, at);
    at += value.byteLength;
  }
  if (at !== size) { throw new Error(`thalia map: image of ${at} bytes, its shape says ${size}`); }
  return out.buffer;
}

/** Bokeh puts an image glyph's pixels on its canvas by reading the canvas back (getImageData: a new RGBA
 *  buffer and a copy each time, 1 ms and a megabyte of garbage a layer a step), copying the pixels in and
 *  writing them back. An ImageData made on the pixels themselves is written as it is: the same canvas, no
 *  readback, no copy, and a renderer's GC that marks a heap a few megabytes smaller each step (one major
 *  collection every few steps, of 10 to 20 ms of a core each). Installed once a page, for every image glyph:
 *  the arrays given are RGBA of width x height (any other falls back to Bokeh's own). */
function uploadImagesWithoutReadback() {
  const proto = window.Bokeh.require('models/glyphs/image_base').ImageBaseView.prototype;
  if (proto.__bokehUpload) { return; }
  const original = proto.__bokehUpload = proto._set_image_data_from_buffer;  // kept: the tests compare them
  proto._set_image_data_from_buffer = function (i, buf8) {
    const w = this.image_width[i], h = this.image_height[i];
    if (buf8 == null || buf8.length !== 4 * w * h || w === 0 || h === 0) { return original.call(this, i, buf8); }
    const px = buf8 instanceof Uint8ClampedArray ? buf8 : new Uint8ClampedArray(buf8.buffer, buf8.byteOffset, buf8.length);
    const canvas = this._get_or_create_canvas(i);
    canvas.getContext('2d', {willReadFrequently: true}).putImageData(new ImageData(px, w, h), 0, 0);
    this.image_data[i] = canvas;
  };
}

class MapClient {
  constructor(model) {
    this.model = model;
    this.ndarray = window.Bokeh.require('core/util/ndarray').ndarray;
    this.pool = new Map();       // key -> {image, x, y, dw, dh, nbytes}
    this.pending = new Map();    // key -> Promise of the decoded entry
    this.poolBytes = 0;
    this.applied = {};           // renderer name -> JSON of the entry on screen
    this.confirmed = null;       // the last show of the server
    this.wanted = 0;             // generation of the latest show asked for (server or optimistic)
    this.optimistic = null;      // {timer} of a show applied before the server confirmed it
    this.pair = '';              // the pair on screen
    this.live = [];              // strokes drawn, waiting for the server: {seq, xs, ys, tool}
    this.seq = 0;
    this.drag = null;            // the gesture in progress
    this.vertices = [];          // polygon being clicked: [[x, y], ...]
    this.stats = {shows: 0, steps: 0, applied: 0, apply_ms: 0};  // for tests and benchmarks
    this.trace = [];
    this.onKey = (e) => this.key(e);
    // on the window, so after the page's shortcuts (on the document) have sent the key to the server: the
    // show applied here (a few ms of Bokeh's work) does not hold the key back
    window.addEventListener('keydown', this.onKey);
    window.__thaliaMaps = window.__thaliaMaps || new Map();
    window.__thaliaMaps.set(model.figure_id, this);
  }

  /** A short trace of what happened when (for tests, benchmarks and debugging). */
  log(what, detail) {
    this.trace.push([Math.round(performance.now()), what, detail]);
    if (this.trace.length > 60) { this.trace.shift(); }
  }

  destroy() {
    window.removeEventListener('keydown', this.onKey);
    this.unlisten();
    if (window.__thaliaMaps && window.__thaliaMaps.get(this.model.figure_id) === this) {
      window.__thaliaMaps.delete(this.model.figure_id);
    }
  }

  get doc() { return this.model.document; }
  get(id) { return id == null || this.doc == null ? null : this.doc.get_model_by_id(id); }
  get figure() { return this.get(this.model.figure_id); }

  // ---------------------------------------------------------------------------------------- messages
  message(msg) {
    if (msg == null) { return; }
    this.log(msg.op, msg.op === 'show' ? msg.pair : (msg.op === 'put' ? msg.items.length : msg.seq));
    if (msg.op === 'put') { for (const item of msg.items) { this.put(item); } }
    else if (msg.op === 'show') { this.show(msg, false); }
    else if (msg.op === 'ack') { this.acknowledge(msg.seq); }
  }

  put(item) {
    if (this.pool.has(item.key) || this.pending.has(item.key)) { return; }
    const [rows, cols] = item.shape;
    const promise = inflate(item.data, rows * cols * {value: 2, codes: 1, alpha: 1}[item.kind]).then((raw) => {
      const entry = this.decode(item, raw);
      this.pending.delete(item.key);
      this.pool.set(item.key, entry);
      this.poolBytes += entry.nbytes;
      for (const [key, old] of this.pool) {  // first in, first out: the server counts the same way
        if (this.poolBytes <= (this.model.pool_bytes || 96e6)) { break; }
        this.pool.delete(key);
        this.poolBytes -= old.nbytes;
      }
      if (this.retry) { const retry = this.retry; this.retry = null; retry(); }
      this.prepareAhead(item.key);
      return entry;
    }).catch((err) => { this.pending.delete(item.key); console.error('thalia map: bad image', err); return null; });
    this.pending.set(item.key, promise);
  }

  decode(item, raw) {
    const [rows, cols] = item.shape;
    const n = rows * cols;
    const entry = {kind: item.kind, x: item.x, y: item.y, dw: item.dw, dh: item.dh, rgba: new Map()};
    if (item.kind === 'value') {  // kept as its codes (value = v0 + (code - 1) * step; 0: no data)
      entry.values = this.ndarray(new Uint16Array(raw), {shape: [rows, cols]});
      entry.v0 = item.v0;
      entry.step = (item.v1 - item.v0) / VALUE_LEVELS;
    } else if (item.kind === 'alpha') {
      const a = new Uint8Array(raw);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) { out[i] = a[i] * 16777216; }  // black, alpha a (RGBA bytes, little-endian)
      entry.values = this.ndarray(out, {shape: [rows, cols]});
    } else {
      entry.values = this.ndarray(new Uint8Array(raw), {shape: [rows, cols]});
    }
    entry.nbytes = rows * cols * {value: 2, codes: 1, alpha: 4}[item.kind];
    return entry;
  }

  /** The RGBA image (uint32 a pixel) of a pool entry in a show entry's colours; cached per colouring. */
  colorize(entry, style) {
    if (entry.kind === 'alpha') { return entry.values; }
    const id = JSON.stringify([style.cmap, style.palette, style.low, style.high]);
    const cached = entry.rgba.get(id);
    if (cached != null) { return cached; }
    const lut = paletteLut(style.palette || (this.model.palettes || {})[style.cmap] || ['#000000']);
    const v = entry.values, n = v.length, out = new Uint32Array(n);
    if (entry.kind === 'value') {  // the colour of every code first (65,536 of them), then one lookup a pixel
      const lo = style.low, k = lut.length / ((style.high - style.low) || 1), last = lut.length - 1;
      // one table per client, reused: a new one a step (256 kB) was garbage the renderer's GC had to mark
      const byCode = this.byCode || (this.byCode = new Uint32Array(VALUE_LEVELS + 2));
      byCode[0] = 0;  // code 0 (no data) stays transparent
      for (let c = 1; c < byCode.length; c++) {
        let j = Math.floor((entry.v0 + (c - 1) * entry.step - lo) * k);
        j = j < 0 ? 0 : (j > last ? last : j);
        byCode[c] = lut[j];
      }
      for (let i = 0; i < n; i++) { out[i] = byCode[v[i]]; }
    } else {
      for (let i = 0; i < n; i++) { const c = v[i]; out[i] = c < lut.length ? lut[c] : 0; }
    }
    const image = this.ndarray(out, {shape: v.shape});
    entry.rgba.clear();  // one colouring kept per image: the pool's memory stays at most twice what it counts
    entry.rgba.set(id, image);
    return image;
  }

  /** Colour the images of a show ahead of time (the neighbours), so a step only swaps them in. */
  prepare(msg, only = null) {
    if (msg == null) { return; }
    for (const e of Object.values(msg.layers)) {
      const entry = e != null && (only == null || e.key === only) ? this.pool.get(e.key) : null;
      if (entry != null) { this.colorize(entry, e); }
    }
  }

  /** Colour the shows a key may bring (all their images, or the one just decoded). */
  prepareAhead(only = null) {
    const nb = this.model.neighbours || {};
    for (const which of new Set(Object.values(nb.keys || {}))) { this.prepare(nb[which], only); }
  }

  // ----------------------------------------------------------------------------------------- showing
  show(msg, optimistic) {
    const generation = ++this.wanted;
    this.stats.shows += optimistic ? 0 : 1;
    if (!optimistic) {
      this.confirmed = msg;
      if (this.optimistic) { clearTimeout(this.optimistic.timer); this.optimistic = null; }
    }
    this.tryShow(msg, optimistic, generation, true);
  }

  /** Apply `msg` once its images are decoded (asking the server for those the pool lost). */
  tryShow(msg, optimistic, generation, ask) {
    if (generation !== this.wanted) { return; }  // a later show won
    const keys = Object.values(msg.layers).filter((e) => e != null).map((e) => e.key);
    const missing = keys.filter((k) => !this.pool.has(k) && !this.pending.has(k));
    if (missing.length) {
      if (ask && !optimistic) { this.model.send_msg({op: 'missing', keys: missing}); }
      this.retry = () => this.tryShow(msg, optimistic, generation, false);
      return;
    }
    Promise.all(keys.map((k) => this.pool.get(k) ?? this.pending.get(k))).then(() => {
      if (generation !== this.wanted) { return; }
      if (!keys.every((k) => this.pool.has(k))) { this.tryShow(msg, optimistic, generation, true); return; }
      this.apply(msg);
      if (!optimistic && msg.ack != null) { this.acknowledge(msg.ack); }
    });
  }

  apply(msg) {
    const t0 = performance.now();
    const ids = this.model.ids || {};
    const fig = this.figure;
    if (msg.extent != null && fig != null) {  // a new frame: its axes at once (the server's own update follows)
      const [x0, x1] = msg.extent.x, [y0, y1] = msg.extent.y;
      fig.x_range.setv({start: x0, end: x1, reset_start: x0, reset_end: x1}, {sync: false});
      fig.y_range.setv({start: y0, end: y1, reset_start: y0, reset_end: y1}, {sync: false});
      fig.setv({frame_width: msg.extent.width, frame_height: msg.extent.height}, {sync: false});
    }
    for (const [name, entry] of Object.entries(msg.layers)) {
      const ref = ids[name];
      if (ref == null) { continue; }
      const text = JSON.stringify(entry);
      if (this.applied[name] === text) { continue; }
      const renderer = this.get(ref.renderer);
      if (renderer == null) { continue; }
      if (entry == null) {
        renderer.setv({visible: false, name: ''}, {sync: false});
        this.applied[name] = text;
        continue;
      }
      const img = this.pool.get(entry.key);
      if (img == null) { continue; }
      const before = this.applied[name] ? JSON.parse(this.applied[name]) : null;
      const same = before != null && before.key === entry.key && before.cmap === entry.cmap && before.low === entry.low
        && before.high === entry.high && JSON.stringify(before.palette) === JSON.stringify(entry.palette);
      if (!same) {
        const image = this.colorize(img, entry);
        const values = img.kind === 'value' ? {values: [img.values], v0: [img.v0], vstep: [img.step]} : {values: [img.values]};
        setData(this.get(ref.source), {image: [image], ...values, x: [img.x], y: [img.y], dw: [img.dw], dh: [img.dh]});
      }
      const glyph = this.get(ref.glyph);
      if (glyph != null && entry.alpha != null) { glyph.setv({global_alpha: entry.alpha}, {sync: false}); }
      renderer.setv({visible: true, name: entry.label || ''}, {sync: false});
      this.applied[name] = text;
    }
    if (msg.pair !== this.pair && this.vertices.length) { this.vertices = []; this.drawPolygon(); }  // another pair
    this.pair = msg.pair;
    this.stats.applied += 1;
    this.log('applied', msg.pair);
    this.stats.apply_ms = performance.now() - t0;
    this.stats.applied_at = t0;
    requestAnimationFrame(() => { this.stats.frame_at = performance.now(); this.log('painted', msg.pair); });
  }

  // ---------------------------------------------------------------------------------- instant steps
  key(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || editing(e)) { return; }
    const forwardedKey = window.__thaliaKeys != null && (window.__thaliaKeys.get(e.key) || 0) > 0;
    const picked = (this.model.tool_keys || {})[e.key];
    if (picked != null && forwardedKey) { this.pickTool(picked); return; }
    if (this.vertices.length && (e.key === 'Escape' || e.key === 'Backspace')) {
      if (e.key === 'Escape') { this.vertices = []; } else { this.vertices.pop(); }
      this.drawPolygon();
      e.preventDefault();
      return;
    }
    const nb = this.model.neighbours || {};
    const which = (nb.keys || {})[e.key];
    const forwarded = window.__thaliaKeys != null && (window.__thaliaKeys.get(e.key) || 0) > 0;
    if (which == null || !forwarded) { return; }  // no shortcut on this page does this with this key
    this.log('key', e.key);
    if (nb.origin == null || nb.origin !== this.pair) { this.log('not ready', nb.origin); return; }
    const target = nb[which];
    if (target == null) { return; }
    const keys = Object.values(target.layers).filter((v) => v != null).map((v) => v.key);
    if (!keys.every((k) => this.pool.has(k))) { return; }
    this.stats.steps += 1;
    this.stats.step_at = performance.now();
    this.log('step', which);
    this.show(target, true);
    if (this.optimistic) { clearTimeout(this.optimistic.timer); }
    const since = this.stats.shows;
    const timer = setTimeout(() => {  // the server did not follow: back to what it shows
      this.optimistic = null;
      if (this.confirmed != null && this.stats.shows === since) { this.show(this.confirmed, true); }
    }, CONFIRM_MS);
    this.optimistic = {timer};
  }

  // -------------------------------------------------------------------------------------- drawing
  get brush() { return this.model.brush || {}; }

  /** The drawing tool now: picked here a moment ago (a tool key, a tool button) or as the server says. */
  get tool() {
    const local = this.localTool;
    if (local != null && performance.now() - local.at < CONFIRM_MS) { return local.tool; }
    const radio = this.toolRadio();
    const labels = radio != null ? radio.labels : null;
    const picked = labels != null && radio.active != null ? (this.model.tool_labels || {})[labels[radio.active]] : null;
    return picked ?? this.brush.tool;
  }

  /** The tool buttons of the page (the browser knows their state before the server does). */
  toolRadio() {
    if (this._radio === undefined || (this._radio != null && this._radio.document == null)) {
      this._radio = null;
      const names = Object.keys(this.model.tool_labels || {});
      for (const m of (this.doc != null ? this.doc.all_models : [])) {
        if (m.labels != null && m.active !== undefined && names.length && m.labels.length === names.length
            && m.labels.every((l, i) => l === names[i])) { this._radio = m; break; }
      }
    }
    return this._radio;
  }

  /** A tool picked in the browser: drawn with at once, the server told by its own shortcut or button. */
  pickTool(tool) {
    this.localTool = {tool, at: performance.now()};
    const fig = this.figure;
    if (fig != null) {  // drawing tools take the drag from panning (the server does the same on its side)
      const pan = fig.toolbar.tools.find((t) => t.type === 'PanTool' || t.constructor.__name__ === 'PanTool');
      const drags = tool === 'pan' || tool === 'fill';
      fig.toolbar.setv({active_drag: drags ? (pan ?? null) : null}, {sync: false});
    }
    this.toolChanged();
  }

  /** The figure's view (its canvas, scales and frame), looked up again when the figure is rendered anew. */
  plotView() {
    const fig = this.figure;
    if (fig == null || window.Bokeh == null || window.Bokeh.index == null) { return null; }
    const v = this._view;
    if (v == null || v.model !== fig || v.canvas_view == null || !v.canvas_view.events_el.isConnected) {
      this._view = window.Bokeh.index.find_one(fig);
    }
    return this._view;
  }

  /** Listen to the pointer on the whole page, in the capture phase: before Bokeh's own gestures see it. */
  listen() {
    if (this._handlers != null) { return; }
    const on = (fn) => (e) => { if (this.tool != null && this.onMap(e)) { fn(e); } };
    this._handlers = {
      pointerdown: on((e) => this.pointerDown(e)), pointermove: (e) => this.pointerMove(e),
      pointerup: (e) => this.pointerUp(e), pointercancel: (e) => this.pointerUp(e, true),
      dblclick: on((e) => this.doubleClick(e)),
    };
    for (const [type, fn] of Object.entries(this._handlers)) { document.addEventListener(type, fn, {capture: true}); }
  }

  unlisten() {
    if (this._handlers == null) { return; }
    for (const [type, fn] of Object.entries(this._handlers)) { document.removeEventListener(type, fn, {capture: true}); }
    this._handlers = null;
  }

  /** Whether a pointer event happens on this map's canvas. */
  onMap(e) {
    const view = this.plotView();
    this._el = view != null && view.canvas_view != null ? view.canvas_view.events_el : null;
    return this._el != null && e.composedPath().includes(this._el);
  }

  /** The map point under a pointer event, and whether it is on the plot area. */
  point(e) {
    const view = this.plotView();
    const rect = this._el.getBoundingClientRect();
    const sx = e.clientX - rect.left, sy = e.clientY - rect.top;
    const frame = view.frame;
    return {x: frame.x_scale.invert(sx), y: frame.y_scale.invert(sy), sx, sy, inside: frame.bbox.contains(sx, sy)};
  }

  /** Whether a drag draws now: an annotate tool is picked and no toolbar drag tool took over. */
  drawing() {
    const fig = this.figure;
    const tool = this.tool;
    return fig != null && tool != null && tool !== 'pan' && tool !== 'fill' && fig.toolbar.active_drag == null;
  }

  /** Screen px per data unit, along x and y. */
  scale() {
    const fig = this.figure;
    const xr = fig.x_range, yr = fig.y_range;
    return [fig.inner_width / Math.abs(xr.end - xr.start), fig.inner_height / Math.abs(yr.end - yr.start)];
  }

  grab(e) {  // the drawing takes this pointer: Bokeh must not pan, select text or tap with it
    e.preventDefault();
    e.stopImmediatePropagation();
  }

  pointerDown(e) {
    if (e.button !== 0) { return; }
    const tool = this.tool;
    const p = this.point(e);
    this.log('down', `${tool} inside=${p.inside} drawing=${this.drawing()}`);
    if (!p.inside) { return; }
    if (tool === 'fill') { this.down = p; return; }  // a click fills; a drag still pans
    if (!this.drawing()) { return; }
    this.grab(e);
    if (tool === 'polygon') {
      const i = this.nearVertex(p);
      this.drag = i >= 0 ? {vertex: i} : {click: p};
      return;
    }
    this.drag = {seq: ++this.seq, tool, xs: [p.x], ys: [p.y]};
    this.live.push(this.drag);
    this.cursor(p);
    this.drawLive();
  }

  pointerMove(e) {
    const d = this.drag;
    if (d == null) {
      if (this.tool != null) { this.cursor(this.onMap(e) ? this.point(e) : null); }
      return;
    }
    const p = this.point(e);
    if (d.vertex != null) {
      this.vertices[d.vertex] = [p.x, p.y];
      this.drawPolygon();
    } else if (d.xs != null) {
      d.xs.push(p.x);
      d.ys.push(p.y);
      this.cursor(p);
      this.drawLive();
    }
    e.stopImmediatePropagation();
  }

  pointerUp(e, cancelled = false) {
    const tool = this.tool;
    if (this._el == null) { return; }
    if (tool === 'fill' && this.down != null && !cancelled) {
      const p = this.point(e), q = this.down;
      this.down = null;
      if (Math.hypot(p.sx - q.sx, p.sy - q.sy) <= GRAB_PX / 2) {
        this.model.send_msg({op: 'fill', seq: ++this.seq, x: p.x, y: p.y});
      }
      return;
    }
    const d = this.drag;
    if (d == null) { return; }
    this.drag = null;
    e.stopImmediatePropagation();
    if (d.click != null) {  // polygon: a click adds a vertex (not on top of another one)
      const p = this.point(e);
      if (!cancelled && this.nearVertex(p) < 0) { this.vertices.push([p.x, p.y]); }
      this.drawPolygon();
      return;
    }
    if (d.xs == null) { return; }
    if (cancelled) { this.live = this.live.filter((s) => s !== d); this.drawLive(); return; }
    const p = this.point(e);
    d.xs.push(p.x);
    d.ys.push(p.y);
    this.drawLive();
    this.model.send_msg({op: 'stroke', seq: d.seq, tool: d.tool, xs: d.xs, ys: d.ys});
    this.log('stroke', d.seq);
  }

  doubleClick(e) {
    if (this.tool !== 'polygon' || !this.drawing()) { return; }
    e.preventDefault();
    e.stopImmediatePropagation();
    const pts = this.vertices.slice();
    if (pts.length < 3) { return; }
    this.vertices = [];
    this.drawPolygon();
    const d = {seq: ++this.seq, tool: 'lasso', xs: pts.map((q) => q[0]), ys: pts.map((q) => q[1])};
    this.live.push(d);  // drawn closed until the server's fill replaces it
    this.drawLive();
    this.model.send_msg({op: 'polygon', seq: d.seq, xs: d.xs, ys: d.ys});
  }

  nearVertex(p) {
    const [sx, sy] = this.scale();
    return this.vertices.findIndex(([x, y]) => Math.hypot((x - p.x) * sx, (y - p.y) * sy) <= GRAB_PX);
  }

  acknowledge(seq) {
    const before = this.live.length;
    this.live = this.live.filter((d) => d === this.drag || d.seq > seq);
    if (this.live.length !== before) { this.drawLive(); }
  }

  /** The brush footprint under the pointer (brush and eraser), or nothing. */
  cursor(p) {
    const b = this.brush;
    const src = this.get((this.model.ids.cursor || {}).source);
    if (src == null) { return; }
    const show = p != null && p.inside && (this.tool === 'brush' || this.tool === 'eraser') && this.drawing();
    const r = b.radius || 0;
    if (!show && src.data.x.length === 0) { return; }
    const glyph = this.get((this.model.ids.cursor || {}).glyph);
    const color = this.tool === 'eraser' ? '#57606a' : b.color;
    if (show && glyph != null && this._cursorColor !== color) { glyph.setv({fill_color: color}, {sync: false}); this._cursorColor = color; }
    setData(src, show ? {x: [p.x], y: [p.y], w: [2 * r * b.dx], h: [2 * r * b.dy]} : {x: [], y: [], w: [], h: []});
  }

  /** The strokes drawn and not yet replaced by the server's mask, at the brush's width on screen. */
  drawLive() {
    const ref = this.model.ids.live || {};
    const src = this.get(ref.source), glyph = this.get(ref.glyph);
    if (src == null || glyph == null) { return; }
    const b = this.brush;
    const [sx, sy] = this.scale();
    const widthPx = 2 * (b.radius || 0) * Math.sqrt(Math.abs(b.dx * sx * b.dy * sy));
    const strokes = this.live.filter((d) => d.tool !== 'lasso');
    const lassos = this.live.filter((d) => d.tool === 'lasso');
    const color = this.tool === 'eraser' ? '#57606a' : b.color;
    glyph.setv({line_width: Math.max(widthPx, 1), line_color: color}, {sync: false});
    const edge = this.get((this.model.ids.live_edge || {}).glyph);
    if (edge != null) { edge.setv({line_width: Math.max(widthPx, 1) + 3}, {sync: false}); }
    setData(src, {xs: strokes.map((d) => d.xs), ys: strokes.map((d) => d.ys)});
    const lsrc = this.get((this.model.ids.lasso || {}).source);
    if (lsrc != null) {
      setData(lsrc, {xs: lassos.map((d) => [...d.xs, d.xs[0]]), ys: lassos.map((d) => [...d.ys, d.ys[0]])});
    }
  }

  drawPolygon() {
    const src = this.get((this.model.ids.polygon || {}).source);
    if (src == null) { return; }
    setData(src, {x: this.vertices.map((p) => p[0]), y: this.vertices.map((p) => p[1])});
  }

  toolChanged() {
    if (this.localTool != null && this.localTool.tool === this.brush.tool) { this.localTool = null; }  // the server agrees
    if (this.tool !== 'polygon' && this.vertices.length) { this.vertices = []; this.drawPolygon(); }
    this.cursor(null);
  }
}

export function render({ model }) {
  uploadImagesWithoutReadback();
  const client = new MapClient(model);
  model.on('msg:custom', (msg) => client.message(msg));
  model.on('brush', () => client.toolChanged());
  model.on('neighbours', () => setTimeout(() => client.prepareAhead(), 0));
  model.on('remove', () => client.destroy());
  model.send_msg({op: 'ready'});
  client.listen();
  const radio = client.toolRadio();  // a tool button clicked: drawn with at once
  if (radio != null) {
    radio.properties.active.change.connect(() => {
      const tool = (model.tool_labels || {})[radio.labels[radio.active]];
      if (tool != null) { client.pickTool(tool); }
    });
  }
  const el = document.createElement('span');
  el.className = 'thalia-map-client';
  return el;
}
