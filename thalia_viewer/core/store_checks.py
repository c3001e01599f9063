"""Checks of a frame store's Zarr metadata and chunk files that read no data: what a byte-level reader sees.

- **Stale metadata**: a variable listed in the store's (consolidated) metadata whose folder is gone. xarray
  and zarr then read it as all fill value (NaN), silently.
- A signature of the store's metadata files (what ``validate --deep --resume`` checks before resuming).

(Zarr 2 arrays with a null fill value and missing chunks: :mod:`~thalia_viewer.core.repair`.)
Each costs one listing of the store; nothing is decoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from . import schema
from .frame import Frame
from .io import Location

V2_METADATA = (".zmetadata", ".zgroup", ".zattrs")
V3_METADATA = ("zarr.json",)


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
