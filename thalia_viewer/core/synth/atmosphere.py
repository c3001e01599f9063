"""Atmosphere of each acquisition: weather, ERA5-like fields on the InSAR grid, zenith and slant delays.

One :class:`Weather` per acquisition date sets the sea-level state (pressure, water vapour, column
temperature) and a seeded water-vapour turbulence. From it and the DEM come, consistently:

* the ERA5 layers (:func:`era5_fields`): what ERA5 resampled to the grid with a vertical correction would
  give, i.e. the elevation-stratified fields plus the large-scale (> ``ERA5_WAVELENGTH_M``) part of the
  turbulence;
* the full-resolution water vapour (:func:`fine_water_vapour`) = the ERA5 field + the small-scale
  turbulence, so a low-pass of either is the same field, and the weather layers carry the large-scale
  information of the phase delay;
* the zenith delay (:func:`zenith_delay`), hydrostatic from pressure (Saastamoinen 1972) + wet from
  water vapour (Bevis et al. 1992), and the pair's slant delay difference (:func:`interferogram_delay`).

Vertical stratification (an elevation-dependent delay whose coefficient changes between dates) is what
mimics deformation on a volcano; :func:`stratified_fraction` measures it in a simulated pair.
Grids: ``(H, W)`` north-up, row 0 north; ``pixel_m`` is the spacing (one value or ``(dy, dx)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from .. import schema
from .terrain import shaped_field, wavenumbers, white_spectrum

# ------------------------------------------------------------------------------------- constants (SI)
GRAVITY_M_S2 = 9.80665
GAS_CONSTANT_DRY_J_KG_K = 287.05  # R_d
GAS_CONSTANT_VAPOUR_J_KG_K = 461.5  # R_v
WATER_DENSITY_KG_M3 = 1000.0
#: Saastamoinen (1972) zenith hydrostatic delay per unit surface pressure, m/Pa (2.2768 mm/hPa).
SAASTAMOINEN_M_PER_PA = 2.2768e-5
SAASTAMOINEN_LATITUDE = 0.00266  # coefficient of cos(2 latitude)
SAASTAMOINEN_HEIGHT_PER_M = 2.8e-7  # coefficient of the height (0.00028 per km)
#: Refractivity constants (Bevis et al. 1994), SI: k2' = 22.1 K/hPa, k3 = 3.739e5 K^2/hPa.
K2_PRIME_K_PA = 0.221
K3_K2_PA = 3.739e3
#: Bevis et al. (1992) weighted mean temperature of water vapour, Tm = a + b Ts.
TM_INTERCEPT_K = 70.2
TM_SLOPE = 0.72

# --------------------------------------------------------------------------------- model parameters
DEFAULT_PIXEL_M = 100.0
#: Shortest wavelength of the turbulence that ERA5 resolves (0.25 deg grid ~ 28 km), metres.
ERA5_WAVELENGTH_M = 25_000.0
#: Water-vapour turbulence: 2-D power spectrum ~ k^-8/3 (thin-layer Kolmogorov regime of Hanssen 2001,
#: scales longer than the ~2 km wet layer), flattening beyond the outer scale.
TURBULENCE_BETA = 8.0 / 3.0
TURBULENCE_OUTER_SCALE_M = 50_000.0
#: Below the thickness of the wet layer the turbulence is 3-D and the spectrum of its column integral
#: steepens by k^-1 (to k^-11/3, Hanssen 2001 ch. 4.7): pixel-scale roughness stays physical.
WET_LAYER_THICKNESS_M = 2_000.0
FIT_MAX_SAMPLES = 2**20  # pixels used by the phase-elevation regression
TCWV_FLOOR_KG_M2 = 0.1  # water vapour never goes negative
COLUMN_TEMPERATURE_LAPSE_K_M = -4.0e-3  # mass-mean temperature of the column above z drops ~4 K/km
LOW_LAYER_WARMING_K = 30.0  # lowest few km (which set the pressure scale height) vs column mean
SURFACE_MINUS_COLUMN_K = 35.0  # sea-level air temperature vs column mean
SEASON_PEAK_DOY = 200.0  # humid, warm peak of the northern summer (late July)
DAYS_PER_YEAR = 365.25
TCWV_DAILY_SIGMA = 0.15  # log-normal day-to-day variability of the column water vapour
TCWV_SEASONAL_GAIN = 0.5  # seasonal relative amplitude at the poles (x sin|lat|)
TURBULENCE_FRACTION = 0.035  # turbulence rms as a fraction of the sea-level tcwv (median day)
TURBULENCE_DAILY_SIGMA = 0.5  # log-normal: calm and stormy days
SEA_LEVEL_PRESSURE_PA = 101_325.0
PRESSURE_SYNOPTIC_PA = 900.0  # day-to-day std at mid/high latitudes (x sin|lat|, + tropical floor)
PRESSURE_TROPICAL_PA = 200.0
PRESSURE_GRADIENT_PA_M = 1.0e-3  # typical synoptic gradient, 1 hPa per 100 km


@dataclass(frozen=True)
class Weather:
    """The state of the atmosphere at one acquisition (sea-level reference values).

    ``surface_pressure_pa`` Pa and ``tcwv_kg_m2`` kg m-2 at sea level; ``vapour_scale_height_m`` m (e-folding
    height of the column water vapour); ``column_temperature_k`` K, the mass-weighted mean temperature of
    the sea-level column; ``turbulence_kg_m2`` kg m-2, the rms of the water-vapour turbulence (unbounded
    domain; a frame sees somewhat less); ``seed`` seeds the turbulence; ``pressure_gradient_pa_m`` Pa/m,
    the synoptic (east, north) gradient of the sea-level pressure across the frame.
    """

    surface_pressure_pa: float
    tcwv_kg_m2: float
    vapour_scale_height_m: float
    column_temperature_k: float
    turbulence_kg_m2: float
    seed: int
    pressure_gradient_pa_m: tuple[float, float] = (0.0, 0.0)

    @property
    def pressure_scale_height_m(self) -> float:
        """Pressure e-folding height ``R_d T / g`` of the lowest few km, metres (~8 km)."""
        return GAS_CONSTANT_DRY_J_KG_K * (self.column_temperature_k + LOW_LAYER_WARMING_K) / GRAVITY_M_S2

    @property
    def wet_mean_temperature_k(self) -> float:
        """Weighted mean temperature of water vapour, ``Tm = 70.2 + 0.72 Ts`` K (Bevis et al. 1992)."""
        return TM_INTERCEPT_K + TM_SLOPE * (self.column_temperature_k + SURFACE_MINUS_COLUMN_K)


def _season(day: date, latitude_deg: float) -> float:
    """+1 at the local summer peak, -1 in winter (hemisphere from the latitude's sign)."""
    phase = math.cos(2.0 * math.pi * (day.timetuple().tm_yday - SEASON_PEAK_DOY) / DAYS_PER_YEAR)
    return phase if latitude_deg >= 0 else -phase


def _lognormal(rng: np.random.Generator, sigma: float) -> float:
    """A mean-one log-normal factor of log-std ``sigma``."""
    return math.exp(sigma * rng.standard_normal() - sigma**2 / 2)


def draw_weather(rng: np.random.Generator, day: date, latitude_deg: float) -> Weather:
    """A plausible :class:`Weather` for ``day`` at ``latitude_deg``: seasonal cycle + day-to-day variability.

    Annual mean sea-level water vapour ``8 + 40 cos^4(lat)`` kg m-2 (~48 tropics, ~22 at 40 deg) with humid
    summers (relative amplitude ``0.5 sin|lat|``) and a log-normal daily spread of 15 %; column
    temperature ``248 + 10 cos^2(lat)`` K +- 8 sin|lat| K seasonally (vit/sp*g of the Thalia statistics is
    ~253 K); sea-level pressure 101.3 kPa with synoptic variability growing with latitude; turbulence rms
    ~3.5 % of the column (log-normal: calm and stormy days). Over land at ~800 m these give the Thalia
    means (tcwv ~22 kg m-2, sp ~93 kPa, vit ~2.4e6 K kg m-2).
    """
    s = abs(math.sin(math.radians(latitude_deg)))
    c = math.cos(math.radians(latitude_deg))
    season = _season(day, latitude_deg)
    tcwv = (8.0 + 40.0 * c**4) * (1.0 + TCWV_SEASONAL_GAIN * s * season) * _lognormal(rng, TCWV_DAILY_SIGMA)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    gradient = PRESSURE_GRADIENT_PA_M * (0.3 + s) * rng.rayleigh()
    return Weather(
        surface_pressure_pa=SEA_LEVEL_PRESSURE_PA
        + (PRESSURE_TROPICAL_PA + PRESSURE_SYNOPTIC_PA * s) * rng.standard_normal(),
        tcwv_kg_m2=tcwv,
        vapour_scale_height_m=float(np.clip(rng.normal(2000.0, 250.0), 1200.0, 3000.0)),
        column_temperature_k=248.0 + 10.0 * c**2 + 8.0 * s * season + 2.0 * rng.standard_normal(),
        turbulence_kg_m2=TURBULENCE_FRACTION * tcwv * _lognormal(rng, TURBULENCE_DAILY_SIGMA),
        seed=int(rng.integers(2**63 - 1)),
        pressure_gradient_pa_m=(gradient * math.cos(angle), gradient * math.sin(angle)),
    )


# -------------------------------------------------------------------------------------- fields
def _spacing(pixel_m: float | tuple[float, float]) -> tuple[float, float]:
    dy, dx = pixel_m if isinstance(pixel_m, tuple | list) else (pixel_m, pixel_m)
    return abs(float(dy)), abs(float(dx))


def stratified_water_vapour(dem: np.ndarray, weather: Weather) -> np.ndarray:
    """Column water vapour above each pixel without turbulence, ``W0 exp(-z / H_w)`` kg m-2 (float32)."""
    z = np.asarray(dem, dtype=np.float32)
    return np.float32(weather.tcwv_kg_m2) * np.exp(z / np.float32(-weather.vapour_scale_height_m))


def surface_pressure(
    dem: np.ndarray, weather: Weather, pixel_m: float | tuple[float, float] = DEFAULT_PIXEL_M
) -> np.ndarray:
    """Surface pressure, Pa (float32): sea-level pressure with its synoptic gradient, ``x exp(-z / H_p)``."""
    z = np.asarray(dem, dtype=np.float32)
    dy, dx = _spacing(pixel_m)
    h, w = z.shape
    east = (np.arange(w, dtype=np.float32) - (w - 1) / 2) * np.float32(dx)
    north = ((h - 1) / 2 - np.arange(h, dtype=np.float32)) * np.float32(dy)
    ge, gn = weather.pressure_gradient_pa_m
    sea_level = (
        np.float32(weather.surface_pressure_pa)
        + np.float32(ge) * east[None, :]
        + np.float32(gn) * north[:, None]
    )
    return sea_level * np.exp(z / np.float32(-weather.pressure_scale_height_m))


def column_temperature(dem: np.ndarray, weather: Weather) -> np.ndarray:
    """Mass-weighted mean temperature of the column above each pixel, K (float32); colder over summits."""
    z = np.asarray(dem, dtype=np.float32)
    return np.float32(weather.column_temperature_k) + np.float32(COLUMN_TEMPERATURE_LAPSE_K_M) * z


def water_vapour_turbulence(
    shape: tuple[int, int],
    weather: Weather,
    pixel_m: float | tuple[float, float] = DEFAULT_PIXEL_M,
    *,
    era5_wavelength_m: float = ERA5_WAVELENGTH_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Turbulent water vapour, kg m-2 (float32), split into (large-scale, small-scale) parts.

    One realisation seeded by ``weather.seed`` with the 2-D spectrum ``S(k) = C (k^2 + k0^2)^(-beta/2)``,
    ``beta = 8/3``, ``k0 = 1 / 50 km``, ``C`` such that the variance over an unbounded domain is
    ``weather.turbulence_kg_m2 ** 2``, steepened by ``(1 + (k h)^2)^-1/2`` below the wet layer's thickness
    ``h`` (which removes a few per cent of that variance, all at the kilometre scale). Modes of wavelength longer than ``era5_wavelength_m`` form the
    large-scale part (what ERA5 resolves), the others the small-scale part: their sum is the full field
    and a low-pass at that wavelength of the small-scale part is exactly zero.
    """
    dy, dx = _spacing(pixel_m)
    k = wavenumbers(shape, (dy, dx))  # cycles per metre
    k0 = 1.0 / TURBULENCE_OUTER_SCALE_M
    beta = TURBULENCE_BETA
    c = weather.turbulence_kg_m2**2 * (beta - 2.0) * k0 ** (beta - 2.0) / (2.0 * math.pi)
    # irfft2 of white noise * A gives variance mean(A^2) = sum S dkx dky when A^2 = S / (dx dy)
    power = (k * k + np.float32(k0 * k0)) ** np.float32(-beta / 2.0)
    power /= np.sqrt(1.0 + (k * np.float32(WET_LAYER_THICKNESS_M)) ** 2)  # thick-layer regime
    amplitude = np.sqrt(np.float32(c / (dx * dy)) * power)
    amplitude[0, 0] = 0.0  # the frame mean belongs to the stratified part
    spectrum = white_spectrum(shape, np.random.default_rng(weather.seed))
    low = k < np.float32(1.0 / era5_wavelength_m)
    large = shaped_field(spectrum, amplitude * low, shape)
    small = shaped_field(spectrum, amplitude * ~low, shape)
    return large, small


def _era5_tcwv(dem: np.ndarray, weather: Weather, large: np.ndarray) -> np.ndarray:
    tcwv = stratified_water_vapour(dem, weather)
    tcwv += large
    return np.maximum(tcwv, np.float32(TCWV_FLOOR_KG_M2), out=tcwv)


def _add_small_scales(era5_tcwv: np.ndarray, small: np.ndarray) -> np.ndarray:
    tcwv = era5_tcwv + small
    return np.maximum(tcwv, np.float32(TCWV_FLOOR_KG_M2), out=tcwv)


def _era5_from(
    dem: np.ndarray, weather: Weather, pixel_m: float | tuple[float, float], large: np.ndarray
) -> dict[str, np.ndarray]:
    tcwv = _era5_tcwv(dem, weather, large)
    sp = surface_pressure(dem, weather, pixel_m)
    vit = column_temperature(dem, weather) * sp / np.float32(GRAVITY_M_S2)
    names = schema.ERA5_FIELDS
    return {names[0]: tcwv, names[1]: sp, names[2]: vit.astype(np.float32, copy=False)}


def era5_fields(
    dem: np.ndarray,
    weather: Weather,
    rng: np.random.Generator | None = None,
    *,
    pixel_m: float | tuple[float, float] = DEFAULT_PIXEL_M,
) -> dict[str, np.ndarray]:
    """ERA5-like fields on the InSAR grid, keyed by ``schema.ERA5_FIELDS``, float32 ``dem.shape``.

    ``total_column_water_vapour`` (kg m-2): ``W0 exp(-z/H_w)`` + the large-scale turbulence;
    ``surface_pressure`` (Pa): ``P0 exp(-z/H_p)`` with a synoptic gradient; ``vertical_integral_of_temperature``
    (K kg m-2): ``T_col(z) * sp / g`` (hydrostatic: the column mass is sp/g). This is what ERA5 resampled
    to the grid with a vertical correction gives. ``rng`` is not used: the turbulence comes from
    ``weather.seed`` so that this and :func:`fine_water_vapour` describe the same atmosphere.
    """
    del rng
    large, _ = water_vapour_turbulence(np.shape(dem), weather, pixel_m)
    return _era5_from(dem, weather, pixel_m, large)


def fine_water_vapour(
    dem: np.ndarray,
    weather: Weather,
    rng: np.random.Generator | None = None,
    *,
    pixel_m: float | tuple[float, float] = DEFAULT_PIXEL_M,
) -> np.ndarray:
    """Full-resolution column water vapour, kg m-2 (float32): the ERA5 field + the small-scale turbulence.

    A low-pass at ``ERA5_WAVELENGTH_M`` of it equals that of the ERA5 ``total_column_water_vapour``
    (exactly, except where the 0.1 kg m-2 floor bites: dry days on high summits). ``rng`` is not used (see :func:`era5_fields`).
    """
    del rng
    large, small = water_vapour_turbulence(np.shape(dem), weather, pixel_m)
    tcwv = _era5_tcwv(dem, weather, large)
    del large
    return _add_small_scales(tcwv, small)


def zenith_delay(
    surface_pressure_pa: np.ndarray | float,
    tcwv_kg_m2: np.ndarray | float,
    latitude_deg: float = 0.0,
    *,
    height_m: np.ndarray | float = 0.0,
    wet_mean_temperature_k: float = 275.0,
) -> np.ndarray:
    """Zenith total delay, metres (float32): hydrostatic + wet.

    Hydrostatic (Saastamoinen 1972, Davis et al. 1985 form):
    ``ZHD = 2.2768e-5 m/Pa * P / (1 - 0.00266 cos(2 lat) - 2.8e-7 h)`` (~2.3 m at sea level).
    Wet (Bevis et al. 1992, 1994): ``ZWD = IWV / (rho_w Pi)`` with
    ``1 / Pi = 1e-6 rho_w R_v (k3 / Tm + k2')``, i.e. ~6.5 mm per kg m-2 of water vapour at Tm = 275 K.
    """
    factor = (
        1.0
        - SAASTAMOINEN_LATITUDE * math.cos(2.0 * math.radians(latitude_deg))
        - SAASTAMOINEN_HEIGHT_PER_M * np.asarray(height_m, dtype=np.float32)
    )
    hydrostatic = (
        np.float32(SAASTAMOINEN_M_PER_PA) * np.asarray(surface_pressure_pa, dtype=np.float32) / factor
    )
    wet = np.float32(wet_delay_per_kg_m2(wet_mean_temperature_k)) * np.asarray(tcwv_kg_m2, dtype=np.float32)
    return (hydrostatic + wet).astype(np.float32, copy=False)


def wet_delay_per_kg_m2(wet_mean_temperature_k: float = 275.0) -> float:
    """Zenith wet delay per kg m-2 of column water vapour, metres (``1 / (rho_w Pi)``, Bevis et al. 1992)."""
    return 1e-6 * GAS_CONSTANT_VAPOUR_J_KG_K * (K3_K2_PA / wet_mean_temperature_k + K2_PRIME_K_PA)


@dataclass(frozen=True)
class Acquisition:
    """Everything atmospheric about one acquisition: ERA5 layers, fine water vapour, zenith delay (m)."""

    era5: dict[str, np.ndarray]
    tcwv: np.ndarray
    zenith_delay_m: np.ndarray


def simulate_acquisition(
    dem: np.ndarray,
    weather: Weather,
    *,
    pixel_m: float | tuple[float, float] = DEFAULT_PIXEL_M,
    latitude_deg: float = 0.0,
) -> Acquisition:
    """ERA5 fields, fine water vapour and zenith delay of one date, drawing the turbulence once.

    Equivalent to :func:`era5_fields` + :func:`fine_water_vapour` + :func:`zenith_delay` (with the DEM as
    height and the date's ``Tm``) at half the FFT cost.
    """
    large, small = water_vapour_turbulence(np.shape(dem), weather, pixel_m)
    era5 = _era5_from(dem, weather, pixel_m, large)
    del large
    tcwv = _add_small_scales(era5[schema.ERA5_FIELDS[0]], small)
    delay = zenith_delay(
        era5[schema.ERA5_FIELDS[1]],
        tcwv,
        latitude_deg,
        height_m=dem,
        wet_mean_temperature_k=weather.wet_mean_temperature_k,
    )
    return Acquisition(era5, tcwv, delay)


# -------------------------------------------------------------------------------------- pairs
def interferogram_delay(
    delay_primary_m: np.ndarray, delay_secondary_m: np.ndarray, incidence_deg: np.ndarray | float
) -> np.ndarray:
    """Slant delay difference ``(secondary - primary) / cos(incidence)``, metres (float32).

    It is the range change the atmosphere adds to the pair (a longer path is a range increase); the
    phase is ``4 pi / lambda`` times it. The mapping function is the flat-Earth ``1/cos``.
    """
    cos_inc = np.cos(np.radians(np.asarray(incidence_deg, dtype=np.float32)))
    diff = np.asarray(delay_secondary_m, dtype=np.float32) - np.asarray(delay_primary_m, dtype=np.float32)
    return (diff / cos_inc).astype(np.float32, copy=False)


def stratified_zenith_delay(dem: np.ndarray, weather: Weather, *, latitude_deg: float = 0.0) -> np.ndarray:
    """Zenith delay (m, float32) of the horizontally uniform part of the atmosphere: elevation only.

    The delay of :func:`simulate_acquisition` without turbulence and without the synoptic pressure
    gradient; differenced between two dates (:func:`interferogram_delay`) it is the pair's vertical
    stratification, and the total minus it is the turbulent part (see :func:`stratified_fraction`).
    """
    calm = replace(weather, turbulence_kg_m2=0.0, pressure_gradient_pa_m=(0.0, 0.0))
    sp = surface_pressure(dem, calm)
    tcwv = np.maximum(stratified_water_vapour(dem, calm), np.float32(TCWV_FLOOR_KG_M2))
    return zenith_delay(
        sp, tcwv, latitude_deg, height_m=dem, wet_mean_temperature_k=weather.wet_mean_temperature_k
    )


def _fringes_without_plane(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Fringes (0.5-99.5 percentile range / 2 pi) of a phase sample after removing its best-fit plane."""
    design = np.column_stack([np.ones_like(rows), rows, cols])
    coeffs, *_ = np.linalg.lstsq(design, field, rcond=None)
    lo, hi = np.percentile(field - design @ coeffs, [0.5, 99.5])
    return float(hi - lo) / (2.0 * math.pi)


def stratified_fraction(
    atmospheric_phase_rad: np.ndarray,
    dem: np.ndarray,
    *,
    stratified_phase_rad: np.ndarray | None = None,
    max_samples: int = FIT_MAX_SAMPLES,
) -> tuple[float, float]:
    """Fringes of a pair's atmospheric phase explained by elevation, and fringes of the turbulent rest.

    Returns ``(stratified, turbulent)`` fringe counts (cycles of 2 pi; radians in). The turbulent count is
    the 0.5-99.5 percentile range / 2 pi of the non-stratified phase after removing its best-fit plane
    (a frame-wide tilt reads as a ramp, not as turbulent mixing). Large frames use a regular subsample of
    about ``max_samples`` pixels (the fields are smooth).

    * With ``stratified_phase_rad`` (the simulated stratified part, e.g. :func:`stratified_zenith_delay` of
      both dates through :func:`interferogram_delay`): stratified = its peak-to-peak / 2 pi, exact; use it
      to flag what was simulated.
    * Without it: the analyst's phase-elevation regression ``phase = a + b z`` (least squares);
      stratified = ``|b| (z_max - z_min) / 2 pi``. Under strong turbulence, large-scale patterns that
      happen to correlate with the volcano bias ``b`` (spurious stratification of up to ~1-2 fringes on a
      3 km edifice), and a linear fit of the exponential profile overestimates it by ~20 %.
    """
    phase_full = np.asarray(atmospheric_phase_rad)
    dem_full = np.asarray(dem)
    step = max(1, math.ceil(math.sqrt(phase_full.size / max_samples)))
    rows, cols = np.indices(phase_full[::step, ::step].shape, dtype=np.float64)
    phase = phase_full[::step, ::step].astype(np.float64).ravel()
    if stratified_phase_rad is not None:
        strat = np.asarray(stratified_phase_rad)[::step, ::step].astype(np.float64).ravel()
        ok = np.isfinite(phase) & np.isfinite(strat)
        if ok.sum() < 3:
            return 0.0, 0.0
        stratified = float(np.ptp(strat[ok])) / (2.0 * math.pi)
        rest = phase[ok] - strat[ok]
    else:
        z = dem_full[::step, ::step].astype(np.float64).ravel()
        ok = np.isfinite(phase) & np.isfinite(z)
        if ok.sum() < 3:
            return 0.0, 0.0
        zc = z[ok] - z[ok].mean()
        var = float(np.dot(zc, zc))
        b = float(np.dot(zc, phase[ok] - phase[ok].mean())) / var if var > 0 else 0.0
        stratified = abs(b) * float(np.nanmax(dem_full) - np.nanmin(dem_full)) / (2.0 * math.pi)
        rest = phase[ok] - b * zc
    return stratified, _fringes_without_plane(rest, rows.ravel()[ok], cols.ravel()[ok])
