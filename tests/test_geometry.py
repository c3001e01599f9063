"""Map geometry (``viz.geometry``): the visible part of a frame, image sizes, when images still serve a view,
plot areas of a frame's shape on the ground."""

from __future__ import annotations

import math

import pytest

from thalia_viewer.viz.geometry import (
    MIN_PLOT_PX,
    bounds,
    image_size,
    plot_area,
    still_sharp,
    visible_part,
)
from thalia_viewer.viz.shade import Extent

FRAME = Extent(10.0, 14.0, 40.0, 42.0)  # 4 x 2 degrees
NATIVE = (2000, 4000)  # rows, cols: 1 mdeg pixels


def test_the_visible_part_is_the_plot_clipped_to_the_frame():
    assert visible_part(FRAME, None) == FRAME
    assert visible_part(FRAME, ((9.0, 11.0), (41.0, 43.0))) == Extent(10.0, 11.0, 41.0, 42.0)
    assert visible_part(FRAME, ((20.0, 21.0), (41.0, 43.0))) is None  # the plot misses the frame


def test_images_take_the_screen_pixels_of_the_view_never_more_than_native_or_the_cap():
    assert image_size(FRAME, FRAME, None, (800, 400), NATIVE, 2400) == (800, 400)
    corner = Extent(10.0, 10.1, 40.0, 40.05)  # 100 x 50 native px shown on a whole 800 x 400 plot
    ranges = ((10.0, 10.1), (40.0, 40.05))
    assert image_size(corner, FRAME, ranges, (800, 400), NATIVE, 2400) == (100, 50)
    half = Extent(10.0, 12.0, 40.0, 42.0)  # the left half of a plot showing the frame and more on the right
    assert image_size(half, FRAME, ((10.0, 18.0), (40.0, 42.0)), (800, 200), NATIVE, 2400) == (200, 200)
    assert image_size(FRAME, FRAME, None, (8000, 4000), NATIVE, 1000) == (1000, 1000)
    assert image_size(Extent(10.0, 10.0001, 40.0, 40.0001), FRAME, None, (10, 10), NATIVE, 50) == (2, 2)


def test_images_serve_a_view_they_cover_sharp_enough_and_not_far_too_sharp():
    shown = (FRAME, (800, 400))
    assert still_sharp(shown, shown)
    inner = Extent(10.5, 13.5, 40.25, 41.75)  # zoomed in by 4/3: 200 px a degree where 233 are needed
    assert still_sharp(shown, (inner, (700, 350)))
    assert not still_sharp(shown, (Extent(10.5, 11.5, 40.5, 41.0), (800, 400)))  # 4x zoom: too coarse
    assert not still_sharp(shown, (Extent(9.0, 13.0, 40.0, 42.0), (800, 400)))  # leaves the images
    assert not still_sharp((FRAME, (800, 400)), (FRAME, (300, 150)))  # a far smaller view: made again


def test_the_plot_area_has_the_frames_shape_on_the_ground():
    w, h, scale = plot_area(FRAME, 400, 2000)
    cos_lat = math.cos(math.radians(41.0))
    assert h == 400 and w == round(400 * 4 * cos_lat / 2) and scale == pytest.approx(1 / cos_lat)
    w, h, _ = plot_area(FRAME, 400, 500)  # too wide: the width caps, the height follows
    assert w == 500 and h == round(500 / (4 * cos_lat / 2))
    assert plot_area(Extent(0.0, 0.001, 0.0, 10.0), 400, 1000)[0] == MIN_PLOT_PX
    assert plot_area(Extent(0.0, 1.0, 89.9, 90.0), 400, 1000)[2] == pytest.approx(20.0)  # near the pole
    assert bounds(FRAME) == (10.0, 40.0, 14.0, 42.0)
