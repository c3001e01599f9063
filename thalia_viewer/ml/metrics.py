"""Segmentation scores of the deformation class: confusion counts, precision, recall, F1, IoU.

Masks are binary (any non-zero code is deformation, so earthquake 2 counts as 1, as in the benchmark).

Empty masks: a score whose denominator is 0 is 1.0 when there was nothing to find and nothing was found
(``tp + fp + fn == 0``: both masks empty, perfect agreement), else 0.0. So a negative pair predicted empty
scores 1 everywhere, and precision of an empty prediction on a positive pair is 0 (like its recall).
Over a set, "micro" scores come from the summed confusion (the benchmark's way, dominated by large
deformations), "macro" scores are the mean over pairs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict

import numpy as np

SCORES: Final = ("precision", "recall", "f1", "iou")


def _ratio(num: int, den: int, nothing_to_do: bool) -> float:
    if den == 0:
        return 1.0 if nothing_to_do else 0.0
    return num / den


class Scores(TypedDict):
    """A prediction's scores against the labels (deformation class): pixel counts and the four scores (0-1)."""

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    iou: float


class Aggregate(TypedDict):
    """Scores over a set of predictions: ``micro`` (of the summed counts), ``macro`` (mean of each score)."""

    count: int
    micro: Scores
    macro: dict[str, float]


@dataclass(frozen=True)
class Confusion:
    """Pixel counts of the deformation class: true / false positives, false / true negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def _empty(self) -> bool:
        return self.tp + self.fp + self.fn == 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp)."""
        return _ratio(self.tp, self.tp + self.fp, self._empty)

    @property
    def recall(self) -> float:
        """tp / (tp + fn)."""
        return _ratio(self.tp, self.tp + self.fn, self._empty)

    @property
    def f1(self) -> float:
        """2 tp / (2 tp + fp + fn)."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn, self._empty)

    @property
    def iou(self) -> float:
        """tp / (tp + fp + fn) (Jaccard)."""
        return _ratio(self.tp, self.tp + self.fp + self.fn, self._empty)

    def scores(self) -> dict[str, float]:
        """precision, recall, f1, iou."""
        return {name: float(getattr(self, name)) for name in SCORES}

    def to_dict(self) -> Scores:
        """Counts and scores, JSON-ready."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "iou": self.iou,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Confusion:
        """The counts of :meth:`to_dict` output."""
        return cls(int(data["tp"]), int(data["fp"]), int(data["fn"]), int(data["tn"]))


def _aligned(
    values: np.ndarray, target: np.ndarray, valid: np.ndarray | None, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` and the bool ``target != 0``, checked to have one shape, kept to ``valid`` pixels when given."""
    true = np.asarray(target) != 0
    if values.shape != true.shape:
        msg = f"{name} {values.shape} and target {true.shape} differ in shape; compare masks of one pair."
        raise ValueError(msg)
    if valid is None:
        return values, true
    keep = np.asarray(valid, dtype=bool)
    return values[keep], true[keep]


def confusion(prediction: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> Confusion:
    """Confusion counts of two masks of the same shape (non-zero = deformation), over ``valid`` pixels."""
    pred, true = _aligned(np.asarray(prediction) != 0, target, valid, "prediction")
    tp = int(np.count_nonzero(pred & true))
    fp = int(np.count_nonzero(pred & ~true))
    fn = int(np.count_nonzero(~pred & true))
    return Confusion(tp, fp, fn, int(pred.size) - tp - fp - fn)


def aggregate(confusions: Iterable[Confusion]) -> Aggregate:
    """Scores over a set: ``micro`` (summed confusion), ``macro`` (mean over items), item count."""
    items = list(confusions)
    total = sum(items, Confusion())
    macro = {
        name: float(np.mean([getattr(c, name) for c in items])) if items else math.nan for name in SCORES
    }
    return {"count": len(items), "micro": total.to_dict(), "macro": macro}


def mean_std(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation of each score over runs (e.g. seeds); std 0 for one run."""
    if not runs:
        return {}
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    out = {}
    for k in keys:
        values = [float(r[k]) for r in runs]
        out[k] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values),
        }
    return out


THRESHOLD_GRID: Final = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 ... 0.95


class ThresholdSweep:
    """Pooled confusion of the deformation class at every threshold of a grid, accumulated batch by batch.

    What picks a model's operating threshold on the validation split: a loss like the focal loss leaves
    probabilities that are not calibrated, so 0.5 is rarely the best cut.

    >>> sweep = ThresholdSweep()
    >>> sweep.add(probability, truth)           # any number of times
    >>> threshold, scores = sweep.best("iou")
    """

    def __init__(self, thresholds: Sequence[float] = THRESHOLD_GRID) -> None:
        self.thresholds = np.asarray(sorted(float(t) for t in thresholds), dtype=np.float64)
        self._tp = np.zeros(len(self.thresholds), dtype=np.int64)  # positives predicted at each threshold
        self._fp = np.zeros(len(self.thresholds), dtype=np.int64)
        self._positives = 0
        self._pixels = 0

    def add(self, probability: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Count one batch: ``probability`` 0-1 and ``target`` (non-zero = deformation) of one shape."""
        p, t = _aligned(np.asarray(probability), target, valid, "probability")
        pos, neg = np.sort(p[t], axis=None), np.sort(p[~t], axis=None)
        # compared in the probabilities' own dtype, as `probability >= threshold` does (0.7 in float32 is below 0.7)
        cuts = self.thresholds.astype(p.dtype) if np.issubdtype(p.dtype, np.floating) else self.thresholds
        self._tp += pos.size - np.searchsorted(pos, cuts, side="left")  # p >= threshold
        self._fp += neg.size - np.searchsorted(neg, cuts, side="left")
        self._positives += pos.size
        self._pixels += p.size

    def confusion(self, index: int) -> Confusion:
        """The pooled confusion at ``self.thresholds[index]``."""
        tp, fp = int(self._tp[index]), int(self._fp[index])
        fn = self._positives - tp
        return Confusion(tp, fp, fn, self._pixels - tp - fp - fn)

    def best(self, score: str = "iou") -> tuple[float, Confusion]:
        """The threshold with the highest ``score`` (the lowest such threshold on ties) and its confusion."""
        if score not in SCORES:
            msg = f"unknown score {score!r}; expected one of {SCORES}."
            raise ValueError(msg)
        values = [getattr(self.confusion(i), score) for i in range(len(self.thresholds))]
        index = int(np.argmax(values))
        return float(self.thresholds[index]), self.confusion(index)
