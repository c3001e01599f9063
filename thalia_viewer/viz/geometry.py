"""Map geometry: what part of a frame a plot shows, at what image size, in a plot area of what shape.

Pure functions of extents (lon/lat degrees) and pixel sizes, used by the app's map and usable anywhere
(a notebook, a renderer): the view's visible part of the frame, the aggregate size that view needs (screen
pixels, never more than the native ones), whether images made for one view still serve another (a small
zoom or pan keeps them), and the plot area of a frame's aspect on the ground.
"""

from __future__ import annotations

import math
from typing import Final

from thalia_viewer.viz.shade import Extent

#: Images still serve a view while they have this many of their pixels per screen pixel (the browser
#: stretches them); a zoom-out past twice their pixels makes them again, smaller.
SHARP_ENOUGH: Final = 0.8
MIN_PLOT_PX: Final = 50  # px, a plot area side at least
MIN_COS_LAT: Final = 0.05  # the cosine of the latitude at least (near the poles)

Ranges = tuple[tuple[float, float], tuple[float, float]]  # ((x0, x1), (y0, y1)) of a plot, data units
Geometry = tuple[Extent, tuple[int, int]]  # (view, (width, height) px of its images)


def visible_part(extent: Extent, ranges: Ranges | None) -> Extent | None:
    """The part of a frame (``extent``) inside a plot's ``ranges`` (``None``: the whole frame); ``None`` when
    the plot shows none of it."""
    (x0, x1), (y0, y1) = ranges or ((extent.x0, extent.x1), (extent.y0, extent.y1))
    x0, x1, y0, y1 = max(x0, extent.x0), min(x1, extent.x1), max(y0, extent.y0), min(y1, extent.y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return Extent(x0, x1, y0, y1)


def image_size(
    view: Extent,
    extent: Extent,
    ranges: Ranges | None,
    screen: tuple[int, int],
    native: tuple[int, int],
    max_side: int,
) -> tuple[int, int]:
    """(width, height) px of the images of ``view``: the screen pixels it covers in a ``screen`` = (width,
    height) px plot of ``ranges``, at most the frame's native pixels (``native`` = (rows, cols) over
    ``extent``) and ``max_side``; at least 2."""
    rows, cols = native
    (x0, x1), (y0, y1) = ranges or ((extent.x0, extent.x1), (extent.y0, extent.y1))
    w = screen[0] * (view.x1 - view.x0) / max(x1 - x0, 1e-12)
    h = screen[1] * (view.y1 - view.y0) / max(y1 - y0, 1e-12)
    w = min(w, cols * (view.x1 - view.x0) / (extent.x1 - extent.x0), max_side)
    h = min(h, rows * (view.y1 - view.y0) / (extent.y1 - extent.y0), max_side)
    return max(math.ceil(w), 2), max(math.ceil(h), 2)


def still_sharp(shown: Geometry, wanted: Geometry) -> bool:
    """Whether images made for ``shown`` serve ``wanted``: they cover it, with at least ``SHARP_ENOUGH`` of the
    pixels per map unit it needs (and not more than twice: a zoom-out makes them again, smaller)."""
    (v0, (w0, h0)), (v1, (w1, h1)) = shown, wanted
    tol = 1e-9 * max(abs(v0.x1 - v0.x0), abs(v0.y1 - v0.y0))
    if v1.x0 < v0.x0 - tol or v1.x1 > v0.x1 + tol or v1.y0 < v0.y0 - tol or v1.y1 > v0.y1 + tol:
        return False
    ratio_x = (w0 / (v0.x1 - v0.x0)) / (w1 / (v1.x1 - v1.x0))
    ratio_y = (h0 / (v0.y1 - v0.y0)) / (h1 / (v1.y1 - v1.y0))
    return min(ratio_x, ratio_y) >= SHARP_ENOUGH and max(ratio_x, ratio_y) <= 2.0


def plot_area(extent: Extent, height: int, max_width: int) -> tuple[int, int, float]:
    """(width, height) px of a plot area showing ``extent`` (lon/lat degrees) with its shape on the ground,
    ``height`` px high unless that makes it wider than ``max_width``; and the aspect scale that keeps
    degrees of longitude shorter than degrees of latitude by the cosine of the latitude."""
    cos_lat = max(math.cos(math.radians((extent.y0 + extent.y1) / 2)), MIN_COS_LAT)
    aspect = (extent.x1 - extent.x0) * cos_lat / max(extent.y1 - extent.y0, 1e-12)  # width / height
    w, h = round(height * aspect), height
    if w > max_width:
        w, h = max_width, round(max_width / aspect)
    return max(w, MIN_PLOT_PX), max(h, MIN_PLOT_PX), 1 / cos_lat


def bounds(view: Extent) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of ``view``: an image's outer bounds as the map's browser code takes them."""
    return view.x0, view.y0, view.x1, view.y1
