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
from typing import Any, Final

import numpy as np

SCORES: Final = ("precision", "recall", "f1", "iou")


def _ratio(num: int, den: int, nothing_to_do: bool) -> float:
    if den == 0:
        return 1.0 if nothing_to_do else 0.0
    return num / den


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

    def to_dict(self) -> dict[str, Any]:
        """Counts and scores, JSON-ready."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, **self.scores()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Confusion:
        """The counts of :meth:`to_dict` output."""
        return cls(int(data["tp"]), int(data["fp"]), int(data["fn"]), int(data["tn"]))


def confusion(prediction: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> Confusion:
    """Confusion counts of two masks of the same shape (non-zero = deformation), over ``valid`` pixels."""
    pred = np.asarray(prediction) != 0
    true = np.asarray(target) != 0
    if pred.shape != true.shape:
        msg = f"prediction {pred.shape} and target {true.shape} differ in shape; compare masks of one pair."
        raise ValueError(msg)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        pred, true = pred[valid], true[valid]
    tp = int(np.count_nonzero(pred & true))
    fp = int(np.count_nonzero(pred & ~true))
    fn = int(np.count_nonzero(~pred & true))
    return Confusion(tp, fp, fn, int(pred.size) - tp - fp - fn)


def aggregate(confusions: Iterable[Confusion]) -> dict[str, Any]:
    """Scores over a set: ``micro`` (summed confusion), ``macro`` (mean over items), item count."""
    items = list(confusions)
    total = sum(items, Confusion())
    macro = {name: float(np.mean([getattr(c, name) for c in items])) if items else math.nan for name in SCORES}
    return {"count": len(items), "micro": total.to_dict(), "macro": macro}


def mean_std(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and sample standard deviation of each score over runs (e.g. seeds); std 0 for one run."""
    if not runs:
        return {}
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    out = {}
    for k in keys:
        values = [float(r[k]) for r in runs]
        out[k] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}
    return out
