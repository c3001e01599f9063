"""The value readout under the map: every visible layer's value under the cursor, with units, and lon/lat.

One Bokeh ``HoverTool`` on the bottom layer runs a small JavaScript callback in the browser: it samples the
image of every visible layer at the cursor (the very values the browser colours, no server round trip) and
writes one line of HTML into a ``Div``. Each layer's glyph renderer carries its label in its ``name``
(``title|units|digits`` for values, ``title|key`` for masks), set in the browser with each image shown.
"""

from __future__ import annotations

from typing import Any, Final

from bokeh.models import CustomJS, Div, HoverTool

from thalia_viewer.viz.colormaps import class_table

TAG: Final = "thalia-readout"

READOUT_JS: Final = """
const g = cb_data.geometry;
// leaving the map sends a non-finite position: keep the last reading instead of printing Infinity
if (g == null || !Number.isFinite(g.x) || !Number.isFinite(g.y)) { return; }
function sample(r) {
  if (!r.visible) { return null; }
  const d = r.data_source.data;
  const column = d.values || d.image;  // the values (an RGBA image keeps them beside its pixels)
  if (!column || column.length == 0) { return null; }
  const img = column[0];
  const shape = img.shape || [img.length, img[0].length];
  const rows = shape[0], cols = shape[1];
  const x0 = d.x[0], y0 = d.y[0], dw = d.dw[0], dh = d.dh[0];
  if (dw <= 0 || dh <= 0 || rows * cols <= 1) { return null; }
  const i = Math.floor((g.x - x0) / dw * cols), j = Math.floor((g.y - y0) / dh * rows);
  if (i < 0 || j < 0 || i >= cols || j >= rows) { return null; }
  const v = img.shape ? img[j * cols + i] : img[j][i];
  if (d.vstep == null || d.vstep.length == 0) { return v; }
  return v === 0 ? NaN : d.v0[0] + (v - 1) * d.vstep[0];  // a value image's code (map_client.js)
}
function fmt(v, digits) {
  if (v == null || Number.isNaN(v)) { return '<i>no data</i>'; }
  if (Math.abs(v) >= 1e4) { return Math.round(v).toLocaleString('en-US'); }
  return v.toFixed(digits);
}
const parts = [`<span class="thalia-coord">lon ${g.x.toFixed(4)}°, lat ${g.y.toFixed(4)}°</span>`];
for (const r of values) {
  if (!r.name || !r.visible) { continue; }
  const [title, units, digits] = r.name.split('|');
  const v = sample(r);
  parts.push(`<b>${title}</b> ${fmt(v, Number(digits))}${units ? ' ' + units : ''}`);
}
for (const r of masks) {
  if (!r.name || !r.visible) { continue; }
  const [title, key] = r.name.split('|');
  const v = sample(r);
  const names = classes[key] || [];
  const code = (v == null || names.length == 0) ? 0 : v % names.length;
  parts.push(`<b>${title}</b> ${code == 0 ? 'none' : names[code]}`);
}
readout.text = parts.join('<span class="thalia-sep"> · </span>');
"""


def readout_div() -> Div:
    """The line the readout writes into (placed under the map)."""
    return Div(
        text="", styles={"font-size": "12px"}, css_classes=["thalia-readout"], sizing_mode="stretch_width"
    )


def value_label(title: str, units: str, digits: int) -> str:
    """The renderer name of a value layer: ``title|units|digits``."""
    return f"{title}|{units}|{digits}"


def mask_label(title: str, key: str) -> str:
    """The renderer name of a mask layer: ``title|key``."""
    return f"{title}|{key}"


def attach_readout(
    fig: Any, readout: Div, values: list[Any], masks: list[Any], mask_keys: list[str]
) -> HoverTool:
    """Add the readout hover tool to a map figure: ``values`` / ``masks`` are its image renderers (names set
    by the browser as each layer is shown), ``mask_keys`` the mask layer of each mask renderer."""
    classes = {k: [c.name.replace("_", " ") for c in class_table(k)] for k in mask_keys}
    args = {"values": values, "masks": masks, "classes": classes, "readout": readout}
    hover = HoverTool(
        renderers=list(values[:1]),
        tooltips=None,
        callback=CustomJS(args=args, code=READOUT_JS),
        tags=[TAG],
        description="Values under the cursor (shown under the map)",
    )
    fig.add_tools(hover)
    return hover
