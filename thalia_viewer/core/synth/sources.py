"""Analytic deformation sources in an elastic half-space: surface displacement (numpy only).

Every source takes observation coordinates ``east``, ``north`` (metres, any broadcastable shapes) and
returns ``(ue, un, uz)``: east, north and up displacement of the free surface, metres, float64, the
broadcast shape of the inputs. Source positions ``x0``, ``y0`` are in the same local frame (metres);
depths are positive down (metres); ``nu`` is Poisson's ratio (0.25 = Poisson solid, lambda = mu).
Singular points (e.g. directly above the edge of a surface-breaking fault) give finite values, never NaN
or a floating-point warning.

References: Mogi (1958) Bull. Earthq. Res. Inst. 36; Okada (1985) BSSA 75(4) 1135-1154; Fialko, Khazan &
Simons (2001) GJI 146 181-190 (sills); Yang, Davis & Dieterich (1988) JGR 93(B5) 4249-4257 (spheroids).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

Displacement = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Below this cos(dip) (dip within 0.0017 deg of 90) the vertical-fault formulas of Okada (1985, eq. 29)
#: are used: their error grows as ~0.13 cos(dip) while round-off in the general ones (O(1/cos^2) terms that
#: cancel) grows as ~3e-15 / cos(dip)^2; they cross near 3e-5, at a relative error of a few 1e-6.
_COS_DIP_VERTICAL = 3e-5
#: Default number of point sources along a spheroid's major axis.
SPHEROID_POINTS = 24
#: Points per block in the blockwise sources (their temporaries stay in cache: ~3x faster on large grids).
_BLOCK = 32_768


def _xy(east: ArrayLike, north: ArrayLike, x0: float, y0: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the observation points from a source position, broadcast, float64 (metres)."""
    de, dn = np.broadcast_arrays(
        np.asarray(east, dtype=np.float64) - x0, np.asarray(north, dtype=np.float64) - y0
    )
    return de, dn


def _blockwise(
    kernel: Callable[[np.ndarray, np.ndarray], Displacement], de: np.ndarray, dn: np.ndarray
) -> Displacement:
    """``kernel(de, dn)`` evaluated over flat blocks of the (broadcast) offsets, reassembled to their shape."""
    flat_e, flat_n = de.ravel(), dn.ravel()
    out = np.empty((3, flat_e.size))
    for start in range(0, flat_e.size, _BLOCK):
        block = slice(start, start + _BLOCK)
        out[:, block] = kernel(flat_e[block], flat_n[block])
    ue, un, uz = (component.reshape(de.shape) for component in out)
    return ue, un, uz


def _positive(**values: float) -> None:
    """Raise a ValueError naming the first parameter that is not a positive finite number."""
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            msg = f"{name} must be a positive number of metres, got {value}"
            raise ValueError(msg)


# ------------------------------------------------------------------------------------------------ Mogi
def mogi(
    east: ArrayLike, north: ArrayLike, *, x0: float, y0: float, depth: float, dvolume: float, nu: float = 0.25
) -> Displacement:
    """Surface displacement (m) of a Mogi point pressure source (Mogi 1958).

    ``depth`` (m, > 0) below ``x0``, ``y0``; ``dvolume`` the source volume change (m^3, > 0 inflation).
    ``u_h = (1 - nu) dV / pi * r / R^3`` radially, ``uz = (1 - nu) dV / pi * depth / R^3`` with
    ``R^2 = r^2 + depth^2``; peak uplift ``(1 - nu) dV / (pi depth^2)`` above the source.
    """
    _positive(depth=depth)
    de, dn = _xy(east, north, x0, y0)
    r2 = de * de + dn * dn + depth * depth
    scale = (1.0 - nu) * dvolume / np.pi / (r2 * np.sqrt(r2))
    return scale * de, scale * dn, scale * depth


