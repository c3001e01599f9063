"""Screen-resolution aggregation (Datashader ``Canvas.raster``) and shading of one layer to RGBA.

Every aggregate is made at the size of the view, from the lazily loaded (dask) array, so a 4096^2 frame
costs one pass over the chunks inside the view and an 800 px image, never a full-resolution RGBA image.

Aggregation rules, by ``Layer.kind``:

- continuous (coherence, DEM, ERA5): area-weighted **mean** when zoomed out;
- cyclic (wrapped phase): **circular mean**: the means of cos(phase) and sin(phase), then atan2; a cell
  holding values near +pi and -pi gives about +-pi, never the meaningless arithmetic mean 0;
- classes (masks): **mode of the labelled pixels**: codes 0 and NaN are ignored, the most frequent
  non-zero code of the cell wins, 0 where the cell has no labelled pixel. Mode only ever returns a code
  that is present (no invented 1.5, no 3 from 2 and 4), and ignoring 0 keeps a small pattern visible at any
  zoom (a plain mode would let the background swallow it; ``max`` would favour high codes at borders).
  Side effect: zoomed out, masks look up to one screen pixel wider, which is what an overlay wants.

When zoomed in past the native resolution every layer is upsampled with **nearest** (real pixels stay
visible; class codes stay codes). Arrays come back north-up (row 0 = largest y) and x increasing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple, cast

import dask
import datashader as ds
import datashader.transfer_functions as tf
import numpy as np
import xarray as xr

from thalia_viewer.core import schema
from thalia_viewer.core.errors import SchemaError
from thalia_viewer.core.schema import Layer, LayerKind
from thalia_viewer.viz.colormaps import class_lut, class_table, colormap_for

CONTINUOUS_REDUCTION: Final = "mean"
CLASS_REDUCTION: Final = "mode"  # over labelled pixels only (0 and NaN ignored), see the module docstring
UPSAMPLING: Final = "nearest"
#: Percentiles of the view's values that set a data-driven colour span (robust to a few outliers).
SPAN_PERCENTILES: Final = (1.0, 99.0)
FALLBACK_SPAN: Final = (0.0, 1.0)  # when a view holds no finite value
MAX_HEIGHT: Final = 8192  # px, guard against absurd aspect ratios

# Hillshade / relief
HILLSHADE_AZIMUTH_DEG: Final = 315.0  # light from the north-west (cartographic convention)
HILLSHADE_ALTITUDE_DEG: Final = 45.0
RELIEF_Z_FACTOR: Final = 2.0  # vertical exaggeration of the DEM relief shading
RELIEF_STRENGTH: Final = 0.6  # 0 = flat colours, 1 = full hillshade modulation
RELIEF_RANGE: Final = (0.35, 1.25)  # clip of the brightness factor (flat ground = 1)
METRES_PER_DEG_LAT: Final = 110_574.0
METRES_PER_DEG_LON_EQUATOR: Final = 111_320.0

# Mask overlay
MASK_ALPHA: Final = 0.45
OPAQUE: Final = 255
#: The 1-px edge line of a class region: white, against the dark class colours inside it (schema) and the
#: mid-to-light wrapped phase outside (CIELAB L* 54-84).
OUTLINE_RGBA: Final = np.array([255, 255, 255, OPAQUE], dtype=np.uint8)


class Extent(NamedTuple):
    """A view's bounds in coordinate units (degrees for lon/lat): pixel edges, not centres."""

    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def x_range(self) -> tuple[float, float]:
        return self.x0, self.x1

    @property
    def y_range(self) -> tuple[float, float]:
        return self.y0, self.y1


@dataclass(frozen=True)
class Shaded:
    """One shaded layer: the RGBA image, the aggregate it was made from, the colour span and the extent."""

    rgba: np.ndarray  # (h, w, 4) uint8, row 0 = north; alpha 0 where there is no data
    agg: xr.DataArray  # (h, w) north-up; display units (phase: rad; classes: uint8 codes)
    span: tuple[float, float] | None  # colour range, display units (None for class layers)
    extent: Extent
    layer: Layer


# ------------------------------------------------------------------------------------------- geometry
def spatial_dims(da: xr.DataArray) -> tuple[str, str]:
    """The (y, x) dims of a 2-D layer: its last two dims, whatever their names (``y/x``, ``lat/lon`` ...)."""
    if da.ndim != 2:
        msg = (
            f"layer {da.name!r} has dims {da.dims}; expected a 2-D (y, x) array: select one pair / date "
            "first (e.g. da.sel(primary_date=..., secondary_date=...))"
        )
        raise ValueError(msg)
    ydim, xdim = da.dims[-2:]
    return str(ydim), str(xdim)


