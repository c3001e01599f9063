"""Read back what thalia-viewer wrote, with the dataset users' stack, and compare with the project's reading.

Runs in the side virtualenv of ``make compat`` (zarr-python 2.18.3, xarray 2025.1.2, numpy 1.26.4): it
imports NOTHING from thalia_viewer. ``python read_with_zarr2.py MANIFEST.json`` where the manifest (written by
``tests/compat/make_roots.py``) lists the stores, their pairs and an ``.npz`` of the project's own reading of
every pair's variables. Every value must match (NaN equals NaN); the official loader's assumptions are
checked on the Thalia roots. A pair whose chunk is missing in an array with a null fill value counts as a
difference even when its garbage happens to equal the right values in this read. Exit 0 when all is well, 1 with a list of differing pairs otherwise.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

#: The channels of the authors' loader (InSarDataset), in order, spelled as their code does.
AUTHORS_CHANNELS = [
    "insar_difference",
    "insar_coherence",
    "dem",
    "primary_date_total_column_water_vapour",
    "secondary_date_total_column_water_vapour",
    "primary_date_surface_pressure",
    "secondary_date_surface_pressure",
    "primary_date_vertical_integral_of_temperature",
    "secondary_date_vertical_integral_of_temperature",
]
MASK = "deformation_mask"


def day(text: str) -> np.datetime64:
    """``YYYYMMDD`` as a datetime64 day."""
    return np.datetime64(f"{text[:4]}-{text[4:6]}-{text[6:]}")


def same(a: np.ndarray, b: np.ndarray) -> int:
    """Number of cells that differ (NaN == NaN); -1 when the shapes differ."""
    if a.shape != b.shape:
        return -1
    if np.issubdtype(a.dtype, np.floating) or np.issubdtype(b.dtype, np.floating):
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        return int(np.count_nonzero(~((a64 == b64) | (np.isnan(a64) & np.isnan(b64)))))
    return int(np.count_nonzero(a != b))


def undefined_chunks(array: zarr.Array, cell: dict[str, int]) -> int:
    """Chunks of one pair cell that are not on disk in an array with a null fill value.

    zarr-python 2 reads those as uninitialised memory: garbage that may happen to look right in one read.
    """
    if array.fill_value is not None:
        return 0
    dims = array.attrs.get("_ARRAY_DIMENSIONS", [])
    ranges = [
        [cell[d] // c] if d in cell else range(-(-n // c))
        for d, n, c in zip(dims, array.shape, array.chunks, strict=True)
    ]
    if not ranges:  # a 0-d array has one chunk, key "0"
        ranges = [range(1)]
    return sum(array._chunk_key(coords) not in array.chunk_store for coords in itertools.product(*ranges))


def compare_store(entry: dict) -> tuple[list[str], list[str]]:
    """Lines naming each pair, then each whole array, whose values differ from the project's reading."""
    ds = xr.open_zarr(entry["store"])  # exactly as the authors' loader opens a cube
    group = zarr.open_group(entry["store"], mode="r")
    expected = np.load(entry["npz"])
    differing = []
    for p, s in entry["pairs"]:
        cell = ds.sel(primary_date=day(p), secondary_date=day(s))
        where = {
            "primary_date": int(ds.get_index("primary_date").get_loc(day(p))),
            "secondary_date": int(ds.get_index("secondary_date").get_loc(day(s))),
        }
        bad = []
        for name in entry["variables"]:
            got = np.asarray(cell[name].values)
            n = same(got, expected[f"{name}/{p}_{s}"])
            if n:
                bad.append(f"{name} ({'shape' if n < 0 else f'{n} cells'})")
            undefined = undefined_chunks(group[name], where)
            if undefined:
                bad.append(f"{name} ({undefined} chunk(s) unwritten with a null fill value: undefined)")
        if bad:
            differing.append(f"{entry['kind']} {entry['frame']} {p}_{s}: " + ", ".join(bad))
    arrays = []
    for name in entry["whole"]:
        n = same(np.asarray(ds[name].values), expected[f"whole/{name}"])
        undefined = undefined_chunks(group[name], {})
        if n or undefined:
            what = (
                "shape"
                if n < 0
                else f"{n} cells"
                + (f", {undefined} chunk(s) unwritten with a null fill value" if undefined else "")
            )
            arrays.append(f"{entry['kind']} {entry['frame']} {name}: {what}")
    return differing, arrays


