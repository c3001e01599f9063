"""A real-size catalogue for tests and benchmarks: the 38 Thalia frames, 19,919 annotated pairs, real date grids.

The shape of the real catalogue (Thalia's ``quality_timeseries.json`` and annotation files): 38 frames with the
real LiCSAR ids and volcano names, 19,919 records, 15 to 320 primary dates per frame (``162A_06192_060402``
has 320; ``087D_07004_060904`` has 1,326 pairs over 277 primary dates; ``155D_02484_191814`` 54 pairs over 15),
mostly 6-48 day baselines with a few annual pairs, about 9 % positives (a few dozen earthquakes, some
records with several patterns), about 5 % unusable pairs (corrupted, processing error, no information).

Labels, flags and captions come from what each pair would show, not from dice per field: each frame has
deformation episodes (the synthetic generator's sources: Mogi, dyke, sill, spheroid, unidentified, and a few
earthquakes) with an onset and a growth time; a pair is labelled where the part of an episode it spans
reaches about one fringe (intensity from that fringe count); atmospheric flags come from per-date
stratification and turbulence, low coherence from the baseline and the season. Captions and records are
composed by :mod:`.labels` exactly as for the physics-based cubes.

The cubes are Zarr 2 (like the real ones) written **metadata only**: every array exists with the frame's full
primary x secondary grid but no chunk is written, so a root costs a few MB whatever the grid. :func:`fill_pairs`
simulates the pairs a test or a demo touches (the physics-based generator, with the frame's episodes) and
writes only their cells, the DEM and the ERA5 fields of their dates.

>>> summary = write_catalogue("data/catalogue", fill_per_frame=2)   # thalia-viewer synth OUT --catalogue
>>> fill_pairs("data/catalogue", ["162A_06192_060402/20170105_20170111"])
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import zarr

from .. import schema
from ..errors import ArgumentError, PairNotFoundError
from ..io import CHUNK_PX, compressor
from ..pairs import Pair
from ..schema import ActivityType
from ..zarr_write import array_of, attrs_of
from .generator import LABEL_MIN_FRINGES, FrameSimulator
from .labels import PairFacts, Pattern, annotation_record
from .scenario import KNOWN_PLACES, PIXEL_DEG, VOLCANIC_KINDS, Event, FramePlan, _event

N_RECORDS: Final = 19_919
#: (records, primary dates) of the frames whose size the real catalogue fixes.
KNOWN_SIZES: Final = {
    "087D_07004_060904": (1326, 277),
    "162A_06192_060402": (1150, 320),
    "155D_02484_191814": (54, 15),
}
DATE_SPAN: Final = (date(2014, 10, 7), date(2021, 11, 20))
SLOT_DAYS: Final = 6  # Sentinel-1 A+B revisit: acquisitions fall on a 6-day grid
MAX_SERIES: Final = 22  # the longest primary-date group of the real catalogue
ANNUAL_SHARE: Final = 0.03  # pairs replaced by a ~1 year pair
NOMINAL_SIZE: Final = 512  # px: where episodes are placed (metres from the centre), whatever the cube size
EARTHQUAKE_FRAMES: Final = 6
#: Target share of positive pairs of a frame: quiet, moderate and active frames, with their probabilities.
ACTIVITY_LEVELS: Final[tuple[tuple[tuple[float, float], float], ...]] = (
    ((0.005, 0.03), 0.3),
    ((0.04, 0.12), 0.5),
    ((0.15, 0.3), 0.2),
)
VOLCANIC_WEIGHTS: Final = {
    ActivityType.MOGI: 0.3,
    ActivityType.DYKE: 0.15,
    ActivityType.SILL: 0.15,
    ActivityType.SPHEROID: 0.1,
    ActivityType.UNIDENTIFIED: 0.3,
}
COMPANION_SHARE: Final = 0.12  # episodes joined by a second source at the same time (several patterns)
FLAG_SHARES: Final = {
    "corrupted": 0.03,
    "processing_error": 0.012,
    "no_info": 0.008,
    "image_artifacts": 0.015,
}
GLACIER_FRAMES: Final = (
    "155D_02579_100800",
    "155D_02484_191814",
    "083D_12636_131313",
    "083D_12440_131313",
    "164A_13146_131313",
)


@dataclass(frozen=True)
class CatalogueFrame:
    """One frame of the catalogue: its place, acquisitions, pairs, episodes and annotation records."""

    frame_id: str
    index: int
    volcano: str  # the first volcano of the frame (captions)
    lon0: float
    lat0: float
    summit_m: float
    incidence_deg: float
    dates: tuple[date, ...]
    pairs: tuple[tuple[date, date], ...]
    events: tuple[Event, ...]
    records: tuple[schema.AnnotationRecord, ...]

    @property
    def primaries(self) -> list[date]:
        return sorted({p for p, _ in self.pairs})

    @property
    def secondaries(self) -> list[date]:
        return sorted({s for _, s in self.pairs})

    def plan(self, shape: tuple[int, int], seed: int) -> FramePlan:
        """The generator's plan of this frame at ``shape`` px (what :func:`fill_pairs` simulates)."""
        corrupted = frozenset(
            (schema.parse_date(r["primary_date"]), schema.parse_date(r["secondary_date"]))
            for r in self.records
            if r["corrupted"]
        )
        return FramePlan(
            frame_id=self.frame_id,
            index=self.index,
            seed=seed,
            shape=shape,
            lon0=self.lon0,
            lat0=self.lat0,
            volcano=self.volcano,
            summit_m=self.summit_m,
            incidence_deg=self.incidence_deg,
            dates=self.dates,
            pairs=self.pairs,
            events=self.events,
            corrupted=corrupted,
        )


