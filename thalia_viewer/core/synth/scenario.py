"""What a synthetic frame holds: its place, acquisition dates, pairs, volcano and deformation events.

Planning only (no rasters): seeded and reproducible. The generator (``generator.py``) turns a plan into
fields; ``writer.py`` writes them in the Thalia layout.

Dates come in *campaigns* of four Sentinel-1 acquisitions 12 days apart; every ordered pair inside a campaign
is an interferogram (6 pairs, the first primary date giving a length-3 time series). Campaigns are spread
over the benchmark's train / val / test periods. A campaign holds zero, one or (rarely) two events whose
onset falls after its first acquisition and which grow over tens of days (earthquakes: a step), so a time
series shows deformation appear and grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from .. import schema
from ..errors import ArgumentError
from ..schema import ActivityType, IntensityLevel, Split

REVISIT_DAYS = 12  # Sentinel-1 repeat cycle used for campaigns
CAMPAIGN_SIZE = 4  # acquisitions per campaign
PIXEL_DEG = 0.001  # grid spacing, degrees (~100 m)
#: Where campaigns start in each split (a campaign must start inside its split: primary dates define it).
SPLIT_WINDOWS = {
    Split.TRAIN: (date(2015, 3, 1), date(2019, 4, 15)),
    Split.VAL: (date(2019, 6, 1), date(2019, 11, 15)),
    Split.TEST: (date(2020, 1, 1), date(2021, 10, 31)),
}
SPLIT_SHARE = {Split.TRAIN: 0.6, Split.VAL: 0.15, Split.TEST: 0.25}
VOLCANIC_KINDS = (
    ActivityType.MOGI,
    ActivityType.DYKE,
    ActivityType.SILL,
    ActivityType.SPHEROID,
    ActivityType.UNIDENTIFIED,
)
EVENT_KINDS = tuple(ActivityType)
#: Peak-to-peak fringes of a whole event, by intensity the event is meant to reach.
EVENT_FRINGES = {
    IntensityLevel.LOW: (1.2, 1.6),
    IntensityLevel.MEDIUM: (2.2, 3.2),
    IntensityLevel.HIGH: (4.0, 7.0),
}
#: A few frames placed at their real volcanoes (lon, lat, volcano); others get a plausible random place.
KNOWN_PLACES = {
    "124D_05291_081406": (14.995, 37.750, "Etna"),
    "144A_SM_REUN_S6": (55.708, -21.244, "Piton de la Fournaise"),
    "151D_SM_REUN_S4": (55.708, -21.244, "Piton de la Fournaise"),
    "083D_12636_131313": (-17.836, 28.571, "La Palma"),
    "087D_07004_060904": (14.426, 40.821, "Campi Flegrei / Vesuvius"),
}
#: Frame ids used in order (the real Thalia frames: the app and the official loader expect this pattern).
FRAME_IDS = (
    "124D_05291_081406",
    "144A_SM_REUN_S6",
    "083D_12636_131313",
    "087D_07004_060904",
    "162A_06192_060402",
    "128D_09016_110500",
    "021D_09150_131313",
    "156A_05796_080500",
    "012D_07075_080504",
    "115D_04601_131313",
    "022D_04826_121209",
    "032D_09854_070505",
    "152D_09114_131313",
    "155D_02579_100800",
    "106A_09090_000404",
    "103A_07010_121313",
    "175D_12845_111312",
    "174A_09133_131313",
    "076D_09725_121107",
    "142A_07606_131313",
)


@dataclass(frozen=True)
class Event:
    """One deformation source: kind, place (metres from the frame centre), timing and its full amplitude."""

    kind: str  # an ACTIVITY_TYPES name
    x0: float
    y0: float
    onset: date
    duration_days: float  # 0 for a step (earthquake)
    fringes: float  # peak-to-peak fringes of the whole event in LOS phase
    sign: int  # +1 inflation / uplift, -1 deflation / subsidence
    params: dict[str, float] = field(default_factory=dict)  # source geometry, see generator

    def progress(self, day: date) -> float:
        """Fraction of the event's deformation accumulated by ``day`` (0 before onset, 1 when complete)."""
        elapsed = (day - self.onset).days
        if self.duration_days <= 0:
            return 1.0 if elapsed >= 0 else 0.0
        return float(np.clip(elapsed / self.duration_days, 0.0, 1.0))

    def share(self, primary: date, secondary: date) -> float:
        """Fraction of the event seen by the interferogram ``primary -> secondary``."""
        return self.progress(secondary) - self.progress(primary)


