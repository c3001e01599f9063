"""Expert labels shaped like the real records survive editing and export (issue 19).

Roots made by ``synth --real-style``: several patterns per pair with their class lists, one polygon per
pattern in a coarser pixel frame than the cube (preview-PNG pixels), no activity / intensity rasters in the
cubes; with the polygons in ``annotations.json`` (the authors' per-pair files) or without (the merged file).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pytest
import xarray as xr
import zarr

from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.label_form import LabelForm
from thalia_viewer.app.views.legend import mask_legend_html
from thalia_viewer.cli import main
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, export_dataset
from thalia_viewer.core.annotations.export_records import _spans, annotations_text
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.editing import MaskClass, MaskEditor
from thalia_viewer.core.errors import InvalidEditError
from thalia_viewer.core.placement import (
    PolygonTransform,
    Status,
    estimate_fit,
    place,
    rasterize,
    record_polygons,
)
from thalia_viewer.core.record import record_update
from thalia_viewer.core.synth.realstyle import TRUTH_ATTR, RealStyle
from thalia_viewer.core.synth.writer import write_dataset
from thalia_viewer.core.validate import validate

TINY = {"n_frames": 2, "shape": (160, 192), "n_dates": 12, "seed": 7}
FRAME = "124D_05291_081406"


@pytest.fixture(scope="module")
def real_root(tmp_path_factory):
    """Real-style records with polygons in annotations.json (the per-pair files' layout). Read-only."""
    root = tmp_path_factory.mktemp("real") / "root"
    write_dataset(root, real_style=RealStyle(polygons=True), **TINY)
    return root


@pytest.fixture(scope="module")
def merged_root(tmp_path_factory):
    """The same records without polygons (the merged annotations.json's layout). Read-only."""
    root = tmp_path_factory.mktemp("merged") / "root"
    write_dataset(root, real_style=RealStyle(polygons=False), **TINY)
    return root


def two_pattern_pairs(dataset: ThaliaDataset, status: Status | None = None):
    """Pairs whose record lists two volcanic patterns of different classes, with their placement."""
    out = []
    for frame_id in dataset.frames:
        frame = dataset.frame(frame_id)
        for pair in frame.positives:
            kinds = frame.annotation(pair)["activity_type"]
            if len(kinds) == 2 and len(set(kinds)) == 2 and schema.EARTHQUAKE not in kinds:
                placed = frame.placement(pair)
                if status is None or placed.status is status:
                    out.append((pair, placed))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


def codes(name: str) -> int:
    return schema.class_by_name(schema.ACTIVITY_TYPES, name).code


# ------------------------------------------------------------------------------------------- the data
def test_real_style_roots_are_shaped_like_the_real_records(real_root, merged_root):
    records = json.loads((real_root / schema.ANNOTATIONS_FILE).read_text())
    multi = [r for r in records.values() if len(r["activity_type"]) > 1]
    assert len(multi) >= 4 and all(r["is_crowd"] == 1 for r in multi)
    for rec in records.values():
        assert list(rec) == [
            *schema.ANNOTATION_FIELDS[:-2],
            schema.POLYGONS_FIELD,
            *schema.ANNOTATION_FIELDS[-2:],
        ]
        if not schema.is_positive(rec):
            assert rec[schema.POLYGONS_FIELD] == []
        elif rec[schema.POLYGONS_FIELD]:
            assert len(rec[schema.POLYGONS_FIELD]) == len(rec["activity_type"])
            for polygon in rec[schema.POLYGONS_FIELD]:
                xy = np.asarray(polygon).reshape(-1, 2)
                assert 3 <= len(xy) <= 50 and all(isinstance(v, float) for v in polygon)
                assert xy.max() < 192 / 3  # preview-PNG pixels: a third of the cube's
    merged = json.loads((merged_root / schema.ANNOTATIONS_FILE).read_text())
    assert all(schema.POLYGONS_FIELD not in r for r in merged.values())
    assert [r["activity_type"] for r in merged.values()] == [r["activity_type"] for r in records.values()]
    for root in (real_root, merged_root):
        cube = xr.open_zarr(root / f"{FRAME}.zarr")
        assert (
            schema.DEFORMATION_MASK in cube
            and schema.ACTIVITY_MASK not in cube
            and schema.INTENSITY_MASK not in cube
        )
        assert validate(str(root)).ok, validate(str(root)).summary()


def test_the_frame_transform_is_found_from_the_polygons_and_reported(real_root, capsys):
    dataset = ThaliaDataset(real_root)
    for frame_id in dataset.frames:
        fit = dataset.frame(frame_id).polygon_fit
        truth = PolygonTransform(
            **zarr.open_group(str(real_root / f"{frame_id}.zarr"), mode="r").attrs[TRUTH_ATTR]
        )
        assert fit.known and fit.median_iou > 0.9, fit.summary()
        assert abs(fit.transform.sx / truth.sx - 1) < 0.02 and abs(fit.transform.sy / truth.sy - 1) < 0.02
        assert abs(fit.transform.tx - truth.tx) < 1.5 and abs(fit.transform.ty - truth.ty) < 1.5
    assert main(["placement", str(real_root), "--pairs"]) == 0
    out = capsys.readouterr().out
    assert "known" in out and "IoU median" in out and Status.PLACED.value in out


def test_placed_classes_are_the_simulated_ones(tmp_path):
    root = tmp_path / "truth"
    write_dataset(
        root, real_style=RealStyle(keep_rasters=True), **TINY
    )  # the simulated rasters stay: the truth
    dataset = ThaliaDataset(root)
    checked = 0
    for frame_id in dataset.frames:
        frame = dataset.frame(frame_id)
        fit = estimate_fit(frame)
        for pair in frame.positives:
            record = frame.annotation(pair)
            placed = place(frame.deformation(pair), record, fit)
            truth = frame.read(pair, ["activity", "intensity"])
            labelled = frame.deformation(pair) > 0
            if placed.status is Status.PLACED:
                checked += 1
                assert np.mean(placed.activity[labelled] == truth["activity"][labelled]) > 0.97
                assert np.mean(placed.intensity[labelled] == truth["intensity"][labelled]) > 0.97
            assert (
                not (placed.activity[labelled] == schema.UNIDENTIFIED_ACTIVITY).any()
                or "Unidentified" in record["activity_type"]
            )
    assert checked >= 4


def test_polygons_that_do_not_fit_or_are_missing_leave_the_classes_not_placed(real_root, merged_root):
    dataset = ThaliaDataset(merged_root)
    (pair, placed), *_ = two_pattern_pairs(dataset)
    assert placed.status is Status.NOT_PLACED and "no polygons" in placed.reason
    frame = dataset.frame(pair.frame)
    labelled = frame.deformation(pair) == 1
    layers = frame.read(pair, ["activity", "intensity"])
    assert (layers["activity"][labelled] == schema.UNPLACED_ACTIVITY).all()  # never Unidentified
    assert (layers["intensity"][labelled] == schema.UNPLACED_INTENSITY).all()
    assert "Not placed" in mask_legend_html("activity") and "Not placed" in mask_legend_html("intensity")

    real = ThaliaDataset(real_root)
    (pair, _), *_ = two_pattern_pairs(real, Status.PLACED)
    frame = real.frame(pair.frame)
    record = frame.annotation(pair)
    wrong = estimate_fit(frame)
    shifted = type(wrong)(
        wrong.frame,
        PolygonTransform(wrong.transform.sx, wrong.transform.sy, wrong.transform.tx + 60, wrong.transform.ty),
        wrong.ious,
    )
    moved = place(frame.deformation(pair), record, shifted)
    assert moved.status is Status.NOT_PLACED and "fit its mask poorly" in moved.reason
    assert (
        place(
            frame.deformation(pair),
            {**record, schema.POLYGONS_FIELD: record[schema.POLYGONS_FIELD][:1]},
            wrong,
        ).status
        is Status.NOT_PLACED
    )


# ------------------------------------------------------------------------------------------ editing
def _stroke_through(owner: np.ndarray, k: int) -> np.ndarray:
    """A horizontal stroke across the middle row of entry ``k``'s pixels, reaching past them on the left."""
    rows, cols = np.nonzero(owner == k)
    row = int(np.median(rows))
    on_row = cols[rows == row]
    return np.array([[row, on_row.min() - 3.0], [row, (on_row.min() + on_row.max()) / 2]])


def test_one_stroke_on_a_two_pattern_pair_keeps_both_patterns_classes(real_root, tmp_path):
    dataset = ThaliaDataset(real_root)
    store = AnnotationStore(tmp_path / "store", dataset=dataset)
    (pair, placed), *_ = two_pattern_pairs(dataset, Status.PLACED)
    source = store.read_merged(pair)
    kinds, levels = source.record["activity_type"], source.record["intensity_level"]
    owner = placed.owners()
    editor = MaskEditor(source.masks[schema.ACTIVITY_MASK], source.masks[schema.INTENSITY_MASK])
    assert editor.erase(_stroke_through(owner, 0), 2) is not None  # one eraser stroke through pattern 1
    update = record_update(source.record, source.masks, dict(source.record), editor.masks, source.placement)
    assert update.ok and not update.changes  # the patterns are still there, as the expert classed them
    store.save_pair(pair, editor.masks, update.record, "ana", "trim", base=source.version)
    saved = store.read_pair(pair)
    assert saved.record["activity_type"] == kinds and saved.record["intensity_level"] == levels
    for k, (kind, level) in enumerate(zip(kinds, levels, strict=True)):  # each pattern keeps its class
        mine = (owner == k) & (saved.masks[schema.DEFORMATION_MASK] > 0)
        assert mine.any() and (saved.masks[schema.ACTIVITY_MASK][mine] == codes(kind)).all()
        assert (
            saved.masks[schema.INTENSITY_MASK][mine]
            == schema.class_by_name(schema.INTENSITY_LEVELS, level).code
        ).all()

    # a second save from the saved version (owners matched by class): a new pattern far from both
    editor = MaskEditor(saved.masks[schema.ACTIVITY_MASK], saved.masks[schema.INTENSITY_MASK])
    far = next(c for c in ("Mogi", "Spheroid", "Sill", "Dyke") if c not in kinds)
    editor.brush(np.array([[150.0, 5.0], [150.0, 20.0]]), 2, MaskClass.from_names(far, "High"))
    update = record_update(saved.record, saved.masks, dict(saved.record), editor.masks)
    assert update.record["activity_type"] == [*kinds, far] and update.record["intensity_level"] == [
        *levels,
        "High",
    ]
    assert {c.field for c in update.changes} == {"activity_type", "intensity_level"}
    assert all("new pattern" in c.why for c in update.changes)


def test_edits_of_patterns_rewrite_only_those_patterns():
    shape = (100, 120)
    sill, dyke = codes("Sill"), codes("Dyke")
    activity, intensity = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    activity[10:30, 10:30], intensity[10:30, 10:30] = sill, 1
    activity[60:80, 60:100], intensity[60:80, 60:100] = dyke, 3
    record = {
        "label": ["Deformation"],
        "activity_type": ["Sill", "Dyke"],
        "intensity_level": ["Low", "High"],
        "is_crowd": 1,
    }
    deformation = schema.deformation_from_activity(activity)
    masks = {
        schema.DEFORMATION_MASK: deformation,
        schema.ACTIVITY_MASK: activity,
        schema.INTENSITY_MASK: intensity,
    }
    placed = place(deformation, record, None)  # no polygons: not placed
    assert placed.status is Status.NOT_PLACED and set(np.unique(placed.activity)) == {
        0,
        schema.UNPLACED_ACTIVITY,
    }

    def edit(paint):
        editor = MaskEditor(activity, intensity)
        paint(editor)
        return record_update(record, masks, dict(record), editor.masks), editor

    update, _ = edit(lambda e: e.erase(np.array([[20.0, 0.0], [20.0, 40.0]]), 30))  # the Sill, erased
    assert update.record["activity_type"] == ["Dyke"] and update.record["intensity_level"] == ["High"]
    assert update.record["is_crowd"] == 0 and "pattern 1 (Sill / Low) erased" in update.changes[0].why
    update, _ = edit(
        lambda e: e.fill_polygon(
            np.array([[55, 55], [55, 80], [85, 80], [85, 55]]), MaskClass.from_names("Mogi", "Medium")
        )
    )
    assert update.record["activity_type"] == [
        "Sill",
        "Dyke",
        "Mogi",
    ]  # the Dyke continues, a Mogi painted over part
    assert (
        update.record["intensity_level"] == ["Low", "High", "Medium"]
        and "None" not in update.record["intensity_level"]
    )
    update, _ = edit(lambda e: e.erase(np.array([[0.0, 0.0]]), 1))  # nothing changed: nothing written
    assert not update.changes and update.record == record
    update, _ = edit(lambda e: e.brush(np.array([[90.0, 5.0]]), 2, MaskClass.from_names("Mogi", "Low")))
    typed = {**record, "activity_type": ["Sill", "Mogi"], "intensity_level": ["Low", "None"]}
    editor = MaskEditor(activity, intensity)
    check = record_update(record, masks, typed, editor.masks)
    assert check.problems and "earthquakes' level" in check.problems[0]
    assert record_update(record, masks, {**typed, "intensity_level": ["Low", "Medium"]}, editor.masks).ok

    # the classes not placed: the pixels keep the "not placed" codes and the record its lists; painting a
    # record's class over all of them places that entry and drops the other
    unplaced = {
        schema.DEFORMATION_MASK: deformation,
        schema.ACTIVITY_MASK: placed.activity,
        schema.INTENSITY_MASK: placed.intensity,
    }
    editor = MaskEditor(placed.activity, placed.intensity)
    editor.brush(np.array([[90.0, 5.0]]), 2, MaskClass.from_names("Mogi", "Low"))
    update = record_update(record, unplaced, dict(record), editor.masks, placed)
    assert update.record["activity_type"] == ["Sill", "Dyke", "Mogi"]
    editor = MaskEditor(placed.activity, placed.intensity)
    editor.erase(np.array([[20.0, 20.0]]), 4)  # a bite out of the not-placed region: both entries stay
    assert record_update(record, unplaced, dict(record), editor.masks, placed).record == record
    editor = MaskEditor(placed.activity, placed.intensity)
    editor.flood_fill(20, 20, MaskClass.from_names("Sill", "Low"), max_fraction=0.9)
    editor.flood_fill(70, 70, MaskClass.from_names("Sill", "Low"), max_fraction=0.9)
    update = record_update(record, unplaced, dict(record), editor.masks, placed)
    assert update.record["activity_type"] == [
        "Sill",
        "Sill",
    ]  # the Sill placed, the Dyke's pixels repainted Sill
    assert update.record["intensity_level"] == ["Low", "Low"]
    assert "pattern 2 (Dyke / High) erased" in update.changes[0].why


# ---------------------------------------------------------------------------------- the app's save path
def test_the_app_saves_a_stroke_keeping_both_patterns_and_shows_what_will_change(real_root, tmp_path):
    dataset = ThaliaDataset(real_root)
    (pair, placed), *_ = two_pattern_pairs(dataset, Status.PLACED)
    kinds, levels = dataset.annotation(pair)["activity_type"], dataset.annotation(pair)["intensity_level"]
    state = AppState(str(real_root))
    store = AnnotationStore(tmp_path / "store", dataset=ThaliaDataset(real_root))
    session = EditSession(state, store, author="Ada")
    state.go(pair)
    form = LabelForm(state=state, edit=session)
    assert (
        html.escape(Status.PLACED.value) in form._derived.object
        and "A save changes nothing" in form._derived.object
    )
    frame = state.frame_obj
    (r0, c0), (r1, c1) = _stroke_through(placed.owners(), 0)
    session.tool, session.radius = "eraser", 2
    session.stroke(
        [float(frame.x[int(c)]) for c in (max(c0, 0), c1)], [float(frame.y[int(r)]) for r in (r0, r1)]
    )
    assert session.dirty and "A save changes nothing in the record" in form._derived.object
    form._widgets["caption"].value = "Trimmed the first pattern."
    assert "Caption" in form._derived.object and "typed in the form" in form._derived.object
    assert session.save()
    saved = store.read_pair(pair)
    assert saved.record["activity_type"] == kinds and saved.record["intensity_level"] == levels
    assert saved.record["caption"] == "Trimmed the first pattern."
    owner = placed.owners()
    for k, kind in enumerate(kinds):
        mine = (owner == k) & (saved.masks[schema.DEFORMATION_MASK] > 0)
        assert mine.any() and (saved.masks[schema.ACTIVITY_MASK][mine] == codes(kind)).all()
    # a stroke that adds a pattern: the preview names it before the save, the save writes just that
    session.tool = "brush"
    session.activity, session.intensity = (
        next(k for k in ("Mogi", "Spheroid", "Sill", "Dyke") if k not in kinds),
        "Low",
    )
    session.stroke([float(frame.x[3]), float(frame.x[12])], [float(frame.y[150])] * 2)
    assert "new pattern" in form._derived.object and "Activity type" in form._derived.object
    assert session.save()
    assert store.read_pair(pair).record["activity_type"] == [*kinds, session.activity]


# ------------------------------------------------------------------------------------------- export
def test_export_keeps_unedited_records_byte_for_byte_and_edited_polygons_in_the_source_frame(
    real_root, tmp_path
):
    dataset = ThaliaDataset(real_root)
    store = AnnotationStore(tmp_path / "store", dataset=dataset)
    (pair, placed), *_ = two_pattern_pairs(dataset, Status.PLACED)
    source = store.read_merged(pair)
    editor = MaskEditor(source.masks[schema.ACTIVITY_MASK], source.masks[schema.INTENSITY_MASK])
    editor.erase(_stroke_through(placed.owners(), 0), 2)
    update = record_update(source.record, source.masks, dict(source.record), editor.masks, source.placement)
    store.save_pair(pair, editor.masks, update.record, "ana", "trim", base=source.version)
    summary = export_dataset(real_root, store, tmp_path / "out")

    before_text = (real_root / schema.ANNOTATIONS_FILE).read_text()
    after_text = (tmp_path / "out" / schema.ANNOTATIONS_FILE).read_text()
    before = {k: before_text[s:e] for k, s, e in _spans(before_text)}
    after = {k: after_text[s:e] for k, s, e in _spans(after_text)}
    key = str(source.record["uniqueID"])
    assert list(after) == list(before)  # every record where it was, the edited one too
    assert [k for k in before if before[k] != after[k]] == [key]  # every other record's text, byte for byte
    edited = json.loads(after[key])
    assert list(edited) == list(json.loads(before[key]))  # key order kept, segmentation_mask where it was
    assert schema.CUBE_POLYGONS_FIELD not in edited
    frame = dataset.frame(pair.frame)
    fit = frame.polygon_fit
    polygons = record_polygons(edited)
    assert len(polygons) == 2
    assert (
        edited[schema.POLYGONS_FIELD][1] == json.loads(before[key])[schema.POLYGONS_FIELD][1]
    )  # untouched: verbatim
    back = rasterize(polygons, fit.transform, frame.shape)  # source frame -> cube, as placement reads them
    assert iou(back >= 0, editor.masks[schema.DEFORMATION_MASK] > 0) > 0.9
    reshaped = rasterize(polygons[:1], fit.transform, frame.shape) >= 0
    assert iou(reshaped, editor.masks[schema.ACTIVITY_MASK] == codes(edited["activity_type"][0])) > 0.9
    (change,) = summary.changed
    assert (
        change.key == key
        and change.polygons_key == schema.POLYGONS_FIELD
        and "source pixel frame" in str(summary)
    )

    # the untouched multi-pattern pairs carry their placed classes in the project's rasters
    for other, placed_other in two_pattern_pairs(dataset, Status.PLACED):
        if other == pair:
            continue
        cube = zarr.open_group(str(tmp_path / "out" / f"{other.frame}.zarr"), mode="r")
        i, j = dataset.frame(other.frame).cell(other)
        assert np.array_equal(cube[schema.ACTIVITY_MASK][i, j], placed_other.activity)
        assert np.array_equal(cube[schema.INTENSITY_MASK][i, j], placed_other.intensity)
        assert set(np.unique(placed_other.intensity)) - {0} <= {1, 2, 3}
    assert "7=Not_placed" in cube[schema.ACTIVITY_MASK].attrs["flag_meanings"]
    assert validate(str(tmp_path / "out")).ok


def test_export_of_the_merged_file_puts_edited_polygons_in_cube_pixels_under_their_own_key(
    merged_root, tmp_path
):
    dataset = ThaliaDataset(merged_root)
    store = AnnotationStore(tmp_path / "store", dataset=dataset)
    (pair, _), (other, _), *_ = two_pattern_pairs(dataset)
    source = store.read_merged(pair)
    editor = MaskEditor(source.masks[schema.ACTIVITY_MASK], source.masks[schema.INTENSITY_MASK])
    editor.brush(np.array([[150.0, 5.0], [150.0, 25.0]]), 3, MaskClass.from_names("Mogi", "High"))
    update = record_update(source.record, source.masks, dict(source.record), editor.masks, source.placement)
    assert update.record["activity_type"] == [*source.record["activity_type"], "Mogi"]
    store.save_pair(pair, editor.masks, update.record, "ana", "new pattern", base=source.version)
    summary = export_dataset(merged_root, store, tmp_path / "out")
    before_text = (merged_root / schema.ANNOTATIONS_FILE).read_text()
    after_text = (tmp_path / "out" / schema.ANNOTATIONS_FILE).read_text()
    before = {k: before_text[s:e] for k, s, e in _spans(before_text)}
    after = {k: after_text[s:e] for k, s, e in _spans(after_text)}
    key = str(source.record["uniqueID"])
    assert list(after) == list(before) and [k for k in before if before[k] != after[k]] == [key]
    edited = json.loads(after[key])
    assert schema.POLYGONS_FIELD not in edited and len(edited[schema.CUBE_POLYGONS_FIELD]) == 3
    not_placed, _, mogi = edited[schema.CUBE_POLYGONS_FIELD]
    assert not_placed == []  # classes from the record, not placed: no outline is invented
    xy = np.asarray(mogi).reshape(-1, 2)
    assert xy[:, 1].min() >= 145 and xy[:, 1].max() <= 155  # cube rows around the stroke
    assert "cube pixels" in str(summary)
    cube = zarr.open_group(str(tmp_path / "out" / f"{other.frame}.zarr"), mode="r")
    i, j = dataset.frame(other.frame).cell(other)
    labelled = np.asarray(cube[schema.DEFORMATION_MASK][i, j]) == 1
    assert (np.asarray(cube[schema.ACTIVITY_MASK][i, j])[labelled] == schema.UNPLACED_ACTIVITY).all()
    assert validate(str(tmp_path / "out")).ok, validate(str(tmp_path / "out")).summary()


def test_annotations_text_splices_records_in_the_source_layout():
    source = (
        '{"1":{"uniqueID":1,"frameID":"F","primary_date":"20200101","secondary_date":"20200113","x":1.50},\n'
        ' "2": {"uniqueID": 2, "frameID": "F", "primary_date": "20200101", "secondary_date": "20200125"}}\n'
    )
    corrected = {
        "1": {
            "uniqueID": 1,
            "frameID": "F",
            "primary_date": "20200101",
            "secondary_date": "20200113",
            "x": 2,
        },
        "3": {"uniqueID": 3, "frameID": "F", "primary_date": "20200113", "secondary_date": "20200125"},
    }
    merged = {**json.loads(source), **corrected}
    text = annotations_text(source, merged, corrected)
    assert json.loads(text) == merged and list(json.loads(text)) == ["1", "2", "3"]
    assert '"x":2}' in text and ' "2": {"uniqueID": 2, "frameID": "F", "primary_date": "20200101"' in text
    assert text.endswith("}\n")
    assert annotations_text("[1]", merged, corrected) == json.dumps(
        merged, indent=1
    )  # not splicable: a fresh dump


def test_the_store_keeps_the_not_placed_codes_together(merged_root, tmp_path):
    dataset = ThaliaDataset(merged_root)
    store = AnnotationStore(tmp_path / "store", dataset=dataset)
    (pair, _), *_ = two_pattern_pairs(dataset)
    source = store.read_merged(pair)
    broken = {k: v.copy() for k, v in source.masks.items()}
    broken[schema.INTENSITY_MASK][broken[schema.ACTIVITY_MASK] == schema.UNPLACED_ACTIVITY] = 2
    with pytest.raises(InvalidEditError, match="not placed"):
        store.save_pair(pair, broken, source.record, "ana", "x", base=source.version)
    assert store.edited_pairs() == []
    store.save_pair(
        pair, source.masks, {**source.record, "caption": "checked"}, "ana", "caption", base=source.version
    )
    saved = store.read_pair(pair)
    assert np.array_equal(saved.masks[schema.ACTIVITY_MASK], source.masks[schema.ACTIVITY_MASK])
    assert saved.record["activity_type"] == source.record["activity_type"]


def test_cli_synth_real_style(tmp_path, capsys):
    out = tmp_path / "merged"
    assert (
        main(
            [
                "synth",
                str(out),
                "--frames",
                "1",
                "--size",
                "128",
                "128",
                "--dates",
                "4",
                "--real-style",
                "no-polygons",
            ]
        )
        == 0
    )
    records = json.loads((out / schema.ANNOTATIONS_FILE).read_text())
    assert records and all(schema.POLYGONS_FIELD not in r for r in records.values())
    assert schema.ACTIVITY_MASK not in xr.open_zarr(out / f"{FRAME}.zarr")
    with pytest.raises(SystemExit):  # argparse: an unknown choice is a usage error (exit 2)
        main(["synth", str(tmp_path / "x"), "--real-style", "sometimes"])
    assert "invalid choice" in capsys.readouterr().err


def test_an_entry_spanning_two_distant_regions_stays_one_entry_when_an_edit_reaches_it():
    """An expert's Spheroid / High entry covers two regions farther apart than the pattern gap; a Mogi stroke
    in one of them adds a Mogi entry and keeps the Spheroid one whole (not split into two Spheroid entries)."""
    from thalia_viewer.core.patterns import reconcile
    from thalia_viewer.core.placement import Entry

    spheroid = schema.class_by_name(schema.ACTIVITY_TYPES, "Spheroid").code
    mogi = schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").code
    high = schema.class_by_name(schema.INTENSITY_LEVELS, "High").code
    medium = schema.class_by_name(schema.INTENSITY_LEVELS, "Medium").code
    act, lev = np.zeros((200, 200), np.uint8), np.zeros((200, 200), np.uint8)
    act[20:80, 20:80] = act[150:170, 150:170] = spheroid  # ~100 px apart: two patterns by the gap rule
    lev[act > 0] = high
    owner = np.where(act > 0, 0, -1).astype(np.int16)  # both regions are the one entry's
    before = {schema.ACTIVITY_MASK: act, schema.INTENSITY_MASK: lev}
    act2, lev2 = act.copy(), lev.copy()
    act2[45:55, 30:70], lev2[45:55, 30:70] = mogi, medium
    after = {schema.ACTIVITY_MASK: act2, schema.INTENSITY_MASK: lev2}
    edit = reconcile([Entry("Spheroid", "High", spheroid, high)], before, after, owner=owner)
    assert [(o.activity, o.intensity, o.base) for o in edit.outcomes] == [
        ("Spheroid", "High", 0),
        ("Mogi", "Medium", None),
    ]
