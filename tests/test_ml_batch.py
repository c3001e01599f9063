"""Dataset-wide prediction on Dask: equals the single-process result, resumes, and the `predict` CLI.

The Dask runs use a ``LocalCluster(n_workers=2, processes=False)``: two worker threads in the test
process. Worker processes work too (the CLI's default) but each imports torch, which takes longer than
the whole test on a 2-core machine.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import xarray as xr

from thalia_viewer.cli import main
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.ml import batch
from thalia_viewer.ml.errors import PredictionOutputError
from thalia_viewer.ml.inference import Predictor
from thalia_viewer.ml.metrics import Confusion, aggregate
from thalia_viewer.ml.zoo import PACKAGED_ZOO, ModelZoo, build_model, load_card, write_card

# distributed looks up this host's public IP (a UDP connect to 8.8.8.8), which the test network guard refuses
pytestmark = pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """A user zoo with the default model's card and random (seeded) weights."""
    folder = tmp_path_factory.mktemp("zoo")
    card = load_card(PACKAGED_ZOO / "thalia-small.yaml")
    torch.manual_seed(3)
    model = build_model(card)
    with torch.no_grad():  # a biased head, so some pixels cross the threshold and scores are not trivial
        for p in model.segmentation_head.parameters():
            p.add_(0.05)
    write_card(card, folder, model=model)
    return folder


def _card(zoo_dir):
    return ModelZoo([zoo_dir]).get("thalia-small")


def test_dask_prediction_equals_single_process_and_resumes(tiny_root, zoo_dir, tmp_path):
    card = _card(zoo_dir)
    ds = ThaliaDataset(tiny_root)
    frame_id = ds.frames[0]
    out = tmp_path / "out"
    seen: list[tuple[int, int, str]] = []
    result = batch.predict_dataset(
        tiny_root,
        card,
        frames=[frame_id],
        split="test",
        out=out,
        n_workers=2,
        processes=False,
        progress=lambda done, total, key: seen.append((done, total, key)),
    )
    frame = ds.frame(frame_id)
    pairs = [p for p in frame.pairs if p.split == "test"]
    assert seen[0] == (0, len(pairs), "") and seen[-1][:2] == (len(pairs), len(pairs))
    assert result["predicted"] == len(pairs) and not result["failed"]

    store = xr.open_zarr(out / f"{frame_id}.zarr")  # a plain xr.open_zarr reads the output
    predictor = Predictor(card, device="cpu")
    confusions = []
    for pair in pairs:
        expected = predictor.predict_pair(frame, pair)
        got = store["deformation_mask"].sel(
            primary_date=np.datetime64(f"{pair.primary[:4]}-{pair.primary[4:6]}-{pair.primary[6:]}"),
            secondary_date=np.datetime64(f"{pair.secondary[:4]}-{pair.secondary[4:6]}-{pair.secondary[6:]}"),
        )
        np.testing.assert_array_equal(got.values, expected.mask)
        assert result["pairs"][pair.key]["metrics"] == pytest.approx(expected.metrics)
        confusions.append(expected.confusion)
    assert result["aggregate"]["micro"] == pytest.approx(aggregate(confusions)["micro"])
    assert json.loads((out / "metrics.json").read_text())["aggregate"]["count"] == len(pairs)
    assert sum(c.tp + c.fp for c in confusions) > 0  # the model predicts something

    # resume: only the pair whose marker is gone runs again; the others are left alone
    redo = pairs[2]
    marker = out / "pairs" / frame_id / f"{redo.name}.json"
    marker.unlink()
    others = {p: p.stat().st_mtime_ns for p in (out / "pairs").rglob("*.json")}
    seen.clear()
    again = batch.predict_dataset(
        tiny_root,
        card,
        frames=[frame_id],
        split="test",
        out=out,
        n_workers=2,
        processes=False,
        progress=lambda d, t, k: seen.append((d, t, k)),
    )
    assert seen == [(len(pairs) - 1, len(pairs), ""), (len(pairs), len(pairs), redo.key)]
    assert marker.exists() and all(p.stat().st_mtime_ns == t for p, t in others.items())
    assert again["aggregate"] == result["aggregate"]
    assert again["pairs"][redo.key]["metrics"] == pytest.approx(
        Confusion.from_dict(result["pairs"][redo.key]["metrics"]).to_dict()
    )


