"""Per-pattern classes on the cube grid, from what the source knows: the record's lists and its polygons.

A real cube has ``deformation_mask`` only; its record lists one ``activity_type`` and ``intensity_level``
per pattern and, in the Hephaestus per-pair files, one polygon per pattern (``segmentation_mask``, flat
``[x0, y0, x1, y1, ...]``) in pixels of the LiCSAR preview PNG (~333 m), not of the ~100 m cube grid.

- :func:`estimate_fit` finds, per frame, the axis-aligned map from polygon pixels to cube pixels
  (``col = sx * x + tx``, ``row = sy * y + ty``; cube pixel centres at integers) from the bounding boxes of
  the polygons and of the deformation mask over the frame's positive pairs (least squares, outlier pairs
  dropped), and reports its fit: the IoU of the rasterised polygons with the mask, pair by pair.
- :func:`place` gives each deformation pixel of a pair a class: earthquake pixels (mask 2) are Earthquake;
  volcanic pixels (mask 1) take the record's one volcanic class when it has one (no polygons needed), else
  the class of the nearest polygon when the polygons fit, else the raster-only "not placed" codes
  (``schema.UNPLACED_*``): the classes stay in the record, never turned into Unidentified. Unidentified
  is left for volcanic pixels whose record names no volcanic class at all.

Each pixel also gets its *owner*: the index of the record entry (pattern) it belongs to, ``UNPLACED_OWNER``
when it is one of several entries not placed, ``NO_OWNER`` when the record has no entry for it. Editing
uses owners to rewrite only the patterns an edit touched (``core.patterns``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from scipy import ndimage

from . import schema
from .editing.footprints import polygon_footprint

if TYPE_CHECKING:
    from .frame import Frame
    from .pairs import Pair

#: Positive pairs with polygons read to estimate a frame's transform (evenly spread over the frame's pairs).
FIT_PAIRS: Final = 24
#: The transform of a frame is known when the median IoU of its pairs' polygons with their masks reaches this.
MIN_FRAME_IOU: Final = 0.5
#: A pair's polygons place its classes when their IoU with its mask reaches this (else a wrong class could land).
MIN_PAIR_IOU: Final = 0.5
#: Pairs whose bounding boxes miss the fitted transform by more than this many cube pixels (and more than
#: three times the median miss) are left out of the fit (a pattern the polygons do not hold, say).
OUTLIER_PX: Final = 6.0
#: Deformation pixels outside every polygon closer than this (px) are looked up together.
CLUSTER_PX: Final = 4
NO_OWNER: Final = -1
UNPLACED_OWNER: Final = -2


class Status(StrEnum):
    """How a pair's activity / intensity rasters were obtained."""

    CUBE = "from the cube's rasters"
    PLACED = "placed by the record's polygons"
    ONE_CLASS = "one class per kind in the record"
    NOT_PLACED = "from the record, not placed"
    NO_CLASS = "no class in the record"
    NO_PATTERN = "no deformation"


# -------------------------------------------------------------------------------------------- polygons
def record_polygons(record: Mapping[str, Any] | None) -> list[np.ndarray] | None:
    """The record's ``segmentation_mask`` as ``(N, 2)`` float arrays of ``(x, y)``; ``None`` when it has none
    or they are malformed (not lists of at least 3 finite vertices)."""
    raw = (record or {}).get(schema.POLYGONS_FIELD)
    if not isinstance(raw, list) or not raw:
        return None
    out = []
    for polygon in raw:
        if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
            return None
        try:
            xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(xy).all():
            return None
        out.append(xy)
    return out