# ------------------------------------------------------------------------------------------ planning
def _frame_sizes(rng: np.random.Generator) -> dict[str, tuple[int, int]]:
    """(records, primary dates) of every frame; records sum to :data:`N_RECORDS`."""
    ids = list(schema.FRAME_VOLCANOES)
    free = [f for f in ids if f not in KNOWN_SIZES]
    remaining = N_RECORDS - sum(r for r, _ in KNOWN_SIZES.values())
    weights = rng.lognormal(0.0, 0.6, len(free))
    counts = np.clip(np.round(weights / weights.sum() * remaining), 60, 1250).astype(int)
    k = 0
    while (diff := remaining - int(counts.sum())) != 0:  # clipping and rounding: settle the difference
        i = k % len(free)
        if 60 < counts[i] + np.sign(diff) < 1250:
            counts[i] += np.sign(diff)
        k += 1
    sizes = dict(KNOWN_SIZES)
    for f, n in zip(free, counts, strict=True):
        sizes[f] = (int(n), int(np.clip(round(n / rng.uniform(2.8, 4.2)), 15, 300)))
    return {f: sizes[f] for f in ids}


def _acquisitions(n: int, rng: np.random.Generator) -> list[date]:
    """``n`` acquisition dates on the 6-day grid: about every 8-16 days, within the catalogue's span."""
    full = (DATE_SPAN[1] - DATE_SPAN[0]).days // SLOT_DAYS
    slots = min(full, max(n, round(n * rng.uniform(8, 16) / SLOT_DAYS)))
    start = DATE_SPAN[0] + timedelta(days=SLOT_DAYS * int(rng.integers(0, full - slots + 1)))
    picked = np.sort(rng.choice(slots, n, replace=False))
    return [start + timedelta(days=SLOT_DAYS * int(k)) for k in picked]


