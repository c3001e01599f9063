"""Check a dataset root against the Thalia format and say exactly what is wrong, where."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import schema
from .dataset import ThaliaDataset
from .errors import ThaliaError
from .frame import Frame
from .pairs import Pair
from .repair import unwritten_chunk_problems  # [writes, issue 13]

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
    pairs_read: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def summary(self) -> str:
        """One paragraph for people."""
        head = f"{self.root}: {self.frames} frames, {self.pairs} valid pairs ({self.positives} positive)"
        if self.pairs_read:
            head += f", data of {self.pairs_read} pairs read"
        if self.ok:
            return head + ": valid Thalia dataset."
        return head + f": {len(self.problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in self.problems)


def validate_record(key: str, rec: dict) -> list[str]:
    """Problems of one ``annotations.json`` record (empty when it is valid)."""
    where = f"annotations.json record {key!r}"
    problems = [f"{where}: missing field {f!r}" for f in schema.ANNOTATION_FIELDS if f not in rec]
    for name, allowed in schema.FLAG_FIELDS.items():
        if name in rec and rec[name] not in allowed:
            problems.append(f"{where}: {name}={rec[name]!r} is not one of {sorted(allowed)}")
    for name, allowed in _LIST_VALUES.items():
        value = rec.get(name, [])
        if not isinstance(value, list):
            problems.append(f"{where}: {name} must be a list, got {value!r}")
            continue
        problems += [f"{where}: {name} value {v!r} is not one of {sorted(allowed)}" for v in value if v not in allowed]
    if "phase" in rec and rec["phase"] not in {p.value for p in schema.Phase}:
        problems.append(f"{where}: phase={rec['phase']!r} is not one of {[p.value for p in schema.Phase]}")
    conf = rec.get("confidence", 0)
    if not isinstance(conf, int | float) or not 0 <= conf <= 1 or np.isnan(conf):
        problems.append(f"{where}: confidence={conf!r} is not a number in [0, 1]")
    for name in ("primary_date", "secondary_date"):
        try:
            schema.parse_date(rec.get(name, ""))
        except ValueError:
            problems.append(f"{where}: {name}={rec.get(name)!r} is not a YYYYMMDD date")
    return problems


def _check_frame_metadata(frame: Frame) -> list[str]:
    problems = [f"{frame.source}: missing variable {v!r}" for v in frame.missing_variables()]
    ny, nx = frame.shape
    for name, da in frame.ds.data_vars.items():
        if da.dims[-2:] != (frame.y_dim, frame.x_dim) and name in schema.REQUIRED_VARIABLES:
            problems.append(f"{frame.source}: {name} has dims {da.dims}; its last two dims must be ({frame.y_dim}, {frame.x_dim})")
        extra = set(da.dims) - {schema.PRIMARY, schema.SECONDARY, frame.y_dim, frame.x_dim}
        if extra and name in schema.REQUIRED_VARIABLES:
            problems.append(f"{frame.source}: {name} has unexpected dims {sorted(extra)}")
    if schema.DEM in frame.ds and frame.ds[schema.DEM].ndim != 2:
        problems.append(f"{frame.source}: {schema.DEM} must be 2-D (Y, X), has dims {frame.ds[schema.DEM].dims}")
    for dim in schema.DATE_DIMS:
        values = frame.ds[dim].values
        if not np.issubdtype(values.dtype, np.datetime64):
            problems.append(f"{frame.source}: coordinate {dim} has dtype {values.dtype}; expected datetime64")
        elif len(values) > 1 and not np.all(np.diff(values) > np.timedelta64(0)):
            problems.append(f"{frame.source}: coordinate {dim} is not sorted and unique")
    if ny < 2 or nx < 2:
        problems.append(f"{frame.source}: spatial grid {ny} x {nx} is too small")
    return problems


def _check_pair_data(frame: Frame, pair: Pair) -> list[str]:
    keys = ["phase", "coherence", "deformation"]
    keys += [k for k, v in (("activity", schema.ACTIVITY_MASK), ("intensity", schema.INTENSITY_MASK)) if v in frame.ds]
    try:
        data = frame.read(pair, keys)
    except ThaliaError as exc:
        return [str(exc)]
    problems = []
    phase = data["phase"]
    finite = phase[np.isfinite(phase)]
    if finite.size == 0:
        problems.append(f"{frame.source}: pair {pair} has no phase data (empty cell)")
    elif np.abs(finite).max() > np.pi + 1e-3:
        problems.append(f"{frame.source}: pair {pair}: {schema.PHASE} exceeds [-pi, pi] (max |phase| {np.abs(finite).max():.2f})")
    coh = data["coherence"]
    if np.isfinite(coh).any() and (np.nanmin(coh) < -1e-6 or np.nanmax(coh) > 1 + 1e-6):
        problems.append(f"{frame.source}: pair {pair}: {schema.COHERENCE} outside 0-1 (or 0-255)")
    for key, variable in (("deformation", schema.DEFORMATION_MASK), ("activity", schema.ACTIVITY_MASK), ("intensity", schema.INTENSITY_MASK)):
        if key not in data:
            continue
        valid = {c.code for c in schema.MASK_CLASSES[variable]}
        bad = sorted(set(np.unique(data[key]).tolist()) - valid)
        if bad:
            problems.append(f"{frame.source}: pair {pair}: {variable} has unknown class codes {bad} (valid: {sorted(valid)})")
    if "activity" in data and not np.array_equal(schema.deformation_from_activity(data["activity"]), data["deformation"]):
        problems.append(f"{frame.source}: pair {pair}: {schema.DEFORMATION_MASK} disagrees with {schema.ACTIVITY_MASK}")
    return problems


def validate(root: str, read_data: bool = True, progress: Callable[[str], None] | None = None) -> Report:
    """Validate the dataset at ``root``: layout, JSON files, every frame's metadata and (by default) pair data."""
    ds = ThaliaDataset(root)  # raises DatasetNotFoundError for a missing root
    report = Report(root=ds.root)
    try:
        annotations = ds.annotations
        quality = ds.quality
        ds.pairs  # noqa: B018  (forces the record index, which checks dates)
    except ThaliaError as exc:
        report.problems.append(str(exc))
        return report
    if not ds.location.exists(schema.ANNOTATIONS_FILE):
        report.problems.append(f"{ds.location.join(schema.ANNOTATIONS_FILE)} is missing")
    for key, rec in annotations.items():
        report.problems += validate_record(key, rec)
    if not ds.frames:
        report.problems.append(f"{ds.root} holds no <frame_id>{schema.STORE_SUFFIX} store")
    for frame_id in (quality or {}):
        if frame_id not in ds.frames:
            report.problems.append(f"{schema.QUALITY_FILE} names frame {frame_id!r}, which has no store")
    for frame_id in ds.frames:
        if progress:
            progress(frame_id)
        try:
            frame = ds.frame(frame_id)
        except ThaliaError as exc:
            report.problems.append(str(exc))
            continue
        report.frames += 1
        report.problems += _check_frame_metadata(frame)
        for p, group in (quality or {}).get(frame_id, {}).items():
            for s in group.get("secondary_date", []):
                if not frame._has_cell(Pair(frame_id, p, s)):
                    report.problems.append(f"{schema.QUALITY_FILE}: pair {frame_id}/{p}_{s} is not in the store's date grid")
        report.pairs += len(frame.pairs)
        report.positives += len(frame.positives)
        if read_data and not frame.missing_variables():
            for pair in frame.pairs:
                report.problems += _check_pair_data(frame, pair)
                report.pairs_read += 1
    report.problems += unwritten_chunk_problems(ds)  # [writes, issue 13] says how to repair
    return report
