"""A benchmark root shaped like the largest real frames, with only the pairs the benchmarks read written.

One frame, ``162A_06192_060402`` (the real frame with 320 primary dates): 4096 x 4096 px, a 320 x 320
primary x secondary date grid (321 acquisitions 12 days apart; primaries are the first 320, secondaries the
last 320), 1,326 valid pairs (each primary paired with the next 4 acquisitions, every 6th with the next 5
too) listed in ``quality_timeseries.json``, plus a few corrupted pairs annotated but not valid, as in the
real catalogue. ``annotations.json`` holds a record for every one of them.

Only metadata is written for the whole cube (unwritten chunks cost no disk); the pixel content of the
:data:`WRITTEN_PRIMARIES` time series around the frame's first positive pair comes from the project's own
generator (``thalia_viewer.core.synth``: the same physics, DEM, ERA5 fields), and so do the ERA5 fields of
their dates and the DEM. Labels of unwritten pairs follow from the planned events (how many fringes each
event shows in the pair), so the dates matrix looks like a real frame's.

Two variants of the same content, since the real chunking is not published and a reader must not rely on
it: ``plane`` (each pair a whole 1 x 1 x 4096 x 4096 chunk) and ``tile`` (512 px tiles: 6.5 M chunks per pair
variable). Zarr 2 with consolidated metadata, like the real stores.

``python -m bench.realscale`` generates both (one-off, a few minutes; ~2 GB) under
``bench/results/data/realscale/``; :func:`realscale_root` returns a root, generating it on first use.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from bench.datasets import DATA_DIR
from thalia_viewer.core import schema
from thalia_viewer.core.io import compressor
from thalia_viewer.core.pairs import pair_name
from thalia_viewer.core.synth.generator import LABEL_MIN_FRINGES, FrameSimulator
from thalia_viewer.core.synth.labels import PairFacts, Pattern, annotation_record
from thalia_viewer.core.synth.scenario import FRAME_IDS, REVISIT_DAYS, FramePlan, plan_dataset

FRAME_ID: Final = "162A_06192_060402"
SIZE: Final = 4096  # px a side
N_PRIMARY: Final = 320  # = N_SECONDARY
N_VALID: Final = 1326
FIRST_DATE: Final = date(2014, 10, 9)
LINKS: Final = 4  # every primary is paired with the next LINKS acquisitions
EXTRA_EVERY: Final = 6  # ... and every EXTRA_EVERY-th primary with one more, up to N_VALID pairs
CORRUPTED_EVERY: Final = 25  # one corrupted (annotated, not valid) pair per this many primaries
WRITTEN_PRIMARIES: Final = (
    3  # time series written with pixels: the first positive pair's primary and the next ones
)
CHUNKINGS: Final = {"plane": SIZE, "tile": 512}  # variant -> spatial chunk side, px
SEED: Final = 7
ROOT_DIR: Final = DATA_DIR / "realscale"
DONE: Final = "written.json"  # written last: the list of written pairs (a root without it is regenerated)


@dataclasses.dataclass(frozen=True)
class Grid:
    """The date grid and pairs of the frame."""

    dates: list[date]  # the 321 acquisitions
    valid: list[tuple[int, int]]  # (primary index, acquisition index) of the valid pairs
    corrupted: list[tuple[int, int]]

    @property
    def primaries(self) -> list[date]:
        return self.dates[:N_PRIMARY]

    @property
    def secondaries(self) -> list[date]:
        return self.dates[1:]


def date_grid() -> Grid:
    """321 acquisitions, 1,326 valid pairs and the corrupted ones, deterministically."""
    dates = [FIRST_DATE + timedelta(days=REVISIT_DAYS * k) for k in range(N_PRIMARY + 1)]
    valid = [(i, i + d) for i in range(N_PRIMARY) for d in range(1, LINKS + 1) if i + d <= N_PRIMARY]
    extra = [(i, i + LINKS + 1) for i in range(0, N_PRIMARY, EXTRA_EVERY) if i + LINKS + 1 <= N_PRIMARY]
    valid = sorted(valid + extra[: N_VALID - len(valid)])
    if len(valid) != N_VALID:
        msg = f"date grid has {len(valid)} valid pairs, expected {N_VALID}"
        raise AssertionError(msg)
    corrupted = [(i, i + LINKS + 2) for i in range(3, N_PRIMARY - LINKS - 2, CORRUPTED_EVERY)]
    return Grid(dates, valid, corrupted)


def frame_plan(grid: Grid) -> FramePlan:
    """The synthetic generator's plan for this frame: its place, volcano and events, on the real date grid."""
    index = FRAME_IDS.index(FRAME_ID)
    plan = plan_dataset(n_frames=index + 1, shape=(SIZE, SIZE), n_dates=40, seed=SEED)[index]
    return dataclasses.replace(plan, dates=tuple(grid.dates), pairs=(), corrupted=frozenset())