def _pairs(n_pairs: int, n_primaries: int, rng: np.random.Generator) -> list[tuple[date, date]]:
    """A primary-date grid of ``n_pairs`` pairs: each primary with its next few acquisitions, a few annual pairs."""
    extra = 3
    acq = _acquisitions(n_primaries + extra, rng)
    available = np.array([min(MAX_SERIES, len(acq) - 1 - i) for i in range(n_primaries)])
    counts = np.ones(n_primaries, int)
    appetite = rng.lognormal(0.0, 0.7, n_primaries)  # most groups 3-4 pairs, a few up to MAX_SERIES
    while (left := n_pairs - int(counts.sum())) > 0:
        room = available - counts
        open_ = np.flatnonzero(room > 0)
        if not len(open_):
            break
        add = rng.multinomial(left, appetite[open_] / appetite[open_].sum())
        counts[open_] += np.minimum(add, room[open_])
    pairs: list[tuple[date, date]] = []
    for i, k in enumerate(counts):
        chosen = list(range(i + 1, i + 1 + int(k)))
        if rng.random() < ANNUAL_SHARE * k:
            later = [
                j for j in range(i + 1, len(acq)) if 330 <= (acq[j] - acq[i]).days <= 414 and j not in chosen
            ]
            if later:
                chosen[-1] = int(rng.choice(later))
        pairs += [(acq[i], acq[j]) for j in sorted(chosen)]
    return pairs


def _episodes(
    frame_id: str, pairs: list[tuple[date, date]], target: float, quake: bool, rng: np.random.Generator
) -> list[Event]:
    """Deformation episodes until about ``target`` of the pairs are positive (and one earthquake if ``quake``)."""
    radius_m = 0.3 * NOMINAL_SIZE * PIXEL_DEG * 111e3
    first, last = min(p for p, _ in pairs), max(s for _, s in pairs)
    span = (last - first).days
    p_days = np.array([p.toordinal() for p, _ in pairs])
    s_days = np.array([s.toordinal() for _, s in pairs])
    positive = np.zeros(len(pairs), bool)
    events: list[Event] = []

    def add(event: Event) -> None:
        events.append(event)
        positive[np.abs(_share(event, p_days, s_days)) * event.fringes >= LABEL_MIN_FRINGES] = True

    if quake:
        onset = first + timedelta(days=int(rng.uniform(0.1, 0.9) * span))
        add(replace(_event(ActivityType.EARTHQUAKE, onset, rng, radius_m), onset=onset))
    kinds, weights = list(VOLCANIC_WEIGHTS), np.array(list(VOLCANIC_WEIGHTS.values()))
    for _ in range(60):
        if positive.mean() >= target:
            break
        onset = first + timedelta(days=int(rng.uniform(0.02, 0.95) * span))
        kind = str(rng.choice(kinds, p=weights / weights.sum()))
        event = replace(
            _event(kind, onset, rng, radius_m), onset=onset, duration_days=float(rng.uniform(24, 180))
        )
        add(event)
        if rng.random() < COMPANION_SHARE:  # a second source at the same time: records with several patterns
            other = str(rng.choice([k for k in VOLCANIC_KINDS if k != kind]))
            lag = timedelta(days=int(rng.integers(-10, 11)))
            add(
                replace(
                    _event(other, onset, rng, radius_m), onset=onset + lag, duration_days=event.duration_days
                )
            )
    return events


def _share(event: Event, p_days: np.ndarray, s_days: np.ndarray) -> np.ndarray:
    """:meth:`Event.share` of pairs (primary, secondary as day ordinals), vectorised."""

    def progress(days: np.ndarray) -> np.ndarray:
        elapsed = (days - event.onset.toordinal()).astype(float)
        if event.duration_days <= 0:
            return (elapsed >= 0).astype(float)
        return np.clip(elapsed / event.duration_days, 0.0, 1.0)

    return progress(s_days) - progress(p_days)


def _patterns(events: list[Event], shares: np.ndarray, k: int) -> list[Pattern]:
    """The patterns pair ``k`` shows: each episode whose part in it (``shares[e, k]``) reaches about one fringe."""
    out = []
    for e in np.flatnonzero(np.abs(shares[:, k]) * [ev.fringes for ev in events] >= LABEL_MIN_FRINGES):
        event, share = events[e], float(shares[e, k])
        fringes = abs(share) * event.fringes
        quake = event.kind == ActivityType.EARTHQUAKE
        out.append(
            Pattern(
                event.kind,
                round(fringes, 2),
                schema.intensity_level_from_fringes(fringes, earthquake=quake),
                event.sign * share > 0,
                event.x0 / 1e3,
                event.y0 / 1e3,
                round(6.0 + 7.0 * fringes + (20.0 if quake else 0.0), 1),
            )
        )
    return out


