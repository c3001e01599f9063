"""Static figures of a pair: layers side by side with titles, colour bars, mask overlays and a legend (PNG).

Layout (all in px): an outer margin, one panel per non-class layer (``width`` px image each, same view and
height for all), a colour bar under each image, then one legend row per class layer, then the view's
extent. Class layers are overlaid on every panel (fill + outline); with class layers only, they are drawn
over a neutral grey panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import xarray as xr
from PIL import Image, ImageDraw, ImageFont

from thalia_viewer.core import schema
from thalia_viewer.core.schema import Layer, LayerKind
from thalia_viewer.viz.colormaps import class_lut, class_table, colormap_for, hex_to_rgba, palette_rgb
from thalia_viewer.viz.shade import (
    Extent,
    Shaded,
    canvas_shape,
    overlay_masks,
    shade_layer,
    view_extent,
)

# Layout, px
MARGIN: Final = 16  # outer margin and gap between panels
TITLE_HEIGHT: Final = 26
BAR_GAP: Final = 8  # image -> colour bar
BAR_HEIGHT: Final = 12
TICK_LENGTH: Final = 4
TICK_LABEL_HEIGHT: Final = 20
LEGEND_ROW_HEIGHT: Final = 24
SWATCH: Final = 14
SWATCH_GAP: Final = 6  # swatch -> its name
LEGEND_ITEM_GAP: Final = 18  # between legend items
FOOTER_HEIGHT: Final = 20
ELLIPSIS: Final = "…"
THOUSANDS: Final = 1000  # tick labels from here on: integers with thousands separators
HATCH_SPACING: Final = 6  # px between the diagonal lines that mark no-data

# Type
FONT_SIZE: Final = 14
TITLE_FONT_SIZE: Final = 15
SMALL_FONT_SIZE: Final = 12
FONT_FILES: Final = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")  # regular, bold; with Unicode minus and pi

# Colours: dark on light
BACKGROUND: Final = "#ffffff"
TEXT: Final = "#1f2328"
MUTED: Final = "#57606a"
FRAME: Final = "#afb8c1"  # 1-px frame around images and colour bars
NO_DATA: Final = "#f6f8fa"  # shown where a layer has no data (NaN), hatched with NO_DATA_HATCH
NO_DATA_HATCH: Final = "#d0d7de"
MASK_BACKGROUND: Final = "#9aa0a6"  # neutral grey panel when only class layers are requested
MASKS_TITLE: Final = "Labels"
NONE_IN_VIEW: Final = "none in view"


@dataclass(frozen=True)
class _Panel:
    """One image of the figure: its title, pixels, the colour under transparent pixels, its shading."""

    title: str
    rgba: np.ndarray  # (h, w, 4) uint8, masks already overlaid
    background: str
    shaded: Shaded | None  # None for the grey masks-only panel (no colour bar)


@dataclass(frozen=True)
class Fonts:
    """The fonts of a figure; ``unicode`` says whether they draw the minus sign and pi."""

    regular: ImageFont.FreeTypeFont | ImageFont.ImageFont
    title: ImageFont.FreeTypeFont | ImageFont.ImageFont
    small: ImageFont.FreeTypeFont | ImageFont.ImageFont
    unicode: bool


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    """DejaVu Sans when installed (Unicode minus and pi), else Pillow's default font (ASCII labels)."""
    regular, bold = FONT_FILES
    try:
        return Fonts(
            ImageFont.truetype(regular, FONT_SIZE),
            ImageFont.truetype(bold, TITLE_FONT_SIZE),
            ImageFont.truetype(regular, SMALL_FONT_SIZE),
            unicode=True,
        )
    except OSError:
        pass
    try:
        normal, title, small = (
            ImageFont.load_default(size=s) for s in (FONT_SIZE, TITLE_FONT_SIZE, SMALL_FONT_SIZE)
        )
        return Fonts(normal, title, small, False)
    except TypeError:  # Pillow < 10.1: bitmap default font only
        font = ImageFont.load_default()
        return Fonts(font, font, font, unicode=False)