@dataclass(frozen=True)
class FramePlan:
    """Everything random about one synthetic frame, drawn up front from its seed."""

    frame_id: str
    index: int
    seed: int
    shape: tuple[int, int]
    lon0: float
    lat0: float
    volcano: str
    summit_m: float
    incidence_deg: float
    dates: tuple[date, ...]
    pairs: tuple[tuple[date, date], ...]
    events: tuple[Event, ...]
    corrupted: frozenset[tuple[date, date]]

    @property
    def direction(self) -> str:
        """``A`` (ascending) or ``D`` (descending), from the frame id."""
        return self.frame_id[3]

    def rng(self, *salt: int) -> np.random.Generator:
        """An independent generator for one part of this frame (so results do not depend on write order)."""
        return np.random.default_rng([self.seed, self.index, *salt])

    def attrs(self) -> dict[str, Any]:
        """Store attributes describing how the frame was made."""
        return {
            "frame_id": self.frame_id,
            "title": f"Synthetic Thalia cube of frame {self.frame_id} ({self.volcano}-like volcano)",
            "source": "thalia-viewer synth (physics-based synthetic interferograms)",
            "seed": self.seed,
            "incidence_angle_deg": self.incidence_deg,
            "pass_direction": "ascending" if self.direction == "A" else "descending",
            "volcano_lon": self.lon0,
            "volcano_lat": self.lat0,
        }


def campaign_starts(n_campaigns: int, rng: np.random.Generator) -> list[date]:
    """First acquisition of each campaign, shared among splits (each split gets one when there are 3+)."""
    counts = dict.fromkeys(SPLIT_SHARE, 0)
    for i in range(n_campaigns):
        # the first three go one to each split, the rest in proportion to the split shares
        split = (
            list(SPLIT_SHARE)[i]
            if i < 3
            else max(SPLIT_SHARE, key=lambda s: SPLIT_SHARE[s] * n_campaigns - counts[s])
        )
        counts[split] += 1
    starts: list[date] = []
    for split, n in counts.items():
        lo, hi = SPLIT_WINDOWS[split]
        span = (hi - lo).days
        for k in range(n):
            offset = (k + rng.uniform(0.1, 0.9)) * span / max(n, 1)
            starts.append(lo + timedelta(days=int(offset)))
    return sorted(starts)


def campaign_dates(start: date) -> list[date]:
    """The acquisitions of one campaign."""
    return [start + timedelta(days=REVISIT_DAYS * k) for k in range(CAMPAIGN_SIZE)]


def _event(kind: str, first: date, rng: np.random.Generator, radius_m: float) -> Event:
    """An event of ``kind`` starting shortly after ``first`` near the volcano (earthquakes off it)."""
    intensity = rng.choice(list(EVENT_FRINGES), p=[0.3, 0.4, 0.3])
    fringes = float(rng.uniform(*EVENT_FRINGES[intensity]))
    onset = first + timedelta(days=int(rng.integers(2, REVISIT_DAYS - 1)))
    angle = rng.uniform(0, 2 * math.pi)
    if kind == ActivityType.EARTHQUAKE:
        dist = rng.uniform(1.3, 2.0) * radius_m
        params = {
            "depth": rng.uniform(4e3, 9e3),
            "length": rng.uniform(6e3, 14e3),
            "width": rng.uniform(4e3, 8e3),
            "strike": rng.uniform(0, 360),
            "dip": rng.uniform(40, 80),
            "rake": rng.choice([-90.0, 0.0, 90.0, 180.0]),
        }
        return Event(kind, dist * math.cos(angle), dist * math.sin(angle), onset, 0.0, fringes, 1, params)
    dist = rng.uniform(0.0, 0.25) * radius_m
    sign = 1 if kind in (ActivityType.DYKE, ActivityType.UNIDENTIFIED) or rng.random() < 0.7 else -1
    duration = float(rng.uniform(18, 45))
    params = {
        ActivityType.MOGI: lambda: {"depth": rng.uniform(3e3, 7e3)},
        ActivityType.SILL: lambda: {"depth": rng.uniform(2.5e3, 5e3), "radius": rng.uniform(1.5e3, 3e3)},
        ActivityType.SPHEROID: lambda: {
            "depth": rng.uniform(4e3, 7e3),
            "semi_major": rng.uniform(1.5e3, 2.5e3),
            "semi_minor": rng.uniform(0.4e3, 0.8e3),
        },
        ActivityType.DYKE: lambda: {
            "top": rng.uniform(0.3e3, 1.5e3),
            "height": rng.uniform(2e3, 5e3),
            "length": rng.uniform(3e3, 8e3),
            "strike": rng.uniform(0, 180),
        },
        ActivityType.UNIDENTIFIED: lambda: {
            "depth": rng.uniform(2e3, 5e3),
            "elongation": rng.uniform(1.5, 2.5),
            "azimuth": rng.uniform(0, 180),
        },
    }[ActivityType(kind)]()
    return Event(kind, dist * math.cos(angle), dist * math.sin(angle), onset, duration, fringes, sign, params)


