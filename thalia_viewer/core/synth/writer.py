"""Write synthetic frames in the real Thalia layout, one pair at a time (never the whole cube in memory).

``<out>/<frame_id>.zarr`` (Zarr 2 and consolidated like the real cubes, or Zarr 3), ``annotations.json``,
``quality_timeseries.json``. The dataset is written to a hidden sibling folder and renamed at the end, so
an interrupted run never leaves something that looks complete. Arrays are written by the rules of
:mod:`~thalia_viewer.core.zarr_write` (Zarr 2: every pair's chunks on disk, so zarr-python 2 reads what
zarr 3 reads). Zarr 3 output cannot be read by zarr-python 2, hence not by the official Thalia loader.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from .. import schema
from ..errors import ArgumentError
from ..zarr_write import CHUNK_PX, writable_arrays, write_template
from .generator import FrameSimulator
from .labels import PairFacts, annotation_record
from .realstyle import RealStyle, adjust_plans, finish
from .scenario import plan_dataset


def _template(sim: FrameSimulator, primaries: list[date], secondaries: list[date]) -> xr.Dataset:
    """The frame's coordinates and lazily-filled variables (only metadata gets written from it).

    Each variable is ONE lazy dask chunk, never computed: a graph over the Zarr chunks of a real-size grid
    (320 x 320 dates x 16 tiles) takes minutes to build. :func:`chunking` gives the Zarr chunks.
    """
    h, w = sim.plan.shape
    ny, nx = len(primaries), len(secondaries)
    y, x = "y", "x"

    def grid(dtype: str, fill: float) -> da.Array:
        return da.full((ny, nx, h, w), fill, dtype=dtype, chunks=(ny, nx, h, w))

    def dated(n: int) -> da.Array:
        return da.full((n, h, w), np.nan, dtype="float32", chunks=(n, h, w))

    gm = {"grid_mapping": schema.SPATIAL_REF}
    pair_dims = (schema.PRIMARY, schema.SECONDARY, y, x)
    data_vars: dict[str, tuple] = {
        schema.PHASE: (
            pair_dims,
            grid("float32", np.nan),
            {"long_name": "wrapped interferometric phase", "units": "rad", **gm},
        ),
        schema.COHERENCE: (
            pair_dims,
            grid("float32", np.nan),
            {"long_name": "coherence scaled to 0-255", "units": "1", **gm},
        ),
        schema.DEM: (
            (y, x),
            da.zeros((h, w), dtype="float32", chunks=(h, w)),
            {"long_name": "elevation", "units": "m", **gm},
        ),
    }
    for field, (_, title, units) in schema.ERA5_SHORT.items():
        for which, n in ((schema.PRIMARY, ny), (schema.SECONDARY, nx)):
            data_vars[schema.era5_variable(field, which)] = (
                (which, y, x),
                dated(n),
                {"long_name": f"ERA5 {title.lower()} at the {which.replace('_', ' ')}", "units": units, **gm},
            )
    for name, table in schema.MASK_CLASSES.items():
        meanings = " ".join(f"{c.code}={c.name}" for c in table)
        data_vars[name] = (
            pair_dims,
            grid("uint8", 0),
            {"long_name": name.replace("_", " "), "flag_meanings": meanings, **gm},
        )
    coords = {
        schema.PRIMARY: np.array(primaries, dtype="datetime64[ns]"),
        schema.SECONDARY: np.array(secondaries, dtype="datetime64[ns]"),
        y: (y, sim.lat, {"units": "degrees_north", "standard_name": "latitude"}),
        x: (x, sim.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        schema.SPATIAL_REF: (
            (),
            np.int64(0),
            {"crs_wkt": schema.WGS84_WKT, "spatial_ref": schema.WGS84_WKT, "epsg": 4326},
        ),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=sim.plan.attrs())


def chunking(template: xr.Dataset) -> dict[str, tuple[int, ...]]:
    """The Zarr chunks of every variable: one date cell deep, :data:`CHUNK_PX` tiles in space."""
    return {
        str(name): tuple(
            1 if d in schema.DATE_DIMS else min(CHUNK_PX, n) for d, n in zip(v.dims, v.shape, strict=True)
        )
        for name, v in template.data_vars.items()
    }


def write_frame(
    path: Path, sim: FrameSimulator, zarr_format: int = 2, progress: Callable[[str], None] | None = None
) -> dict[tuple[date, date], PairFacts]:
    """Write one frame store at ``path``; return the simulated facts of each pair."""
    plan = sim.plan
    primaries = sorted({p for p, _ in plan.pairs})
    secondaries = sorted({s for _, s in plan.pairs})
    template = _template(sim, primaries, secondaries)
    write_template(template, path, zarr_format, chunks=chunking(template))
    # every chunk of every pair is written, all-zero mask chunks included (zarr_write explains why)
    arrays = writable_arrays(
        zarr.open_group(str(path), mode="r+", zarr_format=2 if zarr_format == 2 else 3),
        [str(name) for name in template.data_vars],
    )
    arrays[schema.DEM][:] = sim.dem
    for which, dates in ((schema.PRIMARY, primaries), (schema.SECONDARY, secondaries)):
        for i, day in enumerate(dates):
            for field, values in sim.era5(day).items():
                arrays[schema.era5_variable(field, which)][i] = values
    facts: dict[tuple[date, date], PairFacts] = {}
    for n, (p, s) in enumerate(plan.pairs):
        i, j = primaries.index(p), secondaries.index(s)
        fields, facts[(p, s)] = sim.pair(p, s)
        for name, values in fields.items():
            arrays[name][i, j] = values
        if progress and (n + 1) % 10 == 0:
            progress(f"  {plan.frame_id}: {n + 1}/{len(plan.pairs)} pairs")
    return facts


def write_dataset(
    out: Path,
    n_frames: int = 3,
    shape: tuple[int, int] = (512, 512),
    n_dates: int = 12,
    seed: int = 0,
    zarr_format: int = 2,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    real_style: RealStyle | None = None,
) -> str:
    """Generate a synthetic dataset at ``out``; return a one-line summary. ``real_style``: records and cubes
    shaped like the real ones (``synth.realstyle``)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        msg = f"{out} already exists and is not empty; choose another folder or pass overwrite=True."
        raise FileExistsError(msg)
    if zarr_format not in (2, 3):
        msg = f"zarr_format={zarr_format} is not a Zarr format this project writes."
        raise ArgumentError(msg, "Pass zarr_format=2 (like the real cubes) or zarr_format=3.")
    plans = plan_dataset(n_frames, shape, n_dates, seed)
    if real_style is not None:
        plans = adjust_plans(plans, real_style)
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    records: dict[str, schema.AnnotationRecord] = {}
    quality: dict[str, dict[str, dict]] = {}
    uid = 1
    for plan in plans:
        if progress:
            progress(
                f"{plan.frame_id}: {plan.shape[0]} x {plan.shape[1]} px, {len(plan.dates)} dates, {len(plan.pairs)} pairs"
            )
        facts = write_frame(
            partial / f"{plan.frame_id}{schema.STORE_SUFFIX}", FrameSimulator(plan), zarr_format, progress
        )
        groups = quality.setdefault(plan.frame_id, {})
        for p, s in sorted(facts):
            record = annotation_record(uid, plan.frame_id, facts[(p, s)])
            records[str(uid)] = record
            if not any(record[flag] for flag in schema.UNUSABLE_FLAGS):
                group = groups.setdefault(
                    record["primary_date"], {"length": 0, "secondary_date": [], "uniqueID": []}
                )
                group["secondary_date"].append(record["secondary_date"])
                group["uniqueID"].append(uid)
                group["length"] += 1
            uid += 1
    if real_style is not None:
        finish(partial, plans, records, real_style)
    (partial / schema.ANNOTATIONS_FILE).write_text(json.dumps(records, indent=1))
    (partial / schema.QUALITY_FILE).write_text(json.dumps(quality, indent=1))
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    positives = sum(schema.is_positive(r) for r in records.values())
    return (
        f"wrote {out}: {len(plans)} frames, {len(records)} pairs ({positives} positive), Zarr {zarr_format}"
    )
