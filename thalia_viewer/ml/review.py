"""Review a model against the annotators: predict pairs one by one, rank them by disagreement.

The interactive counterpart of :func:`thalia_viewer.ml.batch.predict_dataset`: that one predicts a whole
dataset on Dask into a Zarr store on disk (resumable, for 1.7 TB); this one predicts a handful of pairs in
this process, one result at a time, so a caller (the app's review mode, a notebook) shows each row as it
finishes and can stop between pairs. Both call the same :meth:`~thalia_viewer.ml.inference.Predictor.predict_pair`
and score with the same :class:`~thalia_viewer.ml.metrics.Confusion`. No Panel, no torch at import::

    rows = [ReviewRow.of(r.pair, r.confusion) for r in review_pairs(predictor, dataset, pairs) if r.ok]
    worst = rank(rows, ReviewFilter.FALSE_POSITIVES)[:10]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np

from ..core.dataset import ThaliaDataset
from ..core.pairs import Pair
from .metrics import Aggregate, Confusion, aggregate

KEPT_MASKS: Final = 256  # predicted masks a MaskCache keeps (bit-packed: rows * cols / 8 bytes each) ...
KEPT_BYTES: Final = 32 * 2**20  # ... and at most this many bytes of them (16 masks of a 4096^2 frame)


class ReviewFilter(StrEnum):
    """Which reviewed pairs a ranking lists."""

    ALL = "all"
    FALSE_POSITIVES = "fp"  # predicted where nothing is labelled
    FALSE_NEGATIVES = "fn"  # labelled and missed
    LOW_IOU = "low"  # IoU below 0.5

    @property
    def shown_as(self) -> str:
        """How people name it."""
        return _FILTER_TITLES[self]


_FILTER_TITLES: Final = {
    ReviewFilter.ALL: "all",
    ReviewFilter.FALSE_POSITIVES: "false positives",
    ReviewFilter.FALSE_NEGATIVES: "false negatives",
    ReviewFilter.LOW_IOU: "IoU below 0.5",
}


@dataclass(frozen=True)
class ReviewRow:
    """One reviewed pair: where the model and the annotators disagree, in pixels and scores."""

    pair: Pair
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    iou: float

    @classmethod
    def of(cls, pair: Pair, c: Confusion) -> ReviewRow:
        """The row of ``pair`` from its confusion counts."""
        return cls(pair, c.tp, c.fp, c.fn, c.precision, c.recall, c.f1, c.iou)

    @property
    def confusion(self) -> Confusion:
        return Confusion(tp=self.tp, fp=self.fp, fn=self.fn)

    def as_record(self) -> dict[str, Any]:
        """The row as the review table shows it."""
        return {
            "frame": self.pair.frame,
            "pair": self.pair.name,
            "split": self.pair.split.value if self.pair.split else "",
            "IoU": self.iou,
            "F1": self.f1,
            "false +": self.fp,
            "false −": self.fn,
            "labelled px": self.tp + self.fn,
        }


_KEEP: Final[dict[ReviewFilter, Callable[[ReviewRow], bool]]] = {
    ReviewFilter.ALL: lambda r: True,
    ReviewFilter.FALSE_POSITIVES: lambda r: r.fp > 0,
    ReviewFilter.FALSE_NEGATIVES: lambda r: r.fn > 0,
    ReviewFilter.LOW_IOU: lambda r: not r.iou >= 0.5,  # NaN (nothing labelled nor predicted) too
}


def rank(rows: Iterable[ReviewRow], show: ReviewFilter | str = ReviewFilter.ALL) -> list[ReviewRow]:
    """Rows most in disagreement first (lowest IoU, then most wrong pixels), filtered by ``show``."""
    keep = _KEEP[ReviewFilter(show)]
    return sorted((r for r in rows if keep(r)), key=lambda r: (np.nan_to_num(r.iou, nan=1.0), -(r.fp + r.fn)))


def aggregate_rows(rows: Iterable[ReviewRow]) -> Aggregate:
    """Micro (summed confusion, as in the Thalia paper's tables) and macro (mean per pair) scores."""
    return aggregate(r.confusion for r in rows)


@dataclass(frozen=True)
class Reviewed:
    """One pair's outcome: the prediction (``result``), or the exception that kept it from one."""

    pair: Pair
    result: Any = None  # a PredictionResult
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def row(self) -> ReviewRow | None:
        """The pair's review row; ``None`` when it failed or has no labels to compare with."""
        c = getattr(self.result, "confusion", None)
        return None if c is None else ReviewRow.of(self.pair, c)


def review_pairs(
    predictor: Any,
    dataset: ThaliaDataset,
    pairs: Iterable[Pair],
    cancel: threading.Event | None = None,
) -> Iterator[Reviewed]:
    """Predict ``pairs`` one by one with ``predictor`` (a :class:`~thalia_viewer.ml.inference.Predictor`),
    yielding each outcome as it finishes; a damaged pair is yielded with its error and the others go on.
    Stops before the next pair once ``cancel`` is set."""
    for pair in pairs:
        if cancel is not None and cancel.is_set():
            return
        try:
            result = predictor.predict_pair(dataset.frame(pair.frame), pair)
        except Exception as exc:  # a damaged pair: the others are still reviewed
            yield Reviewed(pair, error=exc)
            continue
        yield Reviewed(pair, result)


class MaskCache:
    """Predicted binary masks, bit-packed, the most recent first kept (at most ``max_masks`` and
    ``max_bytes``; the latest is always kept)."""

    def __init__(self, max_masks: int = KEPT_MASKS, max_bytes: int = KEPT_BYTES) -> None:
        self.max_masks, self.max_bytes = max_masks, max_bytes
        self._masks: OrderedDict[Pair, tuple[np.ndarray, tuple[int, int]]] = OrderedDict()
        self._lock = threading.Lock()  # filled from a worker thread, read from the session

    def __contains__(self, pair: object) -> bool:
        return pair in self._masks

    def __len__(self) -> int:
        return len(self._masks)

    def put(self, pair: Pair, mask: np.ndarray) -> None:
        """Keep ``mask > 0`` of ``pair`` (dropping the oldest beyond the limits)."""
        with self._lock:
            self._masks[pair] = (np.packbits(np.asarray(mask) > 0), mask.shape)
            self._masks.move_to_end(pair)
            while len(self._masks) > 1 and (
                len(self._masks) > self.max_masks
                or sum(b.nbytes for b, _ in self._masks.values()) > self.max_bytes
            ):
                self._masks.popitem(last=False)

    def get(self, pair: Pair) -> np.ndarray | None:
        """The kept mask of ``pair`` (uint8 0 / 1), or ``None``."""
        with self._lock:
            kept = self._masks.get(pair)
        if kept is None:
            return None
        bits, shape = kept
        return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape)

    def clear(self) -> None:
        with self._lock:
            self._masks.clear()
