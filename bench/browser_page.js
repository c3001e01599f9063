// Injected into the page by bench/bench_browser.py: watches the map's canvases and times what the user sees.
//
// __thaliaBench.arm(types) starts a requestAnimationFrame loop that hashes every pixel of every <canvas> inside
// the `.thalia-map` element (through shadow roots) once per frame. The first input event of one of `types`
// (keydown, pointerup, wheel, input ...) after arming sets t0 (its time) and the reference hash; every later
// frame whose hash differs from the previous one is a change. The benchmark reads `state()` until the page is
// idle and quiet, then the latency of the action = last change - t0 (the new image fully on screen).
(() => {
  if (window.__thaliaBench) { return; }
  function walk(node, visit) {
    const roots = [node];
    while (roots.length) {
      const root = roots.pop();
      if (root.shadowRoot) { roots.push(root.shadowRoot); }
      for (const el of root.querySelectorAll('*')) {
        visit(el);
        if (el.shadowRoot) { roots.push(el.shadowRoot); }
      }
    }
  }
  function maps() {
    const out = [];
    walk(document, (el) => { if (el.classList && el.classList.contains('thalia-map')) { out.push(el); } });
    return out;
  }
  function canvases() {
    const out = [];
    for (const m of maps()) { walk(m, (el) => { if (el.tagName === 'CANVAS') { out.push(el); } }); }
    return out;
  }
  function hashAll() {
    let h = 2166136261;
    for (const c of canvases()) {
      const w = c.width, hh = c.height;
      if (!w || !hh) { continue; }
      let ctx = null;
      try { ctx = c.getContext('2d'); } catch (e) { ctx = null; }
      if (!ctx) { continue; }
      const d = new Uint32Array(ctx.getImageData(0, 0, w, hh).data.buffer);
      for (let i = 0; i < d.length; i++) { h = Math.imul(h ^ d[i], 16777619); }
      h = Math.imul(h ^ w ^ (hh << 16), 16777619);
    }
    return h >>> 0;
  }
  /** Distinct colours on a sample of the map's pixels: a drawn interferogram has hundreds, a blank map a few. */
  function colours() {
    const seen = new Set();
    for (const c of canvases()) {
      if (!c.width || !c.height) { continue; }
      let ctx = null;
      try { ctx = c.getContext('2d'); } catch (e) { ctx = null; }
      if (!ctx) { continue; }
      const d = new Uint32Array(ctx.getImageData(0, 0, c.width, c.height).data.buffer);
      for (let i = 0; i < d.length; i += 97) { seen.add(d[i]); }
    }
    return seen.size;
  }
  const tb = { running: false, t0: null, types: [], changes: [], base: 0, last: 0, frames: 0, armAt: 0 };
  tb.hashAll = hashAll;
  tb.colours = colours;
  tb.canvasCount = () => canvases().length;
  tb.tick = () => {
    if (!tb.running) { return; }
    const h = hashAll();
    const now = performance.now();
    tb.frames += 1;
    if (tb.t0 !== null && h !== tb.last) { tb.changes.push(now); }
    tb.last = h;
    requestAnimationFrame(tb.tick);
  };
  tb.arm = (types) => {
    tb.types = types; tb.t0 = null; tb.changes = []; tb.frames = 0; tb.armAt = performance.now();
    tb.base = tb.last = hashAll();
    if (!tb.running) { tb.running = true; requestAnimationFrame(tb.tick); }
  };
  tb.stop = () => { tb.running = false; };
  tb.state = () => {
    const doc = window.Bokeh && Bokeh.documents.length > 0 ? Bokeh.documents[0] : null;
    return {
      t0: tb.t0, armAt: tb.armAt, changes: tb.changes.slice(), frames: tb.frames, now: performance.now(),
      changed: tb.last !== tb.base, idle: !!(doc && doc.is_idle),
    };
  };
  function onInput(e) {
    if (!tb.running || tb.t0 !== null || !tb.types.includes(e.type)) { return; }
    tb.t0 = performance.now();
    tb.base = tb.last = hashAll();  // what is on screen when the input happens (a live stroke included)
  }
  for (const type of ['keydown', 'pointerup', 'mouseup', 'wheel', 'input', 'change', 'click']) {
    window.addEventListener(type, onInput, true);
  }
  window.__thaliaBench = tb;
})();
