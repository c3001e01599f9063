"""Write the stores ``make compat`` judges, with the project's own stack, and dump what that stack reads.

Four kinds, all Zarr format 2 (zarr-python 2 cannot open Zarr 3):

- ``synth``: a tiny root from the project's generator;
- ``export``: that root exported through an :class:`AnnotationStore` holding three corrections (a positive
  pair cleared, a pattern added on a negative pair, a mask grown);
- ``export-real``: a real-style root (integer masks, no activity / intensity rasters) exported with one
  correction, so export adds the two project masks;
- ``predictions``: a batch prediction (``thalia-viewer predict``) of the synthetic root.

For each store the project's reading of every pair's phase, coherence and masks, and of every other
variable and coordinate whole (DEM, ERA5, dates, ``spatial_ref``), goes to an ``.npz``; the manifest lists stores, pairs and the project's channel list for ``read_with_zarr2.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from tests import realistic
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.annotations.export import export_dataset
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.io import Location
from thalia_viewer.core.synth.writer import write_dataset

SYNTH = {"n_frames": 2, "shape": (128, 160), "n_dates": 8, "seed": 5}
PAIR_VARIABLES = (schema.PHASE, schema.COHERENCE, *schema.MASKS)


def _dump(
    kind: str, root: Path, store: Path, frame_id: str, pairs: list[tuple[str, str]], work: Path
) -> dict[str, Any]:
    """The project's reading (xarray over zarr 3, as the data layer opens stores) of every pair, to an npz."""
    ds = Location(str(store.parent)).open_zarr(store.name)
    variables = [v for v in PAIR_VARIABLES if v in ds.data_vars]
    primaries = [schema.format_date(d) for d in ds[schema.PRIMARY].values]
    secondaries = [schema.format_date(d) for d in ds[schema.SECONDARY].values]
    arrays = {}
    for p, s in pairs:
        cell = {schema.PRIMARY: primaries.index(p), schema.SECONDARY: secondaries.index(s)}
        for name in variables:
            arrays[f"{name}/{p}_{s}"] = np.asarray(ds[name].isel(cell).values)
    whole = sorted(str(v) for v in ds.variables if v not in variables)  # dem, ERA5, coordinates: every value
    for name in whole:
        arrays[f"whole/{name}"] = np.asarray(ds[name].values)
    npz = work / f"{kind}-{frame_id}.npz"
    np.savez(npz, **arrays)
    return {
        "kind": kind,
        "root": str(root),
        "store": str(store),
        "frame": frame_id,
        "pairs": pairs,
        "variables": variables,
        "whole": whole,
        "npz": str(npz),
    }


def _root_entries(kind: str, root: Path, work: Path) -> list[dict[str, Any]]:
    """Every frame of a Thalia root, every pair that has a record (usable or not)."""
    ds = ThaliaDataset(root)
    entries = []
    for frame_id in ds.frames:
        cells = sorted(
            {
                (r["primary_date"], r["secondary_date"])
                for r in ds.annotations.values()
                if r["frameID"] == frame_id
            }
        )
        entries.append(_dump(kind, root, root / f"{frame_id}{schema.STORE_SUFFIX}", frame_id, cells, work))
    return entries


def _grown(masks: dict[str, np.ndarray], pixels: int = 4) -> dict[str, np.ndarray]:
    """Every pattern grown by ``pixels``: new pixels take the classes of the nearest labelled pixel."""
    labelled = masks[schema.DEFORMATION_MASK] > 0
    grown = ndimage.binary_dilation(labelled, iterations=pixels)
    _, (rows, cols) = ndimage.distance_transform_edt(~labelled, return_indices=True)
    return {name: np.where(grown, values[rows, cols], 0).astype(np.uint8) for name, values in masks.items()}


