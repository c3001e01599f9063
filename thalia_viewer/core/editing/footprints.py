"""Pixel footprints of the editing tools: brush strokes, polygons and flood-fill regions.

Coordinates are ``(row, col)`` in pixels of the label raster, floats; pixel ``(i, j)`` has its centre at
``(i, j)`` (the convention of the cube's coordinates, which are pixel centres). A :class:`Footprint` is the
pixels a tool covers, clipped to the raster: their bounding box and a boolean array over it. Strokes and
polygons are rasterised as runs of columns per row, so their cost is their rows and their box, never the
whole raster.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from thalia_viewer.core.errors import ThaliaError

#: Smallest brush radius, pixels: half a pixel diagonal, so that every point of a stroke covers a pixel.
MIN_RADIUS_PX = math.sqrt(0.5)
#: Flood fill labels a window this many pixels either side of the click first, doubling it while needed.
FLOOD_START_HALF_PX = 128


class EditError(ThaliaError, ValueError):
    """An edit the mask editor refuses: bad coordinates, or a flood fill over most of the frame."""


class Box(NamedTuple):
    """A half-open pixel rectangle: rows ``row0:row1``, cols ``col0:col1``."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """The box as index slices of a 2-D array."""
        return slice(self.row0, self.row1), slice(self.col0, self.col1)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the box, pixels."""
        return self.row1 - self.row0, self.col1 - self.col0

    def clip(self, shape: tuple[int, int]) -> Box:
        """The part of the box inside a raster of ``shape``."""
        return Box(max(self.row0, 0), min(self.row1, shape[0]), max(self.col0, 0), min(self.col1, shape[1]))

    def union(self, other: Box | None) -> Box:
        """The smallest box holding both."""
        if other is None:
            return self
        rows = min(self.row0, other.row0), max(self.row1, other.row1)
        return Box(*rows, min(self.col0, other.col0), max(self.col1, other.col1))


class Footprint(NamedTuple):
    """Pixels covered by a tool: the boolean array ``covered`` over ``box`` of the raster."""

    box: Box
    covered: np.ndarray


def as_points(points: np.ndarray, what: str = "points") -> np.ndarray:
    """``points`` as an ``(N, 2)`` float array of ``(row, col)``; NaN or infinite coordinates are refused."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.size == 0:
        return pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise EditError(f"{what} must be an (N, 2) array of (row, col) pixels, got shape {pts.shape}.")
    bad = ~np.isfinite(pts).all(axis=1)
    if bad.any():
        index = np.flatnonzero(bad)[:5].tolist()
        msg = f"{what} hold NaN or infinite coordinates (at indices {index})."
        raise EditError(msg, "Convert the positions to pixels of this raster first.")
    return pts


def crop(box: Box, mask: np.ndarray) -> Footprint | None:
    """The footprint cropped to its covered pixels, or None when it covers none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return Footprint(Box(box.row0 + r0, box.row0 + r1, box.col0 + c0, box.col0 + c1), mask[r0:r1, c0:c1])


def _runs(rows: np.ndarray, start: np.ndarray, stop: np.ndarray, width: int) -> Footprint | None:
    """The footprint made of the column runs ``start:stop`` on ``rows`` (runs may overlap)."""
    start = np.clip(start, 0, width).astype(np.intp)
    stop = np.clip(stop, 0, width).astype(np.intp)
    keep = start < stop
    rows, start, stop = rows[keep], start[keep], stop[keep]
    if not rows.size:
        return None
    box = Box(int(rows.min()), int(rows.max()) + 1, int(start.min()), int(stop.max()))
    stride = box.shape[1] + 1  # a run ending on the box's right side stays in its own row
    order = np.lexsort((start, rows))
    first = ((rows - box.row0) * stride + start - box.col0)[order]
    reach = np.maximum.accumulate(((rows - box.row0) * stride + stop - box.col0)[order])
    new = np.r_[True, first[1:] > reach[:-1]]  # one running maximum merges the overlapping runs of every row
    bounds = np.column_stack([first[new], reach[np.r_[new[1:], True]]]).ravel()
    # The covered pixels alternate with the gaps between runs: one repeat writes the whole box.
    lengths = np.diff(np.r_[0, bounds, box.shape[0] * stride])
    alternate = np.arange(len(lengths)) % 2 == 1
    covered = np.repeat(alternate, lengths).reshape(-1, stride)[:, :-1]
    return Footprint(box, covered)


def _segment_rows(a: np.ndarray, b: np.ndarray, r: float, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``(segment index, row)`` of every raster row within ``r`` pixels of a segment's row range."""
    top = np.clip(np.ceil(np.minimum(a[:, 0], b[:, 0]) - r), 0, height).astype(np.intp)
    bottom = np.clip(np.floor(np.maximum(a[:, 0], b[:, 0]) + r) + 1, 0, height).astype(np.intp)
    n = np.maximum(bottom - top, 0)
    first = np.cumsum(n) - n
    return np.repeat(np.arange(len(a)), n), np.repeat(top, n) + np.arange(n.sum()) - np.repeat(first, n)


def _linear_span(
    k0: np.ndarray, k: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``x`` where ``lo <= k0 + k * x <= hi``; ``(inf, -inf)`` when there is none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x1, x2 = (lo - k0) / k, (hi - k0) / k
    flat, inside = k == 0, (lo <= k0) & (k0 <= hi)
    start = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(x1, x2))
    stop = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(x1, x2))
    return start, stop


