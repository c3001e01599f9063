"""What the project writes in Zarr 2 reads the same under zarr-python 2 as under zarr 3; `repair` mends old roots.

zarr-python 2.18.3 reads a chunk that is not on disk, in an array whose fill value is null, as
uninitialised memory. These tests check on disk (no zarr 2 needed) that every valid pair's chunks are
there and decode to what zarr 3 reads: they fail on the writer that skipped all-zero chunks.
``make compat`` reads the same stores with zarr-python 2 itself (``test_compat_with_zarr2`` below).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import xarray as xr

from tests import realistic
from tests.conftest import TINY
from thalia_viewer.cli import main
from thalia_viewer.core import schema, zarr_write
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.annotations.export import export_dataset
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.repair import (
    ReadOnlyRootError,
    find_unwritten_chunks,
    repair_root,
    unwritten_chunk_problems,
)
from thalia_viewer.core.synth.writer import write_dataset
from thalia_viewer.core.validate import validate

SMALL = {"n_frames": 1, "shape": (128, 128), "n_dates": 8, "seed": 3}
COMPAT = Path(__file__).parent / "compat"
SIDE_PYTHON = Path(__file__).parents[1] / "build" / "compat-venv" / "bin" / "python"


# ------------------------------------------------------------------------------------------ helpers
def zarray(store: Path, name: str) -> dict:
    return json.loads((store / name / ".zarray").read_text())


def chunk_values(store: Path, name: str, key: str) -> np.ndarray:
    """A chunk decoded from its file as zarr-python 2 does (compressor from ``.zarray``), full chunk shape."""
    meta = zarray(store, name)
    raw = (store / name / key).read_bytes()
    if meta["compressor"] is not None:
        raw = numcodecs.get_codec(meta["compressor"]).decode(raw)
    return np.frombuffer(raw, dtype=meta["dtype"]).reshape(meta["chunks"])


def pair_chunk_keys(store: Path, name: str, cell: tuple[int, int]) -> list[str]:
    """Keys of the chunks that one pair cell of a (date, date, Y, X) array reads."""
    meta = zarray(store, name)
    sep = meta.get("dimension_separator", ".")
    ny = -(-meta["shape"][2] // meta["chunks"][2])
    nx = -(-meta["shape"][3] // meta["chunks"][3])
    i, j = cell[0] // meta["chunks"][0], cell[1] // meta["chunks"][1]
    return [sep.join(map(str, (i, j, a, b))) for a in range(ny) for b in range(nx)]


def assert_pair_on_disk(
    store: Path, name: str, cell: tuple[int, int], expected: np.ndarray | None = None
) -> None:
    """Every chunk of the cell is a file; its decoded values equal ``expected`` (the pair's plane) if given."""
    for key in pair_chunk_keys(store, name, cell):
        assert (store / name / key).is_file(), (
            f"{store.name}/{name}: chunk {key} of cell {cell} is not on disk"
        )
    if expected is not None:
        meta = zarray(store, name)
        cy, cx = meta["chunks"][2:]
        for key in pair_chunk_keys(store, name, cell):
            a, b = map(int, key.replace("/", ".").split(".")[2:])
            part = expected[a * cy : (a + 1) * cy, b * cx : (b + 1) * cx]
            np.testing.assert_array_equal(
                chunk_values(store, name, key)[0, 0, : part.shape[0], : part.shape[1]], part
            )


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def masks_as_zarr3_reads(root: Path) -> dict[str, np.ndarray]:
    out = {}
    for store in sorted(root.glob("*.zarr")):
        with xr.open_zarr(store) as ds:
            for name in schema.MASKS:
                if name in ds:
                    out[f"{store.name}/{name}"] = ds[name].values
    return out


@pytest.fixture
def old_settings(monkeypatch):
    """Write as earlier versions did: zarr 3's default, which skips chunks that are all fill value."""
    monkeypatch.setattr(zarr_write, "array_config", lambda zarr_format: {"write_empty_chunks": False})


# ------------------------------------------------------------------------------------------ writers
def test_synth_writes_every_pairs_mask_chunks(tiny_root):
    ds = ThaliaDataset(tiny_root)
    negatives = 0
    for frame_id in ds.frames:
        frame = ds.frame(frame_id)
        store = tiny_root / f"{frame_id}.zarr"
        for name in schema.MASKS:
            assert zarray(store, name)["fill_value"] is None  # xarray keeps code 0 as 0 (no _FillValue)
        for pair in frame.pairs:
            masks = frame.read(pair, ["deformation", "activity", "intensity"])
            for name, key in zip(schema.MASKS, ("deformation", "activity", "intensity"), strict=True):
                assert_pair_on_disk(store, name, frame.cell(pair), masks[key])
            negatives += not masks["deformation"].any()
        phase = zarray(store, schema.PHASE)
        assert phase["fill_value"] == "NaN"  # cells without a pair read NaN under both
    assert negatives > 0  # the all-zero case the old writer skipped was exercised
    assert find_unwritten_chunks(ds) == []


def test_synth_zarr3_is_said_to_be_unreadable_by_the_official_loader(capsys):
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "official loader cannot read it" in text


def test_cleared_pair_export_has_zero_chunks_on_disk(tiny_root, tmp_path):
    source = ThaliaDataset(tiny_root)
    frame = source.frame(source.frames[0])
    cleared = frame.positives[0]
    store = AnnotationStore(tmp_path / "store", dataset=source)
    ann = store.read_merged(cleared)
    zeros = {name: np.zeros_like(values) for name, values in ann.masks.items()}
    record = {
        **ann.record,
        "label": ["Non_Deformation"],
        "activity_type": [],
        "intensity_level": [],
        "phase": "Rest",
    }
    store.save_pair(cleared, zeros, record, "ana", "false positive", base=None)
    export_dataset(tiny_root, store, tmp_path / "out")

    out = tmp_path / "out" / f"{frame.frame_id}.zarr"
    for name in schema.MASKS:
        assert zarray(out, name)["fill_value"] is None
        # the file is there and holds zeros: zarr-python 2 cannot fall back on uninitialised memory
        assert_pair_on_disk(out, name, frame.cell(cleared), np.zeros(frame.shape, np.uint8))
    with xr.open_zarr(out) as ds:
        assert ds[schema.DEFORMATION_MASK].dtype == np.uint8
        assert (
            not ds[schema.DEFORMATION_MASK]
            .isel(primary_date=frame.cell(cleared)[0], secondary_date=frame.cell(cleared)[1])
            .values.any()
        )


def test_export_of_a_real_style_root_writes_the_added_masks_for_every_pair(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "root")
    source = ThaliaDataset(root)
    negative = next(
        p for p in source.frame(realistic.FRAME).pairs if p not in source.frame(realistic.FRAME).positives
    )
    cell = source.frame(realistic.FRAME).cell(negative)
    store = root / f"{realistic.FRAME}.zarr"
    for key in pair_chunk_keys(store, schema.DEFORMATION_MASK, cell):  # a source gap, as old writers left
        (store / schema.DEFORMATION_MASK / key).unlink()
    export_dataset(root, AnnotationStore(tmp_path / "store", dataset=source), tmp_path / "out")
    frame = ThaliaDataset(tmp_path / "out").frame(realistic.FRAME)
    out = tmp_path / "out" / f"{realistic.FRAME}.zarr"
    for pair in frame.pairs:
        values = frame.read(pair, ["deformation", "activity", "intensity"])
        for name, key in zip(schema.MASKS, ("deformation", "activity", "intensity"), strict=True):
            assert_pair_on_disk(out, name, frame.cell(pair), values[key].astype(zarray(out, name)["dtype"]))
    # the source's gap was mended in the copy, not in place
    assert [p.sample for p in find_unwritten_chunks(source)] == [negative.key]
    assert not find_unwritten_chunks(ThaliaDataset(tmp_path / "out"))


@pytest.fixture(scope="module")
def silent_card(tmp_path_factory):
    """The default model's card with weights whose head never fires: every prediction is all zeros."""
    import torch

    from thalia_viewer.ml.zoo import PACKAGED_ZOO, ModelZoo, build_model, load_card, write_card

    folder = tmp_path_factory.mktemp("zoo")
    card = load_card(PACKAGED_ZOO / "thalia-small.yaml")
    model = build_model(card)
    with torch.no_grad():
        for name, p in model.segmentation_head.named_parameters():
            p.fill_(-100.0 if name.endswith("bias") else 0.0)
    write_card(card, folder, model=model)
    return ModelZoo([folder]).get("thalia-small")


@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")
def test_batch_predictions_write_all_zero_chunks_and_repair_mends_old_ones(
    tiny_root, tmp_path, monkeypatch, silent_card
):
    from thalia_viewer.ml import batch

    card = silent_card
    frame_id = ThaliaDataset(tiny_root).frames[0]
    result = batch.predict_dataset(
        tiny_root, card, frames=[frame_id], split="test", out=tmp_path / "new", n_workers=1, processes=False
    )
    assert result["predicted"] > 0 and not result["failed"]
    frame = ThaliaDataset(tiny_root).frame(frame_id)
    cells = [frame.cell(p) for p in frame.pairs if p.split == "test"]
    store = tmp_path / "new" / f"{frame_id}.zarr"
    for cell in cells:
        assert_pair_on_disk(store, schema.DEFORMATION_MASK, cell, np.zeros(frame.shape, np.uint8))

    with monkeypatch.context() as m:  # the same run, written as earlier versions did
        m.setattr(zarr_write, "array_config", lambda zarr_format: {"write_empty_chunks": False})
        batch.predict_dataset(
            tiny_root,
            card,
            frames=[frame_id],
            split="test",
            out=tmp_path / "old",
            n_workers=1,
            processes=False,
        )
    old = tmp_path / "old" / f"{frame_id}.zarr"
    assert not any(
        (old / schema.DEFORMATION_MASK / k).exists()
        for k in pair_chunk_keys(old, schema.DEFORMATION_MASK, cells[0])
    )
    report = batch.repair_predictions(tmp_path / "old")
    repaired = {r.array: r.chunks for r in report.repaired}
    assert repaired[schema.DEFORMATION_MASK] == len(cells)
    assert repaired.get(schema.SPATIAL_REF, 1) == 1  # the scalar 0 that zarr 3 skipped as "empty"
    for cell in cells:
        assert_pair_on_disk(old, schema.DEFORMATION_MASK, cell, np.zeros(frame.shape, np.uint8))
    assert batch.repair_predictions(tmp_path / "old").repaired == []


# ------------------------------------------------------------------------------------------ repair
@pytest.fixture
def old_root(tmp_path, old_settings):
    """A root written with the old settings: negative pairs' mask chunks (and spatial_ref) not on disk."""
    root = tmp_path / "old"
    write_dataset(root, **TINY)  # type: ignore[arg-type]
    return root


def test_validate_names_the_array_a_pair_and_how_to_repair(old_root):
    ds = ThaliaDataset(old_root)
    found = find_unwritten_chunks(ds)
    names = {p.array for p in found}
    assert set(schema.MASKS) <= names
    first = next(p for p in found if p.array == schema.DEFORMATION_MASK)
    assert first.pairs > 0 and first.chunks >= first.pairs and first.sample.startswith(first.frame + "/")
    lines = unwritten_chunk_problems(ds)
    assert all("thalia-viewer repair ROOT" in line and "re-export" in line for line in lines)
    report = validate(str(old_root), read_data=False)
    assert not report.ok and any(
        schema.DEFORMATION_MASK in p and first.sample in p and "repair" in p for p in report.problems
    )


def test_repair_fixes_an_old_root_and_is_idempotent(old_root, capsys):
    before = masks_as_zarr3_reads(old_root)
    ds = ThaliaDataset(old_root)
    missing = sum(p.chunks for p in find_unwritten_chunks(ds))
    assert missing > 0

    assert main(["repair", str(old_root)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {missing} zero chunk(s)" in out and schema.DEFORMATION_MASK in out
    assert find_unwritten_chunks(ThaliaDataset(old_root)) == []
    after = masks_as_zarr3_reads(old_root)
    assert before.keys() == after.keys() and all(
        np.array_equal(before[k], after[k]) for k in before
    )  # zarr 3 sees no change
    for frame_id in ds.frames:
        frame = ds.frame(frame_id)
        store = old_root / f"{frame_id}.zarr"
        for pair in frame.pairs:
            masks = frame.read(pair, ["deformation"])
            assert_pair_on_disk(store, schema.DEFORMATION_MASK, frame.cell(pair), masks["deformation"])
    assert validate(str(old_root), read_data=False).ok

    state = digest(old_root)
    assert main(["repair", str(old_root)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert digest(old_root) == state
    assert not [p for p in old_root.iterdir() if ".repair-" in p.name]  # no staging left behind


def test_repair_never_overwrites_a_chunk(old_root):
    found = next(
        p for p in find_unwritten_chunks(ThaliaDataset(old_root)) if p.array == schema.DEFORMATION_MASK
    )
    store = Path(found.store)
    existing = {p.name: p.read_bytes() for p in (store / schema.DEFORMATION_MASK).iterdir()}
    repair_root(old_root)
    for name, data in existing.items():
        assert (store / schema.DEFORMATION_MASK / name).read_bytes() == data


def test_repair_refuses_read_only_and_non_thalia_roots(old_root, tmp_path, monkeypatch, capsys):
    state = digest(old_root)
    monkeypatch.setattr("thalia_viewer.core.repair.os.access", lambda path, mode: False)
    with pytest.raises(ReadOnlyRootError, match="not writable"):
        repair_root(old_root)
    assert digest(old_root) == state
    assert main(["repair", str(old_root)]) == 2
    assert "not writable" in capsys.readouterr().err
    monkeypatch.undo()

    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "empty", tmp_path / "nowhere"):
        with pytest.raises(ThaliaError):
            repair_root(bad)
        assert main(["repair", str(bad)]) == 2
        err = capsys.readouterr().err
        assert "error" in err and "Traceback" not in err
    with pytest.raises(ThaliaError, match="local folders only"):
        repair_root("http://127.0.0.1:9/root")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_repair_refuses_a_root_without_write_permission(old_root):
    state = digest(old_root)
    modes = {}
    for path in [old_root, *old_root.rglob("*")]:
        if path.is_dir():
            modes[path] = path.stat().st_mode
            path.chmod(0o555)
    try:
        with pytest.raises(ReadOnlyRootError):
            repair_root(old_root)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert digest(old_root) == state


# ------------------------------------------------------------------------------------------ compat
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")
@pytest.mark.skipif(not SIDE_PYTHON.exists(), reason="no side virtualenv (`make compat` creates it)")
@pytest.mark.skipif(os.environ.get("THALIA_COMPAT_RAN") == "1", reason="`make compat` just ran this check")
def test_compat_with_zarr2(tmp_path):
    """zarr-python 2.18.3 reads every pair of a synth root, a corrected export and predictions as we do."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.compat.check",
            "--python",
            str(SIDE_PYTHON),
            "--keep",
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[1],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 differ" in result.stdout and "differ;" in result.stdout
    shutil.rmtree(tmp_path / "w", ignore_errors=True)
