"""The map in a browser: the brush drawn live under the cursor, pair steps swapped in by the browser itself,
Ctrl+Z / Ctrl+Y, polygon vertices that stay editable until closed."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tests.browser.pages import caption, changed_fraction, map_pixels, open_app, wait_stable, wait_until

pytestmark = pytest.mark.browser

CLIENT = "() => { const m = window.__thaliaMaps; return m && m.size ? [...m.values()][0] : null; }"


def client(page, expression: str):
    """Evaluate ``expression`` on the map's browser-side client (``c``)."""
    return page.evaluate(f"() => {{ const c = ({CLIENT})(); return c == null ? null : ({expression}); }}")


def canvas_point(page, fx: float, fy: float) -> tuple[float, float]:
    canvas = page.locator(".thalia-map canvas").first
    canvas.scroll_into_view_if_needed()  # the time-series strip may have scrolled it away
    box = canvas.bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def test_a_brush_drag_shows_its_footprint_before_mouse_up_then_the_servers_mask(page, annotate_url):
    open_app(page, annotate_url)
    wait_until(lambda: client(page, "c.brush.tool") == "brush", "the map to know the brush")
    page.mouse.move(5, 5)
    wait_stable(page)
    before = map_pixels(page)
    page.mouse.move(*canvas_point(page, 0.30, 0.45))
    page.mouse.down()
    for k in range(1, 7):
        page.mouse.move(*canvas_point(page, 0.30 + 0.03 * k, 0.45 + 0.01 * (k % 2)), steps=3)
    # mid-drag: the stroke and the brush footprint are drawn by the browser, nothing has reached the server yet
    assert client(page, "c.live.length") == 1 and client(page, "c.drag != null")
    width = client(
        page, "c.get(c.model.ids.live.glyph).line_width.value ?? c.get(c.model.ids.live.glyph).line_width"
    )
    radius, dx = client(page, "c.brush.radius"), client(page, "c.brush.dx")
    scale_x = client(page, "c.scale()[0]")
    assert width == pytest.approx(
        2 * radius * dx * scale_x, rel=0.35
    )  # the real radius in data pixels, on screen
    mid = map_pixels(page)
    assert changed_fraction(mid, before) > 0.002
    page.mouse.up()
    wait_until(lambda: client(page, "c.live.length") == 0, "the server's mask to replace the live stroke")
    wait_stable(page)
    after = map_pixels(page)
    assert changed_fraction(after, before) > 0.002  # the painted mask stays
    assert not page.console_errors


def test_ctrl_z_and_ctrl_y_undo_and_redo(page, annotate_url):
    open_app(page, annotate_url)
    wait_until(lambda: client(page, "c.brush.tool") == "brush", "the map to know the brush")
    page.mouse.move(5, 5)
    wait_stable(page)
    before = map_pixels(page)
    page.mouse.move(*canvas_point(page, 0.35, 0.70))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 0.55, 0.72), steps=5)
    page.mouse.up()
    wait_until(lambda: client(page, "c.live.length") == 0, "the stroke to be painted")
    page.mouse.move(5, 5)
    wait_stable(page)
    painted = map_pixels(page)
    assert changed_fraction(painted, before) > 0.002
    page.keyboard.press("Control+z")
    wait_until(lambda: changed_fraction(map_pixels(page), before) < 0.0005, "Ctrl+Z to undo the stroke")
    page.keyboard.press("Control+y")
    wait_until(lambda: changed_fraction(map_pixels(page), painted) < 0.0005, "Ctrl+Y to redo it")


def test_polygon_vertices_can_be_dragged_and_removed_until_closed(page, annotate_url):
    open_app(page, annotate_url)
    page.keyboard.press("p")
    wait_until(lambda: client(page, "c.brush.tool") == "polygon", "the polygon tool")
    for fx, fy in ((0.62, 0.20), (0.80, 0.20), (0.80, 0.35), (0.70, 0.40)):
        page.mouse.click(*canvas_point(page, fx, fy))
        page.wait_for_timeout(400)  # separate clicks, not a double click
    assert client(page, "c.vertices.length") == 4
    page.keyboard.press("Backspace")  # the last vertex goes
    assert client(page, "c.vertices.length") == 3
    x0 = client(page, "c.vertices[2][0]")
    page.mouse.move(*canvas_point(page, 0.80, 0.35))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 0.66, 0.38), steps=4)  # a vertex dragged elsewhere
    page.mouse.up()
    assert client(page, "c.vertices.length") == 3 and client(page, "c.vertices[2][0]") < x0
    before = map_pixels(page)
    page.mouse.dblclick(*canvas_point(page, 0.62, 0.34))
    wait_until(
        lambda: client(page, "c.vertices.length") == 0 and client(page, "c.live.length") == 0,
        "the polygon to close",
    )
    wait_stable(page)
    assert changed_fraction(map_pixels(page), before) > 0.002
    page.keyboard.press("b")