def planned_facts(plan: FramePlan, primary: date, secondary: date) -> PairFacts:
    """A pair's facts from the plan alone (no rasters): each event's share of fringes in the pair."""
    facts = PairFacts(
        primary,
        secondary,
        direction=plan.direction,
        volcano=f"the {plan.volcano}-like volcano",
        mean_coherence=0.6,
    )
    for event in plan.events:
        share = event.share(primary, secondary)
        fringes = abs(share) * event.fringes
        if fringes >= LABEL_MIN_FRINGES:
            quake = event.kind == "Earthquake"
            level = schema.intensity_level_from_fringes(fringes, earthquake=quake)
            facts.patterns.append(
                Pattern(
                    event.kind,
                    fringes,
                    level,
                    event.sign * share > 0,
                    event.x0 / 1e3,
                    event.y0 / 1e3,
                    area_km2=30.0 * fringes,
                )
            )
    return facts


def _template(sim: FrameSimulator, grid: Grid, chunk: int) -> xr.Dataset:
    """The whole cube as metadata: every variable one lazy dask chunk that is never computed."""
    n, h, w = N_PRIMARY, SIZE, SIZE
    gm = {"grid_mapping": schema.SPATIAL_REF}
    pair_dims = (schema.PRIMARY, schema.SECONDARY, "y", "x")

    def lazy(shape: tuple[int, ...], dtype: str) -> da.Array:
        return da.empty(shape, dtype=dtype, chunks=shape)

    data_vars: dict[str, tuple] = {
        schema.PHASE: (pair_dims, lazy((n, n, h, w), "float32"), {"units": "rad", **gm}),
        schema.COHERENCE: (pair_dims, lazy((n, n, h, w), "float32"), {"units": "1", **gm}),
        schema.DEM: (("y", "x"), lazy((h, w), "float32"), {"units": "m", **gm}),
    }
    for field, (_, _, units) in schema.ERA5_SHORT.items():
        for which in schema.DATE_DIMS:
            data_vars[schema.era5_variable(field, which)] = (
                (which, "y", "x"),
                lazy((n, h, w), "float32"),
                {"units": units, **gm},
            )
    for name in schema.MASK_CLASSES:
        data_vars[name] = (pair_dims, lazy((n, n, h, w), "uint8"), gm)
    coords = {
        schema.PRIMARY: np.array(grid.primaries, dtype="datetime64[ns]"),
        schema.SECONDARY: np.array(grid.secondaries, dtype="datetime64[ns]"),
        "y": ("y", sim.lat, {"units": "degrees_north"}),
        "x": ("x", sim.lon, {"units": "degrees_east"}),
        schema.SPATIAL_REF: ((), np.int64(0), {"crs_wkt": schema.WGS84_WKT, "epsg": 4326}),
    }
    ds = xr.Dataset(data_vars, coords=coords, attrs={**sim.plan.attrs(), "benchmark": "bench/realscale.py"})
    for name, var in ds.data_vars.items():
        spatial = (chunk, chunk)
        var.encoding = {"chunks": (1,) * (var.ndim - 2) + spatial, "compressors": [compressor(2)]}
        if var.dtype.kind == "f":
            var.encoding["_FillValue"] = np.float32(np.nan)
        del name
    return ds


def _records(plan: FramePlan, grid: Grid, written: dict[tuple[int, int], PairFacts]) -> tuple[dict, dict]:
    """``annotations.json`` and ``quality_timeseries.json`` of the frame."""
    records: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    cells = sorted([(c, False) for c in grid.valid] + [(c, True) for c in grid.corrupted])
    for uid, ((i, j), corrupted) in enumerate(cells, start=1):
        p, s = grid.dates[i], grid.dates[j]
        facts = written.get((i, j)) or planned_facts(plan, p, s)
        if corrupted:
            facts = dataclasses.replace(facts, patterns=[], corrupted=True)
        record = annotation_record(uid, FRAME_ID, facts)
        records[str(uid)] = record
        if not corrupted:
            group = groups.setdefault(
                record["primary_date"], {"length": 0, "secondary_date": [], "uniqueID": []}
            )
            group["secondary_date"].append(record["secondary_date"])
            group["uniqueID"].append(uid)
            group["length"] += 1
    return records, {FRAME_ID: groups}


