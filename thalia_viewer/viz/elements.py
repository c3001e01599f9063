"""HoloViews elements of a pair: screen-resolution layer images, mask overlays, relief, the dates matrix.

Pure functions from arrays (already aggregated to the view by :mod:`thalia_viewer.viz.shade`) to HoloViews
elements (the review's side-by-side maps, notebooks) and the palettes and codes the app's map draws with
(:func:`layer_palette`, :func:`mask_palette`, :func:`mask_codes`; the map itself composites in the browser,
``app/views/layer_map.py``). Colours map in the browser, so opacity and colour limits change without
re-sending pixels.

Class layers: integer codes coloured through a palette indexed by code (``clim = (-0.5, n - 0.5)``) whose
code 0 is transparent, so codes are never interpolated or averaged on the way to the screen. Outline mode
keeps only a 2-px border of each region: its outer pixel gets the ``EDGE`` code (a white line that reads
over any background), the pixel inside it the region's own code.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from typing import Final

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh backend that the options below are for
import numpy as np
import pandas as pd
import xarray as xr

from thalia_viewer.core import schema
from thalia_viewer.core.schema import Layer, LayerKind
from thalia_viewer.viz.colormaps import class_table, colormap_for, hex_to_rgba
from thalia_viewer.viz.shade import (
    HILLSHADE_ALTITUDE_DEG,
    OUTLINE_RGBA,
    RELIEF_Z_FACTOR,
    Extent,
    class_outline,
    hillshade,
    overlay_masks,
    shade_layer,
)

TRANSPARENT: Final = "#00000000"
#: Opacity of the darkest relief shadow drawn over the layers below it (0 = no relief, 1 = black).
RELIEF_MAX_ALPHA: Final = 0.55
#: Width of the opaque class-colour band inside a region's white edge (outline styles), screen px.
INNER_BORDER_PX: Final = 2
#: Thumbnail mask outline: drawn over the phase at this fill opacity (0 = outline only).
THUMBNAIL_MASK_ALPHA: Final = 0.0


class MaskStyle(StrEnum):
    """How a class mask is drawn over the layers."""

    FILL = "fill"  # every labelled pixel in its class colour
    OUTLINE = "outline"  # a 2-px border of each region only: the layers stay visible inside
    BOTH = "fill + outline"  # fill plus the border


def _class_span(mask_variable: str) -> int:
    """Number of codes of one drawing layer of a mask image: highest class code + 1."""
    return max(c.code for c in class_table(mask_variable)) + 1


def mask_palette(mask_variable: str, fill_alpha: float = 1.0) -> list[str]:
    """Palette of a mask image (``#rrggbbaa``), indexed by the codes of :func:`mask_codes`.

    Four blocks of ``n`` colours (``n`` = highest class code + 1): the class colours at ``fill_alpha``
    (fill), the class colours opaque (inner border), the edge colour (outer border, white), transparent
    (labelled but not drawn: the inside of a region in outline mode, so hover still names its class).
    Class 0 is transparent in every block. The fill opacity lives in the palette: changing it re-sends a
    palette, never the image.
    """
    n = _class_span(mask_variable)
    alpha = f"{round(min(max(fill_alpha, 0.0), 1.0) * 255):02x}"
    edge = "#" + "".join(f"{v:02x}" for v in OUTLINE_RGBA[:3]) + "ff"
    fill, inner, outer = [TRANSPARENT] * n, [TRANSPARENT] * n, [TRANSPARENT] * n
    for c in class_table(mask_variable):
        if c.code:
            fill[c.code] = c.color[:7] + alpha
            inner[c.code] = c.color[:7] + "ff"
            outer[c.code] = edge
    return fill + inner + outer + [TRANSPARENT] * n


def _hex6(color: str) -> str:
    r, g, b, _ = hex_to_rgba(color)
    return f"#{r:02x}{g:02x}{b:02x}"


def _bounds(extent: Extent) -> tuple[float, float, float, float]:
    return extent.x0, extent.y0, extent.x1, extent.y1


def _kdims(kdims: Sequence[hv.Dimension | str] | None) -> list[hv.Dimension | str]:
    return list(kdims) if kdims is not None else [geo_dimension("x"), geo_dimension("y")]


def geo_dimension(axis: str, name: str | None = None) -> hv.Dimension:
    """A key dimension for the ``x`` (longitude) or ``y`` (latitude) axis of a frame, in degrees."""
    label = "Longitude" if axis == "x" else "Latitude"
    return hv.Dimension(name or axis, label=label, unit="°")


def value_dimension(layer: Layer) -> hv.Dimension:
    """The value dimension of a layer: its key, title and units (from ``schema.LAYERS``)."""
    return hv.Dimension(layer.key, label=layer.title, unit=layer.units or None)


def layer_image(
    agg: xr.DataArray | np.ndarray,
    layer: Layer | str,
    extent: Extent,
    span: tuple[float, float],
    kdims: Sequence[hv.Dimension | str] | None = None,
    label: str = "",
) -> hv.Image:
    """A north-up screen-resolution aggregate (display units) as an ``hv.Image`` coloured in the browser.

    ``span`` is the colour range (display units); NaN is transparent. Class layers: use :func:`mask_image`.
    """
    layer = layer if isinstance(layer, Layer) else schema.layer(layer)
    if layer.kind is LayerKind.CLASSES:
        msg = f"layer {layer.key!r} is a class layer: use mask_image()"
        raise ValueError(msg)
    values = np.asarray(agg, dtype=np.float32)
    image = hv.Image(
        values, bounds=_bounds(extent), kdims=_kdims(kdims), vdims=[value_dimension(layer)], label=label
    )
    return image.opts(cmap=_cmap(layer.key), clim=tuple(span), clipping_colors={"NaN": TRANSPARENT})


@cache
def _cmap(key: str) -> list[str]:
    return [_hex6(c) for c in colormap_for(key)]


def layer_palette(key: str) -> list[str]:
    """The colours (``#rrggbb``, low to high) a value layer is drawn with in the browser."""
    return list(_cmap(schema.layer(key).key))


def mask_codes(codes: np.ndarray, mask_variable: str, style: MaskStyle | str = MaskStyle.FILL) -> np.ndarray:
    """Class codes (uint8, 0 = none) encoded for :func:`mask_palette` in ``style``.

    ``code`` = fill, ``code + n`` = inner border (opaque class colour, ``INNER_BORDER_PX`` wide),
    ``code + 2n`` = outer border (1-px white edge), ``code + 3n`` = labelled but not drawn (outline mode);
    ``value % n`` is always the class code, so hover names the class anywhere.
    """
    style = MaskStyle(style)
    codes = np.asarray(codes, dtype=np.uint8)
    n = _class_span(mask_variable)
    if style is MaskStyle.FILL:
        return codes
    edge = class_outline(codes)
    inner = np.zeros_like(edge)
    rest = np.where(edge, 0, codes).astype(np.uint8)
    for _ in range(INNER_BORDER_PX):
        ring = class_outline(rest) & ~edge & ~inner
        inner |= ring
        rest = np.where(ring, 0, rest).astype(np.uint8)
    base = codes if style is MaskStyle.BOTH else codes + 3 * n
    out = np.where(edge, codes + 2 * n, np.where(inner, codes + n, base))
    return np.where(codes > 0, out, 0).astype(np.uint8)


def mask_image(
    codes: xr.DataArray | np.ndarray,
    mask_variable: str,
    extent: Extent,
    style: MaskStyle | str = MaskStyle.FILL,
    kdims: Sequence[hv.Dimension | str] | None = None,
    fill_alpha: float = 1.0,
    label: str = "",
) -> hv.Image:
    """North-up class codes (uint8, 0 = none) as an ``hv.Image`` drawn in the class colours of ``schema``."""
    layer = next(lyr for lyr in schema.LAYERS.values() if lyr.variable == mask_variable)
    shown = mask_codes(np.asarray(codes), mask_variable, style)
    palette = mask_palette(mask_variable, fill_alpha)
    vdim = hv.Dimension(layer.key, label=layer.title)
    return hv.Image(shown, bounds=_bounds(extent), kdims=_kdims(kdims), vdims=[vdim], label=label).opts(
        cmap=palette, clim=(-0.5, len(palette) - 0.5)
    )


def relief_rgba(dem_agg: xr.DataArray, max_alpha: float = RELIEF_MAX_ALPHA) -> np.ndarray:
    """Hillshade of a north-up DEM aggregate as black shadows: (h, w, 4) uint8, alpha = how much shade.

    Drawn over other layers it darkens the slopes facing away from the light (north-west) and leaves the
    flat ground and the sunlit slopes as they are, the usual "phase draped over relief" look.
    """
    shade = np.asarray(hillshade(dem_agg, z_factor=RELIEF_Z_FACTOR).values, dtype=np.float32)
    flat = np.sin(np.deg2rad(HILLSHADE_ALTITUDE_DEG))
    alpha = np.clip((flat - np.nan_to_num(shade, nan=flat)) / flat, 0.0, 1.0) * max_alpha
    out = np.zeros((*shade.shape, 4), dtype=np.uint8)
    out[..., 3] = np.round(alpha * 255).astype(np.uint8)
    return out


def relief_element(
    dem_agg: xr.DataArray, extent: Extent, kdims: Sequence[hv.Dimension | str] | None = None, label: str = ""
) -> hv.RGB:
    """:func:`relief_rgba` as an ``hv.RGB`` covering ``extent``."""
    return hv.RGB(relief_rgba(dem_agg), bounds=_bounds(extent), kdims=_kdims(kdims), label=label)


def _corner(extent: Extent) -> tuple[float, float, float, float]:
    dx, dy = (extent.x1 - extent.x0) * 1e-3, (extent.y1 - extent.y0) * 1e-3
    return extent.x0, extent.y0, extent.x0 + dx, extent.y0 + dy


#: Colours of the pixels changed between two versions of a mask (``MaskDiff.codes``): 0 unchanged, 1 added (bright
#: green), 2 removed (vermilion: CIEDE2000 26 from the Mogi crimson, 77 from the added green).
DIFF_COLORS: Final = (TRANSPARENT, "#00e676e6", "#ff3d00e6")
#: Ground truth vs prediction, as in the Thalia paper's figures: 1 truth only (red), 2 prediction only
#: (green), 3 both (yellow).
TRUTH_PREDICTION_COLORS: Final = (TRANSPARENT, "#e0201ba6", "#1fb01fa6", "#ffd400bf")


def code_image(
    codes: np.ndarray,
    extent: Extent,
    colors: Sequence[str],
    kdims: Sequence[hv.Dimension | str] | None = None,
    title: str = "code",
    label: str = "",
) -> hv.Image:
    """North-up small integer codes (0 = nothing) drawn in ``colors`` (``#rrggbbaa``, one per code)."""
    vdim = hv.Dimension("code", label=title)
    return hv.Image(
        np.asarray(codes), bounds=_bounds(extent), kdims=_kdims(kdims), vdims=[vdim], label=label
    ).opts(cmap=list(colors), clim=(-0.5, len(colors) - 0.5))


def blank_image(
    extent: Extent, kdims: Sequence[hv.Dimension | str] | None = None, vdim: str = "value", label: str = ""
) -> hv.Image:
    """A 1x1 transparent image (an unused layer slot), a thousandth of ``extent`` wide in its corner."""
    image = hv.Image(
        np.full((1, 1), np.nan, np.float32),
        bounds=_corner(extent),
        kdims=_kdims(kdims),
        vdims=[vdim],
        label=label,
    )
    return image.opts(clipping_colors={"NaN": TRANSPARENT})


def blank_rgb(extent: Extent, kdims: Sequence[hv.Dimension | str] | None = None, label: str = "") -> hv.RGB:
    """A 1x1 transparent RGBA image (an unused relief), a thousandth of ``extent`` wide in its corner."""
    return hv.RGB(np.zeros((1, 1, 4), np.uint8), bounds=_corner(extent), kdims=_kdims(kdims), label=label)


# -------------------------------------------------------------------------------------- dates matrix
class PairStatus(StrEnum):
    """What a cell of the dates matrix holds."""

    DEFORMATION = schema.Label.DEFORMATION.value
    EARTHQUAKE = schema.Label.EARTHQUAKE.value
    NON_DEFORMATION = schema.Label.NON_DEFORMATION.value
    UNLABELLED = "Unlabelled"  # a valid pair without an annotation record
    UNUSABLE = "Unusable"  # annotated but corrupted / processing error / no info: not a valid pair


#: Matrix cell colours: the class colours of ``schema`` for deformation and earthquake, neutrals otherwise.
STATUS_COLORS: Final[dict[PairStatus, str]] = {
    PairStatus.DEFORMATION: schema.class_by_name(schema.DEFORMATION_CLASSES, schema.Label.DEFORMATION).color,
    PairStatus.EARTHQUAKE: schema.class_by_name(schema.DEFORMATION_CLASSES, schema.Label.EARTHQUAKE).color,
    PairStatus.NON_DEFORMATION: "#8fb3d9",  # quiet blue: a valid negative
    PairStatus.UNLABELLED: "#e6e9ed",
    PairStatus.UNUSABLE: "#6e7781",  # dark grey: cannot be opened
}
STATUS_DESCRIPTIONS: Final[dict[PairStatus, str]] = {
    PairStatus.DEFORMATION: "volcanic deformation",
    PairStatus.EARTHQUAKE: "earthquake",
    PairStatus.NON_DEFORMATION: "no deformation",
    PairStatus.UNLABELLED: "no annotation",
    PairStatus.UNUSABLE: "corrupted / processing error / no info",
}
STATUS_ORDER: Final = tuple(PairStatus)


def pair_status(record: dict | None, valid: bool) -> PairStatus:
    """The matrix status of a pair from its annotation record (or None) and whether it is a valid pair."""
    if not valid:
        return PairStatus.UNUSABLE
    if record is None:
        return PairStatus.UNLABELLED
    labels = record.get("label", [])
    if schema.Label.DEFORMATION.value in labels:
        return PairStatus.DEFORMATION
    if schema.Label.EARTHQUAKE.value in labels:
        return PairStatus.EARTHQUAKE
    return PairStatus.NON_DEFORMATION


def pretty_date(yyyymmdd: str) -> str:
    """``20190105`` -> ``2019-01-05``."""
    return schema.parse_date(yyyymmdd).isoformat()


MATRIX_COLUMNS: Final = ("secondary", "primary", "status_code", "status", "days", "pair")


def dates_matrix(cells: pd.DataFrame, height: int = 360) -> hv.HeatMap:
    """The primary x secondary grid of a frame: one cell per pair, coloured by :class:`PairStatus`.

    ``cells`` has the columns of :data:`MATRIX_COLUMNS` (dates as ``YYYY-MM-DD`` strings, ``status_code``
    the index of the status in :data:`STATUS_ORDER`). Secondary dates run along x, primary dates down y.
    """
    palette = [STATUS_COLORS[s] for s in STATUS_ORDER]
    return hv.HeatMap(
        cells,
        kdims=[
            hv.Dimension("secondary", label="Secondary date"),
            hv.Dimension("primary", label="Primary date"),
        ],
        vdims=[
            hv.Dimension("status_code"),
            "status",
            hv.Dimension("days", label="Baseline", unit="days"),
            "pair",
        ],
    ).opts(
        cmap=palette,
        clim=(-0.5, len(palette) - 0.5),
        colorbar=False,
        invert_yaxis=True,
        xrotation=60,
        tools=["hover", "tap"],
        line_color="white",
        line_width=1,
        height=height,
        responsive=True,
        hover_tooltips=[("Pair", "@primary → @secondary"), ("Label", "@status"), ("Baseline", "@days days")],
        default_tools=["pan", "wheel_zoom", "reset"],
        active_tools=["tap"],
        fontsize={"xticks": 8, "yticks": 8},
        xlabel="Secondary date",
        ylabel="Primary date",
        toolbar="above",
        nonselection_alpha=1.0,
    )


# ----------------------------------------------------------------------------------------- thumbnail
def thumbnail_rgba(
    phase: xr.DataArray,
    masks: Sequence[tuple[str, xr.DataArray]] = (),
    width: int = 160,
) -> np.ndarray:
    """A small wrapped-phase image (circular mean per pixel, cyclic colours) with mask outlines: (h, w, 4)."""
    rgba = shade_layer(phase, "phase", width).rgba
    for variable, codes in masks:
        key = next(lyr.key for lyr in schema.LAYERS.values() if lyr.variable == variable)
        mask = shade_layer(codes, key, width, height=rgba.shape[0]).agg
        rgba = overlay_masks(rgba, mask.values, variable, alpha=THUMBNAIL_MASK_ALPHA, outline=True)
    return rgba
