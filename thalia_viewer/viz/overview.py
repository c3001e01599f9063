"""Overviews: a layer reduced once by an integer factor, so that a zoomed-out view aggregates about
screen-size pixels instead of the whole frame (the level of a multiscale pyramid that screens need).

A 4096^2 frame shown on a ~600 px plot needs ~7 native pixels per screen pixel; its overview at factor 4
(1024^2) is built once per layer from the full read and then serves every view that needs 4 or more
native pixels per screen pixel: whole-frame views, zoom-outs, re-renders after a style change, the
neighbouring pairs' prefetches. A view closer in than that reads the native pixels of its window.

Reductions follow :mod:`thalia_viewer.viz.shade`: continuous layers are averaged (NaN ignored), wrapped
phase keeps the block means of cos and sin (the circular mean is taken after the final aggregation),
class codes keep the most frequent non-zero code of each block (0 where the block has none). An overview
of a mask being edited is updated in place for the edited box (:meth:`Overview.update`), so painting on a
big frame costs the box, not the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numba
import numpy as np
import xarray as xr

from thalia_viewer.core.schema import Layer, LayerKind
from thalia_viewer.viz.colormaps import class_table
from thalia_viewer.viz.shade import Extent, aggregate_classes, aggregate_mean, make_canvas

#: Overview side aimed at, px: a factor is chosen so the overview is about this wide (never smaller than 1x).
TARGET_SIDE: Final = 1024
#: Frames smaller than this many pixels a side get no overview (a full read is cheap).
MIN_SIDE: Final = 1536


def overview_factor(shape: tuple[int, int], target: int = TARGET_SIDE) -> int:
    """The reduction factor for a frame of ``shape`` (1: no overview worth having)."""
    side = max(shape)
    if side < MIN_SIDE:
        return 1
    return max(1, side // target)


@dataclass
class Overview:
    """A layer reduced by ``factor`` in both directions, in the source's row / column order.

    ``planes``: one reduced array for continuous layers and class codes, two (mean cos, mean sin) for
    wrapped phase; ``ys`` / ``xs``: the pixel-centre coordinates of the reduced grid.
    """

    kind: LayerKind
    factor: int
    planes: tuple[np.ndarray, ...]
    ys: np.ndarray
    xs: np.ndarray
    dims: tuple[str, str]
    name: str
    n_codes: int = 0  # classes: highest code + 1

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.planes)

    def update(self, values: np.ndarray, rows: slice, cols: slice) -> None:
        """Recompute the blocks covering native ``rows`` x ``cols`` from the full native ``values``."""
        f = self.factor
        r0, r1 = (rows.start // f) * f, min(math.ceil(rows.stop / f) * f, values.shape[0])
        c0, c1 = (cols.start // f) * f, min(math.ceil(cols.stop / f) * f, values.shape[1])
        window = values[r0:r1, c0:c1]
        for plane, new in zip(self.planes, _reduce(window, self.kind, f, self.n_codes), strict=True):
            plane[r0 // f : r0 // f + new.shape[0], c0 // f : c0 // f + new.shape[1]] = new

    def aggregate(self, view: Extent, size: tuple[int, int], layer: Layer) -> xr.DataArray:
        """The (width, height) px aggregate of ``view`` from this overview, as :func:`viz.shade.aggregate` makes it."""
        canvas = make_canvas(view, size[0], size[1])
        coords = {self.dims[0]: self.ys, self.dims[1]: self.xs}
        arrays = [xr.DataArray(p, dims=self.dims, coords=coords, name=self.name) for p in self.planes]
        window = [view_window(a, view) for a in arrays]
        if self.kind is LayerKind.CYCLIC:
            cos_agg, sin_agg = (aggregate_mean(a, canvas) for a in window)
            with np.errstate(invalid="ignore"):
                mean = np.arctan2(sin_agg.values, cos_agg.values).astype(np.float32)
            return cos_agg.copy(data=mean).rename(self.name)
        if self.kind is LayerKind.CLASSES:
            return aggregate_classes(window[0], canvas, layer.variable)
        return aggregate_mean(window[0], canvas)


def native_per_screen(view: Extent, size: tuple[int, int], native: tuple[int, int], extent: Extent) -> float:
    """Native pixels per screen pixel of a (width, height) px aggregate of ``view`` (the finer axis): an
    overview of factor ``f`` serves the aggregate when this is ``f`` or more."""
    px_x = native[1] * (view.x1 - view.x0) / (extent.x1 - extent.x0) / max(size[0], 1)
    px_y = native[0] * (view.y1 - view.y0) / (extent.y1 - extent.y0) / max(size[1], 1)
    return min(px_x, px_y)


def build_overview(da: xr.DataArray, layer: Layer, factor: int) -> Overview:
    """The overview of a 2-D layer (read into memory here) at ``factor``."""
    ydim, xdim = (str(d) for d in da.dims[-2:])
    values = np.asarray(da.values)
    n_codes = int(values.max()) + 1 if layer.kind is LayerKind.CLASSES and values.size else 0
    if layer.kind is LayerKind.CLASSES:
        n_codes = max(n_codes, max(c.code for c in class_table(layer.variable)) + 1)
    planes = tuple(_reduce(values, layer.kind, factor, n_codes))
    ys = _block_centres(np.asarray(da[ydim].values, dtype=np.float64), factor)
    xs = _block_centres(np.asarray(da[xdim].values, dtype=np.float64), factor)
    return Overview(layer.kind, factor, planes, ys, xs, (ydim, xdim), str(da.name or layer.key), n_codes)


def sample_aggregate(da: xr.DataArray, view: Extent, size: tuple[int, int]) -> xr.DataArray:
    """A first image of ``view`` on a (width, height) px canvas at a small part of an aggregate's cost: the
    native pixel nearest each screen pixel's centre (a nearest-neighbour decimation: no averaging, so
    sharper and noisier than the block means it stands in for), north-up like :mod:`viz.shade`'s aggregates.

    Screen pixels off the layer are NaN (class codes: 0). ``da`` is best in memory (it is read here otherwise).
    """
    ydim, xdim = (str(d) for d in da.dims[-2:])
    width, height = size
    xs = view.x0 + (np.arange(width) + 0.5) * (view.x1 - view.x0) / width
    ys = view.y1 - (np.arange(height) + 0.5) * (view.y1 - view.y0) / height  # north to south
    rows, row_in = _nearest(np.asarray(da[ydim].values, dtype=np.float64), ys)
    cols, col_in = _nearest(np.asarray(da[xdim].values, dtype=np.float64), xs)
    values = np.asarray(da.values)[np.ix_(rows, cols)]
    off = ~(row_in[:, None] & col_in[None, :])
    if off.any():
        values = (
            values.astype(np.float32) if values.dtype.kind != "f" and values.dtype != np.uint8 else values
        )
        values[off] = 0 if values.dtype == np.uint8 else np.nan
    return xr.DataArray(values, dims=(ydim, xdim), coords={ydim: ys, xdim: xs}, name=da.name)


def _nearest(coord: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the pixel of a regular ``coord`` (pixel centres) nearest each target, and whether the target
    lies on the grid at all (within half a pixel of its ends)."""
    if coord.size < 2:
        return np.zeros(targets.size, np.int64), np.ones(targets.size, bool)
    step = (coord[-1] - coord[0]) / (coord.size - 1)
    index = np.rint((targets - coord[0]) / step).astype(np.int64)
    inside = (index >= 0) & (index < coord.size)
    return np.clip(index, 0, coord.size - 1), inside


