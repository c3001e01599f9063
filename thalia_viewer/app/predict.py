"""``PredictSession``: run a zoo model on the pair on screen, in the background, and compare it with the labels.

The model runs on one worker thread per process (one model on the GPU or the CPU at a time, shared by every
session; torch releases the GIL, so the server keeps serving other users meanwhile). Progress and the result
come back to the session's document on its next tick. The map draws prediction and ground truth as one code
overlay, in the Thalia paper's colours: truth only red, prediction only green, both yellow.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar, Final

import numpy as np
import param

from thalia_viewer.app.background import in_session
from thalia_viewer.app.state import AppState
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz import elements

TRUTH_ONLY, PREDICTION_ONLY, BOTH = 1, 2, 3  # codes of the overlay
NO_MODEL: Final = "(no trained model)"

_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thalia-model")
_PREDICTORS: dict[tuple[str, str], Any] = {}  # (model name, weights file) -> Predictor, per process
_PREDICTORS_LOCK = threading.Lock()


def truth_prediction_codes(truth: np.ndarray | None, prediction: np.ndarray | None) -> np.ndarray:
    """One overlay raster: 1 truth only, 2 prediction only, 3 both (either may be left out)."""
    shape = (truth if truth is not None else prediction).shape  # type: ignore[union-attr]
    t = np.zeros(shape, bool) if truth is None else np.asarray(truth) > 0
    p = np.zeros(shape, bool) if prediction is None else np.asarray(prediction) > 0
    return (t * TRUTH_ONLY + p * PREDICTION_ONLY).astype(np.uint8)


def model_names(problems: list[str] | None = None) -> list[str]:
    """Zoo models that can predict (their weights are there), default model first; a malformed card is
    skipped, and what is wrong with it appended to ``problems`` (for the user to see)."""
    from thalia_viewer.ml.zoo import DEFAULT_MODEL, ModelZoo

    zoo = ModelZoo()
    zoo.reload()
    with warnings.catch_warnings():  # each skipped card is reported to the user instead (``problems``)
        warnings.simplefilter("ignore", UserWarning)
        names = [c.name for c in zoo.cards() if c.has_weights]
    if problems is not None:
        problems.extend(f"A model card was skipped: {exc}" for exc in zoo.problems.values())
    return sorted(names, key=lambda n: (n != DEFAULT_MODEL, n))


def refreshed_models(state: Any) -> list[str]:
    """:func:`model_names` for a session: a skipped card or an unreadable zoo is a notification of ``state``."""
    problems: list[str] = []
    try:
        names = model_names(problems)
    except ThaliaError as exc:
        state.notify("error", str(exc))
        names = []
    for text in problems:  # stays on screen until closed: the card must be fixed to use that model
        state.notify("error", text)
    return names or [NO_MODEL]


def predictor(name: str) -> Any:
    """The process's predictor of zoo model ``name`` (loaded once; reloaded when its weights file changes)."""
    from thalia_viewer.ml.inference import Predictor
    from thalia_viewer.ml.zoo import ModelZoo

    zoo = ModelZoo()
    zoo.reload()
    card = zoo.get(name)
    key = (name, str(card.weights_path))
    with _PREDICTORS_LOCK:
        if key not in _PREDICTORS:
            _PREDICTORS[key] = Predictor(card)
        return _PREDICTORS[key]


