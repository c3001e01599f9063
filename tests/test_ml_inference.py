"""Model inputs (checked against the raw Zarr), seamless tiling, whole-frame prediction and the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from tests import realistic
from tests.test_data_layer import DIALECTS
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.ml import inputs, tiling
from thalia_viewer.ml.errors import InputError
from thalia_viewer.ml.inference import Predictor
from thalia_viewer.ml.metrics import Confusion, ThresholdSweep, aggregate, confusion, mean_std
from thalia_viewer.ml.zoo import ModelCard

# The benchmark's statistics and channel order, spelt out from the Thalia paper on purpose (an independent oracle).
STATS = {
    "insar_difference": (0.00149, 1.6177),
    "insar_coherence": (69.347, 76.503),
    "dem": (833.06, 977.50),
    "total_column_water_vapour": (22.526, 12.854),
    "surface_pressure": (92966.6, 9132.05),
    "vertical_integral_of_temperature": (2396036.8, 263503.7),
}
ERA5 = ["total_column_water_vapour", "surface_pressure", "vertical_integral_of_temperature"]


def _day(text: str) -> np.datetime64:
    return np.datetime64(f"{text[:4]}-{text[4:6]}-{text[6:]}", "ns")


def hand_input(
    store, pairs, atmospheric: bool, coherence_scale: float = 1.0, zero_nodata: bool = False
) -> np.ndarray:
    """(T*C, H, W) computed straight from ``xr.open_zarr`` with the names and statistics of the Thalia benchmark."""
    ds = xr.open_zarr(store)
    steps = []
    for pair in pairs:
        cell = {"primary_date": _day(pair.primary), "secondary_date": _day(pair.secondary)}

        def at(name: str, cell: dict = cell) -> np.ndarray:
            da = ds[name]
            return da.sel({d: v for d, v in cell.items() if d in da.dims}).values.astype(np.float64)

        phase, coherence = at("insar_difference"), at("insar_coherence") * coherence_scale
        if zero_nodata:
            phase[coherence == 0] = np.nan
            coherence[coherence == 0] = np.nan
        layers = [("insar_difference", phase), ("insar_coherence", coherence), ("dem", at("dem"))]
        if atmospheric:
            for field in ERA5:
                layers += [(field, at(f"primary_date_{field}")), (field, at(f"secondary_date_{field}"))]
        steps += [(v - STATS[k][0]) / STATS[k][1] for k, v in layers]
    return np.nan_to_num(np.stack(steps), nan=0.0).astype(np.float32)


def test_channel_names_and_stats():
    assert inputs.channel_names("base") == ["insar_difference", "insar_coherence", "dem"]
    assert inputs.channel_names("atmospheric") == [
        "insar_difference",
        "insar_coherence",
        "dem",
        "primary_date_total_column_water_vapour",
        "secondary_date_total_column_water_vapour",
        "primary_date_surface_pressure",
        "secondary_date_surface_pressure",
        "primary_date_vertical_integral_of_temperature",
        "secondary_date_vertical_integral_of_temperature",
    ]
    for name, (mean, std) in inputs.NORMALISATION.items():
        key = next((f for f in ERA5 if name.endswith(f)), name)
        assert mean == pytest.approx(
            STATS[key][0], rel=5e-4, abs=1e-5
        )  # the oracle above is rounded to 5 digits
        assert std == pytest.approx(STATS[key][1], rel=5e-4)
    with pytest.raises(InputError, match="unknown input setting 'weather'"):
        inputs.channel_names("weather")


def test_sequence_input_matches_raw_zarr_on_generated_data(tiny_root):
    ds = ThaliaDataset(tiny_root)
    frame = ds.frame(ds.frames[0])
    seq = frame.sequences(frame.positives[0].primary)[0]
    window = (16, 112, 32, 160)
    got = inputs.sequence_input(frame, seq, "atmospheric", window)
    want = hand_input(tiny_root / f"{frame.frame_id}.zarr", seq, atmospheric=True)[:, 16:112, 32:160]
    assert got.shape == (27, 96, 128) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    # time-major: step t is channels t*9 .. t*9+8, and base = the first 3 channels of each step
    np.testing.assert_array_equal(got[9:18], inputs.sequence_input(frame, seq[1], "atmospheric", window))
    base = inputs.sequence_input(frame, seq, "base", window)
    np.testing.assert_array_equal(base, got[[0, 1, 2, 9, 10, 11, 18, 19, 20]])
    target = inputs.target(frame, seq, window)
    store = xr.open_zarr(tiny_root / f"{frame.frame_id}.zarr")
    masks = [
        store["deformation_mask"].sel(primary_date=_day(p.primary), secondary_date=_day(p.secondary)).values
        for p in seq
    ]
    np.testing.assert_array_equal(target, (np.max(masks, axis=0) > 0)[16:112, 32:160].astype(np.uint8))


@pytest.mark.parametrize("dialect", ["lat/lon", "era5-4d", "zero-nodata"])
def test_sequence_input_matches_raw_zarr_on_real_style_cubes(tmp_path, dialect):
    root = realistic.write_real_style_root(tmp_path / "r", **DIALECTS[dialect])
    frame = ThaliaDataset(root).frame(realistic.FRAME)
    seq = frame.sequences("20190105")[0]
    got = inputs.sequence_input(frame, seq, "atmospheric")
    want = hand_input(root / f"{realistic.FRAME}.zarr", seq, True, zero_nodata=dialect == "zero-nodata")
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert (got[[0, 1, 9, 10, 18, 19], :, :4] == 0).all()  # phase / coherence no-data margin -> 0 (the mean)


def test_coherence_enters_on_the_0_255_scale_whatever_the_store(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "r")
    store = root / f"{realistic.FRAME}.zarr"
    ds = xr.open_zarr(store).load()
    ds["insar_coherence"] = ds["insar_coherence"] / 255.0
    scaled = tmp_path / "s" / f"{realistic.FRAME}.zarr"
    ds.chunk({"primary_date": 1, "secondary_date": 1}).to_zarr(
        scaled, mode="w", zarr_format=2, consolidated=True
    )
    for name in ("annotations.json", "quality_timeseries.json"):
        (scaled.parent / name).write_bytes((root / name).read_bytes())
    pair = ThaliaDataset(root).frame(realistic.FRAME).pairs[1]
    a = inputs.pair_channels(ThaliaDataset(root).frame(realistic.FRAME), pair, "base")
    b = inputs.pair_channels(ThaliaDataset(scaled.parent).frame(realistic.FRAME), pair, "base")
    assert np.nanmax(a[1]) > 200
    np.testing.assert_allclose(a, b, rtol=1e-5, equal_nan=True)


def test_bad_window_and_sequence(tiny_root):
    frame = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[0])
    with pytest.raises(InputError, match="is not inside frame"):
        inputs.pair_channels(frame, frame.pairs[0], "base", (0, 500, 0, 10))
    with pytest.raises(InputError, match="empty sequence"):
        inputs.sequence_input(frame, [], "base")


# ------------------------------------------------------------------------------------------ tiling
def test_tile_grid_covers_and_weights_blend_to_identity():
    for shape, tile, overlap in [
        ((100, 77), 32, 8),
        ((160, 192), 64, 32),
        ((30, 500), 64, 16),
        ((64, 64), 64, 0),
    ]:
        windows = tiling.tile_grid(shape, tile, overlap)
        blender = tiling.Blender(shape, overlap)
        for w in windows:
            assert w[1] <= shape[0] and w[3] <= shape[1]
            blender.add(w, np.ones((w[1] - w[0], w[3] - w[2]), np.float32))
        np.testing.assert_allclose(blender.result(), 1.0, rtol=1e-6)
    assert tiling.tile_starts(1000, 512, 64) == [0, 448, 488]
    w = tiling.tile_weight((448, 960, 0, 512), (1000, 1000), 64)
    assert (
        w[0, 100] == 0 and w[15, 100] == 0 and w[16, 100] > 0 and w[200, 0] == 1
    )  # trim on shared edges only


class LocalNet(nn.Module):
    """Two 3x3 convolutions: receptive field radius 2 px."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(channels, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 1, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _card(**kw) -> ModelCard:
    base = {
        "name": "local",
        "architecture": "unet",
        "encoder": "resnet18",
        "tile_size": 64,
        "tile_overlap": 32,
    }
    return ModelCard(**{**base, **kw})


