"""Crop windows: around the deformation with a random offset (positives), anywhere at random (negatives).

The Thalia rule (``crop_around_deformation``): centre on the centre of the bounding box of the target's
deformation pixels, shift by a random offset of up to a quarter crop per axis, clamp so the crop stays in
the frame, and retry (up to :data:`RETRIES` times) until the crop holds a deformation pixel; this module
then falls back to centring on a deformation pixel, so a positive crop always holds one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from ..errors import InputError
from ..inference import DEFAULT_STRIDE
from ..inputs import Window
from .labels import PairMask

RETRIES: Final = 10
STRIDE: Final = DEFAULT_STRIDE  # smp encoders downsample 5 times: crops are multiples of 32 px


def check_crop(crop: int, shape: tuple[int, int], where: str = "") -> int:
    """``crop`` (px) validated against a frame of ``shape`` (rows, cols); :class:`InputError` otherwise."""
    if isinstance(crop, bool) or not isinstance(crop, int | np.integer) or crop < STRIDE or crop % STRIDE:
        msg = f"crop={crop!r} is not a positive multiple of {STRIDE} px."
        raise InputError(msg, "Use e.g. crop=256 or 512 (the benchmark's).")
    if crop > min(shape):
        msg = f"crop={crop} (px) does not fit {where or 'a frame'} of {shape[0]} x {shape[1]} px."
        fit = max(STRIDE, min(shape) // STRIDE * STRIDE)
        raise InputError(msg, f"Use crop={fit} or less.")
    return int(crop)


def union_mask(masks: Sequence[PairMask]) -> tuple[Window | None, np.ndarray]:
    """Bounding box of the union of several pair masks and the (row, col) deformation points of all."""
    boxes = [m.bbox for m in masks if m.bbox is not None]
    points = np.concatenate([m.points for m in masks]) if masks else np.zeros((0, 2), np.int32)
    if not boxes:
        return None, points
    return (
        min(b[0] for b in boxes),
        max(b[1] for b in boxes),
        min(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ), points


def _clamp(centre: float, crop: int, length: int) -> int:
    """Start offset of a crop centred near ``centre`` and inside ``[0, length)``."""
    return int(np.clip(round(centre - crop / 2), 0, length - crop))


def _holds(window: Window, points: np.ndarray) -> bool:
    r0, r1, c0, c1 = window
    if points.size == 0:
        return True
    inside = (points[:, 0] >= r0) & (points[:, 0] < r1) & (points[:, 1] >= c0) & (points[:, 1] < c1)
    return bool(inside.any())


def positive_window(
    shape: tuple[int, int],
    crop: int,
    bbox: Window | None,
    points: np.ndarray,
    rng: np.random.Generator,
    max_offset: int | None = None,
) -> Window:
    """A ``crop`` x ``crop`` window around the deformation of ``bbox`` / ``points`` with a random offset."""
    h, w = shape
    offset = crop // 4 if max_offset is None else max_offset
    if bbox is None:  # labelled positive without pixels: the frame centre, like the benchmark
        cy, cx = h / 2, w / 2
    else:
        cy, cx = (bbox[0] + bbox[1]) / 2, (bbox[2] + bbox[3]) / 2
    window = (0, crop, 0, crop)
    for _ in range(RETRIES):
        dy, dx = rng.integers(-offset, offset + 1, size=2)
        r0, c0 = _clamp(cy + dy, crop, h), _clamp(cx + dx, crop, w)
        window = (r0, r0 + crop, c0, c0 + crop)
        if _holds(window, points):
            return window
    r, c = points[rng.integers(len(points))]  # the offsets kept missing a ring-shaped or scattered mask
    r0, c0 = _clamp(r + 0.5, crop, h), _clamp(c + 0.5, crop, w)
    return r0, r0 + crop, c0, c0 + crop


def random_window(shape: tuple[int, int], crop: int, rng: np.random.Generator) -> Window:
    """A ``crop`` x ``crop`` window anywhere in a frame of ``shape`` (uniform start offsets)."""
    h, w = shape
    r0 = int(rng.integers(0, h - crop + 1))
    c0 = int(rng.integers(0, w - crop + 1))
    return r0, r0 + crop, c0, c0 + crop