def written_cells(plan: FramePlan, grid: Grid) -> list[tuple[int, int]]:
    """The valid pairs written with pixels: the time series of the first planned positive's primary and the next."""
    first = next(
        ((i, j) for i, j in grid.valid if planned_facts(plan, grid.dates[i], grid.dates[j]).patterns),
        grid.valid[0],
    )
    primaries = range(first[0], first[0] + WRITTEN_PRIMARIES)
    return [(i, j) for i, j in grid.valid if i in primaries]


def generate(out: Path = ROOT_DIR, progress: bool = True) -> dict[str, Path]:
    """Write both variants under ``out`` (``out/plane``, ``out/tile``); return variant -> root."""
    t0 = time.perf_counter()

    def say(text: str) -> None:
        if progress:
            print(f"[realscale {time.perf_counter() - t0:6.1f} s] {text}", flush=True)

    grid = date_grid()
    plan = frame_plan(grid)
    sim = FrameSimulator(plan)
    cells = written_cells(plan, grid)
    roots = {v: out / v for v in CHUNKINGS}
    groups = {}
    for variant, chunk in CHUNKINGS.items():
        shutil.rmtree(roots[variant], ignore_errors=True)
        roots[variant].mkdir(parents=True)
        store = roots[variant] / f"{FRAME_ID}{schema.STORE_SUFFIX}"
        _template(sim, grid, chunk).to_zarr(store, mode="w", compute=False, zarr_format=2, consolidated=True)
        groups[variant] = zarr.open_group(str(store), mode="r+", zarr_format=2)
        say(
            f"{variant}: metadata of a {N_PRIMARY} x {N_PRIMARY} x {SIZE} x {SIZE} cube written ({chunk} px chunks)"
        )
    with zarr.config.set({"array.write_empty_chunks": True}):  # valid pairs' masks hold real zeros
        for g in groups.values():
            g[schema.DEM][:] = sim.dem
        say("DEM written")
        dates = sorted({i for i, _ in cells} | {j for _, j in cells})
        for k in dates:
            fields = sim.era5(grid.dates[k])
            for g in groups.values():
                for field, values in fields.items():
                    if k < N_PRIMARY:
                        g[schema.era5_variable(field, schema.PRIMARY)][k] = values
                    if k >= 1:
                        g[schema.era5_variable(field, schema.SECONDARY)][k - 1] = values
        say(f"ERA5 of {len(dates)} dates written")
        written: dict[tuple[int, int], PairFacts] = {}
        for n, (i, j) in enumerate(cells, start=1):
            fields, written[(i, j)] = sim.pair(grid.dates[i], grid.dates[j])
            for g in groups.values():
                for name, values in fields.items():
                    g[name][i, j - 1] = values
            say(f"pair {n}/{len(cells)} written ({len(written[(i, j)].patterns)} pattern(s))")
    records, quality = _records(plan, grid, written)
    keys = [pair_name(schema.format_date(grid.dates[i]), schema.format_date(grid.dates[j])) for i, j in cells]
    for root in roots.values():
        (root / schema.ANNOTATIONS_FILE).write_text(json.dumps(records, indent=1))
        (root / schema.QUALITY_FILE).write_text(json.dumps(quality, indent=1))
        (root / DONE).write_text(json.dumps({"frame": FRAME_ID, "written_pairs": keys}, indent=1))
    say(f"done: {len(records)} records, {N_VALID} valid pairs, {len(cells)} written")
    return roots


def realscale_root(variant: str = "plane") -> Path:
    """The root of one variant (``plane`` or ``tile``), generated (both variants) on first use."""
    if variant not in CHUNKINGS:
        msg = f"unknown variant {variant!r}; choose one of {sorted(CHUNKINGS)}"
        raise ValueError(msg)
    root = ROOT_DIR / variant
    if not (root / DONE).exists():
        print(
            f"generating the real-scale benchmark roots under {ROOT_DIR} (one-off, a few minutes) ...",
            flush=True,
        )
        generate()
    return root


def written_pairs(root: Path) -> list[str]:
    """``PRIMARY_SECONDARY`` keys of the pairs written with pixels, in order."""
    return list(json.loads((root / DONE).read_text())["written_pairs"])


if __name__ == "__main__":
    generate()