def _records(
    frame: CatalogueFrame, first_uid: int, rng: np.random.Generator
) -> tuple[schema.AnnotationRecord, ...]:
    """Annotation records of every pair of ``frame``, from the episodes, per-date weather and the baseline."""
    strat_sigma = float(rng.uniform(0.2, 0.7))  # fringes of stratified delay per date (relief, climate)
    strat = {d: float(rng.normal(0.0, strat_sigma)) for d in frame.dates}
    turb = {d: float(rng.lognormal(math.log(0.35), 0.6)) for d in frame.dates}
    glacier = frame.frame_id in GLACIER_FRAMES
    cold = abs(frame.lat0) > 45 or glacier
    p_days = np.array([p.toordinal() for p, _ in frame.pairs])
    s_days = np.array([s.toordinal() for _, s in frame.pairs])
    events = list(frame.events)
    shares = np.array([_share(e, p_days, s_days) for e in events]).reshape(len(events), len(frame.pairs))
    out = []
    for k, (p, s) in enumerate(frame.pairs):
        baseline = (s - p).days
        winter = cold and (p.month in (12, 1, 2, 3) if frame.lat0 >= 0 else p.month in (6, 7, 8, 9))
        coherence = (
            0.82 - 0.4 * (1 - math.exp(-baseline / 90)) - (0.2 if winter else 0.0) + rng.normal(0.0, 0.08)
        )
        facts = PairFacts(
            p,
            s,
            patterns=_patterns(events, shares, k),
            stratified_fringes=abs(strat[s] - strat[p]),
            turbulent_fringes=math.hypot(turb[p], turb[s]),
            ramp_fringes=float(rng.exponential(0.3)),
            mean_coherence=float(np.clip(coherence, 0.05, 0.98)),
            corrupted=rng.random() < FLAG_SHARES["corrupted"],
            direction=frame.frame_id[3],
            volcano=frame.volcano,
        )
        record = annotation_record(first_uid + k, frame.frame_id, facts)
        if rng.random() < 0.5:  # experts word the same place differently
            record["caption"] = record["caption"].replace(" at the summit", " near the summit")
        if glacier and rng.random() < 0.2:
            record["glacier_fringes"] = int(rng.choice([1, 2], p=[0.75, 0.25]))
        if rng.random() < FLAG_SHARES["image_artifacts"]:
            record["image_artifacts"] = 1
        if rng.random() < FLAG_SHARES["processing_error"]:
            record["processing_error"] = int(rng.choice([2, 3]))
            record["caption"] += (
                f" Processing errors (type {record['processing_error']}) affect the interferogram."
            )
        elif rng.random() < FLAG_SHARES["no_info"]:
            record["no_info"] = 1
            record["caption"] += " No information can be extracted from this interferogram."
        out.append(record)
    return tuple(out)


