"""Find and repair the unwritten chunks that zarr-python 2 reads as garbage, in Zarr 2 frame stores.

A Zarr 2 array whose ``.zarray`` has ``"fill_value": null`` has no defined value for a missing chunk:
zarr 3 reads it as zeros, zarr-python 2.18.3 (the dataset users' stack) as uninitialised memory. Earlier
versions of this project wrote masks that way (zarr 3 skips all-zero chunks), so every negative pair's mask
read back as garbage, or as another pair's mask, in the official loader. :func:`find_unwritten_chunks`
lists them (for ``validate``); :func:`repair_store` / :func:`repair_root` write, for every missing chunk a
valid pair needs, the chunk zarr 3 already reads (zeros): afterwards both read the same values.

A repair never changes what zarr 3 reads and never overwrites a chunk: each array's chunks are first
encoded into a staging folder beside the store (nothing in the store changes if that fails), then each is
hard-linked into place, an atomic step that fails rather than replace a chunk written meanwhile. An
interrupted repair leaves only whole, correct chunks; running it again finishes it. Only local folders.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.metadata import ArrayV2Metadata

from . import schema
from .dataset import ThaliaDataset
from .errors import DatasetNotFoundError, NotAThaliaStoreError, ThaliaError
from .io import METADATA_ERRORS, Location
from .pairs import pair_key
from .zarr_write import array_of

REPAIR_HINT = (
    "Repair it in place with `thalia-viewer repair ROOT`, or re-export the dataset with this version."
)
#: dtype kinds whose missing chunks zarr 3 reads as zeros (and whose zero chunks a repair can write)
_NUMERIC = "biuf"


class ReadOnlyRootError(ThaliaError, PermissionError):
    """A repair needs to write chunks into a store that is not writable; nothing was written."""


@dataclass(frozen=True)
class UnwrittenChunks:
    """One array of one frame store with missing chunks in valid pairs (zarr-python 2 reads them as garbage)."""

    store: str  # the frame store's path or URL
    frame: str
    array: str
    sample: str  # one affected pair, ``FRAME/PRIMARY_SECONDARY`` (or ``-`` for arrays without date dims)
    pairs: int  # valid pairs with at least one missing chunk
    chunks: int  # missing chunks

    def __str__(self) -> str:
        where = f"in {self.pairs} valid pair(s), e.g. {self.sample}" if self.pairs else "(no date dims)"
        return (
            f"{self.store}: {self.array} is Zarr 2 with a null fill value and {self.chunks} unwritten chunk(s) "
            f"{where}: zarr-python 2 (the official loader) reads them as uninitialised memory, not zeros. "
            f"{REPAIR_HINT}"
        )


@dataclass
class RepairReport:
    """What a repair wrote: chunks per array, and the arrays it found nothing to do in."""

    root: str
    repaired: list[UnwrittenChunks] = field(default_factory=list)
    stores_checked: int = 0
    arrays_checked: int = 0

    @property
    def chunks(self) -> int:
        """Chunks written in all."""
        return sum(r.chunks for r in self.repaired)

    def summary(self) -> str:
        """One paragraph for people."""
        if not self.repaired:
            return (
                f"{self.root}: nothing to repair: every valid pair's chunks are on disk "
                f"({self.stores_checked} store(s), {self.arrays_checked} Zarr 2 array(s) checked)."
            )
        lines = [
            f"  - {r.frame}/{r.array}: {r.chunks} chunk(s)"
            + (f" in {r.pairs} valid pair(s), e.g. {r.sample}" if r.pairs else "")
            for r in self.repaired
        ]
        return (
            f"{self.root}: wrote {self.chunks} zero chunk(s) into {len(self.repaired)} array(s); "
            "zarr-python 2 now reads them as zarr 3 does:\n" + "\n".join(lines)
        )


# ------------------------------------------------------------------------------------------ finding
@dataclass(frozen=True)
class _Gap:
    array: str
    missing: list[str]  # chunk keys
    cells: list[tuple[int, int]]  # (primary, secondary) indices of the pairs they hit


def _v2(array: zarr.Array) -> ArrayV2Metadata:
    """The metadata of a Zarr 2 array (repair reads and writes Zarr 2 stores only)."""
    meta = array.metadata
    if not isinstance(meta, ArrayV2Metadata):
        msg = f"array {array.path} is Zarr {meta.zarr_format}; only Zarr 2 stores have unwritten chunks to repair."
        raise NotAThaliaStoreError(
            msg, "Zarr 3 readers read missing chunks as the fill value: nothing to repair."
        )
    return meta


def _dims(array: zarr.Array) -> list[Any]:
    """The array's xarray dimension names (``_ARRAY_DIMENSIONS``), ``[]`` when absent or malformed."""
    dims = array.attrs.get("_ARRAY_DIMENSIONS", [])
    return list(dims) if isinstance(dims, list | tuple) else []