@dataclass(frozen=True)
class PolygonTransform:
    """Polygon pixels (x right, y down) -> continuous cube pixels: ``col = sx * x + tx``, ``row = sy * y + ty``.

    Cube pixel ``(i, j)`` is centred on ``(row, col) = (i, j)``; ``sx``, ``sy`` are cube pixels per polygon
    pixel (about 3.3 for preview-PNG polygons on a 100 m cube).
    """

    sx: float
    sy: float
    tx: float
    ty: float

    def to_cube(self, xy: np.ndarray) -> np.ndarray:
        """``(N, 2)`` ``(row, col)`` cube pixels of ``(N, 2)`` polygon ``(x, y)`` vertices."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.column_stack([self.sy * xy[:, 1] + self.ty, self.sx * xy[:, 0] + self.tx])

    def to_source(self, rows_cols: np.ndarray) -> np.ndarray:
        """``(N, 2)`` polygon ``(x, y)`` of ``(N, 2)`` cube ``(row, col)`` points."""
        rc = np.asarray(rows_cols, dtype=np.float64)
        return np.column_stack([(rc[:, 1] - self.tx) / self.sx, (rc[:, 0] - self.ty) / self.sy])

    def as_dict(self) -> dict[str, float]:
        return {"sx": self.sx, "sy": self.sy, "tx": self.tx, "ty": self.ty}

    def __str__(self) -> str:
        return f"col = {self.sx:.4g} x {self.tx:+.4g}, row = {self.sy:.4g} y {self.ty:+.4g}"


def rasterize(
    polygons: Sequence[np.ndarray], transform: PolygonTransform, shape: tuple[int, int]
) -> np.ndarray:
    """Index raster (int16, ``NO_OWNER`` outside) of polygons in source pixels, painted in order (the last
    one wins where they overlap, as the Hephaestus ``fillPoly`` did); a pixel is inside when its centre is."""
    out = np.full(shape, NO_OWNER, np.int16)
    for k, xy in enumerate(polygons):
        footprint = polygon_footprint(transform.to_cube(xy), shape)
        if footprint is not None:
            out[footprint.box.slices][footprint.covered] = k
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


# ---------------------------------------------------------------------------------------- frame fit
@dataclass(frozen=True)
class FrameFit:
    """The polygon -> cube transform of one frame and how well it fits (IoU per pair used)."""

    frame: str
    transform: PolygonTransform | None
    ious: dict[str, float] = field(default_factory=dict)  # pair key -> IoU of its polygons with its mask
    candidates: int = 0  # positive records with polygons
    reason: str = ""  # why there is no transform, or why it is not trusted

    @property
    def median_iou(self) -> float | None:
        return float(np.median(list(self.ious.values()))) if self.ious else None

    @property
    def known(self) -> bool:
        """True when polygons of this frame can place classes."""
        return self.transform is not None and (self.median_iou or 0.0) >= MIN_FRAME_IOU

    def summary(self) -> str:
        """One line for people."""
        if self.transform is None:
            return f"{self.frame}: no polygon transform ({self.reason})"
        ious = np.array(list(self.ious.values()))
        fit = (
            f"IoU median {np.median(ious):.2f}, min {ious.min():.2f} over {len(ious)} pair(s)"
            if len(ious)
            else "no pair to check it"
        )
        verdict = "known" if self.known else f"NOT trusted (median IoU below {MIN_FRAME_IOU})"
        return f"{self.frame}: {self.transform}; {fit} of {self.candidates} with polygons; {verdict}"


def _boxes(polygons: list[np.ndarray], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x0, x1, y0, y1)`` of the polygons and ``(c0 - .5, c1 + .5, r0 - .5, r1 + .5)`` of the mask's pixels."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    xy = np.concatenate(polygons)
    src = np.array([xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()])
    dst = np.array([cols[0] - 0.5, cols[-1] + 0.5, rows[0] - 0.5, rows[-1] + 0.5])
    return src, dst


def _solve(src: np.ndarray, dst: np.ndarray) -> PolygonTransform | None:
    """Least-squares ``dst = s * src + t`` per axis over ``(n, 4)`` boxes; ``None`` if degenerate."""
    params = []
    for a, b in ((0, 2), (2, 4)):
        x, y = src[:, a:b].ravel(), dst[:, a:b].ravel()
        if np.ptp(x) <= 0:
            return None
        s, t = np.polyfit(x, y, 1)
        if not (math.isfinite(s) and s > 0):
            return None
        params.append((float(s), float(t)))
    (sx, tx), (sy, ty) = params
    return PolygonTransform(sx, sy, tx, ty)


def fit_transform(
    boxes: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[PolygonTransform | None, list[int]]:
    """The transform fitted to ``(polygon box, mask box)`` pairs, and the indices of the boxes it kept."""
    if not boxes:
        return None, []
    src = np.array([b[0] for b in boxes])
    dst = np.array([b[1] for b in boxes])
    keep = np.arange(len(boxes))
    transform = _solve(src, dst)
    for _ in range(3):
        if transform is None or len(keep) < 3:
            break
        pred = np.column_stack(
            [src[:, :2] * transform.sx + transform.tx, src[:, 2:] * transform.sy + transform.ty]
        )
        miss = np.abs(pred - dst).max(axis=1)
        good = np.flatnonzero(miss <= max(OUTLIER_PX, 3 * float(np.median(miss[keep]))))
        if len(good) == len(keep) or len(good) < 2:
            break
        keep = good
        transform = _solve(src[keep], dst[keep])
    return transform, keep.tolist()


def _candidates(frame: Frame) -> list[tuple[Pair, list[np.ndarray]]]:
    out = []
    for pair in frame.positives:
        record = frame.annotation(pair)
        polygons = record_polygons(record)
        if polygons is not None and len(polygons) == len((record or {}).get("activity_type") or []):
            out.append((pair, polygons))
    return out


def estimate_fit(frame: Frame, max_pairs: int = FIT_PAIRS) -> FrameFit:
    """The polygon -> cube transform of ``frame`` from up to ``max_pairs`` positive pairs with polygons."""
    candidates = _candidates(frame)
    if not candidates:
        return FrameFit(frame.frame_id, None, reason="no positive record of this frame has polygons")
    picks = np.unique(
        np.linspace(0, len(candidates) - 1, min(max_pairs, len(candidates))).round().astype(int)
    )
    used, boxes, masks = [], [], []
    for k in picks:
        pair, polygons = candidates[k]
        mask = frame.deformation(pair) > 0
        box = _boxes(polygons, mask)
        if box is not None:
            used.append((pair, polygons))
            boxes.append(box)
            masks.append(mask)
    transform, kept = fit_transform(boxes)
    if transform is None:
        return FrameFit(
            frame.frame_id,
            None,
            candidates=len(candidates),
            reason="the polygons' and masks' extents do not determine a transform",
        )
    ious = {}
    for (pair, polygons), mask in zip(used, masks, strict=True):
        ious[pair.key] = _iou(rasterize(polygons, transform, mask.shape) >= 0, mask)
    dropped = len(used) - len(kept)
    reason = f"{dropped} pair(s) left out of the fit as outliers" if dropped else ""
    return FrameFit(frame.frame_id, transform, ious, len(candidates), reason)


# ------------------------------------------------------------------------------------- pair placement
@dataclass(frozen=True)
class Entry:
    """One pattern of a record: its activity type and intensity level names and their raster codes."""

    activity: str
    intensity: str
    activity_code: int
    intensity_code: int

    @property
    def earthquake(self) -> bool:
        return self.activity_code == schema.EARTHQUAKE_ACTIVITY

    @property
    def name(self) -> str:
        return f"{self.activity} / {self.intensity or '?'}"


def record_entries(record: Mapping[str, Any] | None) -> list[Entry] | None:
    """The record's patterns (``activity_type`` with ``intensity_level``), or ``None`` if the lists are
    malformed (not lists, unknown names, different lengths)."""
    rec = record or {}
    kinds, levels = rec.get("activity_type") or [], rec.get("intensity_level") or []
    if not isinstance(kinds, list) or not isinstance(levels, list) or len(kinds) != len(levels):
        return None
    entries = []
    for kind, level in zip(kinds, levels, strict=True):
        try:
            a = schema.class_by_name(schema.ACTIVITY_TYPES, str(kind)).code
            i = schema.class_by_name(schema.INTENSITY_LEVELS, str(level)).code
        except ValueError:
            return None
        if a == schema.EARTHQUAKE_ACTIVITY:
            i = schema.EARTHQUAKE_INTENSITY
        elif i == schema.EARTHQUAKE_INTENSITY:
            i = 0  # "None" on a volcanic pattern: its level is unknown
        entries.append(Entry(str(kind), str(level), a, i))
    return entries


@dataclass
class Placement:
    """Activity / intensity rasters of a pair, derived from its deformation mask and record, with owners.

    ``owner`` (int16, ``box`` of the frame; ``NO_OWNER`` elsewhere): record entry index per pixel, or
    ``UNPLACED_OWNER``. ``unplaced``: indices of the entries not placed on pixels.
    """

    activity: np.ndarray
    intensity: np.ndarray
    owner: np.ndarray
    box: tuple[slice, slice]
    status: Status
    entries: list[Entry] = field(default_factory=list)
    unplaced: tuple[int, ...] = ()
    iou: float | None = None  # of the pair's polygons with its mask, when polygons were tried
    reason: str = ""

    def owners(self) -> np.ndarray:
        """The owner raster over the whole frame (int16)."""
        out = np.full(self.activity.shape, NO_OWNER, np.int16)
        out[self.box] = self.owner
        return out

    def summary(self) -> str:
        """One line for people: how the classes were placed."""
        names = ", ".join(e.name for e in self.entries) or "none"
        text = f"{self.status.value}: {names}"
        if self.iou is not None:
            text += f" (polygons vs mask IoU {self.iou:.2f})"
        if self.unplaced and len(self.unplaced) < len(self.entries):
            text += f"; not placed: {', '.join(self.entries[k].name for k in self.unplaced)}"
        elif self.unplaced and self.status is not Status.NOT_PLACED:
            text += "; which pattern is which is not known"
        return text + (f"; {self.reason}" if self.reason else "")


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return slice(0, 0), slice(0, 0)
    h, w = mask.shape
    return (
        slice(max(int(rows[0]) - pad, 0), min(int(rows[-1]) + 1 + pad, h)),
        slice(max(int(cols[0]) - pad, 0), min(int(cols[-1]) + 1 + pad, w)),
    )


def _nearest(labels: np.ndarray, allowed: Sequence[int], where: np.ndarray) -> np.ndarray | None:
    """Label (among ``allowed``) of the nearest pixel holding one, for each pixel of ``where`` in row-major
    order; ``None`` if no pixel holds one. Pixels inside an allowed polygon take its label; the others, in
    clusters, by a distance transform over each cluster's box grown until the nearest label is surely in it."""
    ok = np.zeros(int(labels.max(initial=NO_OWNER)) + 2, bool)
    ok[np.asarray(allowed, dtype=np.int64) + 1] = True
    box = _bbox(where)
    inside = ok[labels[box] + 1]
    sub = where[box]
    out = np.where(inside, labels[box], NO_OWNER)
    rest = sub & ~inside
    if rest.any():
        clusters, _ = ndimage.label(
            ndimage.maximum_filter(rest.view(np.uint8), size=2 * CLUSTER_PX + 1) > 0,
            structure=np.ones((3, 3), bool),
        )
        for k, part in enumerate(ndimage.find_objects(clusters), start=1):
            rows, cols = np.nonzero(rest[part] & (clusters[part] == k))
            rows, cols = rows + part[0].start + box[0].start, cols + part[1].start + box[1].start
            found = _nearest_of(labels, ok, rows, cols)
            if found is None:
                return None
            out[rows - box[0].start, cols - box[1].start] = found
    return out[sub]