class PredictSession(param.Parameterized):
    """The model picked, the run in progress and the last prediction of the pair on screen."""

    model = param.Selector(default=NO_MODEL, objects=[NO_MODEL], doc="Zoo model to run")
    running = param.Boolean(default=False, doc="A prediction is being computed")
    progress = param.Integer(default=0, bounds=(0, 100), doc="Tiles done, percent")
    show_truth = param.Boolean(default=True, label="Ground truth (red)")
    show_prediction = param.Boolean(default=True, label="Prediction (green)")
    status = param.String(default="", doc="One line on the last run")
    overlay_revision = param.Integer(default=0, doc="Bumped when the overlay changes")

    overlay_title: ClassVar[str] = "Truth / prediction (1 truth, 2 prediction, 3 both)"
    overlay_colors: ClassVar[tuple[str, ...]] = elements.TRUTH_PREDICTION_COLORS

    def __init__(self, state: AppState, edit: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.state, self.edit = state, edit
        self.result: Any = None  # ml.inference.Prediction of the pair on screen
        self._future: Future | None = None
        self.refresh_models()
        state.watch(lambda *_: self._forget(), "pair", "the prediction panel")

    def refresh_models(self) -> None:
        """Re-read the zoo (a model trained meanwhile appears)."""
        names = refreshed_models(self.state)
        self.param.model.objects = names
        if self.model not in names:
            self.model = names[0]

    # -------------------------------------------------------------------------------------- run
    def predict(self, pair: Pair | None = None) -> None:
        """Predict ``pair`` (default: on screen) in the background; the result replaces the overlay."""
        pair = pair or self.state.current
        frame = self.state.frame_obj
        if pair is None or frame is None:
            self.state.notify("warning", "Pick a pair before predicting.")
            return
        if self.model == NO_MODEL:
            self.state.notify(
                "warning", "No model with weights in the zoo: train one (thalia-viewer train) first."
            )
            return
        if self.running:
            self.state.notify("info", "A prediction is already running for this session.")
            return
        self.running, self.progress, self.status = True, 0, f"running {self.model} on {pair.key}…"
        name = self.model
        on_progress = in_session(
            lambda done, total: setattr(self, "progress", round(100 * done / max(total, 1)))
        )
        on_done = in_session(lambda result, error: self._finish(pair, result, error))

        def job() -> None:
            try:
                result = predictor(name).predict_pair(frame, pair, progress=on_progress)
            except ThaliaError as exc:
                on_done(None, str(exc))
            except Exception as exc:  # a model bug must not take the session down
                on_done(None, f"{type(exc).__name__}: {exc}")
            else:
                on_done(result, None)

        self._future = _WORKER.submit(job)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running prediction is done (scripts and tests)."""
        if self._future is not None:
            self._future.result(timeout)

    def _finish(self, pair: Pair, result: Any, error: str | None) -> None:
        self.running = False
        if error is not None:
            self.status = "prediction failed"
            self.state.notify("error", f"Prediction of {pair.key} with {self.model} failed: {error}")
            return
        self.progress = 100
        if pair != self.state.current:  # the user moved on meanwhile: keep nothing
            return
        self.result = result
        m = result.metrics
        where = f"{result.device}, {result.seconds:.1f} s"
        self.status = (
            f"{result.model} on {pair.key} ({where}): F1 {m['f1']:.3f}, IoU {m['iou']:.3f}"
            if m
            else f"{result.model} on {pair.key} ({where})"
        )
        self.overlay_revision += 1

    def _forget(self) -> None:
        if self.result is not None:
            self.result = None
            self.status = ""
            self.overlay_revision += 1

    @param.depends("show_truth", "show_prediction", watch=True)
    def _toggled(self) -> None:
        self.overlay_revision += 1

    # ---------------------------------------------------------------------------------- overlay
    def overlay_token(self, pair: Pair) -> tuple | None:
        r = self.result
        if r is None or r.pair != pair or not (self.show_truth or self.show_prediction):
            return None
        return (r.model, pair, id(r), self.show_truth, self.show_prediction)

    def overlay_codes(self) -> np.ndarray | None:
        r = self.result
        if r is None:
            return None
        truth = r.target if self.show_truth else None
        prediction = r.mask if self.show_prediction else None
        if truth is None and prediction is None:
            return None
        return truth_prediction_codes(truth if truth is not None else np.zeros_like(r.mask), prediction)

    def metrics(self) -> dict[str, Any] | None:
        """Precision / recall / F1 / IoU (and counts) of the deformation class on the pair, if labelled."""
        return None if self.result is None else self.result.metrics

    # ----------------------------------------------------------------------------------- accept
    def accept(self) -> bool:
        """Put the prediction in the editor as the starting mask (one undoable edit), in the class picked in
        the tools; it is saved through the store like any edit."""
        r, edit = self.result, self.edit
        if r is None or edit is None:
            self.state.notify("warning", "Nothing to accept: predict this pair in annotate mode first.")
            return False
        box = edit.accept_mask(r.mask, f"{r.model} prediction")
        if box is not None:
            self.show_prediction = False  # the prediction is the mask now; keep the truth for comparison
        return box is not None


__all__ = ["BOTH", "PREDICTION_ONLY", "TRUTH_ONLY", "PredictSession", "model_names", "truth_prediction_codes"]