@lru_cache(maxsize=4)
def plan_catalogue(seed: int = 0) -> tuple[CatalogueFrame, ...]:
    """The catalogue's frames (dates, pairs, episodes, records), seeded and reproducible (~2 s)."""
    rng = np.random.default_rng([seed, 1938])
    sizes = _frame_sizes(rng)
    quake_frames = set(rng.choice(list(sizes), EARTHQUAKE_FRAMES, replace=False).tolist())
    levels = [span for span, _ in ACTIVITY_LEVELS]
    probs = [p for _, p in ACTIVITY_LEVELS]
    frames: list[CatalogueFrame] = []
    uid = 1
    for index, (frame_id, (n_pairs, n_primaries)) in enumerate(sizes.items()):
        frng = np.random.default_rng([seed, 1938, index])
        pairs = _pairs(n_pairs, n_primaries, frng)
        lo, hi = levels[int(frng.choice(len(levels), p=probs))]
        events = _episodes(frame_id, pairs, float(frng.uniform(lo, hi)), frame_id in quake_frames, frng)
        lon0, lat0, _ = KNOWN_PLACES.get(
            frame_id, (float(frng.uniform(-170, 170)), float(frng.uniform(-45, 65)), "")
        )
        volcano = schema.volcanoes(frame_id).split(",")[0].strip() or "the volcano"
        dates = tuple(sorted({d for pair in pairs for d in pair}))
        frame = CatalogueFrame(
            frame_id,
            index,
            volcano,
            lon0,
            lat0,
            float(frng.uniform(800, 3300)),
            float(frng.uniform(31, 44)),
            dates,
            tuple(pairs),
            tuple(events),
            (),
        )
        frame = replace(frame, records=_records(frame, uid, frng))
        uid += len(pairs)
        frames.append(frame)
    return tuple(frames)


def _usable(record: Mapping[str, Any]) -> bool:
    return not any(record[flag] for flag in schema.UNUSABLE_FLAGS)


def quality_of(frames: Iterable[CatalogueFrame]) -> dict[str, dict[str, dict]]:
    """``quality_timeseries.json`` of the catalogue: the usable pairs, by frame and primary date."""
    quality: dict[str, dict[str, dict]] = {}
    for frame in frames:
        groups = quality.setdefault(frame.frame_id, {})
        for r in frame.records:
            if _usable(r):
                g = groups.setdefault(r["primary_date"], {"length": 0, "secondary_date": [], "uniqueID": []})
                g["secondary_date"].append(r["secondary_date"])
                g["uniqueID"].append(r["uniqueID"])
                g["length"] += 1
    return quality


# ------------------------------------------------------------------------------------------- writing
def _days(dates: list[date]) -> np.ndarray:
    return np.array([(d - date(1970, 1, 1)).days for d in dates], dtype=np.int64)


