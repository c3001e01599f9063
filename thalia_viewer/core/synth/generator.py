"""Turn a :class:`~.scenario.FramePlan` into rasters: DEM, ERA5 fields per date, and each pair's layers.

Interferogram of a pair (primary p, secondary s), radians::

    phase = wrap( sum_events share_e(p, s) * phi_e        deformation (elastic sources, LOS, C band)
                  + 4 pi / lambda * (D_s - D_p) / cos(inc) atmosphere: zenith delays from the same fields
                                                           as the ERA5 layers, plus small-scale turbulence
                  + ramp                                    residual orbit error
                  + noise(coherence) )                      decorrelation, from coherence

Masks cover the pixels where an event's own phase in this pair reaches :data:`MASK_PHASE_RAD`, for events
that show at least :data:`LABEL_MIN_FRINGES` fringes (what an expert would outline); the intensity
level follows from that fringe count. Each part uses its own seeded generator, so the output does not depend
on the order pairs are written.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import date
from functools import cached_property

import numpy as np
from scipy import ndimage

from .. import schema
from ..schema import ActivityType
from . import atmosphere, coherence, geometry, sources, terrain
from .labels import PairFacts, Pattern
from .scenario import PIXEL_DEG, Event, FramePlan

LABEL_MIN_FRINGES = 0.9  # an event is labelled in a pair when it shows about one fringe or more
MASK_PHASE_RAD = np.pi / 2  # outline of a pattern: where its own phase reaches a quarter fringe
DATE_CACHE = 6  # acquisitions whose atmosphere is kept in memory (a campaign is 4)
FOOTPRINT_TILT_DEG = 8.0  # the radar footprint is a parallelogram tilted against the lon/lat grid
FOOTPRINT_INSET = 0.04  # fraction of each side outside the footprint at its narrowest


class FrameSimulator:
    """Rasters of one synthetic frame, computed on demand."""

    def __init__(self, plan: FramePlan) -> None:
        self.plan = plan
        h, w = plan.shape
        self.lat = plan.lat0 + PIXEL_DEG * (h / 2 - 0.5 - np.arange(h))  # decreasing, pixel centres
        self.lon = plan.lon0 + PIXEL_DEG * (np.arange(w) - w / 2 + 0.5)
        east, _ = geometry.lonlat_to_metres(self.lon, np.full(w, plan.lat0), plan.lon0, plan.lat0)
        _, north = geometry.lonlat_to_metres(np.full(h, plan.lon0), self.lat, plan.lon0, plan.lat0)
        self.east, self.north = east, north
        self.los = geometry.los_unit_vector(plan.direction, plan.incidence_deg)
        self._dates: OrderedDict[date, tuple[dict[str, np.ndarray], np.ndarray]] = OrderedDict()
        self._events: dict[int, np.ndarray] = {}

    # ---------------------------------------------------------------------------------- static fields
    @cached_property
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """2-D east and north coordinates, metres."""
        return np.meshgrid(self.east, self.north)

    @cached_property
    def dem(self) -> np.ndarray:
        """Elevation, metres (H, W) float32."""
        radius = 0.3 * min(self.plan.shape) * PIXEL_DEG * 111e3
        return terrain.volcano_dem(
            self.east,
            self.north,
            rng=self.plan.rng(1),
            summit_m=self.plan.summit_m,
            base_m=200.0,
            radius_m=radius,
        ).astype(np.float32)

    @cached_property
    def slope(self) -> np.ndarray:
        """Terrain slope, degrees."""
        return terrain.slope_deg(
            self.dem, abs(self.east[1] - self.east[0]), abs(self.north[1] - self.north[0])
        )

    @cached_property
    def landcover(self) -> np.ndarray:
        """Vegetation fraction 0-1 (lowers coherence over time)."""
        field = terrain.fractal_field(self.plan.shape, 3.0, self.plan.rng(3))
        return (1.0 / (1.0 + np.exp(-1.5 * field))).astype(np.float32)

    @cached_property
    def footprint(self) -> np.ndarray:
        """True inside the radar footprint (a tilted parallelogram); outside is no-data."""
        h, w = self.plan.shape
        rows, cols = np.mgrid[0:h, 0:w]
        shear = math.tan(math.radians(FOOTPRINT_TILT_DEG)) * (rows - h / 2)
        margin = FOOTPRINT_INSET * w + abs(math.tan(math.radians(FOOTPRINT_TILT_DEG))) * h / 2
        return (cols - shear >= margin) & (cols - shear <= w - 1 - margin) | (margin <= 0)

    # ------------------------------------------------------------------------------------ per date
    def _date(self, day: date) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """ERA5 fields and zenith delay (metres) of one acquisition, cached for a campaign."""
        if day not in self._dates:
            rng = self.plan.rng(2, day.toordinal())
            weather = atmosphere.draw_weather(rng, day, self.plan.lat0)
            era5 = atmosphere.era5_fields(self.dem, weather, rng)
            vapour = atmosphere.fine_water_vapour(self.dem, weather, rng)
            delay = atmosphere.zenith_delay(era5["surface_pressure"], vapour, latitude_deg=self.plan.lat0)
            self._dates[day] = ({k: v.astype(np.float32) for k, v in era5.items()}, delay.astype(np.float32))
            while len(self._dates) > DATE_CACHE:
                self._dates.popitem(last=False)
        self._dates.move_to_end(day)
        return self._dates[day]

    def era5(self, day: date) -> dict[str, np.ndarray]:
        """ERA5-like fields of one acquisition on the frame grid, keyed by ``schema.ERA5_FIELDS``."""
        return self._date(day)[0]

    # ---------------------------------------------------------------------------------- deformation
    def _unit_displacement(self, event: Event) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """East, north, up displacement (m) of an event at an arbitrary reference amplitude."""
        east, north = self.grid
        p, x0, y0 = event.params, event.x0, event.y0
        if event.kind == ActivityType.MOGI:
            return sources.mogi(east, north, x0=x0, y0=y0, depth=p["depth"], dvolume=1e6)
        if event.kind == ActivityType.SILL:
            return sources.sill(east, north, x0=x0, y0=y0, depth=p["depth"], radius=p["radius"], opening=1.0)
        if event.kind == ActivityType.SPHEROID:
            return sources.prolate_spheroid(
                east,
                north,
                x0=x0,
                y0=y0,
                depth=p["depth"],
                semi_major=p["semi_major"],
                semi_minor=p["semi_minor"],
                dvolume=1e6,
            )
        if event.kind == ActivityType.DYKE:
            return sources.okada(
                east,
                north,
                x0=x0,
                y0=y0,
                depth=p["top"] + p["height"] / 2,
                strike_deg=p["strike"],
                dip_deg=90.0,
                length=p["length"],
                width=p["height"],
                opening=1.0,
            )
        if event.kind == ActivityType.EARTHQUAKE:
            return sources.okada(
                east,
                north,
                x0=x0,
                y0=y0,
                depth=p["depth"],
                strike_deg=p["strike"],
                dip_deg=p["dip"],
                length=p["length"],
                width=p["width"],
                rake_deg=p["rake"],
                slip=1.0,
            )
        # Unidentified: a Mogi source seen through an anisotropic stretch, an irregular elongated pattern
        az = math.radians(p["azimuth"])
        along = (east - x0) * math.sin(az) + (north - y0) * math.cos(az)
        across = (east - x0) * math.cos(az) - (north - y0) * math.sin(az)
        ue, un, uz = sources.mogi(
            across * p["elongation"] ** 0.5,
            along / p["elongation"] ** 0.5,
            x0=0.0,
            y0=0.0,
            depth=p["depth"],
            dvolume=1e6,
        )
        return ue, un, uz

    def event_phase(self, index: int) -> np.ndarray:
        """Unwrapped LOS phase (rad) of the whole event ``index``, scaled to its planned fringe count."""
        if index not in self._events:
            event = self.plan.events[index]
            phase = geometry.displacement_to_phase(
                geometry.los_displacement(*self._unit_displacement(event), self.los)
            )
            scale = event.fringes / max(geometry.fringe_count(phase), 1e-9)
            # inflation (sign +1) moves the ground towards the satellite: negative phase, LiCSAR convention
            self._events[index] = (phase * scale * event.sign).astype(np.float32)
        return self._events[index]

    def _uplift(self, event: Event, share: float) -> bool:
        return event.sign * share > 0

    # ---------------------------------------------------------------------------------------- pairs
    def pair(self, primary: date, secondary: date) -> tuple[dict[str, np.ndarray], PairFacts]:
        """The stored layers of one pair (phase, coherence 0-255, three masks) and what was simulated."""
        plan = self.plan
        rng = plan.rng(4, primary.toordinal(), secondary.toordinal())
        h, w = plan.shape
        baseline = (secondary - primary).days
        facts = PairFacts(
            primary, secondary, direction=plan.direction, volcano=f"the {plan.volcano}-like volcano"
        )
        coh = coherence.coherence(self.slope, baseline, self.landcover, rng)
        deformation = np.zeros((h, w), np.float32)
        activity = np.zeros((h, w), np.uint8)
        intensity = np.zeros((h, w), np.uint8)
        pixel_km2 = abs(self.east[1] - self.east[0]) * abs(self.north[1] - self.north[0]) / 1e6
        for k, event in enumerate(plan.events):
            share = event.share(primary, secondary)
            if share == 0:
                continue
            phi = self.event_phase(k) * np.float32(share)
            deformation += phi
            fringes = geometry.fringe_count(phi)
            if fringes < LABEL_MIN_FRINGES:
                continue
            region = ndimage.binary_fill_holes(np.abs(phi) >= MASK_PHASE_RAD) & self.footprint
            if not region.any():
                continue
            quake = event.kind == ActivityType.EARTHQUAKE
            level = schema.intensity_level_from_fringes(fringes, earthquake=quake)
            activity[region] = schema.class_by_name(schema.ACTIVITY_TYPES, event.kind).code
            intensity[region] = level
            facts.patterns.append(
                Pattern(
                    event.kind,
                    fringes,
                    level,
                    self._uplift(event, share),
                    event.x0 / 1e3,
                    event.y0 / 1e3,
                    float(region.sum()) * pixel_km2,
                )
            )
        delay_p = self._date(primary)[1]
        delay_s = self._date(secondary)[1]
        slant = atmosphere.interferogram_delay(delay_p, delay_s, plan.incidence_deg)
        atmo = geometry.displacement_to_phase(-slant)  # a longer path is a range increase
        facts.stratified_fringes, facts.turbulent_fringes = atmosphere.stratified_fraction(atmo, self.dem)
        ramp, facts.ramp_fringes = coherence.orbital_ramp(
            self.east, self.north, rng, max_fringes=float(rng.uniform(0.0, 1.8))
        )
        noise = coherence.decorrelation_noise(coh, rng)
        total = deformation + atmo + ramp + noise
        facts.corrupted = (primary, secondary) in plan.corrupted
        if facts.corrupted:
            total = _processing_stripes(rng, (h, w))
            coh = coh * np.float32(0.3)
            activity[:] = 0
            intensity[:] = 0
            facts.patterns = []
        facts.mean_coherence = float(coh[self.footprint].mean())
        outside = ~self.footprint
        phase = geometry.wrap(total).astype(np.float32)
        phase[outside] = np.nan
        coh255 = (np.clip(coh, 0, 1) * schema.COHERENCE_SCALE).astype(np.float32)
        coh255[outside] = np.nan
        activity[outside] = 0
        intensity[outside] = 0
        fields = {
            schema.PHASE: phase,
            schema.COHERENCE: coh255,
            schema.DEFORMATION_MASK: schema.deformation_from_activity(activity),
            schema.ACTIVITY_MASK: activity,
            schema.INTENSITY_MASK: intensity,
        }
        return fields, facts


def _processing_stripes(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """What a failed processing leaves: burst-like stripes of unrelated phase."""
    h, w = shape
    rows = np.repeat(rng.uniform(-np.pi, np.pi, size=h // 16 + 1), 16)[:h]
    return rows[:, None] + rng.normal(0.0, 1.2, size=(h, w))
