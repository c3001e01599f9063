"""Training labels: the source cubes' deformation masks, or an annotation-store snapshot's corrections over them.

A :class:`Labels` answers "is this pair positive?" and "its binary deformation mask in this window", and
keeps, per positive pair, only the mask inside its bounding box (deformation covers a small part of a
frame), so a crop's target costs no read. ``snapshot`` says exactly which labels these are, for the card.

>>> labels = Labels.from_spec(dataset, "ROOT/.thalia/annotations@labels-v1")
>>> labels.snapshot.describe()        # 'ROOT/.thalia/annotations@labels-v1 (snapshot 1A2B3C4D...)'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from ...core import schema
from ...core.annotations import AnnotationStore
from ...core.annotations.annotation import MASK_LAYERS
from ...core.dataset import ThaliaDataset
from ...core.errors import AnnotationStoreError
from ...core.pairs import Pair
from ..inputs import Window

SOURCE: Final = "source"  # label snapshot of the source cubes' own masks
REF_SEPARATOR: Final = "@"  # STORE@TAG
MAX_POINTS: Final = 64  # deformation pixels kept per pair to test whether a crop holds deformation
_DEFORMATION_LAYER: Final = MASK_LAYERS[schema.DEFORMATION_MASK]


@dataclass(frozen=True)
class LabelSnapshot:
    """Which labels a model was trained on: the source, or a store at a tag / commit (resolved snapshot id)."""

    store: str | None = None  # annotation store location; None: the source cubes
    ref: str | None = None  # what was asked: tag, branch or snapshot id (None: tip of main)
    snapshot: str | None = None  # the resolved snapshot id

    @property
    def is_source(self) -> bool:
        """True for the source cubes' masks."""
        return self.store is None

    def to_dict(self) -> dict[str, Any] | str:
        """``"source"`` or ``{store, ref, snapshot}`` (for a model card's provenance)."""
        if self.is_source:
            return SOURCE
        return {"store": self.store, "ref": self.ref, "snapshot": self.snapshot}

    def describe(self) -> str:
        """One line: ``source`` or ``STORE@REF (snapshot ID)``."""
        if self.is_source:
            return SOURCE
        ref = f"{REF_SEPARATOR}{self.ref}" if self.ref else ""
        return f"{self.store}{ref} (snapshot {self.snapshot})"


def parse_store_spec(spec: str) -> tuple[str, str | None]:
    """``STORE@TAG`` (or ``STORE``, the tip of main) as (store location, ref or None)."""
    text = str(spec).strip()
    store, sep, ref = text.rpartition(REF_SEPARATOR)
    if not sep:
        store, ref = text, ""
    if not store or (sep and not ref.strip()):
        msg = f"{spec!r} does not name an annotation store version."
        raise AnnotationStoreError(
            msg, "Write STORE@TAG (a tag or snapshot id), or STORE for its latest version."
        )
    return store, ref.strip() or None


@dataclass(frozen=True)
class PairMask:
    """A pair's binary deformation mask, kept as its bounding box and the mask inside it."""

    bbox: Window | None  # None: no deformation pixel
    crop: np.ndarray  # uint8 0/1 inside bbox (empty when bbox is None)
    points: np.ndarray  # int32 (k, 2) (row, col) of up to MAX_POINTS deformation pixels

    @classmethod
    def from_mask(cls, mask: np.ndarray, seed: int = 0) -> PairMask:
        """From a full-frame code raster (any non-zero code is deformation, earthquake 2 included)."""
        binary = np.asarray(mask) != 0
        rows, cols = np.nonzero(binary)
        if rows.size == 0:
            return cls(None, np.zeros((0, 0), np.uint8), np.zeros((0, 2), np.int32))
        r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        pick = np.random.default_rng(seed).choice(rows.size, min(MAX_POINTS, rows.size), replace=False)
        points = np.stack([rows[pick], cols[pick]], axis=1).astype(np.int32)
        return cls((r0, r1, c0, c1), binary[r0:r1, c0:c1].astype(np.uint8), points)

    def window(self, window: Window) -> np.ndarray:
        """uint8 0/1 (rows, cols) mask inside ``window``."""
        r0, r1, c0, c1 = window
        out = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
        if self.bbox is None:
            return out
        b0, b1, d0, d1 = self.bbox
        i0, i1, j0, j1 = max(r0, b0), min(r1, b1), max(c0, d0), min(c1, d1)
        if i0 < i1 and j0 < j1:
            out[i0 - r0 : i1 - r0, j0 - c0 : j1 - c0] = self.crop[i0 - b0 : i1 - b0, j0 - d0 : j1 - d0]
        return out


class Labels:
    """Binary deformation labels of a dataset's pairs, from the source or from a store snapshot."""

    def __init__(
        self, dataset: ThaliaDataset, store: AnnotationStore | None = None, ref: str | None = None
    ) -> None:
        self.dataset = dataset
        self._masks: dict[Pair, PairMask] = {}
        self._corrected: dict[Pair, PairMask] = {}
        if store is None:
            self.snapshot = LabelSnapshot()
            return
        snapshot = store.resolve(ref)
        self.snapshot = LabelSnapshot(store.location, ref, snapshot)
        known = set(dataset.pairs())
        for pair in store.edited_pairs(snapshot):
            if pair in known:
                ann = store.read_pair(pair, snapshot)
                if ann is not None:
                    self._corrected[pair] = PairMask.from_mask(ann.masks[schema.DEFORMATION_MASK])

    @classmethod
    def from_spec(cls, dataset: ThaliaDataset, spec: str | None) -> Labels:
        """Labels of ``STORE@TAG`` / ``STORE`` (tip of main), or the source when ``spec`` is None or ``source``."""
        if spec is None or str(spec).strip() in ("", SOURCE):
            return cls(dataset)
        location, ref = parse_store_spec(spec)
        store = AnnotationStore(os.path.expanduser(location), dataset=dataset, create=False)
        return cls(dataset, store, ref)

    @property
    def corrected(self) -> set[Pair]:
        """Pairs whose labels come from the store snapshot rather than the source."""
        return set(self._corrected)

    def is_positive(self, pair: Pair) -> bool:
        """Whether ``pair`` shows deformation: its corrected mask if any, else its annotation record."""
        if pair in self._corrected:
            return self._corrected[pair].bbox is not None
        record = self.dataset.annotation(pair)
        return record is not None and schema.is_positive(record)

    def mask(self, pair: Pair) -> PairMask:
        """``pair``'s binary mask (read once from the source for positives, then kept; negatives are empty)."""
        if pair in self._corrected:
            return self._corrected[pair]
        if pair not in self._masks:
            if self.is_positive(pair):
                codes = self.dataset.frame(pair.frame).read(pair, [_DEFORMATION_LAYER])[_DEFORMATION_LAYER]
                self._masks[pair] = PairMask.from_mask(codes)
            else:
                self._masks[pair] = PairMask.from_mask(np.zeros((0, 0), np.uint8))
        return self._masks[pair]

    def masks(self, pairs: Iterable[Pair]) -> dict[Pair, PairMask]:
        """:meth:`mask` of several pairs (each read at most once)."""
        return {p: self.mask(p) for p in dict.fromkeys(pairs)}