def _write_store(path: Path, frame: CatalogueFrame, shape: tuple[int, int], seed: int) -> None:
    """The frame's Zarr 2 store with every array of the format and no chunk written (consolidated)."""
    h, w = shape
    cy, cx = min(CHUNK_PX, h), min(CHUNK_PX, w)
    primaries, secondaries = frame.primaries, frame.secondaries
    lat = frame.lat0 + PIXEL_DEG * (h / 2 - 0.5 - np.arange(h))
    lon = frame.lon0 + PIXEL_DEG * (np.arange(w) - w / 2 + 0.5)
    attrs: dict[str, Any] = {
        "frame_id": frame.frame_id,
        "title": f"Catalogue stand-in cube of frame {frame.frame_id} ({frame.volcano})",
        "source": "thalia-viewer synth --catalogue (metadata only; filled pairs are physics-based)",
        "catalogue_seed": seed,
        "catalogue_index": frame.index,
        "volcano_lon": frame.lon0,
        "volcano_lat": frame.lat0,
        "pass_direction": "ascending" if frame.frame_id[3] == "A" else "descending",
    }
    root = zarr.open_group(str(path), mode="w", zarr_format=2, attributes=attrs)
    comp = compressor(2)
    gm = {"grid_mapping": schema.SPATIAL_REF, "coordinates": schema.SPATIAL_REF}

    def array(
        name: str,
        dims: tuple[str, ...],
        data_shape: tuple[int, ...],
        chunks: tuple[int, ...],
        dtype: str,
        fill: Any,
        extra: dict,
    ) -> zarr.Array:
        return root.create_array(
            name,
            shape=data_shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill,
            compressors=comp,
            attributes={**extra, "_ARRAY_DIMENSIONS": list(dims)},
        )

    epoch = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}
    for name, dates in ((schema.PRIMARY, primaries), (schema.SECONDARY, secondaries)):
        array(name, (name,), (len(dates),), (len(dates),), "int64", None, epoch)[:] = _days(dates)
    array("y", ("y",), (h,), (h,), "float64", None, {"units": "degrees_north", "standard_name": "latitude"})[
        :
    ] = lat
    array("x", ("x",), (w,), (w,), "float64", None, {"units": "degrees_east", "standard_name": "longitude"})[
        :
    ] = lon
    ref = array(
        schema.SPATIAL_REF,
        (),
        (),
        (),
        "int64",
        None,
        {"crs_wkt": schema.WGS84_WKT, "spatial_ref": schema.WGS84_WKT, "epsg": 4326},
    )
    ref[...] = 0
    grid = (len(primaries), len(secondaries), h, w)
    pair_dims = (schema.PRIMARY, schema.SECONDARY, "y", "x")
    nan = float("nan")
    array(
        schema.PHASE,
        pair_dims,
        grid,
        (1, 1, cy, cx),
        "float32",
        nan,
        {"long_name": "wrapped interferometric phase", "units": "rad", **gm},
    )
    array(
        schema.COHERENCE,
        pair_dims,
        grid,
        (1, 1, cy, cx),
        "float32",
        nan,
        {"long_name": "coherence scaled to 0-255", "units": "1", **gm},
    )
    array(
        schema.DEM,
        ("y", "x"),
        (h, w),
        (cy, cx),
        "float32",
        nan,
        {"long_name": "elevation", "units": "m", **gm},
    )
    for field, (_, title, units) in schema.ERA5_SHORT.items():
        for which, n in ((schema.PRIMARY, len(primaries)), (schema.SECONDARY, len(secondaries))):
            array(
                schema.era5_variable(field, which),
                (which, "y", "x"),
                (n, h, w),
                (1, cy, cx),
                "float32",
                nan,
                {"long_name": f"ERA5 {title.lower()} at the {which.replace('_', ' ')}", "units": units, **gm},
            )
    for name, table in schema.MASK_CLASSES.items():
        meanings = " ".join(f"{c.code}={c.name}" for c in table)
        array(
            name,
            pair_dims,
            grid,
            (1, 1, cy, cx),
            "uint8",
            None,
            {"long_name": name.replace("_", " "), "flag_meanings": meanings, **gm},
        )
    zarr.consolidate_metadata(str(path), zarr_format=2)


@dataclass(frozen=True)
class CatalogueSummary:
    """What :func:`write_catalogue` wrote."""

    root: Path
    frames: int
    records: int
    usable: int
    positives: int
    max_primaries: int
    filled: int

    def __str__(self) -> str:
        return (
            f"wrote {self.root}: {self.frames} frames, {self.records} records ({self.usable} usable, "
            f"{self.positives} positive), up to {self.max_primaries} primary dates per frame, {self.filled} pairs filled"
        )