# ----------------------------------------------------------------------------------------------- Okada
def _inv(a: np.ndarray) -> np.ndarray:
    """1 / a, and 0 where a == 0 (Okada's rule for vanishing denominators)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a != 0.0, 1.0 / a, 0.0)


def _r_plus(r: np.ndarray, s: np.ndarray, rest2: np.ndarray) -> np.ndarray:
    """``R + s`` without cancellation: ``rest2 / (R - s)`` when s < 0 (``rest2 = R^2 - s^2``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s >= 0.0, r + s, rest2 / (r - s))


def _log_r_plus(r_plus: np.ndarray, r: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``ln(R + s)``, replaced by ``-ln(R - s)`` where ``R + s`` vanishes (Okada 1985, singularity iii)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r_plus > 0.0, np.log(np.where(r_plus > 0.0, r_plus, 1.0)), -np.log(r - s))


def _okada_corner(
    xi: np.ndarray, eta: np.ndarray, q: np.ndarray, dip: float, nu: float, u1: float, u2: float, u3: float
) -> Displacement:
    """One corner term of Okada (1985) eqs. (25)-(29) in fault coordinates, slips included.

    ``xi``, ``eta``: Chinnery variables along strike and up dip (m); ``q`` (eq. 30) the distance from the
    fault plane. Returns ``(ux, uy, uz)``, x along strike, y to the left of it (the fault dips to the right).
    """
    sd, cd = math.sin(dip), math.cos(dip)
    a = 1.0 - 2.0 * nu  # mu / (lambda + mu)
    xi2, eta2, q2 = xi * xi, eta * eta, q * q
    r = np.sqrt(xi2 + eta2 + q2)
    yb = eta * cd + q * sd  # y-tilde
    db = eta * sd - q * cd  # d-tilde
    r_eta = _r_plus(r, eta, xi2 + q2)
    r_xi = _r_plus(r, xi, eta2 + q2)
    r_db = _r_plus(r, db, xi2 + yb * yb)
    ln_r_eta = _log_r_plus(r_eta, r, eta)
    inv_r_db = _inv(r_db)
    inv_rr_eta = _inv(r * r_eta)  # 1 / (R (R + eta)), 0 where R + eta = 0
    inv_rr_xi = _inv(r * r_xi)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(q != 0.0, np.arctan(xi * eta * _inv(q * r)), 0.0)  # tan^-1(xi eta / (q R))
        if cd > _COS_DIP_VERTICAL:
            x = np.sqrt(xi2 + q2)
            i5 = np.where(
                xi != 0.0,
                a * 2.0 / cd * np.arctan((eta * (x + q * cd) + x * (r + x) * sd) * _inv(xi * (r + x) * cd)),
                0.0,
            )
            i4 = a / cd * (_log_r_plus(r_db, r, db) - sd * ln_r_eta)
            i3 = a * (yb / cd * inv_r_db - ln_r_eta) + sd / cd * i4
            i1 = -a / cd * xi * inv_r_db - sd / cd * i5
        else:  # cos(dip) = 0, eq. (29)
            i1 = -0.5 * a * xi * q * inv_r_db**2
            i3 = 0.5 * a * (eta * inv_r_db + yb * q * inv_r_db**2 - ln_r_eta)
            i4 = -a * q * inv_r_db
            i5 = -a * xi * sd * inv_r_db
        i2 = -a * ln_r_eta - i3
        ux = np.zeros_like(r)
        uy = np.zeros_like(r)
        uz = np.zeros_like(r)
        if u1:  # strike slip, eq. (25)
            c = -u1 / (2.0 * np.pi)
            ux += c * (xi * q * inv_rr_eta + theta + i1 * sd)
            uy += c * (yb * q * inv_rr_eta + q * cd * _inv(r_eta) + i2 * sd)
            uz += c * (db * q * inv_rr_eta + q * sd * _inv(r_eta) + i4 * sd)
        if u2:  # dip slip, eq. (26)
            c = -u2 / (2.0 * np.pi)
            ux += c * (q * _inv(r) - i3 * sd * cd)
            uy += c * (yb * q * inv_rr_xi + cd * theta - i1 * sd * cd)
            uz += c * (db * q * inv_rr_xi + sd * theta - i5 * sd * cd)
        if u3:  # tensile, eq. (27)
            c = u3 / (2.0 * np.pi)
            ux += c * (q2 * inv_rr_eta - i3 * sd * sd)
            uy += c * (-db * q * inv_rr_xi - sd * (xi * q * inv_rr_eta - theta) - i1 * sd * sd)
            uz += c * (yb * q * inv_rr_xi + cd * (xi * q * inv_rr_eta - theta) - i5 * sd * sd)
    return ux, uy, uz