def test_j_swaps_in_the_next_pair_the_browser_already_holds(page, app_url):
    open_app(page, app_url)
    page.mouse.move(5, 5)
    wait_until(
        lambda: client(page, "c.model.neighbours.origin === c.pair && c.model.neighbours.next != null"),
        "the next pair's images in the browser",
        timeout=90,
    )
    before_caption, before_map = caption(page), map_pixels(page)
    steps = client(page, "c.stats.steps")
    page.keyboard.press("j")
    assert client(page, "c.stats.steps") == steps + 1  # swapped in by the browser, before any server answer
    wait_until(lambda: caption(page) != before_caption, "the server to follow (caption)")
    wait_stable(page)
    assert changed_fraction(map_pixels(page), before_map) > 0.05
    assert client(page, "c.pair === c.confirmed.pair")
    assert not page.console_errors


UPLOADS = """() => {
  const proto = Bokeh.require('models/glyphs/image_base').ImageBaseView.prototype;
  const bokeh = proto.__bokehUpload;
  if (bokeh == null || bokeh === proto._set_image_data_from_buffer) { return null; }
  const w = 7, h = 5;
  const view = () => ({image_data: [null], image_width: new Uint32Array([w]), image_height: new Uint32Array([h]),
                       _get_or_create_canvas: proto._get_or_create_canvas});
  const pixels = (v) => Array.from(v.image_data[0].getContext('2d').getImageData(0, 0, w, h).data);
  const rgba = new Uint8Array(4 * w * h).map((_, i) => (i % 4 === 3 ? 255 - 7 * (i % 9) : (37 * i) % 256));
  const out = {};
  for (const [name, buf] of [['uint8', rgba], ['clamped', new Uint8ClampedArray(rgba.buffer)]]) {
    const ours = view(), theirs = view();
    proto._set_image_data_from_buffer.call(ours, 0, buf);
    bokeh.call(theirs, 0, buf);
    out[name] = [pixels(ours), pixels(theirs)];
  }
  return out;
}"""


def test_image_layers_reach_the_canvas_with_bokehs_own_pixels_without_its_readback(page, app_url):
    """The map writes an image glyph's RGBA into its canvas as it is (no getImageData readback and copy):
    the canvas holds exactly what Bokeh's own upload would have put there, and the map still draws."""
    open_app(page, app_url)
    wait_stable(page)
    got = page.evaluate(UPLOADS)
    assert got is not None, "the map's image upload is not installed"
    for name, (ours, theirs) in got.items():
        assert ours == theirs, name
        assert len(set(ours)) > 10, name  # not a blank canvas on both sides
    shown = map_pixels(page).reshape(-1, 3)
    assert len(np.unique(shown, axis=0)) > 50  # the phase drawn through it, not a blank plot
    assert not page.console_errors


def readout(page) -> str:
    """The readout line under the map (a Bokeh Div: its text is in its shadow root)."""
    return page.locator(".thalia-readout").first.evaluate("e => (e.shadowRoot || e).textContent")


def test_the_readout_under_the_cursor_prints_values_in_their_units(page, app_url):
    """The browser keeps a value layer as its uint16 codes; the readout turns them back into values."""
    open_app(page, app_url)
    seen: set[float] = set()
    for fx, fy in ((0.35, 0.40), (0.55, 0.55), (0.65, 0.35), (0.45, 0.65)):
        page.mouse.move(*canvas_point(page, fx, fy), steps=4)
        wait_until(lambda: "Wrapped phase" in readout(page), "the readout to name the phase")
        text = readout(page)
        match = re.search(r"Wrapped phase (-?[\d.,]+) rad", text)
        if match is None:  # off the frame's footprint: no data there
            assert "Wrapped phase no data" in text, text
            continue
        phase = float(match[1].replace(",", ""))
        assert -math.pi - 1e-3 <= phase <= math.pi + 1e-3, text  # a value, not a code (up to 65,535)
        seen.add(phase)
    assert len(seen) > 1  # the readout follows the cursor
    assert not page.console_errors
