"""``ReviewSession``: a model run over a set of pairs, ranked by disagreement with the annotators.

The run goes through the pairs of a frame, a split or the whole dataset on a worker thread of its own (a
long review never holds up the Predict button of other users); each finished pair adds a row (confusion
counts and scores of the deformation class) and keeps its predicted mask, bit-packed, for the side-by-side
view (the most recent :data:`KEPT_MASKS`; an older one is predicted again when opened). The aggregate is
micro-averaged (summed confusion) as in the Thalia paper's tables, with the per-pair mean beside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import param

from thalia_viewer.app.background import in_session
from thalia_viewer.app.messages import describe
from thalia_viewer.app.predict import NO_MODEL, predictor, refreshed_models
from thalia_viewer.app.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair

ALL: Final = "all pairs"
FRAME: Final = "this frame"
SPLITS: Final = tuple(s.value for s in schema.Split)
KEPT_MASKS: Final = 256  # predicted masks kept per session (bit-packed: rows * cols / 8 bytes each) ...
KEPT_BYTES: Final = 32 * 2**20  # ... and at most this many bytes of them (16 masks of a 4096^2 frame)
FILTERS: Final = {"all": "all", "false positives": "fp", "false negatives": "fn", "IoU below 0.5": "low"}

_REVIEW_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thalia-review")


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

    def as_record(self) -> dict[str, Any]:
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


def rank(rows: list[ReviewRow], show: str = "all") -> list[ReviewRow]:
    """Rows most in disagreement first (lowest IoU, then most wrong pixels), filtered by ``show``
    (``all``, ``fp``: predicted where nothing is labelled, ``fn``: labelled and missed, ``low``: IoU < 0.5)."""
    keep = {
        "all": lambda r: True,
        "fp": lambda r: r.fp > 0,
        "fn": lambda r: r.fn > 0,
        "low": lambda r: not r.iou >= 0.5,
    }[show]
    return sorted((r for r in rows if keep(r)), key=lambda r: (np.nan_to_num(r.iou, nan=1.0), -(r.fp + r.fn)))


class ReviewSession(param.Parameterized):
    """Model, pair set, the run's progress, its rows and aggregate, and the pair opened side by side."""

    model = param.Selector(default=NO_MODEL, objects=[NO_MODEL], doc="Zoo model to review")
    scope = param.Selector(default=FRAME, objects=[FRAME, *SPLITS, ALL], doc="Pairs to run the model on")
    show = param.Selector(default="all", objects=FILTERS, doc="Which pairs the table lists")
    running = param.Boolean(default=False)
    progress = param.Integer(default=0, bounds=(0, 100))
    done = param.Integer(default=0, doc="Pairs reviewed")
    total = param.Integer(default=0, doc="Pairs to review")
    rows_revision = param.Integer(default=0, doc="Bumped when rows are added")
    status = param.String(default="")

    def __init__(self, state: AppState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.rows: list[ReviewRow] = []
        self._masks: OrderedDict[Pair, tuple[np.ndarray, tuple[int, int]]] = OrderedDict()
        self._cancel = threading.Event()
        self._future: Future | None = None
        self.refresh_models()

    def refresh_models(self) -> None:
        """Re-read the zoo (a model trained meanwhile appears)."""
        names = refreshed_models(self.state)
        self.param.model.objects = names
        if self.model not in names:
            self.model = names[0]

    # -------------------------------------------------------------------------------------- pairs
    def pairs(self) -> list[Pair]:
        """The pairs of the chosen scope, that have labels to compare with."""
        ds, frame = self.state.dataset, self.state.frame_obj
        if ds is None:
            return []
        if self.scope == FRAME:
            return list(frame.pairs) if frame is not None else []
        return ds.pairs(split=None if self.scope == ALL else self.scope)

    # ---------------------------------------------------------------------------------------- run
    def start(self) -> None:
        """Run the model over the scope in the background (rows appear as pairs finish)."""
        if self.running:
            return
        if self.model == NO_MODEL:
            self.state.notify(
                "warning", "No model with weights in the zoo: train one (thalia-viewer train) first."
            )
            return
        pairs = self.pairs()
        if not pairs:
            self.state.notify("warning", f"No pair in {self.scope}.")
            return
        self.rows, self._masks = [], OrderedDict()
        self._cancel.clear()
        self.running, self.done, self.total, self.progress = True, 0, len(pairs), 0
        self.status = f"reviewing {len(pairs)} pairs with {self.model}…"
        self.rows_revision += 1
        name, ds = self.model, self.state.dataset
        add, finish = in_session(self._add), in_session(self._finish)

        def job() -> None:
            errors: list[str] = []
            try:
                model = predictor(name)
                for pair in pairs:
                    if self._cancel.is_set():
                        break
                    try:
                        result = model.predict_pair(ds.frame(pair.frame), pair)
                    except Exception as exc:  # a damaged pair: the others are still reviewed
                        errors.append(describe(exc, pair.key))
                        continue
                    add(pair, result)
            except Exception as exc:  # a broken model must end the run with a message, not silently
                errors.append(f"{type(exc).__name__}: {exc}")
            finish(errors)

        self._future = _REVIEW_WORKER.submit(job)

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run ends (scripts and tests)."""
        if self._future is not None:
            self._future.result(timeout)

    def _add(self, pair: Pair, result: Any) -> None:
        c = result.confusion
        if c is not None:
            self.rows.append(ReviewRow(pair, c.tp, c.fp, c.fn, c.precision, c.recall, c.f1, c.iou))
        self._keep(pair, result.mask)
        self.done += 1
        self.progress = round(100 * self.done / max(self.total, 1))
        self.rows_revision += 1

    def _finish(self, errors: list[str]) -> None:
        self.running = False
        stopped = " (cancelled)" if self._cancel.is_set() else ""
        self.status = f"{self.done} of {self.total} pairs reviewed with {self.model}{stopped}"
        if errors:
            self.state.notify("error", f"{len(errors)} pair(s) failed: {errors[0]}")

    # ------------------------------------------------------------------------------------ results
    def ranked(self) -> list[ReviewRow]:
        return rank(self.rows, self.show)

    def aggregate(self) -> dict[str, Any]:
        """Micro (summed confusion) and macro (mean per pair) scores of the reviewed pairs."""
        from thalia_viewer.ml.metrics import Confusion, aggregate

        return aggregate(Confusion(tp=r.tp, fp=r.fp, fn=r.fn) for r in self.rows)

    def _keep(self, pair: Pair, mask: np.ndarray) -> None:
        self._masks[pair] = (np.packbits(mask > 0), mask.shape)
        self._masks.move_to_end(pair)
        while len(self._masks) > 1 and (
            len(self._masks) > KEPT_MASKS or sum(b.nbytes for b, _ in self._masks.values()) > KEPT_BYTES
        ):
            self._masks.popitem(last=False)

    def has_mask(self, pair: Pair) -> bool:
        """Whether the model's mask of ``pair`` is at hand (reviewed and still kept)."""
        return pair in self._masks

    def mask(self, pair: Pair) -> np.ndarray | None:
        """The model's mask of a reviewed pair (predicted again if it was dropped from memory)."""
        if pair in self._masks:
            bits, shape = self._masks[pair]
            return np.unpackbits(bits, count=shape[0] * shape[1]).reshape(shape)
        if self.model == NO_MODEL or self.state.dataset is None:
            return None
        try:
            result = predictor(self.model).predict_pair(self.state.dataset.frame(pair.frame), pair)
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return None
        self._keep(pair, result.mask)
        return result.mask

    def open(self, pair: Pair) -> None:
        """Show ``pair`` (its frame and dates) in the app's state: the side-by-side view follows."""
        self.state.go(pair)

    def step(self, n: int) -> bool:
        """Open the pair ``n`` rows down (up when negative) the ranked table; False when the table is empty.

        From a pair that is not in the table, the first (or last) row; at the ends, stays and says so.
        """
        rows = [r.pair for r in self.ranked()]
        if not rows:
            return False
        cur = self.state.current
        i = rows.index(cur) if cur in rows else (-1 if n > 0 else len(rows))
        j = min(max(i + n, 0), len(rows) - 1)
        if j == i:
            self.state.notify("info", "first pair of the table." if n < 0 else "last pair of the table.")
            return True
        self.open(rows[j])
        return True