def _axis_edges(coord: np.ndarray, name: str) -> tuple[float, float]:
    if coord.size < 2:
        msg = f"coordinate {name!r} has {coord.size} value(s); a layer needs at least 2 pixels per axis."
        raise SchemaError(
            msg, "The frame is too small to draw; `thalia-viewer validate ROOT` checks its size."
        )
    half = abs(float(coord[-1] - coord[0])) / (coord.size - 1) / 2
    return float(coord.min()) - half, float(coord.max()) + half


def data_extent(da: xr.DataArray) -> Extent:
    """Full extent of a layer (pixel edges) from its 1-D spatial coordinates."""
    ydim, xdim = spatial_dims(da)
    return Extent(
        *_axis_edges(np.asarray(da[xdim].values), xdim), *_axis_edges(np.asarray(da[ydim].values), ydim)
    )


def grid_extent(xs: np.ndarray, ys: np.ndarray) -> Extent:
    """Full extent (pixel edges) of a regular grid from its 1-D x and y pixel-centre coordinates."""
    return Extent(*_axis_edges(np.asarray(xs), "x"), *_axis_edges(np.asarray(ys), "y"))


def view_extent(
    da: xr.DataArray, x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None
) -> Extent:
    """The view: the given ranges, or the layer's full extent for a missing one; checks that they overlap."""
    full = data_extent(da)
    xr_ = tuple(sorted(map(float, x_range))) if x_range is not None else full.x_range
    yr_ = tuple(sorted(map(float, y_range))) if y_range is not None else full.y_range
    view = Extent(xr_[0], xr_[1], yr_[0], yr_[1])
    if view.x1 <= view.x0 or view.y1 <= view.y0:
        msg = f"empty view x_range={view.x_range}, y_range={view.y_range}"
        raise ValueError(msg)
    if view.x1 <= full.x0 or view.x0 >= full.x1 or view.y1 <= full.y0 or view.y0 >= full.y1:
        msg = (
            f"view x_range={view.x_range}, y_range={view.y_range} does not overlap layer {da.name!r} "
            f"(extent x {full.x_range}, y {full.y_range})"
        )
        raise ValueError(msg)
    return view


def canvas_shape(extent: Extent, width: int, height: int | None = None) -> tuple[int, int]:
    """(height, width) in pixels; height from the aspect ratio of the ranges (lon/lat degrees) if not given."""
    if width < 1:
        msg = f"width must be >= 1 px, got {width}"
        raise ValueError(msg)
    if height is None:
        aspect = (extent.y1 - extent.y0) / (extent.x1 - extent.x0)
        height = min(max(round(width * aspect), 1), MAX_HEIGHT)
    return int(height), int(width)


def make_canvas(extent: Extent, width: int, height: int | None = None) -> ds.Canvas:
    """A Datashader canvas covering ``extent`` at ``width`` px (height from the aspect ratio if None)."""
    h, w = canvas_shape(extent, width, height)
    return ds.Canvas(plot_width=w, plot_height=h, x_range=extent.x_range, y_range=extent.y_range)


# ---------------------------------------------------------------------------------------- aggregation
def _north_up(agg: xr.DataArray) -> xr.DataArray:
    """Rows from north (largest y) to south, columns west to east."""
    ydim, xdim = agg.dims[-2:]
    ys, xs = agg[ydim].values, agg[xdim].values
    if ys.size > 1 and ys[0] < ys[-1]:
        agg = agg.isel({ydim: slice(None, None, -1)})
    if xs.size > 1 and xs[0] > xs[-1]:
        agg = agg.isel({xdim: slice(None, None, -1)})
    return agg


def _raster(da: xr.DataArray, canvas: ds.Canvas, reduction: str) -> xr.DataArray:
    """``Canvas.raster`` of a (possibly dask-backed) 2-D array, left lazy."""
    return canvas.raster(da, agg=reduction, interpolate=UPSAMPLING)


def _compute(*aggs: xr.DataArray) -> list[xr.DataArray]:
    """Compute several lazy aggregates in one dask pass, north-up."""
    datas = dask.compute(*(a.data for a in aggs))
    return [_north_up(a.copy(data=np.asarray(d))) for a, d in zip(aggs, datas, strict=True)]


