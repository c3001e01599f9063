"""Terrain of a synthetic frame: power-law random fields, a volcano-shaped DEM, slopes, vegetation.

Grids are north-up rasters ``(H, W)``: rows follow the ``north`` vector, columns the ``east`` vector
(metres). Random fields are spectral: white noise shaped in the Fourier domain (``rfft2``, float32 /
complex64, so a 4096 x 4096 field costs about three frame-sized arrays), hence periodic across the frame
edges, which is harmless for terrain and weather textures.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

FFT_WORKERS = -1  # scipy.fft threads: all cores
RELIEF_BETA = 3.2  # 2-D spectral exponent of natural topography (Brownian-like, D(r) ~ r^1.2)
REGIONAL_BETA = 4.0  # smoother spectrum for the regional (tens of km) surface
REGIONAL_FRACTION = 0.4  # std of the regional surface, as a fraction of ``base_m``
FLANK_DECAY = 3.0  # e-foldings of the edifice profile between the crater rim and ``radius_m``
CRATER_DEPTH_RATIO = 0.4  # crater depth / crater radius (bowl-shaped summit craters)
SUMMIT_RELIEF_GAIN = 0.6  # extra roughness on the edifice (gullies, lava flows), fraction of ``relief_m``
TREELINE_WIDTH_M = 250.0  # elevation band over which vegetation fades out at the treeline


def wavenumbers(shape: tuple[int, int], pixel: float | tuple[float, float] = 1.0) -> np.ndarray:
    """|k| (cycles per unit of ``pixel``) on the ``rfft2`` grid of ``shape``: float32 ``(H, W // 2 + 1)``.

    ``pixel`` is the spacing, one value or ``(dy, dx)``; 1 gives cycles per pixel.
    """
    dy, dx = pixel if isinstance(pixel, tuple | list) else (pixel, pixel)
    ky = fft.fftfreq(shape[0], d=abs(float(dy))).astype(np.float32)
    kx = fft.rfftfreq(shape[1], d=abs(float(dx))).astype(np.float32)
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def white_spectrum(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``rfft2`` of unit-variance real white noise: complex64, ``E|X_k|^2 = H * W`` for every mode."""
    return fft.rfft2(rng.standard_normal(shape, dtype=np.float32), workers=FFT_WORKERS)


def shaped_field(spectrum: np.ndarray, amplitude: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Real field ``irfft2(spectrum * amplitude)``, float32 ``shape``.

    With :func:`white_spectrum` noise, the field variance is the mean of ``amplitude**2`` over all modes.
    """
    return fft.irfft2(spectrum * amplitude, s=shape, workers=FFT_WORKERS).astype(np.float32, copy=False)


def fractal_field(
    shape: tuple[int, int],
    beta: float,
    rng: np.random.Generator,
    *,
    outer_scale_px: float | None = None,
    dtype: type[np.floating] = np.float32,
) -> np.ndarray:
    """Zero-mean, unit-std random field with an isotropic 2-D power spectrum ``P(k) ~ k**-beta``.

    ``beta`` 2 is rough (pink), 8/3 Kolmogorov-like turbulence, 3-4 terrain-like. ``outer_scale_px``
    (pixels) flattens the spectrum at wavelengths longer than it: ``P ~ (k**2 + k0**2)**(-beta/2)``,
    so the field is not dominated by a single frame-wide tilt. Seeded by ``rng``.
    """
    k = wavenumbers(shape)
    k0 = 0.0 if outer_scale_px is None else 1.0 / float(outer_scale_px)
    with np.errstate(divide="ignore"):
        amplitude = (k * k + np.float32(k0 * k0)) ** np.float32(-beta / 4.0)
    amplitude[0, 0] = 0.0  # zero mean
    field = shaped_field(white_spectrum(shape, rng), amplitude, shape)
    field -= field.mean(dtype=np.float64)
    std = float(field.std(dtype=np.float64))
    if std > 0:
        field /= std
    return field.astype(dtype, copy=False)


def volcano_dem(
    east: np.ndarray,
    north: np.ndarray,
    *,
    rng: np.random.Generator,
    summit_m: float = 3000.0,
    base_m: float = 300.0,
    radius_m: float = 12_000.0,
    x0: float = 0.0,
    y0: float = 0.0,
    crater_radius_m: float = 500.0,
    relief_m: float = 120.0,
) -> np.ndarray:
    """Elevation (metres, float32 ``(H, W)``) of a stratovolcano on a rolling regional surface.

    ``east`` (length W) and ``north`` (length H) are pixel-centre coordinates in metres; the summit is at
    ``(x0, y0)``. The edifice is concave-up, ``h = (summit - base) * exp(-3 (r - r_c) / (R - r_c))``
    outside the crater rim ``r_c`` (slopes of ~30-35 deg near the rim, a few degrees at ``radius_m`` R),
    with a bowl-shaped crater ``0.4 r_c`` deep; on it and around it lie fractal relief (``relief_m`` rms,
    stronger on the edifice) and a smooth regional surface around ``base_m``. Clipped at 0 (sea level).
    """
    east = np.asarray(east, dtype=np.float32)
    north = np.asarray(north, dtype=np.float32)
    shape = (north.size, east.size)
    height = max(float(summit_m) - float(base_m), 0.0)
    rc = max(float(crater_radius_m), 1.0)
    radius = max(float(radius_m), 2.0 * rc)
    r = np.hypot(east[None, :] - np.float32(x0), north[:, None] - np.float32(y0))
    edifice = np.float32(height) * np.exp(np.float32(-FLANK_DECAY / (radius - rc)) * np.maximum(r - rc, 0))
    depth = min(CRATER_DEPTH_RATIO * rc, 0.3 * height)
    inside = r < rc
    edifice[inside] -= np.float32(depth) * (1.0 - (r[inside] / np.float32(rc)) ** 2)
    del r, inside
    pixel = abs(float(east[1] - east[0])) if east.size > 1 else 100.0
    relief = fractal_field(shape, RELIEF_BETA, rng, outer_scale_px=radius / pixel)
    relief *= np.float32(relief_m) * (
        1.0 + np.float32(SUMMIT_RELIEF_GAIN) * edifice / np.float32(max(height, 1.0))
    )
    dem = edifice
    dem += relief
    del relief
    regional = fractal_field(shape, REGIONAL_BETA, rng)
    dem += np.float32(base_m) * (1.0 + np.float32(REGIONAL_FRACTION) * regional)
    return np.maximum(dem, 0.0, out=dem).astype(np.float32, copy=False)


def slope_deg(dem: np.ndarray, dx_m: float, dy_m: float) -> np.ndarray:
    """Terrain slope (degrees from horizontal, float32) of a DEM with pixel spacings ``dx_m``, ``dy_m``."""
    gy, gx = np.gradient(np.asarray(dem, dtype=np.float32), abs(float(dy_m)), abs(float(dx_m)))
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32, copy=False)


def vegetation_fraction(
    dem: np.ndarray, rng: np.random.Generator, *, treeline_m: float = 2200.0, patchiness: float = 1.5
) -> np.ndarray:
    """Vegetation cover 0-1 (float32): fractal patches of fields and forest, bare above ``treeline_m``.

    A logistic of a ``beta = 3`` fractal field (``patchiness`` sharpens the patches) times a smooth
    treeline step, so the upper flanks and summit of a high volcano (lava, ash, rock) stay bare, as seen
    in C-band coherence. Feed it to :func:`..coherence.coherence` as ``landcover``.
    """
    field = fractal_field(np.shape(dem), 3.0, rng)
    cover = 1.0 / (1.0 + np.exp(-np.float32(patchiness) * field))
    cover *= 1.0 / (
        1.0
        + np.exp((np.asarray(dem, dtype=np.float32) - np.float32(treeline_m)) / np.float32(TREELINE_WIDTH_M))
    )
    return cover.astype(np.float32, copy=False)
