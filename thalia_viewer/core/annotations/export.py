"""Export a corrected dataset in the Thalia layout: source cubes with the store's corrections written in.

``OUT/<frame>.zarr`` is a file copy of each source store (same Zarr format, chunks, codecs and
consolidated metadata) in which only the corrected pairs' mask cells are rewritten; real cubes that lack
``activity_type_mask`` / ``intensity_level_mask`` get them, derived from the records for the other pairs.
Arrays are written by :mod:`~thalia_viewer.core.zarr_write`'s rules (a cleared pair's zero chunks land on
disk), and chunks a valid pair needs but the source never wrote are added as zeros
(:func:`~thalia_viewer.core.repair.repair_store`), so zarr-python 2 reads the export as zarr 3 does.
``annotations.json`` is the source's, byte for byte, with each corrected record spliced in its place
(``export_records``: its polygons in the source's pixel frame under ``segmentation_mask`` when that frame is
known, else in cube pixels under ``segmentation_mask_cube_px``); ``quality_timeseries.json`` is the
source's, updated for the corrected records' flags. The export is written beside ``OUT`` and renamed at the
end: an interrupted one leaves no ``OUT``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .. import schema
from ..dataset import ThaliaDataset
from ..errors import AnnotationStoreError, MissingVariableError
from ..frame import Frame
from ..pairs import Pair
from ..repair import repair_store
from ..zarr_write import array_of, create_class_array, writable
from .annotation import MASK_LAYERS
from .export_records import (
    RecordChange,
    annotations_text,
    cell_of,
    corrected_record,
    file_has_polygons,
    merge_records,
)
from .store import AnnotationStore


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: where, from which store version, how many frames and corrected pairs, and
    which records changed with the key and coordinate system of their polygons."""

    out: Path
    version: str
    frames: int
    pairs: int
    records: int
    changed: tuple[RecordChange, ...] = ()

    def __str__(self) -> str:
        head = (
            f"wrote {self.out}: {self.frames} frames, {self.pairs} corrected pairs, {self.records} records "
            f"(annotation store version {self.version[:8]})"
        )
        return "\n".join(
            [*(f"changed {c}" for c in self.changed), head]
        )  # the head last: the CLI adds the time