def _as_float(da: xr.DataArray) -> xr.DataArray:
    return da if np.issubdtype(da.dtype, np.floating) else da.astype(np.float32)


def aggregate_mean(da: xr.DataArray, canvas: ds.Canvas) -> xr.DataArray:
    """Mean of a continuous layer over each screen pixel (float; NaN where no data), north-up."""
    spatial_dims(da)
    return _compute(_raster(_as_float(da), canvas, CONTINUOUS_REDUCTION))[0].rename(da.name)


def aggregate_phase(da: xr.DataArray, canvas: ds.Canvas) -> xr.DataArray:
    """Circular mean of wrapped phase (rad) per screen pixel: atan2(mean sin, mean cos), in [-pi, pi].

    NaN where the cell holds no data. (The spread of the cell's phases, ``hypot(mean cos, mean sin)``,
    is not kept.)
    """
    spatial_dims(da)
    phase = _as_float(da)
    # numpy's ufuncs return a DataArray for a DataArray (__array_ufunc__); its stubs say ndarray
    cos_agg, sin_agg = _compute(
        _raster(cast(xr.DataArray, np.cos(phase)), canvas, CONTINUOUS_REDUCTION),
        _raster(cast(xr.DataArray, np.sin(phase)), canvas, CONTINUOUS_REDUCTION),
    )
    with np.errstate(invalid="ignore"):
        mean = np.arctan2(sin_agg.values, cos_agg.values).astype(np.float32)
    return cos_agg.copy(data=mean).rename(da.name)


def check_codes(codes: np.ndarray, mask_variable: str) -> None:
    """Raise :class:`SchemaError` (a ``ValueError``) naming the variable if ``codes`` holds a value that is not a
    class code (the store's data is damaged, or not in the Thalia codes)."""
    valid = np.array([c.code for c in class_table(mask_variable)])
    values = (
        np.unique(codes[np.isfinite(codes)]) if np.issubdtype(codes.dtype, np.floating) else np.unique(codes)
    )
    bad = values[~np.isin(values, valid)]
    if bad.size:
        msg = f"{mask_variable}: values {bad[:10].tolist()} are not class codes; expected {valid.tolist()}."
        raise SchemaError(msg, "`thalia-viewer validate ROOT --deep` lists every pair with such values.")


def aggregate_classes(da: xr.DataArray, canvas: ds.Canvas, mask_variable: str | None = None) -> xr.DataArray:
    """Class codes per screen pixel (uint8, 0 = none): the mode of the labelled (non-zero) pixels.

    Codes may be stored as integers or floats (NaN = no data, shown as 0). With ``mask_variable`` the result
    is checked against the class table of ``schema.MASK_CLASSES``.
    """
    spatial_dims(da)
    labelled = da.where(da > 0).astype(np.float32)  # 0 and NaN -> NaN: ignored by the mode
    agg = _compute(_raster(labelled, canvas, CLASS_REDUCTION))[0]
    values = agg.values
    if mask_variable is not None:
        check_codes(values, mask_variable)
    codes = np.where(np.isfinite(values), values, 0).astype(np.uint8)
    return agg.copy(data=codes).rename(da.name)


def aggregate(
    da: xr.DataArray,
    layer: Layer | str,
    width: int,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    height: int | None = None,
) -> xr.DataArray:
    """Screen-resolution aggregate of ``da`` with the reduction its layer kind calls for (module docstring)."""
    layer = layer if isinstance(layer, Layer) else schema.layer(layer)
    canvas = make_canvas(view_extent(da, x_range, y_range), width, height)
    if layer.kind is LayerKind.CYCLIC:
        return aggregate_phase(da, canvas)
    if layer.kind is LayerKind.CLASSES:
        return aggregate_classes(da, canvas, layer.variable)
    return aggregate_mean(da, canvas)


