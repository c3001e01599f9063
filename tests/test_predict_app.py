"""Predict in the app without a browser: background run, truth / prediction overlay, scores, accept."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.predict import NO_MODEL, PredictSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.layer_map import LayerMap, overlay_slot
from thalia_viewer.app.views.predict_panel import PredictPanel, metrics_html
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.viz.overlays import TruthPrediction, truth_prediction_codes


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    """A user zoo holding one untrained small model (predictions are noise, but real model output)."""
    from thalia_viewer.ml.zoo import ModelZoo, build_model, write_card

    card = dataclasses.replace(
        ModelZoo().get("thalia-small"),
        name="tiny-test",
        weights=None,
        tile_size=64,
        tile_overlap=16,
        path=None,
    )
    write_card(card, tmp_path / "zoo", model=build_model(card))
    monkeypatch.setenv("THALIA_ZOO", str(tmp_path / "zoo"))
    return "tiny-test"


def test_overlay_codes_follow_the_papers_colours():
    truth = np.array([[1, 1, 0, 0]], np.uint8)
    pred = np.array([[1, 0, 1, 0]], np.uint8)
    assert truth_prediction_codes(truth, pred).tolist() == [
        [TruthPrediction.BOTH, TruthPrediction.TRUTH_ONLY, TruthPrediction.PREDICTION_ONLY, 0]
    ]


def test_predict_the_pair_on_screen_overlay_scores_and_accept(tiny_root, tiny_zoo, tmp_path):
    state = AppState(str(tiny_root))
    edit = EditSession(
        state, AnnotationStore(tmp_path / "store", dataset=ThaliaDataset(tiny_root)), author="Ada"
    )
    predict = PredictSession(state, edit=edit)
    assert tiny_zoo in predict.param.model.objects
    predict.model = tiny_zoo
    layer_map = LayerMap(state=state, edit=edit, overlays=[edit, predict])
    panel = PredictPanel(state=state, predict=predict, edit=edit)

    predict.predict()
    predict.wait(120)
    assert not predict.running and predict.progress == 100
    result = predict.result
    assert result.mask.shape == state.frame_obj.shape and result.probability.dtype == np.float32
    metrics = predict.metrics()
    assert set(metrics) >= {"precision", "recall", "f1", "iou"}
    assert "IoU" in panel._scores.object and "IoU" in metrics_html(metrics)
    assert layer_map.shown()[overlay_slot(1)] is not None
    codes = predict.overlay_codes()
    assert np.array_equal(codes & TruthPrediction.TRUTH_ONLY > 0, result.target > 0)

    predict.show_truth = False
    assert not (predict.overlay_codes() & TruthPrediction.TRUTH_ONLY).any()

    edit.activity, edit.intensity = "Sill", "Low"
    assert predict.accept()
    sill = schema.class_by_name(schema.ACTIVITY_TYPES, "Sill").code
    expected = np.where(result.mask > 0, sill, 0)
    assert np.array_equal(edit.editor.masks[schema.ACTIVITY_MASK], expected)
    edit.undo()  # accepting is one undoable edit
    assert not np.array_equal(edit.editor.masks[schema.ACTIVITY_MASK], expected) or not result.mask.any()

    predict._forget()
    assert predict.result is None and layer_map.shown()[overlay_slot(1)] is None


def test_without_a_trained_model_predict_says_what_to_do(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("THALIA_ZOO", str(tmp_path / "empty-zoo"))
    monkeypatch.setattr("thalia_viewer.app.session.predict.model_names", lambda problems=None: [])
    state = AppState(str(tiny_root))
    predict = PredictSession(state)
    assert predict.model == NO_MODEL
    predict.predict()
    assert state.message is not None and "train" in state.message.text


def test_review_ranks_pairs_by_disagreement_and_accepts_a_model_mask(tiny_root, tiny_zoo, tmp_path):
    from thalia_viewer.app.explorer import ExplorerApp
    from thalia_viewer.app.views.review import aggregate_html
    from thalia_viewer.ml.review import ReviewRow, rank

    app = ExplorerApp(str(tiny_root), "review")
    review, state = app.review, app.state
    review.model = tiny_zoo
    review.start()
    review.wait(300)
    assert review.done == review.total == len(state.frame_obj.pairs)
    table = app.views["table"]
    ranked = review.ranked()
    assert [r.pair for r in ranked] == table._rows
    assert all(
        a.iou <= b.iou or np.isnan(b.iou) for a, b in itertools.pairwise(ranked) if not np.isnan(a.iou)
    )
    assert "all pixels" in aggregate_html(review.aggregate())

    table._clicked(type("Click", (), {"row": 0})())
    assert state.pair == ranked[0].pair
    assert app.views["sides"]._left.object is not None and app.views["sides"]._right.object is not None

    accepted = app.views["accept"].accept()
    mask = review.mask(state.pair)
    assert accepted == bool(mask.any())
    if accepted:
        assert np.array_equal(app.edit.editor.masks[schema.DEFORMATION_MASK] > 0, mask > 0)

    rows = [
        ReviewRow(ranked[0].pair, 5, 0, 5, 1.0, 0.5, 0.67, 0.5),
        ReviewRow(ranked[0].pair, 1, 9, 0, 0.1, 1.0, 0.18, 0.1),
    ]
    assert [r.iou for r in rank(rows)] == [0.1, 0.5]
    assert [r.fp for r in rank(rows, "fp")] == [9]
    assert [r.fn for r in rank(rows, "fn")] == [5]


def test_train_mode_fine_tunes_in_the_background_and_the_model_reaches_predict(
    tiny_root, tiny_zoo, tmp_path, monkeypatch
):
    from thalia_viewer.app.explorer import ExplorerApp
    from thalia_viewer.app.views.train import before_after_html

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = ExplorerApp(str(tiny_root), "train")
    t = app.train
    t.model, t.out, t.epochs, t.crop, t.batch_size = tiny_zoo, "tiny-ft", 1, 64, 2
    t.start()
    t.wait(600)
    assert not t.running, t.status
    assert t.new_model == "tiny-ft", t.status
    assert t.steps and t.epochs_done and "val_loss" in t.epochs_done[-1]
    assert t.progress == 100
    assert "tiny-ft" in app.predict.param.model.objects
    assert "tiny-ft" in before_after_html(t.model, t.new_model, t.before, t.after)
    # "after" is what training scored its threshold with, not a second pass over the validation split
    from thalia_viewer.ml.metrics import SCORES
    from thalia_viewer.ml.zoo import resolve_card

    card = resolve_card("tiny-ft")
    assert t.after == {k: card.metrics["val_at_threshold"][k] for k in SCORES}
    assert app.views["curves"]._pane.object is not None