def _needed_chunks(array: zarr.Array, cells: Sequence[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """Keys of the chunks the given pair cells read in a Zarr 2 ``array``, each with the cells that read it.

    Arrays without date dims (DEM, coordinates) need every chunk; ERA5 arrays the chunks of their date.
    """
    dims = [str(d) for d in _dims(array)]
    meta = _v2(array)
    chunks = meta.chunks
    sep = meta.dimension_separator
    if not chunks:  # a 0-d array: one chunk
        return {meta.encode_chunk_key(()): []}
    spans = [[str(k) for k in range(math.ceil(n / c))] for n, c in zip(array.shape, chunks, strict=True)]
    date_axes = [
        (axis, k)
        for k, d in enumerate((schema.PRIMARY, schema.SECONDARY))
        for axis, name in enumerate(dims)
        if name == d
    ]
    if not date_axes:
        return {sep.join(coords): [] for coords in itertools.product(*spans)}
    by_date_chunk: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    for cell in cells:
        by_date_chunk.setdefault(tuple(cell[k] // chunks[axis] for axis, k in date_axes), []).append(cell)
    needed: dict[str, list[tuple[int, int]]] = {}
    for date_chunk, hit in by_date_chunk.items():
        per_axis = list(spans)
        for (axis, _), index in zip(date_axes, date_chunk, strict=True):
            per_axis[axis] = [str(index)]
        for coords in itertools.product(*per_axis):
            needed[sep.join(coords)] = hit
    return needed


def _present_keys(fs: Any, array_path: str, local: bool) -> set[str] | None:
    """Keys of the chunks under ``array_path`` (``None``: the filesystem cannot list).

    One listing per array (a flat folder for the ``.`` separator): fast even for tens of thousands of chunks.
    """
    try:
        if local:
            keys: set[str] = set()
            for folder, _, files in os.walk(array_path):
                rel = os.path.relpath(folder, array_path)
                keys.update(files if rel == "." else (f"{rel.replace(os.sep, '/')}/{f}" for f in files))
            return keys
        return {str(p)[len(array_path) :].lstrip("/") for p in fs.find(array_path)}
    except (OSError, NotImplementedError, ValueError):
        return None


def _store_gaps(
    location: Location, store_name: str, cells: Sequence[tuple[int, int]]
) -> tuple[list[_Gap], int]:
    """Arrays of one store with missing chunks in ``cells``; also the number of Zarr 2 arrays checked."""
    url = location.join(store_name)
    kwargs: dict[str, Any] = {} if location.is_local else {"storage_options": location.storage_options}
    try:
        group = zarr.open_group(url, mode="r", **kwargs)
    except METADATA_ERRORS as exc:  # zarr's own errors for missing / broken metadata are ValueErrors
        msg = f"{url} is not a readable Zarr store ({type(exc).__name__}: {exc})."
        raise NotAThaliaStoreError(
            msg, "A frame store is a Zarr group written by xarray; re-extract or re-generate it."
        ) from exc
    if group.metadata.zarr_format != 2:
        return [], 0
    gaps, checked = [], 0
    for name, array in group.arrays():
        checked += 1
        if array.metadata.fill_value is not None or array.dtype.kind not in _NUMERIC:
            continue
        present = _present_keys(location.fs, f"{location.path}/{store_name}/{name}", location.is_local)
        if present is None:
            continue
        needed = _needed_chunks(array, cells)
        missing = [key for key in needed if key not in present]
        if missing:
            hit = sorted({cell for key in missing for cell in needed[key]})
            gaps.append(_Gap(str(name), missing, hit))
    return gaps, checked


def _cell_keys(
    frame_id: str, primaries: Sequence[str], secondaries: Sequence[str], cells: Sequence[tuple[int, int]]
) -> list[str]:
    return [pair_key(frame_id, primaries[i], secondaries[j]) for i, j in cells]


def _frame_cells(ds: ThaliaDataset, frame_id: str) -> tuple[list[tuple[int, int]], list[str], list[str]]:
    frame = ds.frame(frame_id)
    primaries = [schema.format_date(d) for d in frame.ds[schema.PRIMARY].values]
    secondaries = [schema.format_date(d) for d in frame.ds[schema.SECONDARY].values]
    return [frame.cell(p) for p in frame.pairs], primaries, secondaries


def _problems(
    ds: ThaliaDataset, frame_id: str, gaps: list[_Gap], primaries: list[str], secondaries: list[str]
) -> list[UnwrittenChunks]:
    store = ds.location.join(f"{frame_id}{schema.STORE_SUFFIX}")
    out = []
    for gap in gaps:
        keys = _cell_keys(frame_id, primaries, secondaries, gap.cells)
        out.append(
            UnwrittenChunks(store, frame_id, gap.array, keys[0] if keys else "-", len(keys), len(gap.missing))
        )
    return out


def find_unwritten_chunks(ds: ThaliaDataset, frames: Iterable[str] | None = None) -> list[UnwrittenChunks]:
    """Zarr 2 arrays (null fill value) with chunks missing in valid pairs, per frame store; metadata + listings only."""
    found: list[UnwrittenChunks] = []
    for frame_id in frames or ds.frames:
        try:
            cells, primaries, secondaries = _frame_cells(ds, frame_id)
            gaps, _ = _store_gaps(ds.location, f"{frame_id}{schema.STORE_SUFFIX}", cells)
        except ThaliaError:
            continue  # an unreadable frame is validate's own problem to report
        found += _problems(ds, frame_id, gaps, primaries, secondaries)
    return found


def unwritten_chunk_problems(ds: ThaliaDataset) -> list[str]:
    """:func:`find_unwritten_chunks` as ``validate`` problem lines (each says how to repair)."""
    return [str(p) for p in find_unwritten_chunks(ds)]


# ------------------------------------------------------------------------------------------ repairing
def _zero_chunk(array: zarr.Array) -> bytes:
    """The encoded Zarr 2 chunk that holds what zarr 3 reads for a missing one (zeros), full chunk shape."""
    meta = _v2(array)
    data: Any = np.zeros(meta.chunks, dtype=array.dtype).tobytes(order=meta.order)
    for codec in meta.filters or ():
        data = codec.encode(data)
    if meta.compressor is not None:
        data = meta.compressor.encode(data)
    return bytes(data)


def _check_writable(store: Path, gaps: list[_Gap]) -> None:
    blocked = [str(store / g.array) for g in gaps if not os.access(store / g.array, os.W_OK)]
    if blocked or not os.access(store.parent, os.W_OK):
        where = ", ".join(blocked) or str(store.parent)
        msg = f"cannot repair {store}: {where} is not writable (a read-only dataset root?)."
        raise ReadOnlyRootError(
            msg, "Run the repair where the dataset can be written (its owner), or on a copy."
        )


def _repair_array(store: Path, array: zarr.Array, gap: _Gap) -> int:
    """Stage every missing chunk's bytes beside ``store``, then link each into place; return chunks written."""
    chunk = _zero_chunk(array)
    staging = store.parent / f".{store.name}.repair-{uuid.uuid4().hex[:8]}"
    keys = gap.missing
    written = 0
    try:
        try:
            staging.mkdir()
        except OSError as exc:  # EROFS on a read-only mount, where os.access may not tell (root)
            msg = f"cannot repair {store}: {store.parent} is not writable ({exc.strerror})."
            raise ReadOnlyRootError(
                msg, "Run the repair where the dataset can be written (its owner), or on a copy."
            ) from exc
        for n in range(len(keys)):  # stage: all or nothing, the store is not touched
            with open(staging / str(n), "wb") as f:
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
        for n, key in enumerate(keys):  # place: one atomic link per chunk, never over an existing one
            target = store / gap.array / key
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staging / str(n), target)
                written += 1
            except FileExistsError:
                pass  # written since the scan (by a writer or another repair): theirs stands
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


@dataclass(frozen=True)
class StoreCells:
    """A local Zarr 2 frame store and the pair cells whose chunks must be on disk."""

    path: Path
    frame: str
    cells: list[tuple[int, int]]  # (primary, secondary) indices
    primaries: list[str]  # YYYYMMDD of each primary index, to name pairs
    secondaries: list[str]


def _repair_gaps(target: StoreCells, gaps: list[_Gap]) -> list[UnwrittenChunks]:
    group = zarr.open_group(str(target.path), mode="r")
    out = []
    for gap in gaps:
        written = _repair_array(target.path, array_of(group, gap.array), gap)
        keys = _cell_keys(target.frame, target.primaries, target.secondaries, gap.cells)
        out.append(
            UnwrittenChunks(
                str(target.path), target.frame, gap.array, keys[0] if keys else "-", len(keys), written
            )
        )
    return out


def repair_store(store: str | os.PathLike[str], cells: Sequence[tuple[int, int]]) -> list[UnwrittenChunks]:
    """Write the missing chunks ``cells`` (primary, secondary indices) need in a local Zarr 2 store's arrays.

    Returns what was repaired (empty when nothing was missing: running it twice is harmless).
    """
    path = Path(store).absolute()
    gaps, _ = _store_gaps(Location(str(path.parent)), path.name, cells)
    if not gaps:
        return []
    _check_writable(path, gaps)
    n_p = max((i for i, _ in cells), default=0) + 1
    n_s = max((j for _, j in cells), default=0) + 1
    names = StoreCells(
        path,
        path.name.removesuffix(schema.STORE_SUFFIX),
        list(cells),
        [f"#{i}" for i in range(n_p)],
        [f"#{j}" for j in range(n_s)],
    )
    return _repair_gaps(names, gaps)


def repair_stores(root: str, stores: Sequence[StoreCells]) -> RepairReport:
    """Repair several stores; every store is scanned (and checked writable) before anything is written."""
    report = RepairReport(root=root, stores_checked=len(stores))
    todo = []
    for target in stores:
        gaps, checked = _store_gaps(Location(str(target.path.parent)), target.path.name, target.cells)
        report.arrays_checked += checked
        if gaps:
            _check_writable(target.path, gaps)
            todo.append((target, gaps))
    for target, gaps in todo:
        report.repaired += _repair_gaps(target, gaps)
    return report


def repair_root(root: str | os.PathLike[str]) -> RepairReport:
    """Repair every frame store of a local Thalia root in place (see the module docstring)."""
    location = Location(os.fspath(root))
    if not location.is_local:
        msg = f"cannot repair {location.url}: repair writes chunk files in place and works on local folders only."
        raise NotAThaliaStoreError(msg, "Run it on the machine that holds the dataset, or on a local copy.")
    ds = ThaliaDataset(root)  # a missing root raises DatasetNotFoundError
    if not ds.frames:
        msg = f"{ds.root} holds no <frame_id>{schema.STORE_SUFFIX} store: not a Thalia dataset root."
        raise DatasetNotFoundError(
            msg, "Point repair at the folder that holds the frame stores and annotations.json."
        )
    stores = []
    for frame_id in ds.frames:
        cells, primaries, secondaries = _frame_cells(ds, frame_id)
        path = Path(location.path) / f"{frame_id}{schema.STORE_SUFFIX}"
        stores.append(StoreCells(path, frame_id, cells, primaries, secondaries))
    return repair_stores(ds.root, stores)
