"""Check a dataset root against the Thalia format and say exactly what is wrong, where.

By default only metadata and the catalogue are checked (no pixel is read; seconds for the 38-frame
dataset): the JSON files and every record, the stores' variables, dims, coordinates and size, metadata
that lists a deleted variable, and Zarr 2 arrays whose null fill value leaves zarr-2 readers garbage
(:mod:`.store_checks`). ``deep=True`` also reads every valid pair's data, each frame's DEM and each date's
ERA5 fields, in parallel and resumably (:mod:`.deep_validate`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np

from . import schema
from .dataset import ThaliaDataset
from .deep_validate import run_deep
from .errors import ThaliaError
from .frame import Frame
from .pairs import pair_key
from .repair import unwritten_chunk_problems
from .store_checks import stale_variables, store_signature

#: Frames smaller than this (px a side) are flagged: real frames are 2,000-4,000 px; models tile by >= 32 px.
MIN_FRAME_PX = 32

#: Allowed values of list / text fields of an annotation record.
_LIST_VALUES = {
    "label": {label.value for label in schema.Label},
    "activity_type": {c.name for c in schema.ACTIVITY_TYPES if c.code},
    "intensity_level": {c.name for c in schema.INTENSITY_LEVELS if c.code},
}


@dataclass
class Report:
    """What a validation found: problems (each names file / variable / pair) and a summary."""

    root: str
    problems: list[str] = field(default_factory=list)
    frames: int = 0
    pairs: int = 0
    positives: int = 0
    pairs_read: int = 0  # reads of deep validation done by this run (pairs, DEMs, ERA5 dates)
    resumed: int = 0  # reads recorded by an interrupted run and not repeated
    deep: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def summary(self) -> str:
        """One paragraph for people."""
        head = f"{self.root}: {self.frames} frames, {self.pairs} valid pairs ({self.positives} positive)"
        if self.deep:
            head += f", {self.pairs_read} data reads" + (
                f" (+{self.resumed} resumed)" if self.resumed else ""
            )
        else:
            head += ", metadata and catalogue checked (add --deep to read every pair's data)"
        notes = "".join(f"\n  note: {n}" for n in self.notes)
        if self.ok:
            return head + ": valid Thalia dataset." + notes
        return (
            head
            + f": {len(self.problems)} problem(s):"
            + notes
            + "\n"
            + "\n".join(f"  - {p}" for p in self.problems)
        )


def validate_record(key: str, rec: Mapping[str, Any]) -> list[str]:
    """Problems of one ``annotations.json`` record (empty when it is valid)."""
    where = f"annotations.json record {key!r}"
    problems = [f"{where}: missing field {f!r}" for f in schema.ANNOTATION_FIELDS if f not in rec]
    for name, allowed in schema.FLAG_FIELDS.items():
        if name in rec and rec[name] not in allowed:
            problems.append(f"{where}: {name}={rec[name]!r} is not one of {sorted(allowed)}")
    for name, names in _LIST_VALUES.items():
        value = rec.get(name, [])
        if not isinstance(value, list):
            problems.append(f"{where}: {name} must be a list, got {value!r}")
            continue
        problems += [
            f"{where}: {name} value {v!r} is not one of {sorted(names)}" for v in value if v not in names
        ]
    if "phase" in rec and rec["phase"] not in {p.value for p in schema.Phase}:
        problems.append(f"{where}: phase={rec['phase']!r} is not one of {[p.value for p in schema.Phase]}")
    conf = rec.get("confidence", 0)
    if not isinstance(conf, int | float) or not 0 <= conf <= 1 or np.isnan(conf):
        problems.append(f"{where}: confidence={conf!r} is not a number in [0, 1]")
    for name in ("primary_date", "secondary_date"):
        value = rec.get(name, "")
        if not (isinstance(value, str) and _is_yyyymmdd(value)):
            problems.append(f"{where}: {name}={value!r} is not a YYYYMMDD date string")
    if "uniqueID" in rec and str(rec["uniqueID"]) != str(key):
        problems.append(
            f"{where}: its uniqueID {rec['uniqueID']!r} differs from its key; records are keyed by str(uniqueID)"
        )
    return problems


@lru_cache(maxsize=65_536)
def _is_yyyymmdd(text: str) -> bool:
    """Whether ``text`` is a real date spelt ``YYYYMMDD`` (memoised: a catalogue repeats its dates)."""
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        schema.parse_date(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65_536)
def _yyyymmdd(value: object) -> str:
    return schema.format_date(value if isinstance(value, str | date | np.datetime64) else str(value))


def _check_frame_metadata(frame: Frame) -> list[str]:
    problems = [f"{frame.source}: missing variable {v!r}" for v in frame.missing_variables()]
    ny, nx = frame.shape
    for name, da in frame.ds.data_vars.items():
        if name not in schema.REQUIRED_VARIABLES and name not in schema.MASKS:
            continue
        if da.dims[-2:] != (frame.y_dim, frame.x_dim):
            problems.append(
                f"{frame.source}: {name} has dims {da.dims}; its last two dims must be ({frame.y_dim}, {frame.x_dim})"
            )
            continue
        extra = set(da.dims) - {schema.PRIMARY, schema.SECONDARY, frame.y_dim, frame.x_dim}
        if extra:
            problems.append(f"{frame.source}: {name} has unexpected dims {sorted(map(str, extra))}")
        elif name in (schema.PHASE, schema.COHERENCE, *schema.MASKS) and da.dims[:2] != schema.DATE_DIMS:
            problems.append(
                f"{frame.source}: {name} has dims {da.dims}; expected ({schema.PRIMARY}, {schema.SECONDARY}, Y, X)"
            )
    if schema.DEM in frame.ds and frame.ds[schema.DEM].ndim != 2:
        problems.append(
            f"{frame.source}: {schema.DEM} has dims {frame.ds[schema.DEM].dims}; it must be 2-D (Y, X)"
        )
    for dim in schema.DATE_DIMS:
        values = frame.ds[dim].values
        if not np.issubdtype(values.dtype, np.datetime64):
            problems.append(f"{frame.source}: coordinate {dim} has dtype {values.dtype}; expected datetime64")
        elif len(values) > 1 and not np.all(np.diff(values) > np.timedelta64(0)):
            problems.append(f"{frame.source}: coordinate {dim} is not sorted and unique")
    if ny < MIN_FRAME_PX or nx < MIN_FRAME_PX:
        problems.append(
            f"{frame.source}: spatial grid {ny} x {nx} px is too small (real frames are 2,000-4,000 px; the "
            f"viewer and the models need at least {MIN_FRAME_PX} x {MIN_FRAME_PX})"
        )
    return problems


def _check_records(ds: ThaliaDataset, grids: dict[str, Frame]) -> list[str]:
    """Every record alone, then against the others and the stores (frame, dates in the grid, duplicates)."""
    problems: list[str] = []
    for key, rec in ds.annotations.items():
        problems += validate_record(key, rec)
    where = ds.location.join(schema.ANNOTATIONS_FILE)
    foreign: dict[str, list[str]] = {}
    seen: dict[tuple[str, str, str], str] = {}
    frames = set(ds.frames)
    for key, rec in ds.annotations.items():
        frame_id = str(rec["frameID"])
        try:
            cell = (_yyyymmdd(rec["primary_date"]), _yyyymmdd(rec["secondary_date"]))
        except (ValueError, TypeError):
            continue  # reported by validate_record
        if frame_id not in frames:
            foreign.setdefault(frame_id, []).append(key)
        elif frame_id in grids and not _in_grid(grids[frame_id], *cell):
            problems.append(
                f"{where}: record {key!r} describes pair {pair_key(frame_id, *cell)}, which is not in the date grid of {grids[frame_id].source}"
            )
        other = seen.setdefault((frame_id, *cell), key)
        if other != key:
            problems.append(
                f"{where}: records {other!r} and {key!r} both describe pair {pair_key(frame_id, *cell)}; keep one"
            )
    for frame_id, keys in sorted(foreign.items()):
        problems.append(
            f"{where}: {len(keys)} record(s) (e.g. {keys[0]!r}) describe frame {frame_id!r}, which has no store in "
            f"{ds.root} (a partial copy? add its store, or drop its records)"
        )
    return problems


def _in_grid(frame: Frame, primary: str, secondary: str) -> bool:
    """Whether the store's date grid has the cell of these ``YYYYMMDD`` dates."""
    return primary in frame._primary_index and secondary in frame._secondary_index


