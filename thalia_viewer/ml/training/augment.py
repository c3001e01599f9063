"""Training augmentations of an input (C, H, W) and its mask (H, W), moved together.

As in the Thalia code (albumentations, same transform for every channel of every time step and the mask):
horizontal and vertical flips, rotations (here by multiples of 90 degrees, which need no interpolation),
Gaussian blur of the input channels only (never the mask), and a random resized crop (input bilinear, mask
nearest, so it stays 0/1). Each transform fires with its own probability; ``rng`` decides everything, so
an item's augmentation is reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Augment:
    """Probabilities and ranges of each transform (defaults: the Thalia code's)."""

    hflip: float = 0.3
    vflip: float = 0.3
    rotate: float = 0.6  # by 90, 180 or 270 degrees
    blur: float = 0.3
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # px
    resized_crop: float = 0.3
    crop_scale: tuple[float, float] = (
        0.5,
        1.0,
    )  # area fraction kept (albumentations' 0.08 would lose most masks)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range

    def __call__(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augmented copies of ``x`` (C, H, W) float32 and ``y`` (H, W) integer mask."""
        if rng.random() < self.resized_crop:
            x, y = resized_crop(x, y, rng, self.crop_scale, self.crop_ratio)
        if rng.random() < self.hflip:
            x, y = x[:, :, ::-1], y[:, ::-1]
        if rng.random() < self.vflip:
            x, y = x[:, ::-1, :], y[::-1, :]
        if rng.random() < self.rotate:
            k = int(rng.integers(1, 4))
            x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k, axes=(0, 1))
        if rng.random() < self.blur:
            x = blur(x, float(rng.uniform(*self.blur_sigma)))
        return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every channel of ``x`` (C, H, W) with ``sigma`` px (channels are not mixed)."""
    return ndimage.gaussian_filter(np.asarray(x, dtype=np.float32), sigma=(0.0, sigma, sigma), mode="reflect")


def resized_crop(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[np.ndarray, np.ndarray]:
    """A random region of ``x`` / ``y`` (area fraction in ``scale``, aspect in ``ratio``) resized back to (H, W)."""
    _, h, w = x.shape
    area = h * w * rng.uniform(*scale)
    aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
    rh = int(np.clip(round(np.sqrt(area / aspect)), 1, h))
    rw = int(np.clip(round(np.sqrt(area * aspect)), 1, w))
    top = int(rng.integers(0, h - rh + 1))
    left = int(rng.integers(0, w - rw + 1))
    sy, sx = rh / h, rw / w
    # output pixel centre o maps to input (o + 0.5) * s - 0.5 + start
    offset = (top + 0.5 * sy - 0.5, left + 0.5 * sx - 0.5)
    xs = ndimage.affine_transform(
        np.asarray(x, dtype=np.float32),
        (1.0, sy, sx),
        offset=(0.0, *offset),
        output_shape=x.shape,
        order=1,
        mode="nearest",
    )
    ys = ndimage.affine_transform(y, (sy, sx), offset=offset, output_shape=y.shape, order=0, mode="nearest")
    return xs, ys
