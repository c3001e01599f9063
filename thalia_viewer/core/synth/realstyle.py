"""Synthetic roots shaped like the real records (``thalia-viewer synth --real-style``).

The real Thalia distribution differs from the project's default synthetic roots in what the labels carry:

- the cubes hold ``deformation_mask`` only: no activity-type or intensity rasters;
- hundreds of records list several patterns (``activity_type`` [Sill, Dyke], ``intensity_level`` [Low, High]);
- the authors' per-pair records hold one polygon per pattern (``segmentation_mask``, flat ``[x0, y0, ...]``)
  in pixels of the LiCSAR preview PNG (~333 m, about 3.3 cube pixels), not of the cube grid; the merged
  ``annotations.json`` has no polygons at all.

:class:`RealStyle` says which: polygons in ``annotations.json`` (as the per-pair files have them) or none (as
the merged file). Plans get a second pattern, of another class and apart from the first, in a share of the
campaigns with an event (:func:`adjust_plans`); :func:`finish` outlines each pattern of each record in the
coarse frame, then drops the activity / intensity rasters from the cubes. The coarse frame of each synthetic
frame (:func:`polygon_frame`) is written in the store attrs under :data:`TRUTH_ATTR` so tests can compare
what ``core.placement`` estimates; nothing in the project reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import zarr

from .. import schema
from ..placement import PolygonTransform
from ..polygons import flat, outline, simplify
from ..zarr_write import array_of
from .scenario import PIXEL_DEG, VOLCANIC_KINDS, Event, FramePlan, event_at

#: Cube pixels per preview-PNG pixel (~333 m / ~100 m), around which each frame's scale is drawn.
PNG_SCALE: Final = 3.33
#: Store attribute holding the true polygon frame of a synthetic frame (for tests only).
TRUTH_ATTR: Final = "thalia_synth_polygon_frame"
#: Where a second pattern lies, as fractions of the volcano radius from the summit.
SECOND_DISTANCE: Final = (0.95, 1.25)
SIMPLIFY_PNG_PX: Final = 0.35  # a hand-drawn outline's accuracy, preview-PNG pixels
MAX_VERTICES: Final = 50  # real polygons have 5-50 vertices


@dataclass(frozen=True)
class RealStyle:
    """How real-style records are written: ``polygons`` in ``annotations.json`` or not; ``second_share`` of
    the campaigns with an event that get a second pattern (at least one per frame that has one);
    ``keep_rasters`` leaves the simulated activity / intensity rasters in the cubes (the truth, for tests)."""

    polygons: bool = True
    second_share: float = 0.5
    keep_rasters: bool = False


def polygon_frame(plan: FramePlan) -> PolygonTransform:
    """The preview-PNG pixel frame of a synthetic frame: about 3.3 cube pixels per PNG pixel, a few pixels off."""
    rng = plan.rng(97)
    sx, sy = (PNG_SCALE * float(rng.uniform(0.98, 1.02)) for _ in range(2))
    return PolygonTransform(sx, sy, float(rng.uniform(-6, 6)), float(rng.uniform(-6, 6)))


def _campaign_first(plan: FramePlan, event: Event) -> date:
    """The first acquisition of the campaign an event starts in (events start 2-11 days after it)."""
    return max(d for d in plan.dates if d <= event.onset)


def adjust_plans(plans: Sequence[FramePlan], style: RealStyle) -> list[FramePlan]:
    """Plans whose campaigns hold at most two events of different classes, the second apart from the first."""
    out = []
    for plan in plans:
        rng = plan.rng(96)
        radius_m = 0.3 * min(plan.shape) * PIXEL_DEG * 111e3
        firsts: dict[date, Event] = {}
        for event in plan.events:  # the planner's own second events overlap the first: replaced below
            firsts.setdefault(_campaign_first(plan, event), event)
        events: list[Event] = []
        forced = False
        for start, first in sorted(firsts.items()):
            events.append(first)
            if first.kind == schema.EARTHQUAKE:
                continue
            if rng.random() < style.second_share or not forced:
                forced = True
                kinds = [k for k in VOLCANIC_KINDS if k != first.kind]
                events.append(event_at(str(rng.choice(kinds)), start, rng, radius_m, SECOND_DISTANCE))
        out.append(replace(plan, events=tuple(events)))
    return out


def record_polygons(
    record: Mapping[str, Any], activity: np.ndarray, frame: PolygonTransform
) -> list[list[float]]:
    """One polygon per pattern of ``record`` in the coarse ``frame``, outlining the pixels of its class in
    ``activity`` (uint8 codes); ``[]`` when a pattern has no pixel left (another one covers it)."""
    polygons = []
    for kind in record.get("activity_type") or []:
        ring = outline(activity == schema.class_by_name(schema.ACTIVITY_TYPES, kind).code)
        if ring is None:
            return []
        xy = frame.to_source(ring)
        tolerance = SIMPLIFY_PNG_PX
        simple = simplify(xy, tolerance)
        while len(simple) > MAX_VERTICES:
            tolerance *= 1.5
            simple = simplify(xy, tolerance)
        polygons.append(flat(simple, 1))
    return polygons


def _with_polygons(record: schema.AnnotationRecord, polygons: list[list[float]]) -> schema.AnnotationRecord:
    """``record`` with ``segmentation_mask`` in its official place (between ``confidence`` and ``is_crowd``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "is_crowd":
            out[schema.POLYGONS_FIELD] = polygons
        out[key] = value
    return cast(schema.AnnotationRecord, out)  # the same fields, segmentation_mask added


def finish(
    partial: Path, plans: Sequence[FramePlan], records: dict[str, schema.AnnotationRecord], style: RealStyle
) -> None:
    """Outline every pattern in its frame's coarse pixels (into ``records`` when ``style.polygons``), then
    drop the activity / intensity rasters from the frame stores at ``partial``."""
    by_frame: dict[str, list[str]] = {}
    for key, rec in records.items():
        by_frame.setdefault(rec["frameID"], []).append(key)
    for plan in plans:
        path = partial / f"{plan.frame_id}{schema.STORE_SUFFIX}"
        group = zarr.open_group(str(path), mode="r+")
        frame = polygon_frame(plan)
        primaries = [
            schema.format_date(d) for d in sorted({p for p, _ in plan.pairs})
        ]  # as the writer's grid
        secondaries = [schema.format_date(d) for d in sorted({s for _, s in plan.pairs})]
        for key in by_frame.get(plan.frame_id, []):
            rec = records[key]
            polygons: list[list[float]] = []
            if schema.is_positive(rec):
                i, j = primaries.index(rec["primary_date"]), secondaries.index(rec["secondary_date"])
                polygons = record_polygons(
                    rec, np.asarray(array_of(group, schema.ACTIVITY_MASK)[i, j]), frame
                )
            if style.polygons:
                records[key] = _with_polygons(rec, polygons)
        for name in () if style.keep_rasters else (schema.ACTIVITY_MASK, schema.INTENSITY_MASK):
            del group[name]
        group.attrs[TRUTH_ATTR] = frame.as_dict()
        if (path / ".zmetadata").exists() or (
            group.metadata.zarr_format == 3 and group.metadata.consolidated_metadata
        ):
            zarr.consolidate_metadata(str(path))
