"""Checks of a frame store's Zarr metadata and chunk files that read no data: what a byte-level reader sees.

- **Stale metadata**: a variable listed in the store's (consolidated) metadata whose folder is gone. xarray
  and zarr then read it as all fill value (NaN), silently.
- **Null fill value with missing chunks** (Zarr format 2): an array whose ``.zarray`` says ``"fill_value":
  null`` and whose chunks are missing for some valid pairs. zarr-python 3 reads those cells as zeros;
  zarr-python 2.18 (the official loader's stack) reads them as uninitialised memory, so a negative pair's
  mask comes back as garbage, or as another pair's mask.

Each costs one listing of the store and one of each array with a null fill value; nothing is decoded.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from itertools import product
from typing import Any

from . import schema
from .frame import Frame
from .io import Location
from .pairs import Pair

V2_METADATA = (".zmetadata", ".zgroup", ".zattrs")
V3_METADATA = ("zarr.json",)
REPAIR_HINT = (
    "Run `thalia-viewer repair ROOT` (it writes the missing chunks as zeros), or re-export the dataset with "
    "`thalia-viewer export`; until then zarr-python 2 readers such as the official loader read garbage there."
)


def _ls(location: Location, path: str) -> list[str] | None:
    """Entry names of ``path``, or ``None`` where the filesystem cannot list (plain HTTP) or it is gone."""
    try:
        entries = location.fs.ls(path, detail=False)
    except (OSError, ValueError, NotImplementedError):
        return None
    return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]


def _read_json(location: Location, path: str) -> Any:
    try:
        return json.loads(location.fs.cat_file(path))
    except (OSError, ValueError):
        return None


def store_path(location: Location, frame: Frame) -> str:
    """The filesystem path of ``frame``'s store under ``location``."""
    return f"{location.path}/{frame.frame_id}{schema.STORE_SUFFIX}"


def stale_variables(location: Location, frame: Frame) -> list[str]:
    """Problems: variables the store's metadata lists whose folder is missing (empty where it cannot list)."""
    base = store_path(location, frame)
    entries = _ls(location, base)
    if entries is None:
        return []
    present = set(entries)
    problems = []
    for name in sorted(map(str, frame.ds.variables)):
        if name not in present:
            problems.append(
                f"{frame.source}: variable {name} is listed in the store's consolidated metadata but its folder "
                f"{name}/ is missing (deleted, or the metadata is stale); readers see it as all fill value (NaN). "
                "Restore the folder from the original distribution; if it was removed on purpose, re-consolidate "
                "the metadata (zarr.consolidate_metadata)."
            )
    return problems


def _array_metadata(location: Location, base: str, names: Iterable[str]) -> dict[str, dict]:
    """``.zarray`` of each name (from ``.zmetadata`` when the store has one), Zarr format 2 only."""
    consolidated = _read_json(location, f"{base}/.zmetadata")
    meta = consolidated.get("metadata", {}) if isinstance(consolidated, dict) else {}
    out = {}
    for name in names:
        zarray = meta.get(f"{name}/.zarray") or _read_json(location, f"{base}/{name}/.zarray")
        if isinstance(zarray, dict) and zarray.get("zarr_format") == 2:
            out[name] = zarray
    return out


def _chunk_keys(zarray: dict, cell: tuple[int, int]) -> list[str]:
    """The chunk keys holding one (primary, secondary) cell of a (P, S, Y, X) Zarr 2 array."""
    shape, chunks = zarray["shape"], zarray["chunks"]
    sep = zarray.get("dimension_separator") or "."
    ny, nx = (math.ceil(shape[k] / max(chunks[k], 1)) for k in (2, 3))
    head = (cell[0] // chunks[0], cell[1] // chunks[1])
    return [sep.join(map(str, (*head, a, b))) for a, b in product(range(ny), range(nx))]


def _existing_chunks(location: Location, path: str) -> set[str] | None:
    """Chunk keys present under an array folder (``a.b.c.d`` or nested ``a/b/c/d``)."""
    if location.is_local:  # os.walk: no per-file stat (a real mask array holds tens of thousands of chunks)
        if not os.path.isdir(path):
            return None
        keys = set()
        for dirpath, _dirs, files in os.walk(path):
            rel = os.path.relpath(dirpath, path)
            prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            keys.update(prefix + f for f in files if not f.startswith("."))
        return keys
    try:
        found = location.fs.find(path)
    except (OSError, ValueError, NotImplementedError):
        return None
    prefix = path.rstrip("/") + "/"
    keys = set()
    for f in found:
        rel = str(f)[len(prefix):] if str(f).startswith(prefix) else str(f).rsplit("/", 1)[-1]
        if not rel.rsplit("/", 1)[-1].startswith("."):
            keys.add(rel)
    return keys


def null_fill_gaps(location: Location, frame: Frame) -> list[str]:
    """Problems: Zarr 2 pair arrays with ``fill_value`` null whose chunks are missing in valid pairs' cells."""
    base = store_path(location, frame)
    grid = [str(n) for n, v in frame.ds.data_vars.items() if tuple(v.dims[:2]) == schema.DATE_DIMS and v.ndim == 4]
    arrays = {n: z for n, z in _array_metadata(location, base, grid).items() if z.get("fill_value") is None}
    problems = []
    for name, zarray in sorted(arrays.items()):
        present = _existing_chunks(location, f"{base}/{name}")
        if present is None:
            continue
        gaps: list[Pair] = [p for p in frame.pairs if not set(_chunk_keys(zarray, frame.cell(p))) <= present]
        if gaps:
            problems.append(
                f"{frame.source}: {name} is a Zarr 2 array with fill_value null whose chunks are missing for "
                f"{len(gaps)} of {len(frame.pairs)} valid pairs (e.g. {gaps[0]}): zarr-python 2 reads those cells "
                f"as uninitialised memory, not zeros. {REPAIR_HINT}"
            )
    return problems


def store_signature(location: Location, frames: Iterable[str]) -> dict[str, list]:
    """What changes when a store or the JSON files change: (mtime, size) of metadata files and array folders.

    Used to tell whether a saved ``validate --deep`` progress file still describes this dataset.
    """
    out: dict[str, list] = {}

    def info(path: str) -> list | None:
        try:
            i = location.fs.info(path)
        except (OSError, ValueError, NotImplementedError):
            return None
        return [str(i.get("mtime") or i.get("LastModified") or i.get("ETag") or ""), i.get("size")]

    for name in (schema.ANNOTATIONS_FILE, schema.QUALITY_FILE):
        out[name] = info(f"{location.path}/{name}") or []
    for frame_id in frames:
        base = f"{location.path}/{frame_id}{schema.STORE_SUFFIX}"
        for entry in sorted(_ls(location, base) or []):
            out[f"{frame_id}/{entry}"] = info(f"{base}/{entry}") or []
    return out