def _added(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One Mogi pattern of Medium intensity, a disc in the middle of the frame."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    disc = (yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < (min(shape) / 6) ** 2
    return {
        schema.DEFORMATION_MASK: disc.astype(np.uint8),
        schema.ACTIVITY_MASK: disc.astype(np.uint8) * 1,
        schema.INTENSITY_MASK: disc.astype(np.uint8) * 2,
    }


def _negative_record(rec: dict) -> dict:
    return {
        **rec,
        "label": ["Non_Deformation"],
        "activity_type": [],
        "intensity_level": [],
        "phase": "Rest",
        "is_crowd": 0,
    }


def _positive_record(rec: dict) -> dict:
    return {
        **rec,
        "label": ["Deformation"],
        "activity_type": ["Mogi"],
        "intensity_level": ["Medium"],
        "phase": "Unrest",
        "is_crowd": 0,
    }


def _corrected_export(source: Path, out: Path, store_dir: Path) -> list[str]:
    """Export ``source`` with a cleared, an added and a grown pair; return their keys."""
    ds = ThaliaDataset(source)
    frame = ds.frame(ds.frames[0])
    store = AnnotationStore(store_dir, dataset=ds)
    positives = frame.positives
    negative = next(p for p in frame.pairs if p not in positives)
    cleared, grown = positives[0], positives[-1]
    ann = store.read_merged(cleared)
    zeros = {name: np.zeros_like(values) for name, values in ann.masks.items()}
    store.save_pair(
        cleared, zeros, _negative_record(ann.record), "compat", "false positive: cleared", base=None
    )
    ann = store.read_merged(negative)
    store.save_pair(
        negative,
        _added(frame.shape),
        _positive_record(ann.record),
        "compat",
        "missed pattern: added",
        base=None,
    )
    ann = store.read_merged(grown)
    store.save_pair(grown, _grown(ann.masks), ann.record, "compat", "pattern grown", base=None)
    export_dataset(source, store, out)
    return [p.key for p in (cleared, negative, grown)]


def _real_style_export(work: Path) -> Path:
    """A real-style root (integer masks only) exported with one pair cleared."""
    root = realistic.write_real_style_root(work / "real-style")
    ds = ThaliaDataset(root)
    pair = ds.frame(realistic.FRAME).positives[0]
    store = AnnotationStore(work / "real-style-store", dataset=ds)
    ann = store.read_merged(pair)
    zeros = {name: np.zeros_like(values) for name, values in ann.masks.items()}
    store.save_pair(pair, zeros, _negative_record(ann.record), "compat", "cleared", base=None)
    export_dataset(root, store, work / "real-style-export")
    return work / "real-style-export"


def _predictions(root: Path, out: Path, work: Path) -> list[dict[str, Any]]:
    """Predict every valid pair of ``root`` with the packaged default model (two worker threads)."""
    from thalia_viewer.ml.batch import PAIRS_DIR, predict_dataset

    predict_dataset(root, "thalia-small", out=out, n_workers=2, processes=False)
    entries = []
    for frame_dir in sorted((out / PAIRS_DIR).iterdir()):
        pairs = sorted(tuple(m.stem.split("_")) for m in frame_dir.glob("*.json"))
        store = out / f"{frame_dir.name}{schema.STORE_SUFFIX}"
        entries.append(_dump("predictions", out, store, frame_dir.name, pairs, work))  # type: ignore[arg-type]
    return entries


def build(work: Path, predictions: bool = True) -> Path:
    """Write every store under ``work`` and the manifest; return the manifest's path."""
    work.mkdir(parents=True, exist_ok=True)
    synth = work / "synth"
    write_dataset(synth, **SYNTH)  # type: ignore[arg-type]
    entries = _root_entries("synth", synth, work)
    corrected = _corrected_export(synth, work / "export", work / "store")
    entries += _root_entries("export", work / "export", work)
    entries += _root_entries("export-real", _real_style_export(work), work)
    if predictions:
        entries += _predictions(synth, work / "predictions", work)
    manifest = {"stores": entries, "channels": list(schema.CHANNELS), "corrected": corrected}
    path = work / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