def event_at(
    kind: str, first: date, rng: np.random.Generator, radius_m: float, distance: tuple[float, float]
) -> Event:
    """An event of ``kind`` in the campaign starting ``first``, at ``distance`` (fractions of the volcano
    radius, drawn uniformly) from the summit in a random direction: a second pattern apart from the first."""
    placed = _event(kind, first, rng, radius_m)
    dist = rng.uniform(*distance) * radius_m
    angle = rng.uniform(0, 2 * math.pi)
    return replace(placed, x0=dist * math.cos(angle), y0=dist * math.sin(angle))


def plan_dataset(
    n_frames: int = 3, shape: tuple[int, int] = (512, 512), n_dates: int = 12, seed: int = 0
) -> list[FramePlan]:
    """Plans of ``n_frames`` frames with ``n_dates`` acquisitions each; every event kind appears somewhere."""
    if not 1 <= n_frames <= len(FRAME_IDS):
        msg = f"n_frames={n_frames} is out of range: between 1 and {len(FRAME_IDS)} frames."
        raise ArgumentError(
            msg, f"Pass n_frames={min(max(n_frames, 1), len(FRAME_IDS))} or another in range."
        )
    if min(shape) < 128:
        msg = f"shape={tuple(shape)} is too small: a synthetic frame is at least 128 x 128 pixels."
        raise ArgumentError(msg, "Pass shape=(128, 128) or more.")
    if n_dates < CAMPAIGN_SIZE:
        msg = f"n_dates={n_dates} is too few: at least {CAMPAIGN_SIZE} acquisitions (one campaign)."
        raise ArgumentError(msg, f"Pass n_dates={CAMPAIGN_SIZE} or more.")
    n_campaigns = n_dates // CAMPAIGN_SIZE
    # one slot per campaign over all frames; kinds dealt in turn, a third of the slots left quiet
    slots = n_frames * n_campaigns
    deal = np.random.default_rng([seed, 9999])
    kinds: list[str | None] = [EVENT_KINDS[i % len(EVENT_KINDS)] for i in range(max(len(EVENT_KINDS), slots))]
    quiet = max(0, slots - len(EVENT_KINDS)) // 3
    kinds = kinds[: slots - quiet] + [None] * quiet
    kinds = kinds[:slots]
    order = deal.permutation(len(kinds))
    kinds = [kinds[i] for i in order]
    plans = []
    for index in range(n_frames):
        frame_id = FRAME_IDS[index]
        rng = np.random.default_rng([seed, index])
        lon0, lat0, volcano = KNOWN_PLACES.get(
            frame_id, (float(rng.uniform(-30, 150)), float(rng.uniform(-40, 60)), "generic stratovolcano")
        )
        radius_m = 0.3 * min(shape) * PIXEL_DEG * 111e3  # volcano radius, about 30 % of the frame
        starts = campaign_starts(n_campaigns, rng)
        dates: list[date] = []
        pairs: list[tuple[date, date]] = []
        events: list[Event] = []
        for c, start in enumerate(starts):
            acq = campaign_dates(start)
            dates += acq
            pairs += [(acq[i], acq[j]) for i in range(len(acq)) for j in range(i + 1, len(acq))]
            kind = kinds[index * n_campaigns + c]
            if kind is not None:
                events.append(_event(kind, acq[0], rng, radius_m))
                if rng.random() < 0.15:  # an occasional second pattern (is_crowd)
                    events.append(_event(str(rng.choice(VOLCANIC_KINDS)), acq[0], rng, radius_m))
        n_corrupt = len(pairs) // 25
        corrupted = (
            frozenset(pairs[i] for i in rng.choice(len(pairs), n_corrupt, replace=False))
            if n_corrupt
            else frozenset()
        )
        plans.append(
            FramePlan(
                frame_id=frame_id,
                index=index,
                seed=seed,
                shape=(int(shape[0]), int(shape[1])),
                lon0=lon0,
                lat0=lat0,
                volcano=volcano,
                summit_m=float(rng.uniform(1800, 3300)),
                incidence_deg=float(rng.uniform(31, 44)),
                dates=tuple(sorted(set(dates))),
                pairs=tuple(pairs),
                events=tuple(events),
                corrupted=corrupted,
            )
        )
    return plans


def split_name(day: date) -> str:
    """The split of a primary date, for captions."""
    split = schema.split_of(day)
    return split.value if split else "none"