def okada(
    east: ArrayLike,
    north: ArrayLike,
    *,
    x0: float,
    y0: float,
    depth: float,
    strike_deg: float,
    dip_deg: float,
    length: float,
    width: float,
    rake_deg: float = 0.0,
    slip: float = 0.0,
    opening: float = 0.0,
    nu: float = 0.25,
) -> Displacement:
    """Surface displacement (m) of a finite rectangular dislocation in a half-space (Okada 1985).

    Geometry: centroid at ``depth`` (m, positive down) below ``x0``, ``y0``; ``strike_deg`` clockwise from
    north, the fault dipping to the right of the strike direction at ``dip_deg`` (0 horizontal to 90
    vertical); ``length`` along strike and ``width`` down dip (m); its top edge must not be above the
    surface. Dislocation (m): ``slip`` in the ``rake_deg`` direction (Aki & Richards: the hanging wall's
    motion (the block right of strike) measured from the strike; 0 left-lateral, 180 right-lateral,
    90 reverse, -90 normal) and
    ``opening`` (tensile, > 0 opening). Closed-form Chinnery sums of Okada (1985) eqs. (25)-(30), with the
    cos(dip) = 0 forms of eq. (29) and the paper's rules at singular points (same parametrisation as
    F. Beauducel's ``okada85``). Checked against the paper's Table 2.
    """
    _positive(length=length, width=width)
    if not 0.0 <= dip_deg <= 90.0:
        msg = f"dip must be between 0 and 90 degrees (the fault dips to the right of strike), got {dip_deg}"
        raise ValueError(msg)
    dip, strike, rake = math.radians(dip_deg), math.radians(strike_deg), math.radians(rake_deg)
    sd, cd = math.sin(dip), math.cos(dip)
    top = depth - 0.5 * width * sd
    if not top >= -1e-9 * width:
        msg = f"fault top edge is {-top:.1f} m above the surface (centroid depth {depth} m, width {width} m, dip {dip_deg} deg)"
        raise ValueError(msg)
    ss, cs = math.sin(strike), math.cos(strike)
    d = depth + 0.5 * width * sd  # depth of the bottom edge
    u1, u2 = slip * math.cos(rake), slip * math.sin(rake)

    def kernel(de: np.ndarray, dn: np.ndarray) -> Displacement:
        # Okada's frame: origin below the bottom edge's end, x along strike, y to the left of strike
        x = de * ss + dn * cs + 0.5 * length
        y = -de * cs + dn * ss + 0.5 * width * cd
        p = y * cd + d * sd
        q = y * sd - d * cd
        ux, uy, uz = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
        for xi, eta, sign in (
            (x, p, 1.0),
            (x, p - width, -1.0),
            (x - length, p, -1.0),
            (x - length, p - width, 1.0),
        ):
            cx, cy, cz = _okada_corner(xi, eta, q, dip, nu, u1, u2, opening)
            ux += sign * cx
            uy += sign * cy
            uz += sign * cz
        ue, un = ss * ux - cs * uy, cs * ux + ss * uy
        # last resort (0) at the exact tip of a surface-breaking edge, where the solution itself is singular
        ue, un, uz = (np.where(np.isfinite(u), u, 0.0) for u in (ue, un, uz))
        return ue, un, uz

    return _blockwise(kernel, *_xy(east, north, x0, y0))