def loader_problems(entry: dict, channels: list[str]) -> list[str]:
    """The official loader's assumptions on one Thalia cube (names, dims, mask codes, dates, selection)."""
    where = f"{entry['kind']} {entry['frame']}"
    problems = []
    if channels != AUTHORS_CHANNELS:
        problems.append(f"the project's channel list {channels} is not the authors' {AUTHORS_CHANNELS}")
    ds = xr.open_zarr(entry["store"])
    missing = [v for v in [*AUTHORS_CHANNELS, MASK] if v not in ds.data_vars]
    if missing:
        return [*problems, f"{where}: variables missing: {missing}"]
    for dim in ("primary_date", "secondary_date"):
        if not np.issubdtype(ds[dim].dtype, np.datetime64):
            problems.append(f"{where}: coordinate {dim} is {ds[dim].dtype}, not datetime64")
    for name in ("insar_difference", "insar_coherence", MASK):
        if ds[name].dims[:2] != ("primary_date", "secondary_date") or ds[name].ndim != 4:
            problems.append(f"{where}: {name} has dims {ds[name].dims}")
    if ds["dem"].ndim != 2:
        problems.append(f"{where}: dem has dims {ds['dem'].dims}")
    for name in AUTHORS_CHANNELS[3:]:
        which = "primary_date" if name.startswith("primary_date_") else "secondary_date"
        if which not in ds[name].dims:
            problems.append(f"{where}: {name} has dims {ds[name].dims}, without {which}")
    root = Path(entry["root"])
    annotations = json.load(open(root / "annotations.json"))  # noqa: SIM115 (the loader's own call)
    if not isinstance(annotations, dict):
        problems.append(f"{where}: annotations.json is not a dict")
    quality = json.load(open(root / "quality_timeseries.json")).get(entry["frame"], {})  # noqa: SIM115
    h, w = ds["insar_difference"].shape[-2:]
    for primary, group in quality.items():
        secondaries = [day(s) for s in group["secondary_date"]]
        # the loader's selection: one primary date, its secondary dates, the channels and the mask
        sample = ds.sel(primary_date=day(primary), secondary_date=secondaries)[[*AUTHORS_CHANNELS, MASK]]
        mask = np.asarray(sample[MASK].values)
        if mask.shape != (len(secondaries), h, w):
            problems.append(f"{where}: {primary}: mask selection has shape {mask.shape}")
            continue
        codes = set(np.unique(mask).tolist())
        if not codes <= {0, 1, 2}:
            problems.append(
                f"{where}: primary {primary}: deformation_mask values {sorted(codes)[:8]} not in {{0, 1, 2}}"
            )
        binary = np.where(mask == 2, 1, mask)
        if not set(np.unique(binary).tolist()) <= {0, 1}:
            problems.append(
                f"{where}: primary {primary}: mask not binary after 2 -> 1 (the loader's assertion)"
            )
    return problems


def prediction_problems(entry: dict) -> list[str]:
    """A prediction store: Thalia dims, datetime64 dates, binary codes."""
    where = f"{entry['kind']} {entry['frame']}"
    ds = xr.open_zarr(entry["store"])
    problems = []
    if MASK not in ds.data_vars or ds[MASK].dims[:2] != ("primary_date", "secondary_date"):
        return [f"{where}: no {MASK} on (primary_date, secondary_date, Y, X)"]
    for dim in ("primary_date", "secondary_date"):
        if not np.issubdtype(ds[dim].dtype, np.datetime64):
            problems.append(f"{where}: coordinate {dim} is {ds[dim].dtype}, not datetime64")
    for p, s in entry["pairs"]:
        codes = set(np.unique(ds[MASK].sel(primary_date=day(p), secondary_date=day(s)).values).tolist())
        if not codes <= {0, 1}:
            problems.append(f"{where} {p}_{s}: predicted codes {sorted(codes)[:8]} not in {{0, 1}}")
    return problems


def main(manifest_path: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    print(f"reading with zarr {zarr.__version__}, xarray {xr.__version__}, numpy {np.__version__}")
    differing: list[str] = []
    arrays: list[str] = []
    problems: list[str] = []
    pairs = 0
    for entry in manifest["stores"]:
        bad_pairs, bad_arrays = compare_store(entry)
        pairs += len(entry["pairs"])
        print(
            f"  {entry['kind']} {entry['frame']}: {len(entry['pairs'])} pairs compared, {len(bad_pairs)} differ; "
            f"{len(entry['whole'])} other arrays compared, {len(bad_arrays)} differ"
        )
        differing += bad_pairs
        arrays += bad_arrays
        if entry["kind"] == "predictions":
            problems += prediction_problems(entry)
        else:
            problems += loader_problems(entry, manifest["channels"])
    if differing:
        print(f"{len(differing)} of {pairs} pairs read differently under zarr {zarr.__version__}:")
        for line in differing:
            print(f"  - {line}")
    if arrays:
        print(f"{len(arrays)} other array(s) read differently:")
        for line in arrays:
            print(f"  - {line}")
    if problems:
        print(f"{len(problems)} problem(s) with the official loader's assumptions:")
        for line in problems:
            print(f"  - {line}")
    if differing or arrays or problems:
        return 1
    print(f"compat: all {pairs} pairs read identically; the loader's assumptions hold.")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: read_with_zarr2.py MANIFEST.json")
    sys.exit(main(sys.argv[1]))
