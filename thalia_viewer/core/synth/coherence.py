"""Interferometric coherence, decorrelation phase noise and orbital ramps of a synthetic pair.

Coherence model (C band, ~100 m multilooked pixels), per pixel::

    gamma = gamma_temporal(dt, v) * gamma_terrain(slope) * texture

* temporal decorrelation (e.g. Rocca 2007; Morishita & Hanssen 2015 for C band):
  ``gamma_inf + (gamma_0 - gamma_inf) exp(-dt / tau)``, with the vegetation fraction ``v`` (0 bare rock /
  lava / urban, 1 fully vegetated) interpolating ``gamma_0`` 0.95 -> 0.75, ``gamma_inf`` 0.50 -> 0.05 and
  ``tau`` 90 -> 10 days (geometrically);
* terrain: layover / foreshortening / shadow on slopes approaching the incidence angle, a logistic drop
  from 1 to 0.1 centred at 0.75 x incidence (4 deg wide); slope magnitude only, both flanks alike;
* texture: a multiplicative log-normal (12 %) rough field (beta = 1), new for every pair (soil moisture,
  small changes, estimator scatter), so coherence maps look speckly.
"""

from __future__ import annotations

import math

import numpy as np

from .terrain import fractal_field

DEFAULT_INCIDENCE_DEG = 39.0  # mid-swath Sentinel-1 IW
DEFAULT_LOOKS = 10  # effective independent looks of a ~100 m LiCSAR pixel (after filtering / oversampling)
GAMMA0_BARE, GAMMA0_VEGETATED = 0.95, 0.75  # coherence at zero temporal baseline
GAMMA_INF_BARE, GAMMA_INF_VEGETATED = 0.50, 0.05  # long-term (persistent) coherence
TAU_BARE_DAYS, TAU_VEGETATED_DAYS = 90.0, 10.0  # temporal decorrelation e-folding time
TERRAIN_FLOOR = 0.1  # coherence left in layover / shadow
TERRAIN_ONSET = 0.75  # slope (fraction of the incidence angle) at which the terrain factor is halfway
TERRAIN_WIDTH_DEG = 4.0
TEXTURE_SIGMA = 0.12  # log-normal spread of the per-pair texture
TEXTURE_BETA = 1.0  # nearly white, a little spatially correlated
MIN_COHERENCE = 1e-3  # below this the phase is uniform noise anyway


def temporal_coherence(baseline_days: float, landcover: np.ndarray | float) -> np.ndarray:
    """Temporal coherence (0-1, float32) after ``baseline_days`` for vegetation fraction ``landcover``."""
    v = np.clip(np.asarray(landcover, dtype=np.float32), 0.0, 1.0)
    gamma0 = GAMMA0_BARE + (GAMMA0_VEGETATED - GAMMA0_BARE) * v
    gamma_inf = GAMMA_INF_BARE + (GAMMA_INF_VEGETATED - GAMMA_INF_BARE) * v
    tau = np.exp(
        np.float32(math.log(TAU_BARE_DAYS)) + np.float32(math.log(TAU_VEGETATED_DAYS / TAU_BARE_DAYS)) * v
    )
    return (gamma_inf + (gamma0 - gamma_inf) * np.exp(-np.float32(abs(baseline_days)) / tau)).astype(
        np.float32
    )


def terrain_coherence(slope_deg: np.ndarray, incidence_deg: float = DEFAULT_INCIDENCE_DEG) -> np.ndarray:
    """Geometric coherence factor (float32): 1 on gentle terrain, ``TERRAIN_FLOOR`` in layover / shadow."""
    onset = np.float32(TERRAIN_ONSET * incidence_deg)
    x = (np.asarray(slope_deg, dtype=np.float32) - onset) / np.float32(TERRAIN_WIDTH_DEG)
    return (TERRAIN_FLOOR + (1.0 - TERRAIN_FLOOR) / (1.0 + np.exp(np.clip(x, -50, 50)))).astype(np.float32)