def dyke(
    east: ArrayLike,
    north: ArrayLike,
    *,
    x0: float,
    y0: float,
    top: float,
    height: float,
    length: float,
    strike_deg: float,
    opening: float,
    dip_deg: float = 90.0,
    nu: float = 0.25,
) -> Displacement:
    """Surface displacement (m) of a dyke: a (near-)vertical tensile Okada dislocation (Okada 1985).

    ``x0``, ``y0``: surface projection of the centre of the dyke's top edge (m); ``top``: depth of that
    edge (m, >= 0); ``height``: extent down dip (m; the vertical extent when ``dip_deg`` = 90, handled by
    the cos(dip) = 0 formulas); ``length`` along ``strike_deg`` (m); ``opening`` (m, > 0 opening). A
    dipping dyke dips to the right of its strike. Uplift on both sides of the plane, a trough above it.
    """
    _positive(height=height, length=length)
    if top < 0:
        msg = f"dyke top depth must be >= 0 m, got {top}"
        raise ValueError(msg)
    dip, strike = math.radians(dip_deg), math.radians(strike_deg)
    offset = 0.5 * height * math.cos(dip)  # centroid's horizontal offset towards the dip direction
    return okada(
        east,
        north,
        x0=x0 + offset * math.cos(strike),
        y0=y0 - offset * math.sin(strike),
        depth=top + 0.5 * height * math.sin(dip),
        strike_deg=strike_deg,
        dip_deg=dip_deg,
        length=length,
        width=height,
        opening=opening,
        nu=nu,
    )


def fault_slip(
    east: ArrayLike,
    north: ArrayLike,
    *,
    x0: float,
    y0: float,
    depth: float,
    strike_deg: float,
    dip_deg: float,
    length: float,
    width: float,
    rake_deg: float,
    slip: float,
    nu: float = 0.25,
) -> Displacement:
    """Surface displacement (m) of an earthquake: slip on a rectangular fault (Okada 1985).

    Same geometry as :func:`okada` (centroid ``depth`` below ``x0``, ``y0``; metres and degrees); ``slip``
    (m) in the ``rake_deg`` direction (0 left-lateral, 180 right-lateral, 90 reverse, -90 normal).
    """
    return okada(
        east,
        north,
        x0=x0,
        y0=y0,
        depth=depth,
        strike_deg=strike_deg,
        dip_deg=dip_deg,
        length=length,
        width=width,
        rake_deg=rake_deg,
        slip=slip,
        nu=nu,
    )


earthquake = fault_slip


def sill(
    east: ArrayLike,
    north: ArrayLike,
    *,
    x0: float,
    y0: float,
    depth: float,
    radius: float,
    opening: float,
    nu: float = 0.25,
) -> Displacement:
    """Surface displacement (m) of a sill: a horizontal penny-shaped crack, approximated.

    The circular crack of ``radius`` (m) at ``depth`` (m) below ``x0``, ``y0``, with uniform ``opening``
    (m, > 0 inflation), is replaced by a horizontal tensile Okada (1985) square of equal area (side
    ``radius * sqrt(pi)``) and equal volume. The uplift volume at the surface equals the crack volume.
    Validity: for ``depth >> radius`` both tend to the point tensile crack
    (``uz = 3 dV depth^3 / (2 pi R^5)``, independent of ``nu``). Against a uniform-opening disc (point
    cracks integrated over it) the square is within 1 % for ``radius / depth <= 0.5``, within ~10 % at 1,
    and its corners show (20-50 %) beyond 2. A real sill is a pressurised crack whose opening is not
    uniform and interacts with the free surface when shallow, which makes the uplift over it broader and
    flatter (Fialko et al. 2001): the pattern here is right to first order, the pressure / opening
    relation is not modelled.
    """
    _positive(depth=depth, radius=radius)
    side = radius * math.sqrt(math.pi)
    return okada(
        east,
        north,
        x0=x0,
        y0=y0,
        depth=depth,
        strike_deg=0.0,
        dip_deg=0.0,
        length=side,
        width=side,
        opening=opening,
        nu=nu,
    )


