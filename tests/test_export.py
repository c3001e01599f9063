"""Export of a corrected dataset: Thalia layout, plain xarray / project reader / validator, polygons, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image, ImageDraw
from scipy import ndimage

from tests import realistic
from tests.test_store import ACT, DEF, INT, erase, paint
from thalia_viewer.cli import main
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.annotations.export import export_dataset
from thalia_viewer.core.annotations.vectorize import mask_to_polygons
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.editing.footprints import polygon_footprint
from thalia_viewer.core.errors import AnnotationStoreError
from thalia_viewer.core.validate import validate


def rasterize(polygons: list[list[int]], shape: tuple[int, int]) -> np.ndarray:
    """Polygons filled with PIL (outline included), as a boolean (rows, columns) raster."""
    image = Image.new("1", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(image)
    for polygon in polygons:
        draw.polygon(polygon, fill=1, outline=1)
    return np.array(image)


def fill(polygons: list[list[float]], shape: tuple[int, int]) -> np.ndarray:
    """Flat ``[x0, y0, ...]`` polygons in cube pixels filled by the centre-inside rule, as a boolean raster."""
    out = np.zeros(shape, bool)
    for flat in polygons:
        xy = np.asarray(flat, dtype=float).reshape(-1, 2)
        footprint = polygon_footprint(xy[:, ::-1], shape)
        if footprint is not None:
            out[footprint.box.slices] |= footprint.covered
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def tree_digest(root: Path) -> str:
    """A digest of every file's path and bytes under ``root``."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cell(ds: xr.Dataset, name: str, pair) -> np.ndarray:
    day = lambda d: np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}")  # noqa: E731
    return ds[name].sel({schema.PRIMARY: day(pair.primary), schema.SECONDARY: day(pair.secondary)}).values


def test_export_round_trip(tiny_root, tmp_path):
    digest = tree_digest(tiny_root)
    source = ThaliaDataset(tiny_root)
    store = AnnotationStore(tmp_path / "store", dataset=source)
    frame = source.frame(source.frames[0])
    edited, dropped = frame.positives[0], frame.positives[1]
    ann = store.read_merged(edited)
    masks = paint(
        erase(ann.masks, slice(0, 160), slice(0, 192)), slice(20, 70), slice(30, 90), activity=3, intensity=1
    )
    masks = paint(masks, slice(100, 130), slice(120, 180), activity=5)
    record = {
        **ann.record,
        "caption": "sill and quake, redrawn",
        "activity_type": ["Sill", "Earthquake"],
        "intensity_level": ["Low", "None"],
        "label": ["Deformation", "Earthquake"],
        "is_crowd": 1,
    }
    store.save_pair(edited, masks, record, "ana", "redraw", base=None)
    store.tag("v1")
    gone = store.read_merged(dropped)
    store.save_pair(
        dropped, gone.masks, {**gone.record, "corrupted": 1}, "bob", "corrupted after all", base=None
    )

    summary = export_dataset(tiny_root, store, tmp_path / "out")
    out = tmp_path / "out"
    assert (
        summary.pairs == 2
        and summary.frames == 2
        and sorted(p.name for p in out.iterdir())
        == sorted([f"{f}.zarr" for f in source.frames] + [schema.ANNOTATIONS_FILE, schema.QUALITY_FILE])
    )
    assert tree_digest(tiny_root) == digest  # the source was never written

    plain = xr.open_zarr(out / f"{frame.frame_id}.zarr")  # Zarr 2, consolidated, like the real cubes
    original = xr.open_zarr(tiny_root / f"{frame.frame_id}.zarr")
    for name in schema.MASKS:
        assert np.array_equal(cell(plain, name, edited), masks[name])
    for pair in frame.pairs:
        if pair not in (edited, dropped):
            for name in (*schema.MASKS, schema.PHASE):
                np.testing.assert_array_equal(cell(plain, name, pair), cell(original, name, pair))

    exported = ThaliaDataset(out)
    got = exported.frame(frame.frame_id)
    layers = got.read(edited, ["deformation", "activity", "intensity"])
    assert np.array_equal(layers["deformation"], masks[DEF]) and np.array_equal(
        layers["activity"], masks[ACT]
    )
    assert np.array_equal(layers["intensity"], masks[INT])
    rec = exported.annotation(edited)
    # the source file has no polygons: the edited record's are in cube pixels, under their own key
    assert (
        schema.POLYGONS_FIELD not in rec
        and {k: v for k, v in rec.items() if k != schema.CUBE_POLYGONS_FIELD} == record
    )
    cube_px = rec[schema.CUBE_POLYGONS_FIELD]
    assert len(cube_px) == 2 and all(len(p) >= 6 and len(p) % 2 == 0 for p in cube_px)
    assert iou(fill(cube_px, frame.shape), masks[DEF] > 0) > 0.95
    assert list(rec) == [
        *list(record)[:-2],
        schema.CUBE_POLYGONS_FIELD,
        *list(record)[-2:],
    ]  # before is_crowd
    assert [c.polygons_key for c in summary.changed] == [schema.CUBE_POLYGONS_FIELD] * 2
    assert "cube pixels" in str(summary)
    assert exported.annotation(dropped)["corrupted"] == 1 and dropped not in got.pairs
    assert len(got.pairs) == len(frame.pairs) - 1
    assert validate(str(out)).ok, validate(str(out)).summary()

    export_dataset(tiny_root, store, tmp_path / "v1", version="v1")  # a release: before bob's correction
    assert ThaliaDataset(tmp_path / "v1").annotation(dropped)["corrupted"] == 0


