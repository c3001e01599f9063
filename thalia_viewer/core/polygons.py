"""One polygon per pattern: the outline of a pattern's pixels, simplified, as Hephaestus records hold them.

Outlines run along pixel edges (marching squares at level 0.5, ``contourpy``), so that rasterising the
polygon back with the centre-inside rule (``core.editing.footprints.polygon_footprint``) gives the pixels
again. A Hephaestus record has one polygon per pattern: a pattern in several pieces is joined by closing
the gaps between them (up to the pattern gap), else only its largest piece is outlined.
"""

from __future__ import annotations

from typing import Final, cast

import contourpy
import numpy as np
from scipy import ndimage

_EIGHT_CONNECTED: Final = np.ones((3, 3), bool)
#: Pieces of a pattern farther apart than twice this (px) are not joined; the largest piece is outlined.
JOIN_PX: Final = 8


def _one_piece(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its pieces joined by closing (up to :data:`JOIN_PX`), else its largest piece."""
    labels, n = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if n <= 1:
        return mask
    padded = np.pad(mask, JOIN_PX + 1)
    for radius in range(1, JOIN_PX + 1):
        closed = ndimage.binary_closing(padded, structure=_EIGHT_CONNECTED, iterations=radius)
        closed = closed[JOIN_PX + 1 : -(JOIN_PX + 1), JOIN_PX + 1 : -(JOIN_PX + 1)] | mask
        labels, n = ndimage.label(closed, structure=_EIGHT_CONNECTED)
        if n == 1:
            return closed
    labels, _ = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def _area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def outline(mask: np.ndarray) -> np.ndarray | None:
    """The outer outline of the pixels of ``mask`` as an ``(N, 2)`` array of ``(row, col)`` (pixel centres at
    integers, vertices on pixel edges, not closed: the last vertex is not the first); ``None`` when empty."""
    mask = np.asarray(mask, bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    r0, c0 = int(rows[0]), int(cols[0])
    piece = _one_piece(mask[r0 : int(rows[-1]) + 1, c0 : int(cols[-1]) + 1])
    z = np.pad(piece, 1).astype(np.float64)
    # line_type "Separate": a list of (N, 2) arrays (contourpy types the result as any of its line types)
    lines = cast("list[np.ndarray]", contourpy.contour_generator(z=z, line_type="Separate").lines(0.5))
    if not lines:
        return None
    best = max(lines, key=lambda xy: abs(_area(xy)))  # the outer ring: holes are inner rings
    xy = best[:-1] if len(best) > 1 and np.array_equal(best[0], best[-1]) else best
    return np.column_stack([xy[:, 1] - 1 + r0, xy[:, 0] - 1 + c0])


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker simplification of a closed ring ``points`` (``(N, 2)``), within ``tolerance``."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) <= 4 or tolerance <= 0:
        return pts
    far = int(np.argmax(((pts - pts[0]) ** 2).sum(axis=1)))  # split the ring at two far-apart vertices
    keep = np.zeros(len(pts), bool)
    keep[[0, far]] = True
    ring = np.vstack([pts, pts[:1]])
    stack = [(0, far), (far, len(pts))]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = ring[b] - ring[a]
        rel = ring[a + 1 : b] - ring[a]
        length = float(np.hypot(*seg))
        if length == 0:
            dist = np.hypot(rel[:, 0], rel[:, 1])
        else:
            dist = np.abs(rel[:, 0] * seg[1] - rel[:, 1] * seg[0]) / length
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            keep[a + 1 + k] = True
            stack += [(a, a + 1 + k), (a + 1 + k, b)]
    out = pts[keep]
    return out if len(out) >= 3 else pts


def flat(xy: np.ndarray, decimals: int = 2) -> list[float]:
    """``(N, 2)`` ``(x, y)`` vertices as the flat ``[x0, y0, x1, y1, ...]`` list of a record, rounded."""
    return [round(float(v), decimals) for v in np.asarray(xy, dtype=np.float64).ravel()]