def _capsule_span(a: np.ndarray, b: np.ndarray, y: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``[lo, hi]`` of row ``y`` within ``r`` of segment ``a``-``b`` (one row per entry).

    The capsule around a segment is the union of a disc at each end and the band along it; it is convex,
    so its part on a row is one interval: the hull of the parts of those three pieces.
    """
    lo, hi = np.full(len(y), np.inf), np.full(len(y), -np.inf)
    for end in (a, b):
        h2 = r * r - (y - end[:, 0]) ** 2
        h = np.sqrt(np.maximum(h2, 0.0))
        lo = np.where(h2 >= 0, np.minimum(lo, end[:, 1] - h), lo)
        hi = np.where(h2 >= 0, np.maximum(hi, end[:, 1] + h), hi)
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    u = d / np.where(length > 0, length, 1.0)[:, None]
    dy = y - a[:, 0]
    along = _linear_span(dy * u[:, 0], u[:, 1], 0.0, length)
    across = _linear_span(-dy * u[:, 1], u[:, 0], -r, r)
    band_lo, band_hi = np.maximum(along[0], across[0]) + a[:, 1], np.minimum(along[1], across[1]) + a[:, 1]
    band = (length > 0) & (band_lo <= band_hi)
    return np.where(band, np.minimum(lo, band_lo), lo), np.where(band, np.maximum(hi, band_hi), hi)


def stroke_footprint(points: np.ndarray, radius_px: float, shape: tuple[int, int]) -> Footprint | None:
    """Pixels within ``radius_px`` of the polyline through ``points`` (a disc for one point).

    The radius is at least :data:`MIN_RADIUS_PX`; parts of the stroke outside the raster are clipped.
    Works row by row on each segment, so a long segment costs its rows, not its bounding box.
    """
    pts = as_points(points)
    if not math.isfinite(radius_px) or radius_px < 0:
        raise EditError(f"brush radius must be a finite number of pixels >= 0, got {radius_px!r}.")
    if not len(pts):
        return None
    r = max(float(radius_px), MIN_RADIUS_PX)
    a, b = (pts[:-1], pts[1:]) if len(pts) > 1 else (pts, pts)
    segment, y = _segment_rows(a, b, r, shape[0])
    lo, hi = _capsule_span(a[segment], b[segment], y.astype(np.float64), r)
    keep = lo <= hi
    return _runs(y[keep], np.ceil(lo[keep]), np.floor(hi[keep]) + 1, shape[1])


def polygon_footprint(vertices: np.ndarray, shape: tuple[int, int]) -> Footprint | None:
    """Pixels whose centre lies inside the closed polygon through ``vertices``.

    Even-odd rule; a centre on the top or left edge is inside, on the bottom or right edge outside (so a
    square from ``(2, 2)`` to ``(5, 5)`` covers rows and cols 2-4, and polygons sharing an edge never
    overlap). Fewer than 3 vertices cover nothing; a lasso is the polygon of its freehand path.
    """
    v = as_points(vertices, "vertices")
    if len(v) < 3:
        return None
    ya, xa = v[:, 0], v[:, 1]
    yb, xb = np.roll(ya, -1), np.roll(xa, -1)
    y = np.arange(max(math.ceil(ya.min()), 0), min(math.ceil(ya.max()), shape[0]))
    crosses = (ya <= y[:, None]) != (
        yb <= y[:, None]
    )  # an edge spans [min, max) of its rows: vertices count once
    dy = np.where(yb != ya, yb - ya, 1.0)
    x = np.where(crosses, xa + (y[:, None] - ya) * (xb - xa) / dy, np.inf)
    if x.shape[1] % 2:
        x = np.hstack([x, np.full((len(x), 1), np.inf)])
    x.sort(axis=1)
    enter, leave = x[:, 0::2], x[:, 1::2]
    row, pair = np.nonzero(np.isfinite(leave))
    return _runs(y[row], np.ceil(enter[row, pair]), np.ceil(leave[row, pair]), shape[1])


def _reaches_inner_border(win: Box, region: np.ndarray, shape: tuple[int, int]) -> bool:
    """True when ``region`` touches a side of window ``win`` that is not a side of the raster."""
    return bool(
        (win.row0 > 0 and region[0].any())
        or (win.row1 < shape[0] and region[-1].any())
        or (win.col0 > 0 and region[:, 0].any())
        or (win.col1 < shape[1] and region[:, -1].any())
    )


def region_footprint(codes: np.ndarray, row: float, col: float, max_fraction: float) -> Footprint | None:
    """The 4-connected region of pixels of ``codes`` sharing the code of the pixel at ``(row, col)``.

    Labels a window around the click, doubled until the region no longer reaches its inner border, so a
    small hole costs a small window. Raises :class:`EditError` when the region holds more than
    ``max_fraction`` of the raster (almost always a click on the background).
    """
    h, w = codes.shape
    if not (math.isfinite(row) and math.isfinite(col)):
        raise EditError(f"flood fill needs finite pixel coordinates, got ({row!r}, {col!r}).")
    i, j = round(row), round(col)
    if not (0 <= i < h and 0 <= j < w):
        raise EditError(
            f"flood fill at pixel ({i}, {j}) is outside the {h} x {w} raster.", "Click inside the image."
        )
    limit = max_fraction * h * w
    half = FLOOD_START_HALF_PX
    while True:
        win = Box(i - half, i + half + 1, j - half, j + half + 1).clip((h, w))
        labels, _ = ndimage.label(codes[win.slices] == codes[i, j])
        region = labels == labels[i - win.row0, j - win.col0]
        size = int(np.count_nonzero(region))
        if size > limit:
            share = f"{size / (h * w):.0%} of the frame, limit {max_fraction:.0%}"
            raise EditError(
                f"flood fill from pixel ({i}, {j}) would paint at least {size} px ({share}).",
                "Usually a click on the background: click inside a closed region, or raise max_fraction.",
            )
        if not _reaches_inner_border(win, region, (h, w)):
            return crop(win, region)
        half *= 2