# ------------------------------------------------------------------------------------------ text
def _text_width(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> int:
    return int(np.ceil(draw.textlength(text, font=font)))


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int
) -> str:
    """``text`` shortened with an ellipsis to fit ``max_width`` px."""
    if _text_width(draw, text, font) <= max_width:
        return text
    while text and _text_width(draw, text + ELLIPSIS, font) > max_width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def format_value(value: float, unicode: bool = True) -> str:
    """A tick label: thousands separators for large values, 3 significant digits otherwise."""
    text = f"{value:,.0f}" if abs(value) >= THOUSANDS else f"{value:.3g}"
    return text.replace("-", "−") if unicode else text


def layer_title(layer: Layer) -> str:
    """Panel title: layer title and units, e.g. ``Wrapped phase (rad)``."""
    return f"{layer.title} ({layer.units})" if layer.units else layer.title


def colorbar_ticks(layer: Layer, span: tuple[float, float], unicode: bool = True) -> list[tuple[float, str]]:
    """(position 0-1 along the bar, label) pairs: min and max, plus 0 for phase (-pi, 0, pi)."""
    if layer.kind is LayerKind.CYCLIC:
        pi, minus = ("π", "−") if unicode else ("pi", "-")
        return [(0.0, f"{minus}{pi}"), (0.5, "0"), (1.0, pi)]
    return [(0.0, format_value(span[0], unicode)), (1.0, format_value(span[1], unicode))]


# ---------------------------------------------------------------------------------------- drawing
def _background(width: int, height: int, color: str, hatch: bool) -> Image.Image:
    """An opaque RGBA background; ``hatch`` adds thin diagonal lines (the no-data pattern)."""
    base = Image.new("RGBA", (width, height), color)
    if hatch:
        draw = ImageDraw.Draw(base)
        for d in range(-height, width, HATCH_SPACING):
            draw.line((d, height, d + height, 0), fill=NO_DATA_HATCH)
    return base


def _composite(rgba: np.ndarray, background: str, hatch: bool = False) -> Image.Image:
    """RGBA array over an opaque (optionally hatched) background colour, as an RGB image."""
    base = _background(rgba.shape[1], rgba.shape[0], background, hatch)
    return Image.alpha_composite(base, Image.fromarray(rgba, "RGBA")).convert("RGB")


def _draw_framed(canvas: Image.Image, image: Image.Image, x: int, y: int) -> None:
    canvas.paste(image, (x, y))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((x - 1, y - 1, x + image.width, y + image.height), outline=FRAME)


