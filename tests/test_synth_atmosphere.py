"""Physics of the synthetic terrain, atmosphere, coherence and noise (small grids, fast)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from scipy import ndimage

from thalia_viewer.core import schema
from thalia_viewer.core.synth import atmosphere, coherence, terrain

N = 256
PIXEL_M = 200.0  # 51 km frame: a few modes are resolved by ERA5
LAT = 38.0
INCIDENCE = 39.0
METRES_TO_RAD = 4.0 * math.pi / schema.S1_WAVELENGTH_M


def grid(n: int = N, pixel: float = PIXEL_M) -> tuple[np.ndarray, np.ndarray]:
    east = (np.arange(n) - n / 2 + 0.5) * pixel
    north = (n / 2 - 0.5 - np.arange(n)) * pixel
    return east, north


@pytest.fixture(scope="module")
def dem() -> np.ndarray:
    east, north = grid()
    return terrain.volcano_dem(
        east, north, rng=np.random.default_rng(1), summit_m=3000.0, base_m=200.0, radius_m=15_000.0
    )


def weather(**changes: float) -> atmosphere.Weather:
    base = atmosphere.Weather(
        surface_pressure_pa=101_325.0,
        tcwv_kg_m2=25.0,
        vapour_scale_height_m=2000.0,
        column_temperature_k=253.0,
        turbulence_kg_m2=1.5,
        seed=7,
        pressure_gradient_pa_m=(5e-4, -3e-4),
    )
    return replace(base, **changes)


def radial_slope(field: np.ndarray) -> float:
    """Slope of log power vs log |k| of a 2-D field (radially binned, mid wavenumbers)."""
    power = np.abs(np.fft.rfft2(field)) ** 2
    k = terrain.wavenumbers(field.shape)
    edges = np.geomspace(4.0 / field.shape[0], 0.35, 16)
    which = np.digitize(k.ravel(), edges)
    centres, means = [], []
    for i in range(1, edges.size):
        sel = which == i
        if sel.any():
            centres.append(math.sqrt(edges[i - 1] * edges[i]))
            means.append(power.ravel()[sel].mean())
    return float(np.polyfit(np.log(centres), np.log(means), 1)[0])


# ------------------------------------------------------------------------------------------ terrain
@pytest.mark.parametrize("beta", [8.0 / 3.0, 3.2])
def test_fractal_field_is_standardised_with_the_requested_spectrum(beta: float) -> None:
    field = terrain.fractal_field((N, N), beta, np.random.default_rng(0))
    assert field.dtype == np.float32 and field.shape == (N, N)
    assert abs(float(field.mean())) < 1e-5
    assert float(field.std()) == pytest.approx(1.0, abs=1e-4)
    assert radial_slope(field) == pytest.approx(-beta, abs=0.3)
    again = terrain.fractal_field((N, N), beta, np.random.default_rng(0))
    np.testing.assert_array_equal(field, again)


def test_volcano_dem_has_a_summit_crater_and_stays_on_land(dem: np.ndarray) -> None:
    assert dem.dtype == np.float32 and dem.shape == (N, N)
    assert dem.min() >= 0.0
    row, col = np.unravel_index(np.argmax(dem), dem.shape)
    east, north = grid()
    assert math.hypot(east[col], north[row]) < 3_000.0  # the summit is near the vent
    assert 2_500.0 < dem.max() < 3_600.0
    centre = dem[N // 2 - 1 : N // 2 + 1, N // 2 - 1 : N // 2 + 1].mean()
    assert centre < dem.max()  # the crater floor lies below the rim
    assert np.median(dem[:20, :20]) < 800.0  # the far field is the low regional surface


def test_slope_of_a_plane() -> None:
    east, north = grid(64, 100.0)
    plane = (0.2 * east[None, :] + 0.1 * north[:, None]).astype(np.float32)
    slope = terrain.slope_deg(plane, 100.0, 100.0)
    assert slope.dtype == np.float32
    np.testing.assert_allclose(slope, math.degrees(math.atan(math.hypot(0.2, 0.1))), atol=1e-3)


# ------------------------------------------------------------------------------------- atmosphere
def test_zenith_delay_magnitudes() -> None:
    zhd = atmosphere.zenith_delay(101_325.0, 0.0, latitude_deg=45.0)
    assert float(zhd) == pytest.approx(2.3069, abs=1e-3)  # Saastamoinen at sea level
    per_kg = atmosphere.wet_delay_per_kg_m2(275.0)
    assert per_kg == pytest.approx(6.5e-3, rel=0.03)  # Pi ~ 0.15 (Bevis et al. 1992)
    wet = atmosphere.zenith_delay(0.0, 20.0, latitude_deg=45.0) - atmosphere.zenith_delay(
        0.0, 0.0, latitude_deg=45.0
    )
    assert float(wet) == pytest.approx(20.0 * per_kg, rel=1e-5)


def test_interferogram_delay_is_secondary_minus_primary_over_cos() -> None:
    d = atmosphere.interferogram_delay(np.float32(2.40), np.float32(2.45), 60.0)
    assert float(d) == pytest.approx(0.10, rel=1e-5)


def test_stratified_delay_follows_the_dem(dem: np.ndarray) -> None:
    calm = {"turbulence_kg_m2": 0.0, "pressure_gradient_pa_m": (0.0, 0.0)}
    primary = atmosphere.simulate_acquisition(
        dem, weather(tcwv_kg_m2=15.0, **calm), pixel_m=PIXEL_M, latitude_deg=LAT
    )
    secondary = atmosphere.simulate_acquisition(
        dem, weather(tcwv_kg_m2=25.0, **calm), pixel_m=PIXEL_M, latitude_deg=LAT
    )
    slant = atmosphere.interferogram_delay(primary.zenith_delay_m, secondary.zenith_delay_m, INCIDENCE)
    assert abs(np.corrcoef(slant.ravel(), dem.ravel())[0, 1]) > 0.9
    # more vapour at the secondary date: longer path at the foot than on the 3 km summit
    phase = METRES_TO_RAD * slant
    stratified, turbulent = atmosphere.stratified_fraction(phase, dem)
    assert stratified > 1.0
    assert turbulent < 0.5 * stratified
    assert float(slant[dem < 500].mean()) > float(slant[dem > 2500].mean())


def test_turbulence_adds_unstratified_fringes(dem: np.ndarray) -> None:
    w1, w2 = weather(turbulence_kg_m2=2.0, seed=1), weather(turbulence_kg_m2=2.0, seed=2, tcwv_kg_m2=30.0)
    primary = atmosphere.simulate_acquisition(dem, w1, pixel_m=PIXEL_M, latitude_deg=LAT)
    secondary = atmosphere.simulate_acquisition(dem, w2, pixel_m=PIXEL_M, latitude_deg=LAT)
    phase = METRES_TO_RAD * atmosphere.interferogram_delay(
        primary.zenith_delay_m, secondary.zenith_delay_m, INCIDENCE
    )
    strat_p = atmosphere.stratified_zenith_delay(dem, w1, latitude_deg=LAT)
    strat_s = atmosphere.stratified_zenith_delay(dem, w2, latitude_deg=LAT)
    strat_phase = METRES_TO_RAD * atmosphere.interferogram_delay(strat_p, strat_s, INCIDENCE)
    stratified, turbulent = atmosphere.stratified_fraction(phase, dem, stratified_phase_rad=strat_phase)
    assert 0.5 < stratified < 2.0  # 5 kg m-2 more vapour at sea level, 3 km of relief
    assert turbulent > 1.0
    assert np.corrcoef((phase - strat_phase).ravel(), dem.ravel())[0, 1] ** 2 < 0.25


def test_stratified_fraction_recovers_known_parts() -> None:
    rows, cols = np.indices((128, 128), dtype=np.float32)
    z = 3000.0 * cols / 127.0  # elevation rises eastwards
    blob = 2 * math.pi * np.exp(-((rows - 63.5) ** 2 + (cols - 63.5) ** 2) / (2 * 12.0**2))  # 1 fringe
    tilt = 2 * math.pi * rows / 127.0  # a frame-wide tilt is a ramp, not turbulence
    phase = 2 * math.pi * 2.0 * z / 3000.0 + blob + tilt  # 2 fringes follow the elevation
    stratified, turbulent = atmosphere.stratified_fraction(phase, z)
    assert stratified == pytest.approx(2.0, abs=0.01)
    assert turbulent == pytest.approx(1.0, abs=0.1)
    exact = atmosphere.stratified_fraction(phase, z, stratified_phase_rad=2 * math.pi * 2.0 * z / 3000.0)
    assert exact == pytest.approx((2.0, turbulent), abs=1e-3)


def test_era5_fields_are_consistent_with_the_fine_water_vapour(dem: np.ndarray) -> None:
    w = weather()
    era5 = atmosphere.era5_fields(dem, w, pixel_m=PIXEL_M)
    assert tuple(era5) == schema.ERA5_FIELDS
    assert all(v.dtype == np.float32 and v.shape == dem.shape for v in era5.values())
    tcwv, sp, vit = (era5[f] for f in schema.ERA5_FIELDS)
    fine = atmosphere.fine_water_vapour(dem, w, pixel_m=PIXEL_M)
    small = fine - tcwv
    assert float(small.std()) > 0.1  # the fine field holds small-scale turbulence ERA5 misses
    sigma_px = 10_000.0 / PIXEL_M  # 10 km Gaussian: passes nothing shorter than the 25 km ERA5 cut-off
    smoothed = ndimage.gaussian_filter(small, sigma_px, mode="wrap")
    assert float(np.abs(smoothed).max()) < 0.1 * float(small.std())
    # the large-scale turbulence is in the ERA5 field: it is not just the stratified profile
    assert float((tcwv - atmosphere.stratified_water_vapour(dem, w)).std()) > 0.2
    # vit = T_column * sp / g, with a plausible column temperature, colder over the summit
    t_col = vit * atmosphere.GRAVITY_M_S2 / sp
    np.testing.assert_allclose(t_col, atmosphere.column_temperature(dem, w), rtol=1e-5)
    assert 235.0 < t_col.min() < t_col.max() < 260.0
    # pressure falls with an ~8 km scale height
    top = np.argmax(dem)
    assert sp.ravel()[top] == pytest.approx(101_325.0 * math.exp(-dem.ravel()[top] / 8_100.0), rel=0.02)
    # without turbulence the two water-vapour fields are the same
    calm = weather(turbulence_kg_m2=0.0)
    np.testing.assert_allclose(
        atmosphere.fine_water_vapour(dem, calm, pixel_m=PIXEL_M),
        atmosphere.era5_fields(dem, calm, pixel_m=PIXEL_M)["total_column_water_vapour"],
        rtol=1e-6,
    )


def test_simulate_acquisition_matches_the_separate_functions(dem: np.ndarray) -> None:
    w = weather()
    acq = atmosphere.simulate_acquisition(dem, w, pixel_m=PIXEL_M, latitude_deg=LAT)
    fine = atmosphere.fine_water_vapour(dem, w, pixel_m=PIXEL_M)
    np.testing.assert_allclose(acq.tcwv, fine, rtol=1e-6)
    for name, field in atmosphere.era5_fields(dem, w, pixel_m=PIXEL_M).items():
        np.testing.assert_allclose(acq.era5[name], field, rtol=1e-6)
    delay = atmosphere.zenith_delay(
        acq.era5["surface_pressure"], fine, LAT, height_m=dem, wet_mean_temperature_k=w.wet_mean_temperature_k
    )
    np.testing.assert_allclose(acq.zenith_delay_m, delay, rtol=1e-6)


def test_drawn_weather_has_humid_summers_and_thalia_like_values(dem: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    summer = [atmosphere.draw_weather(rng, date(2019, 7, 20), 40.0) for _ in range(200)]
    winter = [atmosphere.draw_weather(rng, date(2019, 1, 20), 40.0) for _ in range(200)]
    austral = [atmosphere.draw_weather(rng, date(2019, 7, 20), -40.0) for _ in range(200)]

    def mean(ws: list[atmosphere.Weather], attr: str) -> float:
        return float(np.mean([getattr(w, attr) for w in ws]))

    assert mean(summer, "tcwv_kg_m2") > 1.5 * mean(winter, "tcwv_kg_m2")
    assert mean(austral, "tcwv_kg_m2") < mean(summer, "tcwv_kg_m2")
    assert mean(summer, "column_temperature_k") > mean(winter, "column_temperature_k")
    assert 7_500.0 < summer[0].pressure_scale_height_m < 8_800.0
    # ERA5 layers over a land frame sit within the Thalia statistics (mean +- 1.5 std)
    for w in summer[:4] + winter[:4]:
        era5 = atmosphere.era5_fields(dem, w, pixel_m=PIXEL_M)
        for name, field in era5.items():
            mu, sd = schema.NORMALIZATION[name]
            assert abs(float(field.mean()) - mu) < 1.5 * sd, name
            assert np.isfinite(field).all() and field.min() > 0
        assert era5["surface_pressure"].min() > 60_000.0


# -------------------------------------------------------------------------------------- coherence
def test_coherence_drops_with_time_slope_and_vegetation() -> None:
    rng = np.random.default_rng(5)
    flat = np.zeros((N, N), np.float32)
    means = [float(coherence.coherence(flat, days, 0.5, rng).mean()) for days in (6, 12, 48, 365)]
    assert means == sorted(means, reverse=True) and means[0] - means[-1] > 0.3
    steep = np.full((N, N), 35.0, np.float32)
    assert (
        coherence.coherence(steep, 12, 0.0, rng).mean() < 0.5 * coherence.coherence(flat, 12, 0.0, rng).mean()
    )
    bare = coherence.coherence(flat, 48, 0.0, rng).mean()
    vegetated = coherence.coherence(flat, 48, 1.0, rng).mean()
    assert vegetated < 0.3 * bare
    slope = np.random.default_rng(6).uniform(0.0, 60.0, (N, N)).astype(np.float32)
    cover = np.random.default_rng(7).uniform(0.0, 1.0, (N, N)).astype(np.float32)
    gamma = coherence.coherence(slope, 1000, cover, rng)
    assert gamma.dtype == np.float32 and gamma.min() >= 0.0 and gamma.max() <= 1.0


def test_decorrelation_noise_follows_the_cramer_rao_bound_and_tends_to_uniform() -> None:
    rng = np.random.default_rng(8)
    high = coherence.decorrelation_noise(np.full((N, N), 0.95, np.float32), rng, looks=10)
    expected = math.sqrt(1 - 0.95**2) / (0.95 * math.sqrt(20))
    assert high.dtype == np.float32
    assert float(high.std()) == pytest.approx(expected, rel=0.03)
    low = coherence.decorrelation_noise(np.full((N, N), 1e-3, np.float32), rng)
    assert float(low.std()) == pytest.approx(math.pi / math.sqrt(3), rel=0.02)
    assert -math.pi <= low.min() and low.max() < math.pi
    assert float(np.abs(coherence.decorrelation_noise(np.ones((8, 8), np.float32), rng)).max()) == 0.0
    with pytest.raises(ValueError, match="0-1"):
        coherence.decorrelation_noise(np.full((4, 4), 200.0, np.float32), rng)


def test_orbital_ramp_has_the_reported_fringes() -> None:
    east, north = grid()
    rng = np.random.default_rng(9)
    for _ in range(5):
        ramp, fringes = coherence.orbital_ramp(east, north, rng, max_fringes=2.0)
        assert ramp.dtype == np.float32 and ramp.shape == (N, N)
        assert 0.0 <= fringes <= 2.0
        assert float(np.ptp(ramp)) / (2 * math.pi) == pytest.approx(fringes, rel=1e-4)
        assert abs(float(ramp.mean())) < 1e-3
    flat, none = coherence.orbital_ramp(east, north, rng, max_fringes=0.0)
    assert none == 0.0 and not flat.any()


def test_vegetation_is_patchy_below_the_treeline_and_absent_on_the_summit(dem: np.ndarray) -> None:
    cover = terrain.vegetation_fraction(dem, np.random.default_rng(4), treeline_m=2000.0)
    assert cover.dtype == np.float32 and cover.min() >= 0.0 and cover.max() <= 1.0
    assert float(cover[dem > 2600].max()) < 0.1
    low = cover[dem < 800]
    assert 0.3 < float(low.mean()) < 0.7 and float(low.std()) > 0.1
