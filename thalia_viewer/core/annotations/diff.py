"""What changed in a pair between two versions: pixels added and removed per mask, and record fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import schema
from .annotation import PairAnnotation

UNCHANGED, ADDED, REMOVED = 0, 1, 2  # codes of MaskDiff.codes()


@dataclass(frozen=True)
class MaskDiff:
    """Pixels of one mask that changed, as boolean (rows, columns) rasters ready to overlay on the map.

    ``added``: pixels that have a class in the newer version and had none or another one before;
    ``removed``: pixels that had a class and have none (code 0) in the newer version.
    """

    added: np.ndarray
    removed: np.ndarray

    def codes(self) -> np.ndarray:
        """One raster for the map: :data:`UNCHANGED` 0, :data:`ADDED` 1, :data:`REMOVED` 2 (uint8)."""
        out = np.zeros(self.added.shape, np.uint8)
        out[self.added] = ADDED
        out[self.removed] = REMOVED
        return out

    @property
    def n_added(self) -> int:
        """Number of pixels added."""
        return int(np.count_nonzero(self.added))

    @property
    def n_removed(self) -> int:
        """Number of pixels removed."""
        return int(np.count_nonzero(self.removed))


@dataclass(frozen=True)
class PairDiff:
    """Differences from version ``a`` to ``b`` of a pair: per mask, and per record field (old, new)."""

    masks: dict[str, MaskDiff]
    record: dict[str, tuple[Any, Any]]

    @property
    def empty(self) -> bool:
        """True when both versions hold the same masks and record."""
        return not self.record and all(d.n_added == 0 and d.n_removed == 0 for d in self.masks.values())


def mask_diff(old: np.ndarray, new: np.ndarray) -> MaskDiff:
    """Added and removed pixels from ``old`` to ``new`` (class codes of the same shape)."""
    return MaskDiff(added=(new != 0) & (new != old), removed=(old != 0) & (new == 0))


def pair_diff(a: PairAnnotation, b: PairAnnotation) -> PairDiff:
    """Differences from ``a`` to ``b`` (two states of one pair)."""
    masks = {m: mask_diff(a.masks[m], b.masks[m]) for m in schema.MASKS}
    fields = [
        f
        for f in (*schema.ANNOTATION_FIELDS, *schema.OPTIONAL_ANNOTATION_FIELDS)
        if f in a.record or f in b.record
    ]
    record = {f: (a.record.get(f), b.record.get(f)) for f in fields if a.record.get(f) != b.record.get(f)}
    return PairDiff(masks, record)