def test_tiled_prediction_equals_untiled(tiny_root):
    ds = ThaliaDataset(tiny_root)
    frame = ds.frame(ds.frames[0])
    pair = frame.positives[0]
    card = _card()
    predictor = Predictor(LocalNet(3), device="cpu", card=card, batch_size=3)
    x = inputs.sequence_input(frame, pair, "base")
    with torch.inference_mode():
        untiled = torch.sigmoid(predictor.model(torch.from_numpy(x)[None]))[0, 0].numpy()
    assert len(predictor.grid(frame.shape)[1]) > 4  # really tiled: 160 x 192 px in 64 px tiles
    np.testing.assert_allclose(predictor.predict_array(x), untiled, atol=1e-5)
    calls = []
    result = predictor.predict_pair(frame, pair, progress=lambda done, total: calls.append((done, total)))
    valid = inputs.valid_mask(frame, pair)
    np.testing.assert_allclose(result.probability, np.where(valid, untiled, 0), atol=1e-5)
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] == len(predictor.grid(frame.shape)[1])
    assert result.mask.dtype == np.uint8 and set(np.unique(result.mask)) <= {0, 1}
    truth = inputs.target(frame, pair)
    assert result.confusion == confusion(result.mask, truth)
    assert set(result.metrics) >= {"precision", "recall", "f1", "iou", "tp"}