def _check_quality(ds: ThaliaDataset, grids: dict[str, Frame]) -> list[str]:
    """``quality_timeseries.json`` against its own counts, the stores and the records."""
    quality = ds.quality or {}
    where = schema.QUALITY_FILE
    problems: list[str] = []
    records = ds.annotations
    for frame_id, groups in quality.items():
        if frame_id not in ds.frames:
            problems.append(f"{where} names frame {frame_id!r}, which has no store in {ds.root}")
            continue
        for primary, group in groups.items():
            name = f"{where}: {frame_id}/{primary}"
            if not isinstance(group, dict) or not isinstance(group.get("secondary_date", []), list):
                problems.append(f"{name} is not {{length, secondary_date: [...], uniqueID: [...]}}")
                continue
            secondaries, uids = group.get("secondary_date", []), group.get("uniqueID", [])
            if group.get("length", len(secondaries)) != len(secondaries) or (
                uids and len(uids) != len(secondaries)
            ):
                problems.append(
                    f"{name}: length {group.get('length')} disagrees with {len(secondaries)} secondary dates and {len(uids)} uniqueIDs"
                )
            for s in secondaries:
                if not (isinstance(s, str) and _is_yyyymmdd(s) and _is_yyyymmdd(str(primary))):
                    problems.append(f"{name}: {s!r} is not a YYYYMMDD date")
                elif frame_id in grids and not _in_grid(grids[frame_id], str(primary), s):
                    problems.append(
                        f"{where}: pair {pair_key(frame_id, str(primary), s)} is not in the store's date grid"
                    )
            if records:
                unknown = [u for u in uids if str(u) not in records]
                if unknown:
                    problems.append(
                        f"{name}: uniqueID(s) {unknown[:5]} have no record in {schema.ANNOTATIONS_FILE}"
                    )
    return problems


