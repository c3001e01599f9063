"""Cubes written the way the real Thalia ones are, independently of the project's generator.

Zarr format 2 through plain xarray, consolidated metadata, ``y``/``x`` + ``spatial_ref`` or ``lat``/``lon``,
ERA5 variables with one date dim or the full 4-D grid, NaN or zero no-data, coherence 0-255, integer or
float masks. Spelled out literally here on purpose: a reader bug must not hide behind the schema module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

FRAME = "124D_05291_081406"
PRIMARIES = ["20190105", "20190117"]
SECONDARIES = ["20190117", "20190129", "20190210"]
#: (primary, secondary, label) of the filled cells; the others stay empty (NaN / unwritten)
PAIRS = [
    ("20190105", "20190117", "Non_Deformation"),
    ("20190105", "20190129", "Deformation"),
    ("20190105", "20190210", "Deformation"),
    ("20190117", "20190129", "Non_Deformation"),
]
ERA5 = ["total_column_water_vapour", "surface_pressure", "vertical_integral_of_temperature"]


def _dates(values: list[str]) -> np.ndarray:
    return np.array([np.datetime64(f"{v[:4]}-{v[4:6]}-{v[6:]}") for v in values], dtype="datetime64[ns]")


def write_real_style_cube(
    path: Path,
    *,
    size: int = 64,
    spatial: tuple[str, str] = ("y", "x"),
    era5_4d: bool = False,
    zero_nodata: bool = False,
    float_masks: bool = False,
    drop: tuple[str, ...] = (),
) -> xr.Dataset:
    """Write one frame store like the distributed ones; return what was written (eager)."""
    rng = np.random.default_rng(1)
    ydim, xdim = spatial
    lat = 37.75 + 0.001 * (size / 2 - np.arange(size))
    lon = 14.99 + 0.001 * (np.arange(size) - size / 2)
    np_, ns = len(PRIMARIES), len(SECONDARIES)
    nodata = 0.0 if zero_nodata else np.nan
    phase = np.full((np_, ns, size, size), nodata, dtype="float32")
    coherence = np.full((np_, ns, size, size), nodata, dtype="float32")
    mask = np.zeros((np_, ns, size, size), dtype="float32" if float_masks else "int64")
    yy, xx = np.mgrid[0:size, 0:size]
    blob = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 6) ** 2
    for p, s, label in PAIRS:
        i, j = PRIMARIES.index(p), SECONDARIES.index(s)
        phase[i, j] = np.angle(np.exp(1j * (0.3 * xx + rng.normal(0, 0.3, (size, size))))).astype("float32")
        coherence[i, j] = rng.uniform(40, 250, (size, size)).astype("float32")
        phase[i, j, :, :4] = nodata  # a no-data margin outside the footprint
        coherence[i, j, :, :4] = nodata
        if label == "Deformation":
            mask[i, j][blob] = 1
    data = {
        "insar_difference": (("primary_date", "secondary_date", ydim, xdim), phase),
        "insar_coherence": (("primary_date", "secondary_date", ydim, xdim), coherence),
        "dem": (
            (ydim, xdim),
            (2000 * np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (size**2 / 8))).astype("float32"),
        ),
        "deformation_mask": (("primary_date", "secondary_date", ydim, xdim), mask),
    }
    for field in ERA5:
        base = {
            "total_column_water_vapour": 20.0,
            "surface_pressure": 93000.0,
            "vertical_integral_of_temperature": 2.4e6,
        }[field]
        if era5_4d:
            data[f"primary_date_{field}"] = (
                ("primary_date", "secondary_date", ydim, xdim),
                np.full((np_, ns, size, size), base, "float32"),
            )
            data[f"secondary_date_{field}"] = (
                ("primary_date", "secondary_date", ydim, xdim),
                np.full((np_, ns, size, size), base * 1.01, "float32"),
            )
        else:
            data[f"primary_date_{field}"] = (
                ("primary_date", ydim, xdim),
                np.full((np_, size, size), base, "float32"),
            )
            data[f"secondary_date_{field}"] = (
                ("secondary_date", ydim, xdim),
                np.full((ns, size, size), base * 1.01, "float32"),
            )
    for name in drop:
        data.pop(name)
    ds = xr.Dataset(
        data,
        coords={
            "primary_date": _dates(PRIMARIES),
            "secondary_date": _dates(SECONDARIES),
            ydim: lat,
            xdim: lon,
            "spatial_ref": ((), 0, {"crs_wkt": 'GEOGCS["WGS 84"]', "spatial_ref": 'GEOGCS["WGS 84"]'}),
        },
    )
    ds = ds.chunk({"primary_date": 1, "secondary_date": 1})
    # zarr-python 2 (the real cubes' writer) writes every chunk, all-zero ones included; zarr 3 must be told
    ds.to_zarr(path, mode="w", zarr_format=2, consolidated=True, write_empty_chunks=True)
    return ds.compute()


def annotation_records(frame: str = FRAME) -> dict[str, dict]:
    """``annotations.json`` records of :data:`PAIRS`, in the official field order."""
    out = {}
    for uid, (p, s, label) in enumerate(PAIRS, start=100):
        positive = label == "Deformation"
        out[str(uid)] = {
            "uniqueID": uid,
            "frameID": frame,
            "primary_date": p,
            "secondary_date": s,
            "corrupted": 0,
            "processing_error": 0,
            "glacier_fringes": 0,
            "orbital_fringes": 0,
            "atmospheric_fringes": 1,
            "low_coherence": 0,
            "no_info": 0,
            "image_artifacts": 0,
            "label": [label],
            "activity_type": ["Mogi"] if positive else [],
            "intensity_level": ["Medium"] if positive else [],
            "phase": "Unrest" if positive else "Rest",
            "confidence": 0.8,
            "is_crowd": 0,
            "caption": f"{label} pair {p}-{s}",
        }
    return out


def quality_timeseries(frame: str = FRAME) -> dict:
    """``quality_timeseries.json`` of :data:`PAIRS`."""
    groups: dict[str, dict] = {}
    for uid, (p, s, _) in enumerate(PAIRS, start=100):
        g = groups.setdefault(p, {"length": 0, "secondary_date": [], "uniqueID": []})
        g["secondary_date"].append(s)
        g["uniqueID"].append(uid)
        g["length"] += 1
    return {frame: groups}


def write_real_style_root(root: Path, *, with_quality: bool = True, **cube_options: object) -> Path:
    """A dataset root of one real-style frame, ``annotations.json`` and (optionally) ``quality_timeseries.json``."""
    root.mkdir(parents=True, exist_ok=True)
    write_real_style_cube(root / f"{FRAME}.zarr", **cube_options)  # type: ignore[arg-type]
    (root / "annotations.json").write_text(json.dumps(annotation_records()))
    if with_quality:
        (root / "quality_timeseries.json").write_text(json.dumps(quality_timeseries()))
    return root