def test_export_of_real_style_cubes_adds_the_project_masks(tmp_path):
    root = realistic.write_real_style_root(tmp_path / "root", float_masks=True)
    source = ThaliaDataset(root)
    frame = source.frame(realistic.FRAME)
    store = AnnotationStore(tmp_path / "store", dataset=source)
    pair = frame.positives[0]
    ann = store.read_merged(pair)
    masks = paint(
        erase(ann.masks, slice(0, 64), slice(0, 64)), slice(5, 20), slice(5, 30), activity=2, intensity=3
    )
    store.save_pair(pair, masks, ann.record, "ana", "dyke", base=ann.version)
    export_dataset(root, store, tmp_path / "out")
    plain = xr.open_zarr(tmp_path / "out" / f"{realistic.FRAME}.zarr")
    assert {schema.ACTIVITY_MASK, schema.INTENSITY_MASK} <= set(plain.data_vars)
    assert plain[schema.ACTIVITY_MASK].dims == plain[schema.DEFORMATION_MASK].dims
    for name in schema.MASKS:
        assert np.array_equal(cell(plain, name, pair).astype(np.uint8), masks[name])
    other = frame.positives[1]  # untouched: activity / intensity derived from its record (Mogi, Medium)
    blob = cell(plain, DEF, other) == 1
    assert (
        blob.any()
        and (cell(plain, ACT, other)[blob] == 1).all()
        and (cell(plain, INT, other)[blob] == 2).all()
    )
    assert validate(str(tmp_path / "out")).ok


def test_polygons_cover_the_mask(tmp_path):
    rng = np.random.default_rng(3)
    for sigma in (1.5, 3, 6):
        mask = ndimage.binary_fill_holes(ndimage.gaussian_filter(rng.random((90, 110)), sigma) > 0.52)
        polygons = mask_to_polygons(mask)
        assert len(polygons) == ndimage.label(mask, structure=np.ones((3, 3)))[1]
        assert iou(rasterize(polygons, mask.shape), mask) > 0.99
    assert mask_to_polygons(np.zeros((5, 5))) == []
    assert mask_to_polygons(np.eye(4, dtype=np.uint8)) == [[0, 0, 3, 3, 3, 3]]  # a line: one region, 3 points
    square = np.zeros((6, 6), np.uint8)
    square[1:4, 2:5] = 2
    assert mask_to_polygons(square) == [[2, 1, 4, 1, 4, 3, 2, 3]]  # x, y of the corners, clockwise


def test_export_refuses_to_overwrite_or_write_into_the_source(tiny_root, tmp_path):
    store = AnnotationStore(tmp_path / "store")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="already exists"):
        export_dataset(tiny_root, store, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    with pytest.raises(AnnotationStoreError, match="source cubes are never written"):
        export_dataset(tiny_root, store, tiny_root / "export")


def test_an_interrupted_export_leaves_the_previous_one_whole(tiny_root, tmp_path, monkeypatch):
    store = AnnotationStore(tmp_path / "store")
    out = tmp_path / "out"
    export_dataset(tiny_root, store, out)
    before = tree_digest(out)
    steps = []

    def kill_on_the_second_frame(message: str) -> None:
        steps.append(message)
        if len(steps) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_dataset(tiny_root, store, out, overwrite=True, progress=kill_on_the_second_frame)
    assert tree_digest(out) == before
    leftovers = lambda: sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out"))  # noqa: E731
    assert leftovers() == []  # no partial copy left behind
    export_dataset(tiny_root, store, out, overwrite=True)
    assert tree_digest(out) == before and leftovers() == []

    # killed while swapping the new copy in: the previous export is still whole, beside ``out``
    rename = Path.rename

    def killed_moving_the_copy_in(self, target):
        if self.name == ".out.partial":
            raise KeyboardInterrupt
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", killed_moving_the_copy_in)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(tiny_root, store, out, overwrite=True)
    assert tree_digest(tmp_path / ".out.old") == before


def test_cli_export(capsys, tiny_root, tmp_path):
    source = ThaliaDataset(tiny_root)
    store = AnnotationStore(tmp_path / "store", dataset=source)
    pair = source.frame(source.frames[0]).positives[0]
    ann = store.read_merged(pair)
    store.save_pair(
        pair,
        paint(ann.masks, slice(0, 9), slice(0, 9)),
        {**ann.record, "caption": "cli"},
        "ana",
        "x",
        base=None,
    )
    store.tag("release")
    code = main(
        ["export", str(tiny_root), str(tmp_path / "out"), "--store", store.location, "--tag", "release"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 corrected pairs" in out
    records = json.loads((tmp_path / "out" / schema.ANNOTATIONS_FILE).read_text())
    assert [r["caption"] for r in records.values() if schema.CUBE_POLYGONS_FIELD in r] == ["cli"]
    for argv, expected in (
        (
            ["export", str(tiny_root), str(tmp_path / "o2"), "--store", str(tmp_path / "nowhere")],
            "does not exist",
        ),
        (
            ["export", str(tiny_root), str(tmp_path / "o3"), "--store", store.location, "--tag", "nope"],
            "no version 'nope'",
        ),
        (["export", str(tiny_root), str(tmp_path / "out"), "--store", store.location], "already exists"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