def test_time_series_models_predict_each_sequence_into_its_last_pair(tiny_root, tmp_path):
    import dataclasses

    card = dataclasses.replace(
        load_card(PACKAGED_ZOO / "thalia-small.yaml"), name="t3", timesteps=3, weights=None, path=None
    )
    torch.manual_seed(4)
    write_card(card, tmp_path / "zoo", model=build_model(card))
    card = ModelZoo([tmp_path / "zoo"]).get("t3")
    ds = ThaliaDataset(tiny_root)
    frame = ds.frame(ds.frames[1])
    units = batch.plan_units(ds, card, [frame.frame_id], split="val")
    assert units and all(len(u.pairs) == 3 and len({p.primary for p in u.pairs}) == 1 for u in units)
    assert all(u.pairs[-1].split == "val" and u.cell == frame.cell(u.pairs[-1]) for u in units)
    out = tmp_path / "out"
    result = batch.predict_dataset(
        tiny_root, card, frames=[frame.frame_id], split="val", out=out, n_workers=2, processes=False
    )
    assert result["predicted"] == len(units) and not result["failed"]
    stored = xr.open_zarr(out / f"{frame.frame_id}.zarr")["deformation_mask"].values
    predictor = Predictor(card, device="cpu")
    for unit in units[:3]:
        expected = predictor.predict_pair(frame, unit.pairs)
        np.testing.assert_array_equal(stored[unit.cell], expected.mask)
        assert result["pairs"][unit.key]["pairs"] == [p.key for p in unit.pairs]


def test_output_of_another_model_is_not_mixed(tiny_root, zoo_dir, tmp_path):
    out = tmp_path / "o"
    (out).mkdir()
    (out / "run.json").write_text(json.dumps({"model": "other", "weights": None, "root": str(tiny_root)}))
    with pytest.raises(PredictionOutputError, match="holds predictions of another run"):
        batch.predict_dataset(tiny_root, _card(zoo_dir), out=out, processes=False)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_cli(capsys, tiny_root, zoo_dir, tmp_path):
    frame = ThaliaDataset(tiny_root).frames[1]
    code, out, err = run(
        capsys,
        "predict",
        tiny_root,
        "--model",
        "thalia-small",
        "--zoo",
        zoo_dir,
        "--frame",
        frame,
        "--split",
        "val",
        "--threads",
        "--workers",
        "2",
        "--out",
        tmp_path / "p",
    )
    assert code == 0, err
    assert "predict: 6/6 pairs" in out and "labelled pairs: precision" in out and "metrics.json" in out
    assert (tmp_path / "p" / f"{frame}.zarr").is_dir()


def test_a_failed_pair_is_reported_and_retried_alone(capsys, tiny_root, zoo_dir, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(tiny_root, root)
    frame = ThaliaDataset(root).frame(ThaliaDataset(root).frames[0])
    pairs = [p for p in frame.pairs if p.split == "test"]
    bad = pairs[1]
    chunk = root / f"{frame.frame_id}.zarr" / "insar_difference" / "{}.{}.0.0".format(*frame.cell(bad))
    good_bytes = chunk.read_bytes()
    chunk.write_bytes(b"\x00garbage" * 16)
    argv = (
        "predict",
        root,
        "--model",
        "thalia-small",
        "--zoo",
        zoo_dir,
        "--frame",
        frame.frame_id,
        "--split",
        "test",
        "--threads",
        "--workers",
        "2",
        "--out",
        tmp_path / "p",
    )
    code, out, err = run(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    assert f"1 pair(s) failed ({bad.key}: " in err and "Run again to retry them." in err
    metrics = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert list(metrics["failed"]) == [bad.key] and metrics["predicted"] == len(pairs) - 1
    markers = {p.stem for p in (tmp_path / "p" / "pairs" / frame.frame_id).glob("*.json")}
    assert markers == {p.name for p in pairs if p != bad}
    chunk.write_bytes(good_bytes)  # repaired: a second run predicts that pair only
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert f"predict: {len(pairs)}/{len(pairs)} pairs" in out
    metrics = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert metrics["failed"] == {} and metrics["predicted"] == len(pairs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], r"no model 'nope' in the zoo .*Models: deeplabv3-resnet50-atmospheric-t1"),
        (["--model", "unet-resnet50-base-t1"], r"has no weights .*thalia-viewer train .*--weights PATH"),
        (
            ["--model", "unet-resnet50-base-t1", "--weights", "{tmp}/nothing.pt"],
            r"weights file .*nothing.pt does not exist",
        ),
        (["--model", "ghost", "--zoo", "{tmp}/zoo"], r"weights file of model 'ghost' does not exist"),
        (
            ["--model", "thalia-small", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
            r"--scheduler ADDRESS or --workers N",
        ),
    ],
)
def test_predict_cli_errors_without_traceback(capsys, tiny_root, tmp_path, args, message):
    import dataclasses

    from thalia_viewer.ml.zoo import ModelZoo, write_card

    ghost = dataclasses.replace(
        ModelZoo().get("thalia-small"), name="ghost", weights="ghost.safetensors", path=None
    )
    write_card(ghost, tmp_path / "zoo")  # a card whose weights file was never written
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = run(capsys, "predict", tiny_root, "--out", tmp_path / "o", *args)
    assert code == 2
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_predict_cli_bad_root(capsys, tmp_path):
    code, _, err = run(
        capsys, "predict", tmp_path / "missing", "--model", "thalia-small", "--out", tmp_path / "o"
    )
    assert code == 2 and "does not exist" in err and "Traceback" not in err