def coherence(
    slope_deg: np.ndarray,
    baseline_days: float,
    landcover: np.ndarray | float,
    rng: np.random.Generator,
    *,
    incidence_deg: float = DEFAULT_INCIDENCE_DEG,
) -> np.ndarray:
    """Coherence of a pair (0-1, float32, ``slope_deg.shape``); see the module docstring for the model.

    ``slope_deg`` terrain slope (degrees), ``baseline_days`` temporal baseline (days), ``landcover``
    vegetation fraction 0-1 (array or scalar), ``rng`` draws the pair's texture. Pass the result as is to
    :func:`decorrelation_noise`; scale by ``schema.COHERENCE_SCALE`` to store it.
    """
    slope = np.asarray(slope_deg, dtype=np.float32)
    gamma = temporal_coherence(baseline_days, landcover) * terrain_coherence(slope, incidence_deg)
    texture = fractal_field(slope.shape, TEXTURE_BETA, rng)
    texture *= np.float32(TEXTURE_SIGMA)
    gamma *= np.exp(texture - np.float32(TEXTURE_SIGMA**2 / 2))
    return np.clip(gamma, 0.0, 1.0, out=gamma)


def phase_std(coherence: np.ndarray | float, looks: float = DEFAULT_LOOKS) -> np.ndarray:
    """Cramér-Rao std of the interferometric phase, radians: ``sqrt(1 - g^2) / (g sqrt(2 L))``.

    (Rodriguez & Martin 1992; Hanssen 2001 eq. 4.2.27.) Accurate for high coherence and many looks; it
    underestimates the true std at low coherence, where the phase tends to uniform (std pi / sqrt 3).
    """
    gamma = np.clip(np.asarray(coherence, dtype=np.float32), MIN_COHERENCE, 1.0)
    return np.sqrt(1.0 - gamma * gamma) / (gamma * np.float32(math.sqrt(2.0 * looks)))


def decorrelation_noise(
    coherence: np.ndarray, rng: np.random.Generator, *, looks: float = DEFAULT_LOOKS
) -> np.ndarray:
    """Decorrelation phase noise, radians in [-pi, pi) (float32), for coherence 0-1 and ``looks`` looks.

    A wrapped normal with the Cramér-Rao std of :func:`phase_std`: that std for high coherence, tending to
    uniform noise (std pi / sqrt 3) as coherence goes to 0. Spatially white.
    """
    values = np.asarray(coherence, dtype=np.float32)
    if values.size and float(np.nanmax(values)) > 1.0 + 1e-6:
        msg = "decorrelation_noise expects coherence in 0-1; divide 0-255 coherence by schema.COHERENCE_SCALE"
        raise ValueError(msg)
    noise = rng.standard_normal(values.shape, dtype=np.float32)
    noise *= phase_std(np.nan_to_num(values, nan=0.0), looks)
    return (np.mod(noise + np.float32(np.pi), np.float32(2 * np.pi)) - np.float32(np.pi)).astype(np.float32)


def orbital_ramp(
    east: np.ndarray,
    north: np.ndarray,
    rng: np.random.Generator,
    *,
    max_fringes: float,
    quadratic: float = 0.2,
) -> tuple[np.ndarray, float]:
    """Phase ramp of a residual orbit error, radians (float32 ``(H, W)``), and its fringe count.

    A plane of random azimuth plus a weak random quadratic term (relative weight up to ``quadratic``),
    zero-mean, scaled so that its peak-to-peak is ``fringes * 2 pi`` with ``fringes`` drawn uniformly in
    ``[0, max_fringes]``; returns ``(ramp, fringes)``. ``east`` (W) and ``north`` (H) in metres.
    """
    east = np.asarray(east, dtype=np.float64)
    north = np.asarray(north, dtype=np.float64)
    fringes = float(rng.uniform(0.0, max(max_fringes, 0.0)))
    azimuth = rng.uniform(0.0, 2.0 * math.pi)
    curvature = rng.uniform(-quadratic, quadratic)
    extent = max(float(np.ptp(east)), float(np.ptp(north)), 1.0)
    u = ((east - east.mean()) / extent).astype(np.float32)
    v = ((north - north.mean()) / extent).astype(np.float32)
    ramp = np.float32(math.cos(azimuth)) * u[None, :] + np.float32(math.sin(azimuth)) * v[:, None]
    ramp += np.float32(curvature) * (u[None, :] ** 2 + v[:, None] ** 2)
    span = float(ramp.max() - ramp.min())
    if fringes == 0.0 or span == 0.0:
        return np.zeros((north.size, east.size), np.float32), 0.0
    ramp -= ramp.mean(dtype=np.float64)
    ramp *= np.float32(2.0 * math.pi * fringes / span)
    return ramp.astype(np.float32, copy=False), fringes