# ------------------------------------------------------------------------------------------- shading
def data_span(values: np.ndarray | xr.DataArray, symmetric: bool = False) -> tuple[float, float]:
    """Colour span from the finite values (``SPAN_PERCENTILES``); ``symmetric`` gives (-m, m) around 0."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return FALLBACK_SPAN
    if symmetric:
        m = float(np.percentile(np.abs(finite), SPAN_PERCENTILES[1]))
        lo, hi = -m, m
    else:
        lo, hi = (float(v) for v in np.percentile(finite, SPAN_PERCENTILES))
    if hi <= lo:  # a constant view: centre it in a unit span
        half = max(abs(lo) * 1e-3, 0.5)
        lo, hi = lo - half, hi + half
    return lo, hi


def shade_values(agg: xr.DataArray, cmap: list[str], span: tuple[float, float]) -> np.ndarray:
    """(h, w, 4) uint8 RGBA of a 2-D aggregate through ``cmap`` (linear over ``span``; NaN transparent)."""
    img = tf.shade(agg, cmap=cmap, how="linear", span=span)
    packed = np.ascontiguousarray(np.asarray(img.data, dtype=np.uint32))
    return packed.view(np.uint8).reshape(*packed.shape, 4).copy()


def shade_classes(codes: np.ndarray | xr.DataArray, mask_variable: str) -> np.ndarray:
    """(h, w, 4) uint8 RGBA of a class raster through its lookup table (code 0 transparent)."""
    codes = _codes_array(codes, mask_variable)
    return class_lut(mask_variable)[codes]


def _metres_per_pixel(agg: xr.DataArray, geographic: bool | None) -> tuple[float, float]:
    ydim, xdim = agg.dims[-2:]
    ys, xs = np.asarray(agg[ydim].values, float), np.asarray(agg[xdim].values, float)
    dy = abs(ys[-1] - ys[0]) / max(ys.size - 1, 1) or 1.0
    dx = abs(xs[-1] - xs[0]) / max(xs.size - 1, 1) or 1.0
    if geographic is None:
        geographic = bool(np.all(np.abs(ys) <= 90) and np.all(np.abs(xs) <= 360))
    if not geographic:
        return dy, dx
    lat = np.deg2rad(float(np.mean(ys)))
    return dy * METRES_PER_DEG_LAT, dx * METRES_PER_DEG_LON_EQUATOR * max(np.cos(lat), 1e-6)


def hillshade(
    dem_agg: xr.DataArray,
    azimuth_deg: float = HILLSHADE_AZIMUTH_DEG,
    altitude_deg: float = HILLSHADE_ALTITUDE_DEG,
    z_factor: float = 1.0,
    geographic: bool | None = None,
) -> xr.DataArray:
    """Lambertian hillshade of a north-up DEM aggregate (metres): 0 (shadow) to 1 (facing the light).

    ``azimuth_deg``: where the light comes from, clockwise from north; ``altitude_deg``: above the horizon.
    Pixel spacing comes from the coordinates (degrees -> metres at the view's mean latitude when
    ``geographic``, auto-detected from the coordinate ranges when None). NaN stays NaN.
    """
    dy_m, dx_m = _metres_per_pixel(dem_agg, geographic)
    z = np.asarray(dem_agg.values, dtype=np.float64) * z_factor
    if min(z.shape) < 2:
        return dem_agg.copy(data=np.where(np.isfinite(z), np.sin(np.deg2rad(altitude_deg)), np.nan))
    dz_drow, dz_dcol = np.gradient(z, dy_m, dx_m)
    dz_dnorth, dz_deast = -dz_drow, dz_dcol  # rows run north -> south
    az, alt = np.deg2rad(azimuth_deg), np.deg2rad(altitude_deg)
    light = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])  # east, north, up
    norm = np.sqrt(dz_deast**2 + dz_dnorth**2 + 1.0)
    shade = (-dz_deast * light[0] - dz_dnorth * light[1] + light[2]) / norm
    return dem_agg.copy(data=np.clip(shade, 0.0, 1.0).astype(np.float32))


def apply_relief(
    rgba: np.ndarray, shade: np.ndarray | xr.DataArray, altitude_deg: float = HILLSHADE_ALTITUDE_DEG
) -> np.ndarray:
    """Modulate the brightness of ``rgba`` by a hillshade (0-1); flat ground keeps its colour."""
    flat = np.sin(np.deg2rad(altitude_deg))
    factor = 1.0 + RELIEF_STRENGTH * (np.asarray(shade, dtype=np.float32) / flat - 1.0)
    factor = np.clip(np.nan_to_num(factor, nan=1.0), *RELIEF_RANGE)
    out = rgba.copy()
    out[..., :3] = np.clip(rgba[..., :3] * factor[..., None], 0, 255).astype(np.uint8)
    return out


# ------------------------------------------------------------------------------------------ overlays
def _codes_array(codes: np.ndarray | xr.DataArray, mask_variable: str) -> np.ndarray:
    """Class codes as a uint8 array (NaN -> 0), checked against the class table."""
    values = np.asarray(codes)
    check_codes(values, mask_variable)
    if np.issubdtype(values.dtype, np.floating):
        values = np.where(np.isfinite(values), values, 0)
    return values.astype(np.uint8)


def class_outline(codes: np.ndarray) -> np.ndarray:
    """Boolean (h, w): labelled pixels with a 4-neighbour of another code (the inner 1-px border)."""
    padded = np.pad(codes, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    border = (
        (padded[:-2, 1:-1] != centre)
        | (padded[2:, 1:-1] != centre)
        | (padded[1:-1, :-2] != centre)
        | (padded[1:-1, 2:] != centre)
    )
    return border & (centre > 0)


def overlay_masks(
    rgba: np.ndarray,
    mask_agg: np.ndarray | xr.DataArray,
    mask_variable: str,
    alpha: float = MASK_ALPHA,
    outline: bool = True,
) -> np.ndarray:
    """Class colours of ``mask_agg`` composited over ``rgba`` (h, w, 4 uint8); returns a new array.

    Labelled pixels get their class colour at ``alpha`` ("over" compositing, so a fill over a transparent
    no-data pixel stays visible). With ``outline`` every class region gets a two-tone border drawn inside
    it: a 1-px white line on its edge and a 1-px opaque line of the (dark) class colour just inside, so the
    border reads over any background (bright fringes, dark incoherent areas). Pixels with code 0 never change.
    """
    codes = _codes_array(mask_agg, mask_variable)
    if codes.shape != rgba.shape[:2]:
        msg = f"{mask_variable}: mask aggregate {codes.shape} does not match the image {rgba.shape[:2]}"
        raise ValueError(msg)
    lut = class_lut(mask_variable)
    out = rgba.copy()
    labelled = codes > 0
    if not labelled.any():
        return out
    src = lut[codes[labelled]].astype(np.float32) / OPAQUE
    dst = rgba[labelled].astype(np.float32) / OPAQUE
    a_src = src[:, 3:] * alpha
    a_dst = dst[:, 3:]
    a_out = a_src + a_dst * (1 - a_src)
    rgb = (src[:, :3] * a_src + dst[:, :3] * a_dst * (1 - a_src)) / np.maximum(a_out, 1e-6)
    out[labelled] = np.round(np.concatenate([rgb, a_out], axis=1) * OPAQUE).astype(np.uint8)
    if outline:
        edge = class_outline(codes)
        inner = class_outline(np.where(edge, 0, codes).astype(np.uint8)) & ~edge
        out[inner] = lut[codes[inner]]
        out[inner, 3] = OPAQUE
        out[edge] = OUTLINE_RGBA
    return out


# --------------------------------------------------------------------------------------------- layer
def shade_layer(
    da: xr.DataArray,
    layer: Layer | str,
    width: int,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    span: tuple[float, float] | None = None,
    *,
    height: int | None = None,
    relief: bool = True,
) -> Shaded:
    """Aggregate ``da`` to the view (``width`` px, height from the aspect ratio) and shade it to RGBA.

    ``span`` (display units) overrides the layer's fixed span (``Layer.span``), else a robust span of the
    view's values is used (symmetric around 0 for ``*_delta`` layers). Class layers are drawn with their
    class colours (code 0 transparent); the DEM gets hillshade relief when ``relief``. NaN is transparent.
    """
    layer = layer if isinstance(layer, Layer) else schema.layer(layer)
    extent = view_extent(da, x_range, y_range)
    canvas = make_canvas(extent, width, height)
    if layer.kind is LayerKind.CLASSES:
        agg = aggregate_classes(da, canvas, layer.variable)
        return Shaded(shade_classes(agg.values, layer.variable), agg, None, extent, layer)
    agg = aggregate_phase(da, canvas) if layer.kind is LayerKind.CYCLIC else aggregate_mean(da, canvas)
    used = span or layer.span or data_span(agg, symmetric=layer.delta)
    rgba = shade_values(agg, colormap_for(layer), used)
    if relief and layer.variable == schema.DEM:
        rgba = apply_relief(rgba, hillshade(agg, z_factor=RELIEF_Z_FACTOR))
    return Shaded(rgba, agg, (float(used[0]), float(used[1])), extent, layer)
