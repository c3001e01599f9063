"""Reviewing a model without the app: the per-pair loop, the ranking and the kept masks (``ml.review``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair
from thalia_viewer.ml.metrics import Confusion
from thalia_viewer.ml.review import MaskCache, ReviewFilter, ReviewRow, aggregate_rows, rank, review_pairs


@dataclass
class FakeResult:
    mask: np.ndarray
    confusion: Confusion | None


class FakePredictor:
    """Predicts a fixed mask; fails on the pairs it is told to; counts its calls."""

    def __init__(self, fail: set[Pair], stop_after: int | None = None, cancel: threading.Event | None = None):
        self.fail, self.calls, self.stop_after, self.cancel = fail, 0, stop_after, cancel

    def predict_pair(self, frame, pair):
        self.calls += 1
        if self.stop_after is not None and self.calls >= self.stop_after:
            self.cancel.set()
        if pair in self.fail:
            msg = f"damaged chunk of {pair}"
            raise OSError(msg)
        return FakeResult(np.ones((4, 4), np.uint8), Confusion(tp=self.calls, fp=1, fn=2))


def test_review_pairs_yields_each_pair_and_keeps_going_past_a_damaged_one(tiny_root):
    ds = ThaliaDataset(tiny_root)
    pairs = ds.frame(ds.frames[0]).pairs[:4]
    done = list(review_pairs(FakePredictor({pairs[1]}), ds, pairs))
    assert [d.pair for d in done] == pairs
    assert [d.ok for d in done] == [True, False, True, True]
    assert isinstance(done[1].error, OSError) and done[1].row is None
    rows = [d.row for d in done if d.row is not None]
    assert [r.tp for r in rows] == [1, 3, 4] and rows[0].pair == pairs[0]
    summary = aggregate_rows(rows)
    assert summary["count"] == 3 and summary["micro"]["precision"] == pytest.approx(8 / 11)


def test_review_pairs_stops_between_pairs_once_cancelled(tiny_root):
    ds = ThaliaDataset(tiny_root)
    pairs = ds.frame(ds.frames[0]).pairs[:5]
    cancel = threading.Event()
    predictor = FakePredictor(set(), stop_after=2, cancel=cancel)
    done = list(review_pairs(predictor, ds, pairs, cancel))
    assert len(done) == 2 and predictor.calls == 2


def test_rank_puts_the_worst_first_and_filters():
    p = [Pair("F", "20190101", f"201901{d:02d}") for d in (13, 14, 15, 16)]
    rows = [
        ReviewRow(p[0], 5, 0, 5, 1.0, 0.5, 0.67, 0.5),
        ReviewRow(p[1], 1, 9, 0, 0.1, 1.0, 0.18, 0.1),
        ReviewRow(p[2], 0, 0, 0, np.nan, np.nan, np.nan, np.nan),  # nothing labelled nor predicted
        ReviewRow(p[3], 9, 0, 1, 1.0, 0.9, 0.95, 0.9),
    ]
    assert [r.pair for r in rank(rows)] == [p[1], p[0], p[3], p[2]]
    assert [r.pair for r in rank(rows, ReviewFilter.FALSE_POSITIVES)] == [p[1]]
    assert [r.pair for r in rank(rows, "fn")] == [p[0], p[3]]  # the enum's value works too
    assert [r.pair for r in rank(rows, ReviewFilter.LOW_IOU)] == [p[1], p[2]]  # 0.5 is not below 0.5
    with pytest.raises(ValueError):
        rank(rows, "worst")
    assert ReviewFilter.LOW_IOU.shown_as == "IoU below 0.5"
    assert rows[0].as_record()["pair"] == "20190101_20190113" and rows[0].as_record()["labelled px"] == 10


def test_mask_cache_keeps_the_latest_within_its_limits():
    cache = MaskCache(max_masks=2)
    p = [Pair("F", "20190101", f"201901{d:02d}") for d in (13, 14, 15)]
    masks = [np.eye(5, dtype=np.uint8) * (i + 1) for i in range(3)]
    for pair, mask in zip(p, masks, strict=True):
        cache.put(pair, mask)
    assert p[0] not in cache and len(cache) == 2
    assert np.array_equal(cache.get(p[2]), (masks[2] > 0).astype(np.uint8)) and cache.get(p[0]) is None
    tiny = MaskCache(max_bytes=1)  # the latest is kept whatever its size
    tiny.put(p[0], masks[0])
    tiny.put(p[1], masks[1])
    assert p[1] in tiny and p[0] not in tiny
    tiny.clear()
    assert len(tiny) == 0
