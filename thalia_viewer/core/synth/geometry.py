"""Satellite geometry and interferometric phase for synthetic interferograms (numpy only).

Conventions used throughout the synthetic generator:

* Local coordinates are ``east``, ``north``, ``up`` in metres.
* The line-of-sight (LOS) unit vector points **from the ground to the satellite**; a LOS displacement is
  positive for ground motion **towards the satellite** (e.g. uplift).
* Interferometric phase is ``4*pi/lambda * range change`` (radians) and the range change is minus the LOS
  displacement, so ``phase = -4*pi/lambda * los``: uplift gives negative phase, one fringe (2*pi) is
  ``lambda/2`` (2.77 cm for Sentinel-1) of LOS motion. This is the LiCSAR / LiCSBAS convention.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .. import schema

#: WGS84 mean radius R1 = (2a + b) / 3, metres.
EARTH_MEAN_RADIUS_M = 6_371_008.7714
#: Typical Sentinel-1 headings (flight azimuth, degrees clockwise from north).
S1_HEADING_DEG = {"A": -12.0, "D": -168.0}


def lonlat_to_metres(
    lon: ArrayLike, lat: ArrayLike, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (metres) of ``lon``, ``lat`` (degrees) from the origin ``lon0``, ``lat0``.

    Local equirectangular projection on a sphere of the WGS84 mean radius, ``cos(lat0)`` fixed at the
    origin. Accuracy: the spherical radius misses the ellipsoid's local radii of curvature by up to ~0.5 %
    (scale error), and the fixed ``cos(lat0)`` adds a relative east error of about ``dlat * tan(lat0)``
    (0.3 % for 0.2 deg at 38 deg latitude). For a frame of a few tens of km that is tens of metres, below
    one 100 m pixel, which is ample for placing deformation sources; it is not a geodetic projection.
    """
    dlon = (np.asarray(lon, dtype=np.float64) - lon0 + 180.0) % 360.0 - 180.0  # across the antimeridian
    dlat = np.asarray(lat, dtype=np.float64) - lat0
    east = EARTH_MEAN_RADIUS_M * np.deg2rad(dlon) * math.cos(math.radians(lat0))
    north = EARTH_MEAN_RADIUS_M * np.deg2rad(dlat)
    return east, north


def frame_direction(frame_id: str) -> Literal["A", "D"]:
    """Pass direction of a LiCSAR frame id: ``A`` (ascending) or ``D`` (descending), its 4th character.

    ``124D_05291_081406`` -> ``D``; ``144A_SM_REUN_S6`` -> ``A``.
    """
    if not isinstance(frame_id, str) or not schema.FRAME_ID_PATTERN.match(frame_id):
        msg = (
            f"{frame_id!r} is not a LiCSAR frame id; expected a track number, A or D and the frame "
            "numbers, e.g. '124D_05291_081406' or '144A_SM_REUN_S6'"
        )
        raise ValueError(msg)
    return "A" if frame_id[3] == "A" else "D"


def los_unit_vector(direction: str, incidence_deg: float, heading_deg: float | None = None) -> np.ndarray:
    """East, north, up components of the unit vector from the ground to a right-looking satellite.

    ``direction`` is ``A`` or ``D``; ``incidence_deg`` the incidence angle from the vertical (0-90);
    ``heading_deg`` the flight azimuth clockwise from north (default -12 deg ascending, -168 deg = 192 deg
    descending, typical of Sentinel-1). The radar looks to the right of the track (azimuth
    ``heading + 90``), so the satellite is seen from the ground at azimuth ``heading - 90``:
    ``(-sin(inc) cos(h), sin(inc) sin(h), cos(inc))``. Ascending: satellite to the west (east component
    < 0); descending: to the east.
    """
    if direction not in S1_HEADING_DEG:
        msg = f"pass direction must be 'A' (ascending) or 'D' (descending), got {direction!r}"
        raise ValueError(msg)
    if not 0.0 <= incidence_deg < 90.0:
        msg = f"incidence angle must be in [0, 90) degrees, got {incidence_deg}"
        raise ValueError(msg)
    heading = math.radians(S1_HEADING_DEG[direction] if heading_deg is None else heading_deg)
    inc = math.radians(incidence_deg)
    return np.array([-math.sin(inc) * math.cos(heading), math.sin(inc) * math.sin(heading), math.cos(inc)])


def los_displacement(ue: ArrayLike, un: ArrayLike, uz: ArrayLike, los: ArrayLike) -> np.ndarray:
    """LOS displacement (metres, positive towards the satellite) of an east/north/up displacement field."""
    e, n, u = np.asarray(los, dtype=np.float64)
    return (
        np.asarray(ue, dtype=np.float64) * e
        + np.asarray(un, dtype=np.float64) * n
        + np.asarray(uz, dtype=np.float64) * u
    )


def displacement_to_phase(los_m: ArrayLike) -> np.ndarray:
    """Unwrapped interferometric phase (radians) of a LOS displacement (metres, positive towards satellite).

    ``phase = 4*pi/lambda * range_change`` with ``range_change = -los``, i.e. ``-4*pi/lambda * los``:
    motion towards the satellite shortens the range and gives negative phase; ``lambda/2`` of LOS
    motion is one fringe (2*pi). ``lambda`` is the Sentinel-1 C-band wavelength of the schema.
    """
    return -4.0 * np.pi / schema.S1_WAVELENGTH_M * np.asarray(los_m, dtype=np.float64)


def wrap(phase: ArrayLike) -> np.ndarray:
    """Phase (radians) wrapped into [-pi, pi)."""
    out = np.mod(np.asarray(phase, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi
    return np.where(out >= np.pi, out - 2.0 * np.pi, out)  # mod can round up to exactly 2*pi


def fringe_count(phase_unwrapped: ArrayLike) -> float:
    """Number of 2*pi cycles between the minimum and maximum of an unwrapped phase field (NaN ignored)."""
    values = np.asarray(phase_unwrapped, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0
    return float((finite.max() - finite.min()) / (2.0 * np.pi))
