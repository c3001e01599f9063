"""Mask -> polygons in the Hephaestus ``segmentation_mask`` convention.

A list of polygons, one per 8-connected region, each the flat ``[x0, y0, x1, y1, ...]`` list of the pixel
coordinates (x = column, y = row) of the region's outer boundary pixels, traced clockwise (Moore-neighbour
tracing, as OpenCV's ``findContours`` with ``CHAIN_APPROX_SIMPLE``: points where the direction does not
change are dropped). Filling each polygon and its outline reproduces the region, holes excepted.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Moore neighbourhood, clockwise on screen (rows grow downwards): E, SE, S, SW, W, NW, N, NE as (drow, dcol).
_STEPS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
_DIRECTION = {step: k for k, step in enumerate(_STEPS)}
_MIN_POINTS = 3  # a polygon needs three vertices; smaller regions repeat theirs


def mask_to_polygons(mask: np.ndarray) -> list[list[int]]:
    """Polygons of the non-zero pixels of ``mask`` (2-D), largest region first."""
    labels, _ = ndimage.label(np.asarray(mask) != 0, structure=np.ones((3, 3), bool))
    regions = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        region = np.pad(labels[box] == index, 1)
        points = _trace(region)
        offset = np.array([box[0].start - 1, box[1].start - 1])
        regions.append((int(region.sum()), [(int(r + offset[0]), int(c + offset[1])) for r, c in points]))
    regions.sort(key=lambda item: -item[0])
    polygons = []
    for _, points in regions:
        while len(points) < _MIN_POINTS:
            points = points + points[-1:]
        polygons.append([v for r, c in points for v in (c, r)])
    return polygons


def _trace(region: np.ndarray) -> list[tuple[int, int]]:
    """Outer boundary of the one 8-connected region of ``region`` (padded by one pixel), corners only."""
    rows, cols = np.nonzero(region)
    start = (int(rows[0]), int(cols[0]))  # topmost then leftmost: its west neighbour is background
    back = 4  # direction (from the current pixel) of the background pixel we came from: west
    path = [start]
    current = start
    first_move: tuple[int, int] | None = None
    while True:
        for k in range(1, 9):
            d = (back + k) % 8
            nxt = (current[0] + _STEPS[d][0], current[1] + _STEPS[d][1])
            if region[nxt]:
                prev = (d - 1) % 8  # the background pixel examined just before, seen from ``current``
                bg = (current[0] + _STEPS[prev][0], current[1] + _STEPS[prev][1])
                back = _DIRECTION[(bg[0] - nxt[0], bg[1] - nxt[1])]
                break
        else:
            return path  # an isolated pixel
        if current == start and first_move is not None and nxt == first_move:
            break
        if first_move is None:
            first_move = nxt
        path.append(nxt)
        current = nxt
    path.pop()  # the tracing ends back on the start pixel
    return _corners(path)


def _corners(path: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``path`` (a closed pixel chain) without the points where the chain goes straight on."""
    if len(path) < _MIN_POINTS:
        return path
    out = []
    for i, p in enumerate(path):
        before, after = path[i - 1], path[(i + 1) % len(path)]
        if (p[0] - before[0], p[1] - before[1]) != (after[0] - p[0], after[1] - p[1]):
            out.append(p)
    return out or path[:1]