def write_catalogue(
    out: str | Path,
    seed: int = 0,
    shape: tuple[int, int] = (NOMINAL_SIZE, NOMINAL_SIZE),
    fill: Iterable[str] = (),
    fill_per_frame: int = 0,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CatalogueSummary:
    """Write the real-size catalogue root at ``out`` (cubes metadata only) and fill some pairs.

    ``fill``: pair keys (``FRAME/PRIMARY_SECONDARY``) to simulate and write; ``fill_per_frame``: that many pairs of
    each frame too (its first positive pair's time series first: where the app opens a frame).
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        msg = f"{out} already exists and is not empty; choose another folder or pass overwrite=True."
        raise FileExistsError(msg)
    if min(shape) < 64:
        msg = f"shape={tuple(shape)} is too small: a catalogue's cubes are at least 64 x 64 pixels."
        raise ArgumentError(msg, "Pass shape=(64, 64) or more.")
    frames = plan_catalogue(seed)
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for frame in frames:
        _write_store(
            partial / f"{frame.frame_id}{schema.STORE_SUFFIX}", frame, (int(shape[0]), int(shape[1])), seed
        )
    records = {str(r["uniqueID"]): r for f in frames for r in f.records}
    (partial / schema.ANNOTATIONS_FILE).write_text(json.dumps(records))
    (partial / schema.QUALITY_FILE).write_text(json.dumps(quality_of(frames)))
    (partial / schema.FRAME_NAMES_FILE).write_text(
        json.dumps({f.frame_id: schema.volcanoes(f.frame_id) for f in frames}, indent=1)
    )
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    if progress:
        progress(f"{out}: {len(frames)} frame stores (metadata only), {len(records)} records")
    keys = list(dict.fromkeys([*fill, *(k for f in frames for k in default_keys(f, fill_per_frame))]))
    if keys:
        fill_pairs(out, keys, progress=progress)
    return CatalogueSummary(
        out,
        len(frames),
        len(records),
        sum(_usable(r) for r in records.values()),
        sum(schema.is_positive(r) for r in records.values()),
        max(len(f.primaries) for f in frames),
        len(keys),
    )


def default_keys(frame: CatalogueFrame, n: int) -> list[str]:
    """Up to ``n`` usable pairs of ``frame``: its first positive pair's time series, then the pairs after it."""
    if n <= 0:
        return []
    usable = sorted(
        Pair(frame.frame_id, r["primary_date"], r["secondary_date"]) for r in frame.records if _usable(r)
    )
    positive = {
        Pair(frame.frame_id, r["primary_date"], r["secondary_date"])
        for r in frame.records
        if _usable(r) and schema.is_positive(r)
    }
    start = next((p for p in usable if p in positive), usable[0] if usable else None)
    if start is None:
        return []
    k = usable.index(start)
    first = next(i for i, p in enumerate(usable) if p.primary == start.primary)
    lo = max(first, k - n + 1)
    return [p.key for p in usable[lo : lo + n]]


def fill_pairs(root: str | Path, keys: Iterable[str], progress: Callable[[str], None] | None = None) -> int:
    """Simulate the pairs ``keys`` of a catalogue root and write their cells (plus the DEM and their dates'
    ERA5 fields); returns how many pairs were written. Other cells stay unwritten."""
    root = Path(root)
    by_frame: dict[str, list[Pair]] = {}
    for key in keys:
        pair = Pair.parse(key)
        by_frame.setdefault(pair.frame, []).append(pair)
    written = 0
    for frame_id, pairs in by_frame.items():
        path = root / f"{frame_id}{schema.STORE_SUFFIX}"
        group = zarr.open_group(str(path), mode="r+", zarr_format=2)
        attrs = attrs_of(group)
        seed, index = int(attrs["catalogue_seed"]), int(attrs["catalogue_index"])
        frame = plan_catalogue(seed)[index]
        dem = array_of(group, schema.DEM)
        rows, cols = dem.shape
        sim = FrameSimulator(frame.plan((int(rows), int(cols)), seed))
        dem[:] = sim.dem
        primaries, secondaries = _days(frame.primaries).tolist(), _days(frame.secondaries).tolist()
        for pair in pairs:
            p, s = schema.parse_date(pair.primary), schema.parse_date(pair.secondary)
            if (p, s) not in set(frame.pairs):
                msg = f"catalogue frame {frame_id} has no pair {pair.primary} -> {pair.secondary}."
                raise PairNotFoundError(msg, "List its pairs with `thalia-viewer info ROOT --frame FRAME`.")
            i, j = primaries.index(_days([p])[0]), secondaries.index(_days([s])[0])
            fields, _ = sim.pair(p, s)
            for name, values in fields.items():
                array_of(group, name)[i, j] = values
            for which, k, day in ((schema.PRIMARY, i, p), (schema.SECONDARY, j, s)):
                for field, values in sim.era5(day).items():
                    array_of(group, schema.era5_variable(field, which))[k] = values
            written += 1
        if progress:
            progress(f"  {frame_id}: {len(pairs)} pair(s) filled")
    return written
