"""Colour bars of the layers on screen and the legends of the masks, as small HTML blocks.

Drawn in the page (not in the Bokeh canvas), so they keep their size and stay readable at any plot size;
every colour, class name and unit comes from ``schema`` and ``viz.colormaps``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final

from thalia_viewer.core import schema
from thalia_viewer.core.schema import Layer, LayerKind
from thalia_viewer.viz.colormaps import class_table, colormap_for
from thalia_viewer.viz.elements import MaskStyle

GRADIENT_STOPS: Final = 24  # colour stops sampled from a 256-colour map for the CSS gradient
WHOLE: Final = 100.0  # from here on, labels are whole numbers (with thousands separators)
SMALL: Final = 0.01  # below this, scientific notation


def format_tick(value: float) -> str:
    """A colour-bar label: ``93,120`` / ``12.5`` / ``0.031`` / ``2.1e-05``, with a real minus sign."""
    a = abs(value)
    if a >= WHOLE:
        text = f"{value:,.0f}"
    elif a >= SMALL or a == 0:
        text = f"{value:.3g}"
    else:
        text = f"{value:.2g}"
    return text.replace("-", "−")


def gradient_css(layer: Layer) -> str:
    """A CSS ``linear-gradient`` of the layer's colour map, left (low) to right (high)."""
    colors = colormap_for(layer)
    n = len(colors)
    stops = [colors[round(i * (n - 1) / (GRADIENT_STOPS - 1))][:7] for i in range(GRADIENT_STOPS)]
    return f"linear-gradient(to right, {', '.join(stops)})"


def colorbar_html(layer: Layer, span: tuple[float, float], opacity: float = 1.0) -> str:
    """One colour bar: title and units, the gradient, and its end (and zero) labels."""
    lo, hi = span
    if layer.kind is LayerKind.CYCLIC:
        ticks = [("0%", "−π"), ("50%", "0"), ("100%", "π")]
    else:
        ticks = [("0%", format_tick(lo)), ("100%", format_tick(hi))]
        if lo < 0 < hi and layer.delta:
            ticks.insert(1, (f"{100 * (0 - lo) / (hi - lo):.1f}%", "0"))
    units = f" <span class='thalia-units'>({html.escape(layer.units)})</span>" if layer.units else ""
    fade = f" <span class='thalia-units'>· {opacity:.0%} opaque</span>" if opacity < 1 else ""
    labels = "".join(
        f"<span class='thalia-tick' style='left:{pos}'>{html.escape(text)}</span>" for pos, text in ticks
    )
    return (
        f"<div class='thalia-colorbar' title='{html.escape(layer.title)}'>"
        f"<div class='thalia-legend-title'>{html.escape(layer.title)}{units}{fade}</div>"
        f"<div class='thalia-gradient' style='background:{gradient_css(layer)}'></div>"
        f"<div class='thalia-ticks'>{labels}</div></div>"
    )


def mask_legend_html(key: str, style: MaskStyle | str = MaskStyle.FILL) -> str:
    """Swatches of every class of a mask layer (code 0 left out), with descriptions as tooltips."""
    layer = schema.layer(key)
    items = []
    for c in class_table(layer.variable):
        if not c.code:
            continue
        swatch = f"<span class='thalia-swatch' style='background:{c.color[:7]}'></span>"
        name = html.escape(c.name.replace("_", " "))
        items.append(f"<span class='thalia-class' title='{html.escape(c.description)}'>{swatch}{name}</span>")
    return (
        f"<div class='thalia-mask-legend'><div class='thalia-legend-title'>{html.escape(layer.title)}</div>"
        f"<div class='thalia-classes'>{''.join(items)}</div></div>"
    )


def legend_html(
    bars: Sequence[tuple[Layer, tuple[float, float], float]], masks: Sequence[str], style: MaskStyle | str
) -> str:
    """The legend row under the map: a colour bar per visible layer (top first), then the mask legends."""
    blocks = [colorbar_html(layer, span, opacity) for layer, span, opacity in bars]
    blocks += [mask_legend_html(k, style) for k in masks]
    return f"<div class='thalia-legend'>{''.join(blocks)}</div>"