def validate(
    root: str,
    deep: bool = False,
    *,
    workers: int | None = None,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
    read_progress: Callable[[int, int], None] | None = None,
    read_data: bool | None = None,
) -> Report:
    """Validate the dataset at ``root``: layout, JSON files, every frame's metadata and, with ``deep``, all data.

    ``progress`` hears each frame id as its metadata is checked; ``read_progress`` (done, total) follows the
    deep reads. ``workers``: threads of the deep reads. ``resume``: continue an interrupted deep run.
    (``read_data`` is the old name of ``deep``.)
    """
    deep = bool(read_data) if read_data is not None else deep
    ds = ThaliaDataset(
        root
    )  # raises DatasetNotFoundError for a missing root, NotAThaliaStoreError for a file
    report = Report(root=ds.root, deep=deep)
    try:
        annotations = ds.annotations
        quality = ds.quality
        ds._records_by_frame  # noqa: B018  (the record index: it checks every date)
    except ThaliaError as exc:
        report.problems.append(str(exc))
        return report
    if not ds.location.exists(schema.ANNOTATIONS_FILE):
        report.problems.append(f"{ds.location.join(schema.ANNOTATIONS_FILE)} is missing")
    if not ds.frames:
        report.problems.append(f"{ds.root} holds no <frame_id>{schema.STORE_SUFFIX} store")
    grids: dict[str, Frame] = {}
    for frame_id in ds.frames:
        if progress:
            progress(frame_id)
        try:
            frame = ds.frame(frame_id)
        except ThaliaError as exc:
            report.problems.append(str(exc))
            continue
        grids[frame_id] = frame
        report.frames += 1
        report.problems += _check_frame_metadata(frame)
        report.problems += stale_variables(ds.location, frame)
        report.pairs += len(frame.pairs)
        report.positives += len(frame.positives)
    report.problems += unwritten_chunk_problems(ds)  # Zarr 2 chunks a valid pair needs: says how to repair
    if annotations:
        report.problems += _check_records(ds, grids)
    if quality is not None:
        report.problems += _check_quality(ds, grids)
    if deep:
        readable = [f for f in grids.values() if not f.missing_variables()]
        skipped = sorted(set(grids) - {f.frame_id for f in readable})
        if skipped:
            report.notes.append(
                f"data of frame(s) {', '.join(skipped)} not read: variables are missing (see above)"
            )
        result = run_deep(
            ds.root, readable, store_signature(ds.location, ds.frames), workers, resume, read_progress
        )
        report.problems += result.problems
        report.pairs_read, report.resumed = result.reads, result.resumed
        report.notes += result.notes
    return report
