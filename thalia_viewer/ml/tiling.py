"""Overlapping tiles over a frame and their seamless blending.

Tiles of ``tile`` px step by ``tile - overlap``; the last tile of a row or column is moved back to end at
the frame's edge, and a frame smaller than a tile is one (padded) tile. Each tile's prediction is weighted
by a separable window that is 1 inside, and on every side shared with another tile ramps up over the
``overlap`` px from the edge: 0 on the outer quarter of the overlap (where a network sees zero padding
instead of the neighbouring pixels, the cause of seams), then a raised cosine. The blend divides the
weighted sum by the summed weights, so a pixel's value is a convex combination of the tiles that saw it
with their own context. A network whose receptive field radius is at most ``overlap // 4`` px therefore
gives exactly its untiled prediction, provided tile offsets are multiples of its output stride (the
:class:`~thalia_viewer.ml.inference.Predictor` pads the frame to a multiple of the stride and keeps tile
and step multiples of it, so a strided network sees every tile on its own pooling grid).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

Window = tuple[int, int, int, int]  # (row0, row1, col0, col1), pixels, end-exclusive


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets (px) of tiles of ``tile`` px covering ``length`` px with at least ``overlap`` px shared."""
    if length <= 0 or tile <= 0 or not 0 <= overlap < tile:
        msg = f"cannot tile {length} px with tiles of {tile} px overlapping by {overlap} px; need 0 <= overlap < tile."
        raise ValueError(msg)
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def tile_grid(shape: tuple[int, int], tile: int, overlap: int) -> list[Window]:
    """Windows of the tiles covering a (rows, cols) frame, row by row; all of one size (``min(tile, side)``)."""
    h, w = shape
    th, tw = min(tile, h), min(tile, w)
    return [
        (r, r + th, c, c + tw) for r in tile_starts(h, tile, overlap) for c in tile_starts(w, tile, overlap)
    ]


def trim_of(overlap: int) -> int:
    """Pixels at a shared tile edge that get weight 0 (a quarter of the overlap)."""
    return overlap // 4


@lru_cache(maxsize=64)
def _ramp(overlap: int) -> np.ndarray:
    """Weights of the ``overlap`` px next to a shared edge, from the edge inwards: 0 on the trim, then cosine."""
    trim = trim_of(overlap)
    n = overlap - trim
    ramp = np.zeros(overlap, dtype=np.float32)
    if n > 0:
        ramp[trim:] = np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float64) + 0.5) / n) ** 2
    return ramp


def profile(length: int, overlap: int, low_shared: bool, high_shared: bool) -> np.ndarray:
    """1-D blending weights (float32) of one tile side to side; ramps only on the shared ends."""
    w = np.ones(length, dtype=np.float32)
    k = min(overlap, length // 2)
    if k > 0:
        ramp = _ramp(overlap)[:k]
        if low_shared:
            w[:k] = np.minimum(w[:k], ramp)
        if high_shared:
            w[length - k :] = np.minimum(w[length - k :], ramp[::-1])
    return w


def tile_weight(window: Window, shape: tuple[int, int], overlap: int) -> np.ndarray:
    """2-D blending weights (float32) of the tile at ``window`` in a frame of ``shape`` (rows, cols)."""
    r0, r1, c0, c1 = window
    h, w = shape
    rows = profile(r1 - r0, overlap, r0 > 0, r1 < h)
    cols = profile(c1 - c0, overlap, c0 > 0, c1 < w)
    return rows[:, None] * cols[None, :]


class Blender:
    """Accumulates weighted tile predictions over a frame (or a window of it) and blends them."""

    def __init__(self, shape: tuple[int, int], overlap: int) -> None:
        self.shape = shape
        self.overlap = overlap
        self._sum = np.zeros(shape, dtype=np.float32)
        self._weight = np.zeros(shape, dtype=np.float32)
        self._cache: dict[tuple[int, int, bool, bool, bool, bool], np.ndarray] = {}

    def add(self, window: Window, values: np.ndarray) -> None:
        """Add one tile's prediction ``values`` (rows, cols of ``window``)."""
        r0, r1, c0, c1 = window
        h, w = self.shape
        key = (r1 - r0, c1 - c0, r0 > 0, r1 < h, c0 > 0, c1 < w)
        weight = self._cache.get(key)
        if weight is None:
            weight = self._cache[key] = tile_weight(window, self.shape, self.overlap)
        self._sum[r0:r1, c0:c1] += values * weight
        self._weight[r0:r1, c0:c1] += weight

    def result(self) -> np.ndarray:
        """The blended frame (float32); pixels no tile covered are 0."""
        out = np.zeros(self.shape, dtype=np.float32)
        np.divide(self._sum, self._weight, out=out, where=self._weight > 0)
        return out
