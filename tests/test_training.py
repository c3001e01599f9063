"""Training side: split, sequences, crops, undersampling, augmentation, loss, loader, train / resume / evaluate.

Runs on the tiny generated dataset with 64 px crops and a ~1.4 M-parameter UNet (MobileNetV3-small encoder).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from thalia_viewer.cli import main
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair, sequences
from thalia_viewer.ml import inputs
from thalia_viewer.ml.errors import InputError
from thalia_viewer.ml.training.augment import Augment, resized_crop
from thalia_viewer.ml.training.crops import check_crop, positive_window, random_window
from thalia_viewer.ml.training.labels import Labels, PairMask, parse_store_spec
from thalia_viewer.ml.training.samples import build_samples, min_distinct
from thalia_viewer.ml.training.sampling import epoch_items, fixed_items, undersample

torch = pytest.importorskip("torch")

from thalia_viewer.ml.training import TrainConfig, evaluate, train  # noqa: E402
from thalia_viewer.ml.training.loader import CropDataset, CropSpec, make_loader  # noqa: E402
from thalia_viewer.ml.training.loss import FocalLoss  # noqa: E402
from thalia_viewer.ml.zoo import ModelZoo, load_model  # noqa: E402

CROP = 64
#: The default model's architecture without weights, so tests train it from scratch.
TINY_CARD = {
    "name": "tiny-unet",
    "architecture": "unet",
    "encoder": "tu-mobilenetv3_small_100",
    "setting": "base",
    "timesteps": 1,
    "classes": ["Deformation"],
    "weights": None,
    "tile_size": 64,
    "tile_overlap": 16,
    "options": {"decoder_channels": [32, 16, 16, 8, 8]},
}


@pytest.fixture(scope="module")
def card_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cards")
    path = folder / "tiny-unet.yaml"
    path.write_text(yaml.safe_dump(TINY_CARD))
    return path


def config(root, card_path, tmp, out="m", **kw) -> TrainConfig:
    base = {
        "root": str(root),
        "model": str(card_path),
        "out": out,
        "zoo": str(tmp / "zoo"),
        "epochs": 2,
        "crop": CROP,
        "batch_size": 4,
        "lr": 3e-3,
        "augment": False,
        "eval_seeds": (),
        "checkpoint_dir": str(tmp / "ckpt" / out),
        "threads": 1,
    }
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tiny_root, card_path, tmp_path_factory):
    """One short run (3 epochs) shared by the tests that need a trained model: (result, tmp, progress reports)."""
    tmp = tmp_path_factory.mktemp("run")
    reports = []
    result = train(
        config(tiny_root, card_path, tmp, out="trained", epochs=3, val_every=2, eval_seeds=(0,)),
        progress=reports.append,
    )
    return result, tmp, reports


# ------------------------------------------------------------------------------------ samples
def test_temporal_split_and_single_step_samples(tiny_root):
    ds = ThaliaDataset(tiny_root)
    labels = Labels(ds)
    seen = set()
    for split in schema.Split:
        samples = build_samples(ds, split, labels)
        assert [s.pairs[0] for s in samples] == sorted(ds.pairs(split=split))
        for s in samples:
            assert schema.split_of(s.pairs[0].primary) is split
            assert s.positive == schema.is_positive(ds.annotation(s.pairs[0]))
        seen |= {s.pairs[0] for s in samples}
    assert seen == set(ds.pairs())  # every tiny pair falls in one split


def test_sequences_share_a_primary_date_ordered_padded_and_split(tiny_root):
    ds = ThaliaDataset(tiny_root)
    samples = build_samples(ds, "train", Labels(ds), timesteps=3, training=True)
    groups = {(p.frame, p.primary) for p in ds.pairs(split="train")}
    assert {(s.frame, s.pairs[0].primary) for s in samples} == groups
    for s in samples:
        assert len(s.pairs) == 3 and len({p.primary for p in s.pairs}) == 1
        assert list(s.pairs) == sorted(s.pairs)  # ordered by secondary date
    single = [s for s in samples if len(set(s.pairs)) == 1]
    assert single, "a primary date with one secondary date is padded by duplication"
    # longer groups are split into subsets: disjoint for val/test and negatives, overlapping by <= 1 for positives
    group = [Pair("124D_05291_081406", "20180101", f"201801{d:02d}") for d in (13, 14, 15, 16, 17)]
    disjoint = sequences(group, 3, min_distinct(3, positive_group=False, training=True))
    overlapping = sequences(group, 3, min_distinct(3, positive_group=True, training=True))
    assert len(disjoint) == 1 and len(overlapping) > 1
    assert all(len(set(a) & set(b)) <= 1 for i, a in enumerate(overlapping) for b in overlapping[i + 1 :])
    assert min_distinct(3, True, training=False) == 1


# --------------------------------------------------------------------------------------- crops
def test_positive_crops_hold_deformation_and_stay_inside():
    mask = np.zeros((300, 400), np.uint8)
    mask[280:300, 380:400] = 1  # in a corner: clamping must keep the crop inside the frame
    pm = PairMask.from_mask(mask)
    starts = set()
    for seed in range(30):
        r0, r1, c0, c1 = positive_window(mask.shape, 128, pm.bbox, pm.points, np.random.default_rng(seed))
        assert (r1 - r0, c1 - c0) == (128, 128) and 0 <= r0 < r1 <= 300 and 0 <= c0 < c1 <= 400
        assert mask[r0:r1, c0:c1].any()
        starts.add((r0, c0))
    ring = np.zeros((512, 512), np.uint8)
    ring[10:12, 10:500] = ring[500:502, 10:500] = 1  # bbox centre far from any pixel: the fallback finds one
    rm = PairMask.from_mask(ring)
    for seed in range(10):
        r0, r1, c0, c1 = positive_window(
            ring.shape, 64, rm.bbox, rm.points, np.random.default_rng(seed), max_offset=0
        )
        assert ring[r0:r1, c0:c1].any()
    centred = PairMask.from_mask(np.pad(np.ones((20, 20), np.uint8), 240))
    offsets = {
        positive_window((500, 500), 128, centred.bbox, centred.points, np.random.default_rng(s))[:1]
        for s in range(20)
    }
    assert len(offsets) > 5  # a random offset, not always the centre
    windows = {random_window((300, 400), 64, np.random.default_rng(s)) for s in range(20)}
    assert len(windows) > 10 and all(0 <= w[0] < w[1] <= 300 and 0 <= w[2] < w[3] <= 400 for w in windows)


def test_crop_size_is_checked():
    assert check_crop(64, (160, 192)) == 64
    with pytest.raises(InputError, match="does not fit frame X of 160 x 192 px"):
        check_crop(256, (160, 192), "frame X")
    with pytest.raises(InputError, match="multiple of 32"):
        check_crop(100, (512, 512))


@pytest.mark.parametrize("timesteps", [1, 3])
def test_loader_crops_are_the_windows_of_the_inputs(tiny_root, timesteps):
    ds = ThaliaDataset(tiny_root)
    labels = Labels(ds)
    samples = build_samples(ds, "train", labels, timesteps=timesteps, training=True)
    masks = labels.masks(p for s in samples for p in s.pairs)
    shapes = {f: ds.frame(f).shape for f in ds.frames}
    for crop, cache_mb in ((CROP, 64), (96, 64), (96, 0)):  # windowed reads; whole-pair cache; cache off
        data = CropDataset(CropSpec(str(tiny_root), "base", crop, cache_mb=cache_mb), samples, masks, shapes)
        for index, seed in fixed_items(len(samples), 0)[:6]:
            x, y = data.item(index, seed)
            window = data.window(index, np.random.default_rng(seed))
            frame, sample = ds.frame(samples[index].frame), samples[index]
            np.testing.assert_array_equal(x, inputs.sequence_input(frame, sample.pairs, "base", window))
            np.testing.assert_array_equal(y, inputs.target(frame, sample.pairs, window))
            assert x.shape == (3 * timesteps, crop, crop) and y.dtype == np.uint8
            assert y.any() == sample.positive  # positive crops hold deformation, negative ones none


def test_loader_workers_give_the_same_batches_epoch_after_epoch(tiny_root):
    ds = ThaliaDataset(tiny_root)
    labels = Labels(ds)
    samples = build_samples(ds, "train", labels, timesteps=1, training=True)
    masks = labels.masks(p for s in samples for p in s.pairs)
    data = CropDataset(
        CropSpec(str(tiny_root), "base", CROP), samples, masks, {f: ds.frame(f).shape for f in ds.frames}
    )
    flags = [s.positive for s in samples]

    def batches(workers: int) -> list[list[np.ndarray]]:
        loader, sampler = make_loader(data, [], batch_size=4, num_workers=workers)
        epochs = []
        for epoch in (1, 2):  # persistent workers see the next epoch's items through the sampler
            sampler.items = epoch_items(flags, seed=5, epoch=epoch)[:12]
            epochs.append([t.numpy() for x, y in loader for t in (x, y)])
        return epochs

    serial, parallel = batches(0), batches(2)
    assert len(serial[0]) == 6 and not all(np.array_equal(a, b) for a, b in zip(*serial, strict=True))
    for a, b in zip(serial, parallel, strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


# ------------------------------------------------------------------------------------ sampling
def test_undersampling_keeps_every_positive_and_as_many_negatives():
    flags = [True] * 3 + [False] * 10
    epochs = [undersample(flags, seed=5, epoch=e) for e in range(1, 6)]
    for idx in epochs:
        assert sorted(i for i in idx if flags[i]) == [0, 1, 2]
        assert sum(not flags[i] for i in idx) == 3 and len(set(idx)) == 6
    assert len({tuple(sorted(i)) for i in epochs}) > 1  # other negatives each epoch
    assert undersample(flags, 5, 2) == epochs[1]  # seeded: the same epoch is the same
    assert sorted(undersample([True] * 5 + [False] * 2, 0, 1)) == list(
        range(7)
    )  # fewer negatives: all of them
    items = epoch_items(flags, 5, 2)
    assert [i for i, _ in items] == epochs[1] and items == epoch_items(flags, 5, 2)


# ------------------------------------------------------------------------------------- augment
def test_augmentations_move_image_and_mask_together():
    y = np.zeros((64, 64), np.uint8)
    y[5:13, 40:48] = 1  # an off-centre marker: any flip or rotation moves it
    x = np.stack([y * 3.0, y * -2.0, y * 1.0]).astype(np.float32)
    moved = 0
    for seed in range(40):
        xa, ya = Augment(blur=0.0)(x, y, np.random.default_rng(seed))
        assert set(np.unique(ya)) <= {0, 1}
        agree = np.mean((xa[2] > 0.5) == (ya == 1))
        assert agree > 0.98, f"seed {seed}: image and mask moved apart ({agree:.3f})"
        np.testing.assert_allclose(xa[0], 3 * xa[2], atol=1e-5)  # one transform for every channel
        moved += not np.array_equal(ya, y)
    assert moved > 20
    xb, yb = Augment(hflip=0, vflip=0, rotate=0, resized_crop=0, blur=1.0)(x, y, np.random.default_rng(0))
    np.testing.assert_array_equal(yb, y)  # blur touches the image channels only
    assert not np.array_equal(xb, x)
    xr, yr = resized_crop(x, y, np.random.default_rng(3), scale=(0.3, 0.3))
    assert xr.shape == x.shape and yr.shape == y.shape and set(np.unique(yr)) <= {0, 1}


# ----------------------------------------------------------------------------------------- loss
def test_focal_loss_weights_and_modes():
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])
    target = torch.tensor([[[1, 0], [0, 1]]])
    one = FocalLoss()(logits, target)
    two = FocalLoss(deformation_index=1)(torch.cat([torch.zeros_like(logits), logits], 1), target)
    torch.testing.assert_close(one, two)  # softmax over [0, z] is sigmoid(z)
    p = torch.sigmoid(logits[0, 0])
    pt = torch.where(target[0] == 1, p, 1 - p)
    w = torch.where(target[0] == 1, 0.75, 0.25)  # Thalia: class weights [alpha, 1 - alpha]
    torch.testing.assert_close(one, (-w * (1 - pt) ** 2 * pt.log()).mean())


# ------------------------------------------------------------------------------------ training
def test_training_lowers_the_loss_and_writes_a_card_that_loads_and_predicts(trained, tiny_root):
    result, tmp, reports = trained
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert [r["val_loss"] is None for r in result.history] == [
        True,
        False,
        False,
    ]  # validated at 2 and 3 (last)
    # after the epochs, the threshold calibration and the test scoring report their batches
    finish = [(r.phase, r.step, r.total) for r in reports if r.phase in ("threshold", "test")]
    phases = [p for p, *_ in finish]
    assert phases == ["threshold"] * phases.count("threshold") + ["test"] * phases.count("test")
    for phase in ("threshold", "test"):
        steps = [(k, n) for p, k, n in finish if p == phase]
        assert steps and [k for k, _ in steps] == list(range(1, steps[0][1] + 1))
    assert result.best_epoch in (2, 3) and result.checkpoint.is_file()
    card = ModelZoo([tmp / "zoo"]).get("trained")
    prov = card.provenance
    assert prov["data_snapshot"] == {"root": str(tiny_root), "labels": "source"}
    assert prov["parent"] is None and prov["recipe"]["crop"] == CROP and prov["recipe"]["lr"] == 3e-3
    assert prov["command"] is None and prov["trained_at"]
    assert set(card.metrics) == {"val", "val_at_threshold", "test"} and "iou" in card.metrics["test"]
    # the operating threshold was picked on the validation split and the test scores use it
    assert card.threshold == prov["threshold"]["value"] and prov["threshold"]["replaced"] == 0.5
    assert (
        prov["threshold"]["chosen_on"] == "val split, best pooled iou" and prov["recipe"]["calibrate"] is True
    )
    assert card.weights_path.stat().st_size < 10e6
    from thalia_viewer.ml.inference import Predictor

    frame = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[0])
    prediction = Predictor(card, "cpu").predict_pair(frame, frame.pairs[0])
    assert prediction.mask.shape == frame.shape and prediction.confusion is not None


def test_resume_gives_the_uninterrupted_result(tiny_root, card_path, tmp_path):
    straight = train(config(tiny_root, card_path, tmp_path, out="straight", augment=True))
    train(config(tiny_root, card_path, tmp_path, out="halves", epochs=1, augment=True))
    resumed = train(config(tiny_root, card_path, tmp_path, out="halves", epochs=2, augment=True, resume=True))
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    a = load_model(straight.card, "cpu").state_dict()
    b = load_model(resumed.card, "cpu").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(InputError, match=r"lr: 0\.003 -> 0\.01"):
        train(
            config(tiny_root, card_path, tmp_path, out="halves", epochs=3, augment=True, resume=True, lr=1e-2)
        )
    with pytest.raises(InputError, match="already holds 2 epochs, more than epochs=1"):
        train(config(tiny_root, card_path, tmp_path, out="halves", epochs=1, augment=True, resume=True))
    finished = train(
        config(tiny_root, card_path, tmp_path, out="halves", epochs=2, augment=True, resume=True)
    )
    assert finished.history == resumed.history  # the same epochs: only the run's end (threshold, card) again
    c = load_model(finished.card, "cpu").state_dict()
    assert all(torch.equal(a[k], c[k]) for k in a)
    # a learning-rate drop may be added at an epoch not yet run: the same as a straight run with it
    with pytest.raises(InputError, match=r"lr_drop: None -> 2"):
        train(
            config(
                tiny_root, card_path, tmp_path, out="halves", epochs=3, augment=True, resume=True, lr_drop=2
            )
        )
    dropped = train(
        config(tiny_root, card_path, tmp_path, out="halves", epochs=3, augment=True, resume=True, lr_drop=3)
    )
    straight3 = train(
        config(tiny_root, card_path, tmp_path, out="straight3", epochs=3, augment=True, lr_drop=3)
    )
    assert [r["train_loss"] for r in dropped.history] == [r["train_loss"] for r in straight3.history]
    assert dropped.card.provenance["recipe"]["lr_drop"] == 3
    assert TrainConfig(root=".", model="m", out="o", lr=1e-3, lr_drop=3).lr_until(4) == [
        1e-3,
        1e-3,
        1e-4,
        1e-4,
    ]


def test_cancel_stops_between_steps_and_keeps_the_checkpoint(tiny_root, card_path, tmp_path):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 5  # a few steps into epoch 2

    result = train(config(tiny_root, card_path, tmp_path, out="cancelled", epochs=3), cancel=cancel)
    assert result.cancelled and result.card is None and [r["epoch"] for r in result.history] == [1]
    assert result.checkpoint.is_file() and not (tmp_path / "zoo" / "cancelled.yaml").exists()


def test_labels_from_a_store_snapshot_are_used_and_recorded(tiny_root, card_path, tmp_path):
    ds = ThaliaDataset(tiny_root)
    pair = next(p for p in ds.pairs(split="train") if schema.is_positive(ds.annotation(p)))
    store = AnnotationStore(tmp_path / "store", dataset=ds)
    ann = store.read_merged(pair)
    empty = {m: np.zeros_like(a) for m, a in ann.masks.items()}
    record = {
        **ann.record,
        "label": [schema.Label.NON_DEFORMATION.value],
        "activity_type": [],
        "intensity_level": [],
        "phase": schema.Phase.REST.value,
        "is_crowd": 0,
    }
    snapshot = store.save_pair(pair, empty, record, author="ana", message="not deformation", base=ann.version)
    store.tag("labels-v1", snapshot)
    spec = f"{tmp_path / 'store'}@labels-v1"
    labels = Labels.from_spec(ds, spec)
    assert labels.corrected == {pair} and not labels.is_positive(pair) and Labels(ds).is_positive(pair)
    result = train(config(tiny_root, card_path, tmp_path, out="relabelled", epochs=1, store=spec))
    recorded = result.card.provenance["data_snapshot"]["labels"]
    assert recorded == {"store": str(tmp_path / "store"), "ref": "labels-v1", "snapshot": snapshot}
    assert parse_store_spec("s3://bucket/x@v2") == ("s3://bucket/x", "v2")
    with pytest.raises(Exception, match="no version 'nope'"):
        Labels.from_spec(ds, f"{tmp_path / 'store'}@nope")


def test_a_fine_tune_records_its_parents_labels(trained, tiny_root, tmp_path):
    parent, *_ = trained
    child = train(
        config(tiny_root, parent.card_path, tmp_path, out="child", epochs=1, eval_seeds=(), calibrate=False)
    )
    grandchild = train(
        config(
            tiny_root, child.card_path, tmp_path, out="grandchild", epochs=1, eval_seeds=(), calibrate=False
        )
    )
    prov = grandchild.card.provenance
    assert prov["parent"] == "child" and [a["name"] for a in prov["lineage"]] == ["child", "trained"]
    assert prov["lineage"][1]["data_snapshot"] == {"root": str(tiny_root), "labels": "source"}
    assert ModelZoo([tmp_path / "zoo"]).get("grandchild").provenance["lineage"] == prov["lineage"]


def test_no_positive_in_the_train_split_is_a_clear_error(tiny_root, card_path, tmp_path):
    root = tmp_path / "negatives"
    shutil.copytree(tiny_root, root)
    records = json.loads((root / schema.ANNOTATIONS_FILE).read_text())
    for rec in records.values():
        rec["label"] = [schema.Label.NON_DEFORMATION.value]
    (root / schema.ANNOTATIONS_FILE).write_text(json.dumps(records))
    with pytest.raises(InputError, match=r"train split .* has no positive sample"):
        train(config(root, card_path, tmp_path))


# ----------------------------------------------------------------------------------- evaluate
def test_evaluate_gives_table_4(trained, tiny_root):
    result, *_ = trained
    ev = evaluate(str(tiny_root), str(result.card_path), split="val", seeds=(0, 1), device="cpu")
    assert ev.samples == 12 and ev.positives > 0 and ev.crop == 160 and len(ev.per_seed) == 2
    table = ev.table()
    for row in ("Precision", "Recall", "F1", "IoU", "seed 0", "seed 1", "mean ± std"):
        assert row in table
    for key in ("precision", "recall", "f1", "iou"):
        assert 0 <= ev.summary[key]["mean"] <= 1
    assert ev.to_dict()["iou"]["mean"] == round(ev.summary["iou"]["mean"], 4)


def test_cli_train_and_evaluate(tiny_root, card_path, tmp_path, capsys, trained):
    code = main(
        [
            "train",
            str(tiny_root),
            "--model",
            str(card_path),
            "--out",
            "cli-model",
            "--zoo",
            str(tmp_path),
            "--epochs",
            "1",
            "--crop",
            str(CROP),
            "--batch-size",
            "4",
            "--lr",
            "0.003",
            "--lr-drop",
            "5",
            "--no-augment",
            "--keep-threshold",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--eval-seeds",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "epoch 1/1: train loss" in out and "cli-model.yaml" in out
    card = ModelZoo([tmp_path]).get("cli-model")
    assert card.provenance["command"].startswith(
        f"thalia-viewer train {tiny_root} --model {card_path} --out cli-model"
    )
    assert "--lr-drop 5" in card.provenance["command"] and card.provenance["recipe"]["lr_drop"] == 5
    assert card.provenance["recipe"]["calibrate"] is False and "threshold" not in card.provenance
    assert card.threshold == 0.5 and "val_at_threshold" not in card.metrics  # the parent's, kept
    result, *_ = trained
    code = main(
        ["evaluate", str(tiny_root), "--model", str(result.card_path), "--split", "val", "--seeds", "0"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "IoU" in out and "seed 0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "{root}", "--model", "no-such-model"], "no model 'no-such-model'"),
        (["evaluate", "{root}", "--model", "{card}", "--store", "{root}/nowhere@v1"], "does not exist"),
        (["train", "{root}", "--model", "{card}", "--out", "x", "--crop", "512"], "does not fit frame"),
        (
            [
                "train",
                "{root}",
                "--model",
                "{card}",
                "--out",
                "x",
                "--crop",
                "64",
                "--resume",
                "--checkpoint-dir",
                "{root}/none",
            ],
            "no checkpoint to resume",
        ),
        (["train", "{root}", "--model", "{card}", "--out", "bad name!"], "not usable as a card name"),
        (
            ["train", "{root}", "--model", "{card}", "--out", "x", "--lr-drop", "1"],
            "lr_drop must be an epoch >= 2",
        ),
    ],
)
def test_cli_errors_are_one_paragraph(tiny_root, card_path, capsys, argv, message):
    argv = [a.format(root=tiny_root, card=card_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