def _nearest_of(labels: np.ndarray, ok: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | None:
    """Nearest allowed label (``ok[label + 1]``) of the pixels ``(rows, cols)`` of the frame."""
    h, w = labels.shape
    pad = 16
    while True:
        big = (
            slice(max(int(rows.min()) - pad, 0), min(int(rows.max()) + 1 + pad, h)),
            slice(max(int(cols.min()) - pad, 0), min(int(cols.max()) + 1 + pad, w)),
        )
        seeds = ok[labels[big] + 1]
        whole = big == (slice(0, h), slice(0, w))
        if seeds.any():
            dist, (ri, ci) = ndimage.distance_transform_edt(~seeds, return_indices=True)
            rr, cc = rows - big[0].start, cols - big[1].start
            if whole or dist[rr, cc].max() <= pad:
                return labels[big][ri[rr, cc], ci[rr, cc]]
        elif whole:
            return None
        pad *= 2


def place(deformation: np.ndarray, record: Mapping[str, Any] | None, fit: FrameFit | None) -> Placement:
    """Activity / intensity rasters of a pair from its ``deformation_mask`` codes (0, 1, 2), its record and
    its frame's polygon fit (see the module docstring)."""
    deformation = np.asarray(deformation)
    shape = deformation.shape
    activity = np.zeros(shape, np.uint8)
    intensity = np.zeros(shape, np.uint8)
    volcanic, quake = deformation == 1, deformation == 2
    box = _bbox(volcanic | quake)
    owner = np.full(activity[box].shape, NO_OWNER, np.int16)
    activity[quake] = schema.EARTHQUAKE_ACTIVITY
    intensity[quake] = schema.EARTHQUAKE_INTENSITY
    entries = record_entries(record)
    if not (volcanic.any() or quake.any()):
        return Placement(activity, intensity, owner, box, Status.NO_PATTERN, entries or [])
    if entries is None:
        activity[volcanic] = schema.UNIDENTIFIED_ACTIVITY
        return Placement(
            activity,
            intensity,
            owner,
            box,
            Status.NO_CLASS,
            [],
            reason="the record's activity / intensity lists are malformed",
        )
    groups = (
        ([k for k, e in enumerate(entries) if not e.earthquake], volcanic),
        ([k for k, e in enumerate(entries) if e.earthquake], quake),
    )
    labels, iou, reason = None, None, ""
    if any(len(ks) > 1 and where.any() for ks, where in groups):
        labels, iou, reason = _polygon_labels(record, entries, fit, volcanic | quake)
    codes = np.array([[e.activity_code, e.intensity_code] for e in entries], np.uint8).reshape(-1, 2)
    unplaced: list[int] = []
    used_polygons = no_class = not_placed = False
    for ks, where in groups:
        if not where.any():
            continue
        sub = where[box]
        if not ks:  # the record names no class of this kind: the mask alone says what it is
            if where is volcanic:
                activity[volcanic] = schema.UNIDENTIFIED_ACTIVITY
                no_class = True
            continue
        nearest = np.full(int(sub.sum()), ks[0]) if len(ks) == 1 else None
        if nearest is None and labels is not None:
            nearest = _nearest(labels, ks, where)
            used_polygons = nearest is not None
        if nearest is not None:
            owner[sub] = nearest
            activity[box][sub], intensity[box][sub] = codes[nearest, 0], codes[nearest, 1]
            continue
        owner[sub] = UNPLACED_OWNER
        unplaced += ks
        if len({tuple(codes[k]) for k in ks}) == 1:  # several patterns of one class: only owners unknown
            activity[where], intensity[where] = codes[ks[0]]
        else:
            activity[where], intensity[where] = schema.UNPLACED_ACTIVITY, schema.UNPLACED_INTENSITY
            not_placed = True
    status = (
        Status.NOT_PLACED
        if not_placed
        else Status.PLACED
        if used_polygons
        else Status.NO_CLASS
        if no_class
        else Status.ONE_CLASS
    )
    return Placement(
        activity,
        intensity,
        owner,
        box,
        status,
        entries,
        tuple(sorted(unplaced)),
        iou,
        reason if unplaced else "",
    )


def _polygon_labels(
    record: Mapping[str, Any] | None, entries: list[Entry], fit: FrameFit | None, mask: np.ndarray
) -> tuple[np.ndarray | None, float | None, str]:
    """The pair's polygons rasterised on the cube (entry index per pixel), their IoU with the mask, and why
    they cannot be used when they cannot (``None``)."""
    polygons = record_polygons(record)
    if polygons is None:
        return None, None, "the record has no polygons"
    if len(polygons) != len(entries):
        return None, None, f"the record has {len(polygons)} polygon(s) for {len(entries)} pattern(s)"
    if fit is None or fit.transform is None:
        return (
            None,
            None,
            "the frame's polygon transform is unknown" + (f" ({fit.reason})" if fit and fit.reason else ""),
        )
    if not fit.known:
        return None, None, f"the frame's polygon transform fits poorly (median IoU {fit.median_iou:.2f})"
    labels = rasterize(polygons, fit.transform, mask.shape)
    iou = _iou(labels >= 0, mask)
    if iou < MIN_PAIR_IOU:
        return None, iou, f"the pair's polygons fit its mask poorly (IoU {iou:.2f} < {MIN_PAIR_IOU})"
    return labels, iou, ""


def describe(placement: Placement, fit: FrameFit | None) -> dict[str, Any]:
    """A JSON-able account of a pair's placement and its frame's fit (CLI and app)."""
    return {
        "status": placement.status.value,
        "patterns": [e.name for e in placement.entries],
        "not_placed": [placement.entries[k].name for k in placement.unplaced],
        "pair_iou": placement.iou,
        "reason": placement.reason,
        "frame_transform": fit.transform.as_dict() if fit and fit.transform else None,
        "frame_median_iou": fit.median_iou if fit else None,
    }
