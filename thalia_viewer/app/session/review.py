"""``ReviewSession``: a model run over a set of pairs, ranked by disagreement with the annotators.

UI state over :mod:`thalia_viewer.ml.review` (the per-pair loop, the rows, the ranking and the kept masks).
The run goes through the pairs of a frame, a split or the whole dataset in the background's review lane (a
long review never holds up the Predict button of other users); each finished pair adds a row (confusion
counts and scores of the deformation class) and keeps its predicted mask, bit-packed, for the side-by-side
view (the most recent :data:`~thalia_viewer.ml.review.KEPT_MASKS`; an older one is predicted again when
opened). The aggregate is micro-averaged (summed confusion) as in the Thalia paper's tables, with the
per-pair mean beside it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Final

import numpy as np
import param

from thalia_viewer.app import background
from thalia_viewer.app.messages import Level, describe
from thalia_viewer.app.session.predict import NO_MODEL, predictor, refreshed_models
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import navigation
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.schema import Split
from thalia_viewer.ml.review import (
    MaskCache,
    Reviewed,
    ReviewFilter,
    ReviewRow,
    aggregate_rows,
    rank,
    review_pairs,
)

ALL: Final = "all pairs"
FRAME: Final = "this frame"
SPLITS: Final = tuple(s.value for s in Split)
FILTERS: Final = {f.shown_as: f for f in ReviewFilter}  # as shown -> filter


class ReviewSession(param.Parameterized):
    """Model, pair set, the run's progress, its rows and aggregate, and the pair opened side by side."""

    model = param.Selector(default=NO_MODEL, objects=[NO_MODEL], doc="Zoo model to review")
    scope = param.Selector(default=FRAME, objects=[FRAME, *SPLITS, ALL], doc="Pairs to run the model on")
    show = param.Selector(default=ReviewFilter.ALL, objects=FILTERS, doc="Which pairs the table lists")
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
        self._masks = MaskCache()
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
                Level.WARNING, "No model with weights in the zoo: train one (thalia-viewer train) first."
            )
            return
        pairs = self.pairs()
        if not pairs:
            self.state.notify(Level.WARNING, f"No pair in {self.scope}.")
            return
        self.rows = []
        self._masks.clear()
        self._cancel.clear()
        self.running, self.done, self.total, self.progress = True, 0, len(pairs), 0
        self.status = f"reviewing {len(pairs)} pairs with {self.model}…"
        self.rows_revision += 1
        name, ds = self.model, self.state.dataset
        add, finish = background.in_session(self._add), background.in_session(self._finish)

        def job() -> None:
            errors: list[str] = []
            try:
                for done in review_pairs(predictor(name), ds, pairs, self._cancel):
                    if done.ok:
                        add(done)
                    else:  # a damaged pair: the others are still reviewed
                        errors.append(describe(done.error, done.pair.key))  # type: ignore[arg-type]
            except Exception as exc:  # a broken model must end the run with a message, not silently
                errors.append(f"{type(exc).__name__}: {exc}")
            finish(errors)

        self._future = background.submit(background.Lane.REVIEW, job)

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run ends (scripts and tests)."""
        if self._future is not None:
            self._future.result(timeout)

    def _add(self, done: Reviewed) -> None:
        row = done.row
        if row is not None:
            self.rows.append(row)
        self._masks.put(done.pair, done.result.mask)
        self.done += 1
        self.progress = round(100 * self.done / max(self.total, 1))
        self.rows_revision += 1

    def _finish(self, errors: list[str]) -> None:
        self.running = False
        stopped = " (cancelled)" if self._cancel.is_set() else ""
        self.status = f"{self.done} of {self.total} pairs reviewed with {self.model}{stopped}"
        if errors:
            self.state.notify(Level.ERROR, f"{len(errors)} pair(s) failed: {errors[0]}")

    # ------------------------------------------------------------------------------------ results
    def ranked(self) -> list[ReviewRow]:
        return rank(self.rows, self.show)

    def aggregate(self) -> dict[str, Any]:
        """Micro (summed confusion) and macro (mean per pair) scores of the reviewed pairs."""
        return aggregate_rows(self.rows)

    def has_mask(self, pair: Pair) -> bool:
        """Whether the model's mask of ``pair`` is at hand (reviewed and still kept)."""
        return pair in self._masks

    def mask(self, pair: Pair) -> np.ndarray | None:
        """The model's mask of a reviewed pair (predicted again if it was dropped from memory)."""
        kept = self._masks.get(pair)
        if kept is not None:
            return kept
        if self.model == NO_MODEL or self.state.dataset is None:
            return None
        try:
            result = predictor(self.model).predict_pair(self.state.dataset.frame(pair.frame), pair)
        except ThaliaError as exc:
            self.state.notify(Level.ERROR, str(exc))
            return None
        self._masks.put(pair, result.mask)
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
        target = navigation.neighbour(rows, self.state.pair, n)
        if target is None:
            self.state.notify(Level.INFO, "first pair of the table." if n < 0 else "last pair of the table.")
            return True
        self.open(target)
        return True