def prolate_spheroid(
    east: ArrayLike,
    north: ArrayLike,
    *,
    x0: float,
    y0: float,
    depth: float,
    semi_major: float,
    semi_minor: float,
    dvolume: float,
    plunge_deg: float = 90.0,
    azimuth_deg: float = 0.0,
    nu: float = 0.25,
    n: int = SPHEROID_POINTS,
) -> Displacement:
    """Surface displacement (m) of a pressurised prolate spheroid, approximated by Mogi sources on its axis.

    Centre at ``depth`` (m) below ``x0``, ``y0``; ``semi_major`` / ``semi_minor`` axes (m); the major axis
    plunges ``plunge_deg`` below the horizontal (90 = vertical, a pipe-like body) towards ``azimuth_deg``
    (clockwise from north); ``dvolume`` (m^3) is the total volume change. The volume is spread over ``n``
    Mogi point sources at the midpoints of ``n`` equal segments of the major axis, each weighted by the
    spheroid's cross-section there (``1 - s^2 / a^2``), in the spirit of Yang et al. (1988), who integrate
    centres of dilatation and double forces along the axis; the double forces (the deviatoric part) are
    left out, so the pattern is right to first order and exact in the far field (a single Mogi of the same
    volume), while the pressure / volume relation is not modelled. A vertical spheroid is axisymmetric and
    its uplift is narrower and higher than a Mogi source of the same volume at its centre (its shallow
    part dominates): +2 % at the peak for ``a / depth = 0.2``, +11 % for 0.4, +30 % for 0.6; beyond about
    ten depths the two agree within 1 %.
    """
    _positive(depth=depth, semi_major=semi_major, semi_minor=semi_minor)
    if semi_minor > semi_major:
        msg = (
            f"semi_minor ({semi_minor} m) must not exceed semi_major ({semi_major} m) for a prolate spheroid"
        )
        raise ValueError(msg)
    if n < 1:
        msg = f"n (number of point sources) must be at least 1, got {n}"
        raise ValueError(msg)
    plunge, azimuth = math.radians(plunge_deg), math.radians(azimuth_deg)
    top = depth - math.hypot(semi_major * math.sin(plunge), semi_minor * math.cos(plunge))
    if top <= 0:
        msg = (
            f"spheroid reaches the surface (top at {-top:.0f} m above it): depth {depth} m, "
            f"semi-axes {semi_major} / {semi_minor} m, plunge {plunge_deg} deg"
        )
        raise ValueError(msg)
    s = semi_major * (2.0 * (np.arange(n) + 0.5) / n - 1.0)  # along the axis, > 0 deeper (down-plunge)
    weights = 1.0 - (s / semi_major) ** 2
    weights /= weights.sum()
    points = list(
        zip(
            s * math.cos(plunge) * math.sin(azimuth),
            s * math.cos(plunge) * math.cos(azimuth),
            depth + s * math.sin(plunge),
            dvolume * weights,
            strict=True,
        )
    )

    def kernel(de: np.ndarray, dn: np.ndarray) -> Displacement:
        ue, un, uz = np.zeros_like(de), np.zeros_like(de), np.zeros_like(de)
        for px, py, pz, dv in points:
            ce, cn, cz = mogi(de, dn, x0=px, y0=py, depth=pz, dvolume=dv, nu=nu)
            ue += ce
            un += cn
            uz += cz
        return ue, un, uz

    return _blockwise(kernel, *_xy(east, north, x0, y0))