def export_dataset(
    root: str | os.PathLike[str],
    store: AnnotationStore | str | os.PathLike[str],
    out: str | os.PathLike[str],
    version: str | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ExportSummary:
    """Write the dataset at ``root``, corrected by ``store`` at ``version`` (default: tip), to ``out``."""
    dataset = ThaliaDataset(root)
    if not isinstance(store, AnnotationStore):
        store = AnnotationStore(store, dataset=dataset, create=False)
    snapshot = store.resolve(version)
    out = Path(out).absolute()
    _check_out(dataset, out, overwrite)
    edited: dict[str, list[Pair]] = {}
    for pair in store.edited_pairs(snapshot):
        edited.setdefault(pair.frame, []).append(pair)
    unknown = sorted(set(edited) - set(dataset.frames))
    if unknown:
        msg = f"the annotation store corrects frame(s) {unknown} that {dataset.root} does not hold."
        raise AnnotationStoreError(msg, "Export with the dataset root the corrections were made on.")
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    changed: list[RecordChange] = []
    try:
        corrected = _write_frames(dataset, store, snapshot, edited, partial, progress, changed)
        records = merge_records(dict(dataset.annotations), corrected)
        quality = _quality(dataset.quality, records, corrected.values())
        (partial / schema.ANNOTATIONS_FILE).write_text(
            annotations_text(_source_text(dataset), records, corrected)
        )
        (partial / schema.QUALITY_FILE).write_text(json.dumps(quality, indent=1))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _swap_in(partial, out)
    return ExportSummary(out, snapshot, len(dataset.frames), len(corrected), len(records), tuple(changed))


def _source_text(dataset: ThaliaDataset) -> str | None:
    """The source ``annotations.json`` as text (``None`` when absent)."""
    loc = dataset.location
    if not loc.exists(schema.ANNOTATIONS_FILE):
        return None
    return loc.fs.cat_file(f"{loc.path}/{schema.ANNOTATIONS_FILE}").decode("utf-8")


def _write_frames(
    dataset: ThaliaDataset,
    store: AnnotationStore,
    snapshot: str,
    edited: dict[str, list[Pair]],
    partial: Path,
    progress: Callable[[str], None] | None,
    changed: list[RecordChange] | None = None,
) -> dict[str, dict[str, Any]]:
    """Copy every frame store into ``partial`` and write the corrections in; returns the corrected records
    (and notes each in ``changed``)."""
    corrected: dict[str, dict[str, Any]] = {}
    polygons_in_file = file_has_polygons(dataset.annotations)
    for frame_id in dataset.frames:
        if progress:
            progress(f"{frame_id}: copying the store, {len(edited.get(frame_id, []))} corrected pair(s)")
        target = partial / f"{frame_id}{schema.STORE_SUFFIX}"
        frame = dataset.frame(frame_id)  # a store that cannot be opened is named before anything is copied
        if schema.DEFORMATION_MASK not in frame.ds.data_vars:
            msg = f"{frame.source} has no variable {schema.DEFORMATION_MASK!r}; an export writes the corrected labels into it."
            raise MissingVariableError(
                msg,
                "Restore the store from the original distribution; `thalia-viewer validate ROOT` lists what is missing.",
            )
        _copy_store(dataset, frame_id, target)
        group = zarr.open_group(str(target), mode="r+", use_consolidated=False)
        _add_missing_masks(target, group, frame, skip=edited.get(frame_id, []))
        for pair in edited.get(frame_id, []):
            ann = store.read_merged(pair, snapshot)
            _check_shapes(group, ann.masks, f"{frame.source} pair {pair}")
            _write_masks(group, frame.cell(pair), ann.masks)
            record, change = corrected_record(dataset, frame, pair, ann, polygons_in_file)
            corrected[str(ann.record["uniqueID"])] = record
            if changed is not None:
                changed.append(change)
        # a source written without its zero chunks (earlier versions of this project) is mended in the copy
        repair_store(target, [frame.cell(p) for p in frame.pairs])
    return corrected


def _swap_in(partial: Path, out: Path) -> None:
    """Move the finished ``partial`` export to ``out``; an old export there is removed only once replaced."""
    if not out.exists():
        partial.rename(out)
        return
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    out.rename(old)  # a kill from here to the next rename leaves both complete exports beside ``out``
    partial.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _check_out(dataset: ThaliaDataset, out: Path, overwrite: bool) -> None:
    if dataset.location.is_local and Path(dataset.location.path).absolute() in (out, *out.parents):
        msg = (
            f"export target {out} is (in) the source dataset {dataset.root}; source cubes are never written."
        )
        raise AnnotationStoreError(msg, "Export to a new folder outside the dataset root.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        msg = f"export target {out} already exists and is not empty."
        raise FileExistsError(f"{msg} Choose a new folder, or pass overwrite=True.")


def _copy_store(dataset: ThaliaDataset, frame_id: str, target: Path) -> None:
    """Copy the frame's store files as they are (chunks, codecs, consolidated metadata)."""
    name = f"{frame_id}{schema.STORE_SUFFIX}"
    if dataset.location.is_local:
        shutil.copytree(dataset.location.join(name), target)
    else:
        dataset.location.fs.get(f"{dataset.location.path}/{name}", str(target), recursive=True)


def _mask_dims(frame: Frame) -> tuple[str, ...]:
    return tuple(str(d) for d in frame.ds[schema.DEFORMATION_MASK].dims)


def _add_missing_masks(target: Path, group: zarr.Group, frame: Frame, skip: Iterable[Pair]) -> None:
    """Create the activity / intensity rasters a real cube lacks; fill them for the uncorrected pairs."""
    missing = [m for m in (schema.ACTIVITY_MASK, schema.INTENSITY_MASK) if m not in group]
    if not missing:
        return
    like = array_of(group, schema.DEFORMATION_MASK)
    arrays = {}
    for name in missing:
        meanings = " ".join(f"{c.code}={c.name}" for c in schema.MASK_CLASSES[name])
        arrays[name] = create_class_array(
            group,
            name,
            shape=like.shape,
            chunks=like.chunks,
            dims=_mask_dims(frame),
            compressors=like.compressors,
            attrs={"long_name": name.replace("_", " "), "flag_meanings": meanings},
        )
    skipped = set(skip)
    for pair in frame.pairs:
        if pair in skipped:
            continue
        i, j = frame.cell(pair)
        derived = frame.read(pair, [MASK_LAYERS[m] for m in missing])
        for name in missing:  # zeros too: every valid pair's chunks on disk (see zarr_write)
            arrays[name][i, j] = derived[MASK_LAYERS[name]]
    _reconsolidate(target, group)


def _reconsolidate(target: Path, group: zarr.Group) -> None:
    """Rewrite consolidated metadata where the source store had it (Zarr 2 ``.zmetadata``, Zarr 3 inline)."""
    if group.metadata.zarr_format == 2:
        if (target / ".zmetadata").exists():
            zarr.consolidate_metadata(str(target))
    elif group.metadata.consolidated_metadata is not None:
        zarr.consolidate_metadata(str(target))


def _check_shapes(group: zarr.Group, masks: dict[str, np.ndarray], where: str) -> None:
    """:class:`AnnotationStoreError` when a correction's masks do not fit the store's pair cells."""
    for name in schema.MASKS:
        shape = tuple(array_of(group, name).shape)
        if len(shape) != 4 or tuple(masks[name].shape) != shape[2:]:
            msg = (
                f"{where}: the correction's {name} is {'x'.join(map(str, masks[name].shape))} px but the store's "
                f"{name} has shape {shape} (pair cells of {'x'.join(map(str, shape[2:])) or 'no'} px)."
            )
            raise AnnotationStoreError(
                msg,
                "The corrections were made on another version of this frame: export them with that dataset root.",
            )


def _write_masks(group: zarr.Group, cell: tuple[int, int], masks: dict[str, np.ndarray]) -> None:
    """Overwrite one pair's cell of the three masks; NaN no-data of a float source mask stays NaN."""
    i, j = cell
    for name in schema.MASKS:
        array = writable(array_of(group, name))  # a cleared pair's zero chunks are written
        values = masks[name].astype(array.dtype)
        if np.issubdtype(array.dtype, np.floating):
            before = array[i, j]
            values = np.where(np.isnan(before) & (masks[name] == 0), before, values)
        array[i, j] = values


def _usable(rec: Mapping[str, Any]) -> bool:
    return not any(rec.get(flag) for flag in schema.UNUSABLE_FLAGS)


def _quality(
    source: dict | None, records: Mapping[str, Mapping[str, Any]], corrected: Iterable[Mapping[str, Any]]
) -> dict:
    """``quality_timeseries.json``: the source's (or one built from the records), corrected pairs updated."""
    changed = list(records.values()) if source is None else list(corrected)
    quality: dict[str, dict[str, dict]] = json.loads(json.dumps(source or {}))
    for rec in changed:
        frame, primary, secondary = cell_of(rec)
        groups = quality.setdefault(frame, {})
        group = groups.setdefault(primary, {"length": 0, "secondary_date": [], "uniqueID": []})
        entries = dict(zip(group["secondary_date"], group["uniqueID"], strict=True))
        entries.pop(secondary, None)
        if _usable(rec):
            entries[secondary] = rec["uniqueID"]
        ordered = sorted(entries)
        group.update(length=len(ordered), secondary_date=ordered, uniqueID=[entries[s] for s in ordered])
        if not ordered:
            del groups[primary]
    return quality