def _draw_colorbar(canvas: Image.Image, shaded: Shaded, x: int, y: int, width: int, f: Fonts) -> None:
    """Horizontal colour bar of ``shaded``'s layer at (x, y): bar, ticks, labels and the units."""
    rgb = palette_rgb(colormap_for(shaded.layer))[None, :, :]
    bar = Image.fromarray(rgb, "RGB").resize((width, BAR_HEIGHT), Image.Resampling.BILINEAR)
    _draw_framed(canvas, bar, x, y)
    draw = ImageDraw.Draw(canvas)
    y_tick = y + BAR_HEIGHT + 1
    label_y = y_tick + TICK_LENGTH + 2
    span = shaded.span or (0.0, 1.0)
    for pos, label in colorbar_ticks(shaded.layer, span, f.unicode):
        tx = x + round(pos * (width - 1))
        draw.line((tx, y_tick, tx, y_tick + TICK_LENGTH), fill=MUTED)
        anchor = "la" if pos == 0 else "ra" if pos == 1 else "ma"
        draw.text((tx, label_y), label, font=f.small, fill=TEXT, anchor=anchor)
    if shaded.layer.kind is not LayerKind.CYCLIC and shaded.layer.units:
        draw.text((x + width // 2, label_y), shaded.layer.units, font=f.small, fill=MUTED, anchor="ma")


@dataclass(frozen=True)
class _LegendItem:
    """One thing drawn in a legend row: the heading, a class (swatch + name) or a note."""

    x: int  # px from the row's left
    text: str
    color: tuple[int, int, int, int] | None = None  # class colour (RGBA), None for text only
    heading: bool = False


def _legend_items(mask: Shaded) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(name, RGBA) of the classes present in a class layer's aggregate, in code order (0 left out)."""
    present = set(np.unique(mask.agg.values).tolist())
    lut = class_lut(mask.layer.variable)
    return [
        (c.name, _rgba(lut[c.code])) for c in class_table(mask.layer.variable) if c.code and c.code in present
    ]


def _rgba(values: np.ndarray) -> tuple[int, int, int, int]:
    """An RGBA row of a colour table as four ints."""
    r, g, b, a = (int(v) for v in values)
    return r, g, b, a


def _legend_heading(mask: Shaded) -> str:
    return f"{mask.layer.title}:"


def _legend_rows(
    draw: ImageDraw.ImageDraw, mask: Shaded, f: Fonts, width: int, indent: int
) -> list[list[_LegendItem]]:
    """Flow layout of one class layer's legend: rows of items within ``width`` px, items from ``indent``."""
    head = _legend_heading(mask)
    rows = [[_LegendItem(0, head, heading=True)]]
    entries: list[tuple[str, tuple[int, int, int, int] | None]] = list(_legend_items(mask))
    if not entries:
        entries = [(NONE_IN_VIEW, None)]
    x = indent
    for name, color in entries:
        item_w = (SWATCH + SWATCH_GAP if color else 0) + _text_width(draw, name, f.regular)
        if x + item_w > width and x > indent:
            rows.append([])
            x = indent
        rows[-1].append(_LegendItem(x, name, color))
        x += item_w + LEGEND_ITEM_GAP
    return rows


def _draw_legend_row(canvas: Image.Image, row: list[_LegendItem], x0: int, y: int, f: Fonts) -> None:
    draw = ImageDraw.Draw(canvas)
    mid = y + LEGEND_ROW_HEIGHT // 2
    for item in row:
        x = x0 + item.x
        if item.heading:
            draw.text((x, mid), item.text, font=f.title, fill=TEXT, anchor="lm")
            continue
        if item.color is not None:
            draw.rectangle(
                (x, mid - SWATCH // 2, x + SWATCH - 1, mid + SWATCH // 2 - 1),
                fill=item.color[:3],
                outline=TEXT,
            )
            x += SWATCH + SWATCH_GAP
        draw.text((x, mid), item.text, font=f.regular, fill=TEXT if item.color else MUTED, anchor="lm")


def _extent_text(extent: Extent, ref: xr.DataArray, shape: tuple[int, int], unicode: bool) -> str:
    """Footer: the view's ranges and the panel size vs the source size."""
    ydim, xdim = map(str, ref.dims[-2:])
    to, times, sep = ("–", "×", " · ") if unicode else (" to ", "x", ", ")
    return (
        f"{xdim} {extent.x0:.4f}{to}{extent.x1:.4f}{sep}{ydim} {extent.y0:.4f}{to}{extent.y1:.4f}{sep}"
        f"{shape[1]}{times}{shape[0]} px from {ref.shape[-1]}{times}{ref.shape[-2]}"
    )


# -------------------------------------------------------------------------------------------- figure
def _resolve(arrays: Mapping[str, xr.DataArray], key: str) -> tuple[Layer, xr.DataArray]:
    layer = schema.layer(key)
    for candidate in (key, layer.key):
        if candidate in arrays:
            return layer, arrays[candidate]
    msg = f"no array for layer {key!r}: render_view got arrays for {sorted(arrays)}"
    raise KeyError(msg)


def render_view(
    arrays: Mapping[str, xr.DataArray],
    keys: Sequence[str],
    width: int = 800,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
) -> Image.Image:
    """A figure of one view: a panel per non-class layer in ``keys`` (side by side, ``width`` px images).

    ``arrays`` maps layer keys of ``schema.LAYERS`` to 2-D DataArrays in display units. Class layers in
    ``keys`` are overlaid on every panel and listed in the legend. The view defaults to the full extent of
    the first requested layer; all panels share it. Figure width = n * width + (n + 1) * ``MARGIN``.
    """
    if not keys:
        msg = "render_view needs at least one layer key"
        raise ValueError(msg)
    resolved = [_resolve(arrays, k) for k in keys]
    panels = [(lyr, da) for lyr, da in resolved if lyr.kind is not LayerKind.CLASSES]
    masks = [(lyr, da) for lyr, da in resolved if lyr.kind is LayerKind.CLASSES]
    ref = (panels or masks)[0][1]
    extent = view_extent(ref, x_range, y_range)
    height, _ = canvas_shape(extent, width)

    def shaded(pairs: list[tuple[Layer, xr.DataArray]]) -> list[Shaded]:
        return [
            shade_layer(da, lyr, width, extent.x_range, extent.y_range, height=height) for lyr, da in pairs
        ]

    shaded_masks = shaded(masks)
    images = [
        _Panel(layer_title(s.layer), _with_masks(s.rgba, shaded_masks), NO_DATA, s) for s in shaded(panels)
    ]
    if not images:
        grey = np.broadcast_to(np.array(hex_to_rgba(MASK_BACKGROUND), np.uint8), (height, width, 4)).copy()
        images = [_Panel(MASKS_TITLE, _with_masks(grey, shaded_masks), MASK_BACKGROUND, None)]
    return _compose(images, shaded_masks, width, height, extent, ref)


def _with_masks(rgba: np.ndarray, masks: Sequence[Shaded]) -> np.ndarray:
    for m in masks:
        rgba = overlay_masks(rgba, m.agg.values, m.layer.variable)
    return rgba


def _compose(
    images: list[_Panel],
    masks: list[Shaded],
    width: int,
    height: int,
    extent: Extent,
    ref: xr.DataArray,
) -> Image.Image:
    f = fonts()
    n = len(images)
    fig_w = n * width + (n + 1) * MARGIN
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    indent = (
        max((_text_width(probe, _legend_heading(m), f.title) for m in masks), default=0) + LEGEND_ITEM_GAP
    )
    legend_rows = [row for m in masks for row in _legend_rows(probe, m, f, fig_w - 2 * MARGIN, indent)]
    has_bar = any(p.shaded is not None for p in images)
    bar_block = BAR_GAP + BAR_HEIGHT + 1 + TICK_LENGTH + TICK_LABEL_HEIGHT if has_bar else 0
    legend_block = (MARGIN // 2 + len(legend_rows) * LEGEND_ROW_HEIGHT) if legend_rows else 0
    fig_h = (
        MARGIN + TITLE_HEIGHT + height + bar_block + legend_block + MARGIN // 2 + FOOTER_HEIGHT + MARGIN // 2
    )
    canvas = Image.new("RGB", (fig_w, fig_h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)

    top = MARGIN + TITLE_HEIGHT
    for i, panel in enumerate(images):
        x = MARGIN + i * (width + MARGIN)
        title = _fit(draw, panel.title, f.title, width)
        draw.text((x, MARGIN + TITLE_HEIGHT // 2 - 2), title, font=f.title, fill=TEXT, anchor="lm")
        _draw_framed(canvas, _composite(panel.rgba, panel.background, hatch=panel.shaded is not None), x, top)
        if panel.shaded is not None:
            _draw_colorbar(canvas, panel.shaded, x, top + height + BAR_GAP, width, f)

    y = top + height + bar_block + (MARGIN // 2 if legend_rows else 0)
    for row in legend_rows:
        _draw_legend_row(canvas, row, MARGIN, y, f)
        y += LEGEND_ROW_HEIGHT
    footer = _extent_text(extent, ref, (height, width), f.unicode)
    draw.text(
        (MARGIN, y + MARGIN // 2 + FOOTER_HEIGHT // 2),
        _fit(draw, footer, f.small, fig_w - 2 * MARGIN),
        font=f.small,
        fill=MUTED,
        anchor="lm",
    )
    return canvas


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write ``image`` as an optimised PNG (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)
    return path
