"""Physics of the synthetic deformation: analytic sources, LOS geometry and phase."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from thalia_viewer.core import schema
from thalia_viewer.core.synth import geometry, sources

NU = 0.25


def _close_to_sig4(got: float, want: float) -> bool:
    """``got`` agrees with a table value printed with 4 significant digits (exact zeros: |got| < 1e-12)."""
    if want == 0.0:
        return abs(got) < 1e-12
    half_unit = 0.5 * 10.0 ** (math.floor(math.log10(abs(want))) - 3)
    return abs(got - want) <= half_unit * 1.001


# ------------------------------------------------------------------------------------------- geometry
def test_lonlat_to_metres_scales():
    east, north = geometry.lonlat_to_metres(
        np.array([15.0, 16.0, 15.0]), np.array([60.0, 60.0, 61.0]), 15.0, 60.0
    )
    one_degree = geometry.EARTH_MEAN_RADIUS_M * math.pi / 180.0  # 111.195 km
    np.testing.assert_allclose(east, [0.0, 0.5 * one_degree, 0.0], atol=1e-6)
    np.testing.assert_allclose(north, [0.0, 0.0, one_degree], atol=1e-6)
    e, _ = geometry.lonlat_to_metres(-179.9, 0.0, 179.9, 0.0)  # across the antimeridian: 0.2 deg east
    assert e == pytest.approx(0.2 * one_degree)


def test_frame_direction():
    assert geometry.frame_direction("124D_05291_081406") == "D"
    assert geometry.frame_direction("144A_SM_REUN_S6") == "A"
    for bad in ("124X_05291_081406", "etna", ""):
        with pytest.raises(ValueError, match="LiCSAR frame id"):
            geometry.frame_direction(bad)


@pytest.mark.parametrize("direction", ["A", "D"])
def test_los_unit_vector_convention(direction):
    los = geometry.los_unit_vector(direction, 40.0)
    assert np.linalg.norm(los) == pytest.approx(1.0)
    # pure uplift seen at 40 deg incidence: los = uz cos(40 deg), towards the satellite
    assert geometry.los_displacement(0.0, 0.0, 0.01, los) == pytest.approx(0.01 * math.cos(math.radians(40)))
    # right-looking: the ascending satellite sits to the west (looks east), the descending one to the east
    east_motion = geometry.los_displacement(0.01, 0.0, 0.0, los)
    assert (east_motion < 0) if direction == "A" else (east_motion > 0)
    # near-polar orbits: the north component is small (sin 12 deg of the horizontal part)
    assert abs(los[1]) == pytest.approx(math.sin(math.radians(40)) * math.sin(math.radians(12)))


def test_los_unit_vector_heading_and_errors():
    los = geometry.los_unit_vector("A", 30.0, heading_deg=0.0)  # flying north, looking east
    np.testing.assert_allclose(los, [-0.5, 0.0, math.sqrt(3) / 2], atol=1e-15)
    with pytest.raises(ValueError, match="pass direction"):
        geometry.los_unit_vector("X", 30.0)
    with pytest.raises(ValueError, match="incidence"):
        geometry.los_unit_vector("A", 95.0)


def test_phase_sign_wrap_and_fringes():
    half_wavelength = schema.S1_WAVELENGTH_M / 2
    # lambda/2 towards the satellite = one fringe of negative phase
    assert geometry.displacement_to_phase(half_wavelength) == pytest.approx(-2 * math.pi)
    phase = np.array([-math.pi, math.pi, 0.3 + 4 * math.pi, -0.3 - 6 * math.pi, -1e-17, 7.0])
    wrapped = geometry.wrap(phase)
    np.testing.assert_allclose(
        wrapped, [-math.pi, -math.pi, 0.3, -0.3, -1e-17, 7.0 - 2 * math.pi], atol=1e-12
    )
    assert np.all((wrapped >= -math.pi) & (wrapped < math.pi))
    ramp = geometry.displacement_to_phase(np.linspace(0.0, 3.5 * half_wavelength, 50))
    assert geometry.fringe_count(ramp) == pytest.approx(3.5)
    assert geometry.fringe_count(np.array([np.nan, 1.0, 1.0 + 4 * math.pi])) == pytest.approx(2.0)
    assert geometry.fringe_count(np.array([np.nan])) == 0.0


# ----------------------------------------------------------------------------------------------- Mogi
def test_mogi_matches_formula_by_hand():
    depth, dv = 4000.0, 2.0e6
    east = np.array([0.0, 3000.0, -3000.0, 1000.0])
    north = np.array([0.0, 0.0, 4000.0, -2000.0])
    ue, un, uz = sources.mogi(east + 500.0, north - 200.0, x0=500.0, y0=-200.0, depth=depth, dvolume=dv)
    c = (1 - NU) * dv / math.pi  # 477464.8 m^3
    # directly above: uz_max = (1 - nu) dV / (pi d^2)
    assert uz[0] == pytest.approx(c / depth**2) and ue[0] == 0.0 and un[0] == 0.0
    assert uz[0] == pytest.approx(0.029842, rel=1e-4)  # 2e6 m^3 at 4 km: 3.0 cm of uplift
    # (3000, 0): R = 5000 m
    assert uz[1] == pytest.approx(c * 4000 / 5000**3) and ue[1] == pytest.approx(c * 3000 / 5000**3)
    # (-3000, 4000): R^2 = 9e6 + 16e6 + 16e6 = 41e6
    r3 = 41e6**1.5
    np.testing.assert_allclose(
        [ue[2], un[2], uz[2]], [-c * 3000 / r3, c * 4000 / r3, c * 4000 / r3], rtol=1e-12
    )
    # (1000, -2000): R^2 = 21e6
    r3 = 21e6**1.5
    np.testing.assert_allclose(
        [ue[3], un[3], uz[3]], [c * 1000 / r3, -c * 2000 / r3, c * 4000 / r3], rtol=1e-12
    )


def test_mogi_los_and_fringes():
    depth, dv, inc = 3000.0, 2.0e6, 40.0
    los = geometry.los_unit_vector("D", inc)
    ue, un, uz = sources.mogi(0.0, 0.0, x0=0.0, y0=0.0, depth=depth, dvolume=dv)
    peak = (1 - NU) * dv / (math.pi * depth**2)
    assert geometry.los_displacement(ue, un, uz, los) == pytest.approx(peak * math.cos(math.radians(inc)))
    # the fringe count of the whole field is the LOS peak-to-peak over lambda / 2
    x = np.linspace(-30e3, 30e3, 301)
    e, n = np.meshgrid(x, x)
    los_field = geometry.los_displacement(*sources.mogi(e, n, x0=0.0, y0=0.0, depth=depth, dvolume=dv), los)
    expected = (los_field.max() - los_field.min()) / (schema.S1_WAVELENGTH_M / 2)
    assert geometry.fringe_count(geometry.displacement_to_phase(los_field)) == pytest.approx(expected)
    assert 1.0 < expected < 2.0  # ~4.7 cm of LOS peak-to-peak: between one and two fringes of 2.77 cm


def test_mogi_decays_as_inverse_square():
    far = sources.mogi(np.array([50e3, 100e3]), 0.0, x0=0.0, y0=0.0, depth=3000.0, dvolume=1e6)
    total = np.hypot(np.hypot(far[0], far[1]), far[2])
    assert total[1] / total[0] == pytest.approx(
        (50**2 + 3**2) / (100**2 + 3**2)
    )  # |u| = (1 - nu) dV / (pi R^2)


# ---------------------------------------------------------------------------------------------- Okada
# Okada (1985) Table 2 "check list for numerical calculation", finite source (cases 2-4), U = 1, nu = 0.25,
# observation (x, y) in Okada's frame (x along strike, origin above the bottom edge's end), d = depth of the
# bottom edge. Case 4 (dip -90) is case 3's geometry mirrored: dip 90, d = 6, strike slip with rake 180.
OKADA_TABLE2 = [
    # (x, y, d, dip, mode, (ux, uy, uz))
    (2, 3, 4, 70, "strike", (-8.689e-3, -4.298e-3, -2.747e-3)),
    (2, 3, 4, 70, "dip", (-4.682e-3, -3.527e-2, -3.564e-2)),
    (2, 3, 4, 70, "tensile", (-2.660e-4, +1.056e-2, +3.214e-3)),
    (0, 0, 4, 90, "strike", (0.0, +5.253e-3, 0.0)),
    (0, 0, 4, 90, "dip", (0.0, 0.0, 0.0)),
    (0, 0, 4, 90, "tensile", (+1.223e-2, 0.0, -1.606e-2)),
    (0, 0, 6, 90, "strike180", (0.0, -1.303e-3, 0.0)),
    (0, 0, 6, 90, "dip", (0.0, 0.0, 0.0)),
    (0, 0, 6, 90, "tensile", (+3.507e-3, 0.0, -7.740e-3)),
]
DISLOCATION = {
    "strike": {"slip": 1.0, "rake_deg": 0.0},
    "strike180": {"slip": 1.0, "rake_deg": 180.0},
    "dip": {"slip": 1.0, "rake_deg": 90.0},
    "tensile": {"opening": 1.0},
}


@pytest.mark.parametrize(("x", "y", "d", "dip", "mode", "expected"), OKADA_TABLE2)
def test_okada_table2_finite_source(x, y, d, dip, mode, expected):
    length, width = 3.0, 2.0
    sd, cd = math.sin(math.radians(dip)), math.cos(math.radians(dip))
    # strike 90 (east): Okada's x = east, y = north; our origin is the centroid
    got = sources.okada(
        x - length / 2,
        y - cd * width / 2,
        x0=0.0,
        y0=0.0,
        depth=d - sd * width / 2,
        strike_deg=90.0,
        dip_deg=dip,
        length=length,
        width=width,
        **DISLOCATION[mode],
    )
    for component, g, w in zip("xyz", got, expected, strict=True):
        assert _close_to_sig4(float(g), w), f"u{component}: got {float(g):.5e}, Okada (1985) {w:.3e}"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [  # Okada (1985) Table 2 case 1, point source (U dA = 1) at x=2, y=3, d=4, dip=70
        ("strike", (-9.447e-4, -1.023e-3, -7.420e-4)),
        ("dip", (-1.172e-3, -2.082e-3, -2.532e-3)),
        ("tensile", (-3.572e-4, +3.531e-4, -2.007e-4)),
    ],
)
def test_okada_tiny_fault_matches_table2_point_source(mode, expected):
    side = 1e-2  # finite-size error ~ (side / distance)^2 ~ 1e-5
    kwargs = {k: (v / side**2 if k in ("slip", "opening") else v) for k, v in DISLOCATION[mode].items()}
    got = sources.okada(
        2.0, 3.0, x0=0.0, y0=0.0, depth=4.0, strike_deg=90.0, dip_deg=70.0, length=side, width=side, **kwargs
    )
    for g, w in zip(got, expected, strict=True):
        assert _close_to_sig4(float(g), w), (float(g), w)


def _grid(half: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-half, half, n)
    return np.meshgrid(x, x)


def test_vertical_strike_slip_symmetries_and_sense():
    e, n = _grid(20e3, 81)  # 500 m spacing: includes the trace (e = 0) and the fault ends (n = +-5 km)
    _, un, uz = sources.fault_slip(
        e,
        n,
        x0=0.0,
        y0=0.0,
        depth=5e3,
        strike_deg=0.0,
        dip_deg=90.0,
        length=10e3,
        width=6e3,
        rake_deg=0.0,
        slip=1.0,
    )
    assert np.all(np.isfinite(uz))
    np.testing.assert_allclose(uz, -uz[:, ::-1], atol=1e-12)  # antisymmetric across the fault plane
    np.testing.assert_allclose(uz, -uz[::-1, :], atol=1e-12)  # and across the plane normal to strike
    assert np.abs(uz[:, 40]).max() < 1e-12  # zero along the strike line
    np.testing.assert_allclose(un, -un[:, ::-1], atol=1e-12)  # the two sides slide in opposite directions
    # rake 0 is left-lateral: near the centre the east block moves north, the west block south
    assert un[40, 42] > 0.05 and un[40, 38] < -0.05


def test_reverse_fault_lifts_the_hanging_wall():
    e, n = np.linspace(-20e3, 20e3, 201), np.zeros(201)
    # strike north, dipping 45 deg to the east (right of strike), from 1 to 7 km depth: the top edge lies
    # below e = -3 km, the plane extended up dip meets the surface at e = -4 km; the hanging wall is east
    _, _, uz = sources.fault_slip(
        e,
        n,
        x0=0.0,
        y0=0.0,
        depth=4e3,
        strike_deg=0.0,
        dip_deg=45.0,
        length=20e3,
        width=6e3 * math.sqrt(2),
        rake_deg=90.0,
        slip=1.0,
    )
    assert -4e3 < e[np.argmax(uz)] < 0  # peak uplift over the hanging wall, near the top edge
    assert uz.max() > 0.4 and uz.min() < -0.03  # the footwall side subsides a little
    trace = 80  # e = -4 km
    assert np.all(uz[trace + 1 : trace + 21] > uz[trace - 20 : trace][::-1])  # hanging wall above footwall
    normal = sources.fault_slip(
        e,
        n,
        x0=0.0,
        y0=0.0,
        depth=4e3,
        strike_deg=0.0,
        dip_deg=45.0,
        length=20e3,
        width=6e3 * math.sqrt(2),
        rake_deg=-90.0,
        slip=1.0,
    )[2]
    np.testing.assert_allclose(normal, -uz, atol=1e-14)  # linear in the slip vector


def test_dyke_symmetric_uplift_with_trough_and_opening_motion():
    e = np.linspace(-15e3, 15e3, 301)  # 100 m: includes e = 0, directly above the top edge
    ue, un, uz = sources.dyke(
        e, np.zeros_like(e), x0=0.0, y0=0.0, top=500.0, height=4e3, length=8e3, strike_deg=0.0, opening=1.0
    )
    assert np.all(np.isfinite(uz))
    np.testing.assert_allclose(uz, uz[::-1], atol=1e-12)  # symmetric about the dyke plane
    np.testing.assert_allclose(ue, -ue[::-1], atol=1e-12)
    centre = 150
    peak = np.argmax(uz)
    assert uz.max() > 0.05 and 300.0 < abs(e[peak]) < 5e3  # two uplift lobes on the flanks
    assert uz[centre] < 0  # a trough (subsidence) right above the opening dyke
    assert np.all(ue[centre + 1 :] > 0)  # the flanks are pushed apart
    assert np.abs(un).max() < 1e-12  # no along-strike motion on the profile through the centre


def test_dyke_dip_90_continuous_with_nearly_vertical():
    e, n = _grid(10e3, 41)
    kw = {"x0": 0.0, "y0": 0.0, "top": 1e3, "height": 3e3, "length": 5e3, "strike_deg": 30.0, "opening": 1.0}
    vertical = np.stack(sources.dyke(e, n, **kw))  # cos(dip) = 0 formulas
    scale = np.abs(vertical).max()

    def change(dip_a: float, dip_b: float) -> float:
        a, b = (np.stack(sources.dyke(e, n, dip_deg=d, **kw)) for d in (dip_a, dip_b))
        return float(np.abs(a - b).max() / scale)

    # the field changes smoothly (~4e-5 per 0.001 deg here) from the general to the vertical formulas
    assert change(89.99, 90.0) == pytest.approx(10 * change(89.999, 90.0), rel=0.05)
    assert change(89.999, 90.0) < 1e-4
    assert change(89.9982, 89.9984) < 2e-5  # across the switch between the two sets of formulas


def test_okada_no_nan_or_warning_at_singular_points():
    e, n = _grid(6e3, 121)  # 100 m spacing: hits the trace, the ends and the corners of the faults below
    cases = [
        {"depth": 3e3, "dip_deg": 90.0, "width": 6e3},  # vertical, surface-breaking
        {
            "depth": 2e3 * math.sin(math.radians(60)),
            "dip_deg": 60.0,
            "width": 4e3,
        },  # dipping, surface-breaking
        {"depth": 2e3, "dip_deg": 45.0, "width": 2e3},  # buried
        {"depth": 1e3, "dip_deg": 0.0, "width": 2e3},  # horizontal
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for case in cases:
            u = sources.okada(
                e, n, x0=0.0, y0=0.0, strike_deg=0.0, length=4e3, rake_deg=30.0, slip=1.0, opening=0.5, **case
            )
            assert all(np.all(np.isfinite(c)) for c in u), case
            assert max(np.abs(c).max() for c in u) < 5.0, case  # bounded: a few times the 1 m dislocation


def test_okada_continuous_across_fault_ends_and_edges():
    # a buried dipping fault: displacement is smooth at the surface, also across the lines x = 0, x = L
    # of Okada's frame where the I5 rule (xi = 0) applies, and above the top edge
    kw = {
        "x0": 0.0,
        "y0": 0.0,
        "depth": 3e3,
        "strike_deg": 0.0,
        "dip_deg": 50.0,
        "length": 6e3,
        "width": 3e3,
        "rake_deg": 45.0,
        "slip": 1.0,
        "opening": 0.3,
    }
    top_edge_e = 1.5e3 * math.cos(math.radians(50))  # the top edge lies west (up dip) of the centroid
    for e0, n0 in ((2e3, 3e3), (-1e3, -3e3), (-top_edge_e, 1e3)):
        pts = sources.okada(np.array([e0 - 1e-3, e0, e0 + 1e-3]), np.array([n0 - 1e-3, n0, n0 + 1e-3]), **kw)
        for c in pts:
            assert abs(c[2] - c[0]) < 1e-6 and abs(c[1] - 0.5 * (c[0] + c[2])) < 1e-6


def test_okada_decays_far_from_the_source():
    kw = {
        "x0": 0.0,
        "y0": 0.0,
        "depth": 5e3,
        "strike_deg": 20.0,
        "dip_deg": 60.0,
        "length": 8e3,
        "width": 4e3,
        "rake_deg": 90.0,
        "slip": 1.0,
    }
    near = np.abs(sources.okada(np.array([5e3]), np.array([5e3]), **kw)[2])
    far = np.hypot(*sources.okada(np.array([200e3]), np.array([200e3]), **kw)[:2])
    assert far < 1e-3 * near


def test_okada_shapes_blocks_and_wrappers():
    kw = {"x0": 300.0, "y0": -200.0, "strike_deg": 25.0, "length": 5e3, "opening": 1.0}
    # a 300 x 300 grid spans several evaluation blocks; points evaluated one by one must agree
    e, n = _grid(15e3, 300)
    grid = sources.dyke(e, n, top=800.0, height=3e3, **kw)
    assert all(c.shape == (300, 300) and c.dtype == np.float64 for c in grid)
    for i, j in ((0, 0), (150, 77), (299, 299), (123, 250)):
        single = sources.dyke(e[i, j], n[i, j], top=800.0, height=3e3, **kw)
        assert all(s.shape == () for s in single)
        np.testing.assert_allclose(list(single), [c[i, j] for c in grid], rtol=1e-13, atol=1e-16)
    # broadcasting, and the dyke is the vertical tensile Okada fault with its centroid at mid-height
    column = sources.okada(
        np.zeros((3, 1)), np.linspace(-1e3, 1e3, 4), depth=2.3e3, dip_deg=90.0, width=3e3, **kw
    )
    assert column[2].shape == (3, 4)
    same = sources.dyke(np.zeros((3, 1)), np.linspace(-1e3, 1e3, 4), top=800.0, height=3e3, **kw)
    np.testing.assert_allclose(np.stack(same), np.stack(column), rtol=1e-13)


def test_okada_rejects_bad_geometry():
    with pytest.raises(ValueError, match="above the surface"):
        sources.okada(
            0.0, 0.0, x0=0.0, y0=0.0, depth=1e3, strike_deg=0.0, dip_deg=90.0, length=1e3, width=4e3, slip=1.0
        )
    with pytest.raises(ValueError, match="dip"):
        sources.okada(
            0.0, 0.0, x0=0.0, y0=0.0, depth=5e3, strike_deg=0.0, dip_deg=120.0, length=1e3, width=1e3
        )
    with pytest.raises(ValueError, match="length"):
        sources.okada(
            0.0, 0.0, x0=0.0, y0=0.0, depth=5e3, strike_deg=0.0, dip_deg=45.0, length=0.0, width=1e3
        )


# ------------------------------------------------------------------------------------------------ sill
def test_deep_small_sill_is_a_point_tensile_crack():
    depth, radius, opening = 8e3, 200.0, 2.0
    dv = opening * math.pi * radius**2
    e = np.array([0.0, 3e3, 8e3, 15e3])
    n = np.array([0.0, 4e3, -2e3, 1e3])
    ue, un, uz = sources.sill(e, n, x0=0.0, y0=0.0, depth=depth, radius=radius, opening=opening)
    r5 = (e**2 + n**2 + depth**2) ** 2.5
    # horizontal point crack (Okada 1985 point source, dip 0, tensile; independent of nu)
    np.testing.assert_allclose(uz, 3 * dv * depth**3 / (2 * math.pi * r5), rtol=2e-3)
    np.testing.assert_allclose(ue, 3 * dv * e * depth**2 / (2 * math.pi * r5), rtol=2e-3, atol=1e-12)
    np.testing.assert_allclose(un, 3 * dv * n * depth**2 / (2 * math.pi * r5), rtol=2e-3, atol=1e-12)
    # the same crack volume as a Mogi source gives half the peak uplift: (1 - nu) dV / pi vs 3 dV / (2 pi)
    mogi_peak = sources.mogi(0.0, 0.0, x0=0.0, y0=0.0, depth=depth, dvolume=dv)[2]
    assert uz[0] / mogi_peak == pytest.approx(1.5 / (1 - NU), rel=2e-3)


def test_sill_uplift_centred_axisymmetric_and_volume_conserving():
    depth, radius, opening = 2e3, 1e3, 1.0
    e, n = _grid(40e3, 801)  # 100 m spacing, +-20 depths
    _, _, uz = sources.sill(
        e + 700.0, n - 300.0, x0=700.0, y0=-300.0, depth=depth, radius=radius, opening=opening
    )
    centre = 400
    assert np.unravel_index(np.argmax(uz), uz.shape) == (centre, centre)
    assert uz[centre, centre] > 0
    # axisymmetric to within the square's anisotropy: along an axis vs along the diagonal at r = depth
    along = uz[centre, centre + 20]
    diagonal = sources.sill(
        depth / math.sqrt(2),
        depth / math.sqrt(2),
        x0=0.0,
        y0=0.0,
        depth=depth,
        radius=radius,
        opening=opening,
    )[2]
    assert diagonal == pytest.approx(along, rel=0.03)
    # the uplift volume equals the crack volume (horizontal crack); truncation at 20 depths costs ~0.01 %
    volume = uz.sum() * (e[0, 1] - e[0, 0]) ** 2
    assert volume == pytest.approx(opening * math.pi * radius**2, rel=5e-3)


# -------------------------------------------------------------------------------------------- spheroid
def test_vertical_spheroid_far_field_is_mogi_and_pattern_axisymmetric():
    kw = {"x0": 0.0, "y0": 0.0, "depth": 5e3, "dvolume": 1e6}
    r = np.array([50e3, 80e3])
    sph = sources.prolate_spheroid(r, np.zeros(2), semi_major=2.5e3, semi_minor=600.0, **kw)
    mog = sources.mogi(r, np.zeros(2), **kw)
    np.testing.assert_allclose(sph[2], mog[2], rtol=0.02)
    np.testing.assert_allclose(sph[0], mog[0], rtol=0.02)
    # vertical axis: axisymmetric; the shallow half of the body makes the peak higher than Mogi's
    east_ = sources.prolate_spheroid(3e3, 0.0, semi_major=2.5e3, semi_minor=600.0, **kw)[2]
    north_ = sources.prolate_spheroid(0.0, 3e3, semi_major=2.5e3, semi_minor=600.0, **kw)[2]
    assert east_ == pytest.approx(north_, rel=1e-12)
    peak = sources.prolate_spheroid(0.0, 0.0, semi_major=2.5e3, semi_minor=600.0, **kw)[2]
    assert peak > 1.05 * sources.mogi(0.0, 0.0, **kw)[2]


def test_spheroid_volume_and_orientation():
    kw = {"x0": 1e3, "y0": 2e3, "depth": 4e3, "semi_major": 3e3, "semi_minor": 500.0, "dvolume": -2e6}
    # total volume: uplift integrated over a wide grid equals that of a single Mogi source
    e, n = _grid(60e3, 601)
    sph = sources.prolate_spheroid(e, n, plunge_deg=0.0, azimuth_deg=0.0, **kw)[2]
    mog = sources.mogi(e, n, x0=1e3, y0=2e3, depth=4e3, dvolume=-2e6)[2]
    assert sph.sum() == pytest.approx(mog.sum(), rel=2e-3)
    assert sph.min() < 0  # deflation: subsidence
    # a horizontal N-S body: the subsidence stretches north-south more than east-west
    ns = sources.prolate_spheroid(1e3, 2e3 + 4e3, plunge_deg=0.0, azimuth_deg=0.0, **kw)[2]
    ew = sources.prolate_spheroid(1e3 + 4e3, 2e3, plunge_deg=0.0, azimuth_deg=0.0, **kw)[2]
    assert abs(ns) > 1.1 * abs(ew)
    # azimuth 90 turns it east-west
    ew90 = sources.prolate_spheroid(1e3 + 4e3, 2e3, plunge_deg=0.0, azimuth_deg=90.0, **kw)[2]
    assert ew90 == pytest.approx(ns, rel=1e-9)


def test_spheroid_rejects_bad_geometry():
    with pytest.raises(ValueError, match="surface"):
        sources.prolate_spheroid(
            0.0, 0.0, x0=0.0, y0=0.0, depth=2e3, semi_major=3e3, semi_minor=500.0, dvolume=1e6
        )
    with pytest.raises(ValueError, match="semi_minor"):
        sources.prolate_spheroid(
            0.0, 0.0, x0=0.0, y0=0.0, depth=5e3, semi_major=1e3, semi_minor=2e3, dvolume=1e6
        )