def _block_centres(coord: np.ndarray, f: int) -> np.ndarray:
    """Centres of consecutive blocks of ``f`` pixels (the last block extended as if the grid went on)."""
    n = math.ceil(coord.size / f)
    step = (coord[-1] - coord[0]) / max(coord.size - 1, 1)
    first = np.arange(n) * f
    return coord[0] + (first + (f - 1) / 2) * step


@numba.njit(nogil=True, cache=True)
def _nanmean_kernel(values: np.ndarray, f: int) -> np.ndarray:  # pragma: no cover (compiled)
    rows, cols = values.shape
    nr, nc = (rows + f - 1) // f, (cols + f - 1) // f
    total = np.zeros((nr, nc), np.float64)
    count = np.zeros((nr, nc), np.int64)
    for i in range(rows):
        bi = i // f
        for j in range(cols):
            v = values[i, j]
            if np.isfinite(v):
                total[bi, j // f] += v
                count[bi, j // f] += 1
    out = np.full((nr, nc), np.nan, np.float32)
    for a in range(nr):
        for b in range(nc):
            if count[a, b] > 0:
                out[a, b] = total[a, b] / count[a, b]
    return out


@numba.njit(nogil=True, cache=True)
def _mode_kernel(codes: np.ndarray, f: int, n_codes: int) -> np.ndarray:  # pragma: no cover (compiled)
    rows, cols = codes.shape
    nr, nc = (rows + f - 1) // f, (cols + f - 1) // f
    counts = np.zeros((nr, nc, n_codes), np.int32)
    for i in range(rows):
        bi = i // f
        for j in range(cols):
            c = codes[i, j]
            if c > 0:
                counts[bi, j // f, min(c, n_codes - 1)] += 1
    out = np.zeros((nr, nc), np.uint8)
    for a in range(nr):
        for b in range(nc):
            best, most = 0, 0
            for k in range(1, n_codes):
                if counts[a, b, k] > most:  # strictly more: ties keep the lower code
                    best, most = k, counts[a, b, k]
            out[a, b] = best
    return out


def _nanmean_blocks(values: np.ndarray, f: int) -> np.ndarray:
    """Mean of the finite values of each ``f`` x ``f`` block (NaN where none; a partial last block counts
    what it has), float32. One compiled pass that releases the GIL (layers reduce side by side)."""
    return _nanmean_kernel(np.ascontiguousarray(values, dtype=np.float32), f)


def _mode_blocks(codes: np.ndarray, f: int, n_codes: int) -> np.ndarray:
    """Most frequent non-zero code of each block (ties: the lower code), 0 for blocks with none.

    Codes at or above ``n_codes`` count as ``n_codes - 1`` (the caller sizes ``n_codes`` from the data)."""
    return _mode_kernel(_codes(codes), f, max(int(n_codes), 2))


def _codes(codes: np.ndarray) -> np.ndarray:
    """Class codes as contiguous uint8 (NaN -> 0)."""
    if codes.dtype.kind == "f":
        codes = np.where(np.isfinite(codes), codes, 0)
    return np.ascontiguousarray(codes, dtype=np.uint8)


def _reduce(values: np.ndarray, kind: LayerKind, f: int, n_codes: int) -> list[np.ndarray]:
    if kind is LayerKind.CLASSES:
        return [_mode_blocks(values, f, n_codes)]
    if kind is LayerKind.CYCLIC:
        phase = values.astype(np.float32, copy=False)  # numpy's cos / sin are vectorised (NaN stays NaN)
        return [_nanmean_blocks(np.cos(phase), f), _nanmean_blocks(np.sin(phase), f)]
    return [_nanmean_blocks(values, f)]


def compile_reductions() -> None:
    """Compile the block reductions (or load them from Numba's cache), so the first big layer never waits."""
    tiny = np.zeros((4, 4), np.float32)
    for kind in LayerKind:
        _reduce(tiny, kind, 2, 2)


def view_window(da: xr.DataArray, view: Extent) -> xr.DataArray:
    """The part of a layer (its last two dims: y, x) inside ``view`` plus one pixel around (what an
    aggregation of that view reads); lazy layers stay lazy."""
    ydim, xdim = da.dims[-2:]
    window = {}
    for dim, lo, hi in ((xdim, view.x0, view.x1), (ydim, view.y0, view.y1)):
        coord = np.asarray(da[dim].values)
        if coord.size < 2:
            continue
        step = abs(float(coord[1] - coord[0]))
        lo, hi = lo - step, hi + step
        window[dim] = slice(lo, hi) if coord[0] < coord[-1] else slice(hi, lo)
    return da.sel(window)