def test_tiling_a_window_and_a_frame_not_multiple_of_the_stride(tiny_root):
    frame = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[1])
    pair = frame.pairs[0]
    predictor = Predictor(LocalNet(3), device="cpu", card=_card())
    window = (5, 150, 7, 101)  # 145 x 94 px: padded to 160 x 96 inside the predictor
    x = inputs.sequence_input(frame, pair, "base", window)
    padded = np.pad(x, [(0, 0), (0, 15), (0, 2)])
    with torch.inference_mode():
        untiled = torch.sigmoid(predictor.model(torch.from_numpy(padded)[None]))[0, 0, :145, :94].numpy()
    np.testing.assert_allclose(predictor.predict_array(x), untiled, atol=1e-5)
    assert predictor.predict_pair(frame, pair, window=window).probability.shape == (145, 94)


class FixedLogits(nn.Module):
    """Two-class logits whose softmax gives the deformation class probability sigmoid(2 * phase)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([-x[:, 0], x[:, 0]], dim=1)


def test_two_class_models_use_the_softmax_of_the_deformation_class(tiny_root):
    frame = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[0])
    card = _card(classes=("Non_Deformation", "Deformation"))
    x = inputs.sequence_input(frame, frame.pairs[0], "base")
    prob = Predictor(FixedLogits(), device="cpu", card=card).predict_array(x)
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-2 * x[0])), atol=1e-5)


def test_time_series_models_take_the_sequence_of_the_pair(tiny_root):
    frame = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[0])
    card = _card(timesteps=3, setting="atmospheric")
    predictor = Predictor(LocalNet(27), device="cpu", card=card)
    for pair in frame.pairs:
        seq = predictor.sequence(frame, pair)
        assert (
            len(seq) == 3
            and pair in seq
            and all(p.primary == pair.primary for p in seq)
            and list(seq) == sorted(seq)
        )
    pair = frame.positives[0]
    result = predictor.predict_pair(frame, pair)
    assert result.pair == pair and result.pairs == predictor.sequence(frame, pair)
    np.testing.assert_array_equal(result.target, inputs.target(frame, result.pairs))
    with pytest.raises(InputError, match="takes 3 pair"):
        predictor.predict_pair(frame, [pair])
    with pytest.raises(InputError, match="without its model card"):
        Predictor(LocalNet(3), device="cpu")


# ----------------------------------------------------------------------------------------- metrics
def test_confusion_and_scores_match_hand_counts():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 2], [0, 0, 0, 0]])
    true = np.array([[1, 0, 0, 0], [1, 1, 0, 1], [0, 0, 1, 0]])
    c = confusion(pred, true)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 2, 6)
    assert c.precision == pytest.approx(3 / 4) and c.recall == pytest.approx(3 / 5)
    assert c.f1 == pytest.approx(6 / 9) and c.iou == pytest.approx(3 / 6)
    valid = np.ones_like(pred, bool)
    valid[2] = False
    assert confusion(pred, true, valid) == Confusion(3, 1, 1, 3)


def test_empty_masks_follow_the_documented_convention():
    empty = np.zeros((3, 3))
    some = np.eye(3)
    assert confusion(empty, empty).scores() == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 1.0}
    assert confusion(empty, some).scores() == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}
    assert confusion(some, empty).scores() == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0}
    with pytest.raises(ValueError, match="differ in shape"):
        confusion(empty, np.zeros((2, 2)))


def test_aggregate_and_mean_std():
    a, b = Confusion(tp=3, fp=1, fn=0, tn=4), Confusion(tp=0, fp=0, fn=4, tn=4)
    agg = aggregate([a, b])
    assert agg["count"] == 2
    assert agg["micro"]["tp"] == 3 and agg["micro"]["fn"] == 4
    assert agg["micro"]["f1"] == pytest.approx(6 / (6 + 1 + 4))
    assert agg["macro"]["recall"] == pytest.approx((1.0 + 0.0) / 2)
    stats = mean_std([{"f1": 0.5, "iou": 0.3}, {"f1": 0.7, "iou": 0.5}])
    assert stats["f1"]["mean"] == pytest.approx(0.6) and stats["f1"]["std"] == pytest.approx(
        np.std([0.5, 0.7], ddof=1)
    )
    assert mean_std([{"f1": 0.5}])["f1"]["std"] == 0.0


def test_threshold_sweep_matches_a_confusion_per_threshold_and_picks_the_best():
    rng = np.random.default_rng(3)
    truth = rng.random((2, 16, 16)) < 0.3
    probability = np.clip(
        0.35 + 0.3 * truth + 0.2 * rng.standard_normal(truth.shape), 0, 1
    )  # positives higher
    probability = probability.astype(np.float32)  # what a model gives
    probability[0, 0, :5] = np.float32([0.3, 0.6, 0.7, 0.35, 0.95])  # exactly on the grid: counted as >=
    sweep = ThresholdSweep()
    sweep.add(probability[0], truth[0])
    sweep.add(probability[1], truth[1])  # batch by batch, pooled
    for i, t in enumerate(sweep.thresholds):
        assert sweep.confusion(i) == confusion(probability >= float(t), truth)  # as evaluation thresholds
    best, at = sweep.best("iou")
    ious = {t: confusion(probability >= float(t), truth).iou for t in sweep.thresholds}
    assert at.iou == max(ious.values()) and best == min(t for t, v in ious.items() if v == at.iou)
    assert 0.3 < best < 0.7  # between the two populations, not the grid's ends
    with pytest.raises(ValueError, match="unknown score"):
        sweep.best("accuracy")
    with pytest.raises(ValueError, match="differ in shape"):
        sweep.add(probability[0], truth)
