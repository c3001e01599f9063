"""The annotate mode without a browser: the edit session, the map's gestures, the label form, versions on the map."""

from __future__ import annotations

import numpy as np
import pytest

from thalia_viewer.app.session.annotate import EditSession
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.label_form import LabelForm, parse_names
from thalia_viewer.app.views.layer_map import LayerMap, overlay_slot
from thalia_viewer.app.views.map_drawing import MapDrawing
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.record import derived_fields

MOGI = schema.class_by_name(schema.ACTIVITY_TYPES, "Mogi").code


@pytest.fixture
def session(tiny_root, tmp_path) -> EditSession:
    state = AppState(str(tiny_root))
    store = AnnotationStore(tmp_path / "store", dataset=ThaliaDataset(tiny_root))
    edit = EditSession(state, store, author="Ada")
    return edit


def map_point(edit: EditSession, row: float, col: float) -> tuple[float, float]:
    """Map coordinates (lon, lat) of pixel centre (row, col) of the frame on screen."""
    frame = edit.state.frame_obj
    return float(frame.x[int(col)]), float(frame.y[int(row)])


def line(edit: EditSession, row: int, cols: range) -> tuple[list[float], list[float]]:
    points = [map_point(edit, row, c) for c in cols]
    return [p[0] for p in points], [p[1] for p in points]


def activity(edit: EditSession) -> np.ndarray:
    return edit.editor.masks[schema.ACTIVITY_MASK]


def test_a_brush_stroke_paints_the_class_around_the_path_in_data_pixels(session):
    session.editor.clear()
    session.radius = 3
    before = session.revision
    session.stroke(*line(session, 40, range(20, 60)))
    painted = activity(session) == MOGI
    assert painted[40, 20:60].all()
    rows = np.flatnonzero(painted[:, 40])
    assert {38, 39, 40, 41, 42} <= set(rows) <= set(range(37, 44))  # radius 3 px, whatever the zoom
    assert session.dirty and session.revision > before
    consistent = schema.deformation_from_activity(activity(session))
    assert np.array_equal(session.editor.masks[schema.DEFORMATION_MASK], consistent)


def test_eraser_lasso_polygon_fill_undo_redo_through_the_session(session):
    session.editor.clear()
    session.tool = "lasso"
    xs, ys = zip(
        *[map_point(session, r, c) for r, c in ((10, 10), (10, 30), (30, 30), (30, 10))], strict=True
    )
    session.stroke(list(xs), list(ys))
    assert (activity(session)[15:25, 15:25] == MOGI).all()
    session.tool = "eraser"
    session.radius = 2
    session.stroke(*line(session, 20, range(5, 35)))
    assert (activity(session)[20, 12:28] == 0).all()
    session.undo()
    assert (activity(session)[20, 15:25] == MOGI).all()
    session.redo()
    assert (activity(session)[20, 15:25] == 0).all()
    session.activity, session.intensity = "Dyke", "High"
    session.fill_at(*map_point(session, 15, 20))  # the upper half, cut off by the erased row
    dyke = schema.class_by_name(schema.ACTIVITY_TYPES, "Dyke").code
    assert (activity(session)[12:17, 15:25] == dyke).all()
    assert (activity(session)[23:28, 15:25] == MOGI).all()


def test_map_gestures_reach_the_session_and_are_acknowledged(session):
    acks = []
    drawing = MapDrawing(session, on_done=acks.append)
    session.editor.clear()
    session.tool = "brush"
    xs, ys = line(session, 50, range(30, 50))
    drawing.handle({"op": "stroke", "tool": "brush", "xs": xs, "ys": ys, "seq": 1})
    assert (activity(session)[50, 30:50] == MOGI).all()
    drawing.handle(
        {"op": "stroke", "tool": "eraser", "xs": xs, "ys": ys, "seq": 2}
    )  # not the tool picked: ignored
    assert (activity(session)[50, 30:50] == MOGI).all()
    session.tool = "polygon"
    points = [map_point(session, r, c) for r, c in ((70, 70), (70, 90), (90, 90), (90, 70))]
    drawing.handle({"op": "polygon", "xs": [p[0] for p in points], "ys": [p[1] for p in points], "seq": 3})
    assert (activity(session)[75:85, 75:85] == MOGI).all()
    session.tool, session.activity = "fill", "Dyke"
    x, y = map_point(session, 80, 80)
    drawing.handle({"op": "fill", "x": x, "y": y, "seq": 4})
    drawing.handle({"op": "fill", "x": x, "y": y, "seq": 5})  # the same region again: nothing to change
    assert (activity(session)[75:85, 75:85] == schema.class_by_name(schema.ACTIVITY_TYPES, "Dyke").code).all()
    drawing.handle({"op": "stroke", "tool": "fill", "xs": "garbage", "seq": 6})  # not a stroke tool: ignored
    session.tool = "polygon"
    drawing.handle(
        {"op": "polygon", "xs": [1.0, 2.0], "ys": [1.0], "seq": 7}
    )  # unreadable: a warning, no edit
    assert session.state.message.level == "warning"
    assert acks == [1, 2, 3, 4, 5, 6, 7]  # every gesture's live drawing can go


def test_the_brush_state_follows_the_tool_the_radius_and_the_class(session):
    from thalia_viewer.app.views.map_client import MapClient

    client = MapClient()
    drawing = MapDrawing(session, client=client)
    assert (
        client.tool_keys["p"] == "polygon"
        and client.tool_keys["b"] == "brush"
        and client.tool_labels["Fill"] == "fill"
    )
    session.tool, session.radius, session.activity = "eraser", 9, "Sill"
    b = drawing.brush_state()
    frame = session.state.frame_obj
    assert b["tool"] == "eraser" and b["radius"] == 9
    assert b["dx"] == pytest.approx(abs(frame.x[1] - frame.x[0])) and b["dy"] == pytest.approx(
        abs(frame.y[1] - frame.y[0])
    )
    assert b["color"] == schema.class_by_name(schema.ACTIVITY_TYPES, "Sill").color[:7]
    assert client.brush == b


def test_save_conflict_reload_and_overwrite(session, tiny_root, tmp_path):
    session.stroke(*line(session, 30, range(10, 40)))
    assert session.save()
    assert not session.dirty
    (version,) = session.store.history(pair=session.pair)
    assert version.author == "Ada"

    # someone else opened the same pair before our next save and saved first
    other = EditSession(AppState(str(tiny_root)), session.store, author="Grace")
    other.state.pair = session.state.pair
    session.stroke(*line(session, 60, range(10, 40)))
    other.stroke(*line(other, 90, range(10, 40)))
    assert other.save()
    assert not session.save()
    assert session.conflict is not None and "Grace" in session.conflict.text
    session.reload()  # "reload theirs"
    assert session.conflict is None and not session.dirty
    assert (activity(session)[90, 10:40] == MOGI).all()
    session.stroke(*line(session, 120, range(10, 40)))
    assert session.save()  # based on theirs now: no conflict
    assert len(session.store.history(pair=session.pair)) == 3


def test_saving_needs_an_author_and_changes_only_what_the_strokes_and_form_changed(session):
    session.author = ""
    session.editor.clear()
    assert not session.save()
    session.author = "Ada"
    assert session.save()  # cleared: the label follows, the lists lose every pattern
    saved = session.store.read_pair(session.pair)
    assert (
        saved.record["label"] == [schema.Label.NON_DEFORMATION.value] and saved.record["activity_type"] == []
    )
    session.stroke(*line(session, 30, range(10, 40)))
    update = session.pending()
    changed = {c.field: c for c in update.changes}
    assert (
        changed["label"].new == [schema.Label.DEFORMATION.value]
        and "Deformation appear" in changed["label"].why
    )
    assert changed["activity_type"].new == ["Mogi"] and changed["intensity_level"].new == ["Medium"]
    assert "new pattern Mogi / Medium" in changed["activity_type"].why
    session.set_field("label", [schema.Label.EARTHQUAKE.value])  # typed against the masks: refused
    update = session.pending()
    assert update.problems and "typed" in update.problems[0]
    assert not session.save() and session.dirty
    session.set_field("label", [schema.Label.DEFORMATION.value])
    assert session.save()
    saved = session.store.read_pair(session.pair)
    assert saved.record["label"] == [schema.Label.DEFORMATION.value] and saved.record["activity_type"] == [
        "Mogi"
    ]
    assert saved.record["intensity_level"] == ["Medium"]


def test_label_form_limits_fields_and_shows_the_derived_warnings(session):
    form = LabelForm(state=session.state, edit=session)
    form._widgets["atmospheric_fringes"].value = 2
    assert session.record(session.pair)["atmospheric_fringes"] == 2
    form._widgets["activity_type"].value = "mogi, Volcano"
    assert form._error.visible and "Volcano" in form._error.object
    assert session.record(session.pair).get("activity_type") != ["Mogi", "Volcano"]
    form._widgets["activity_type"].value = "mogi, dyke"
    assert session.record(session.pair)["activity_type"] == ["Mogi", "Dyke"]
    form._widgets["caption"].value = "Two inflation centres."
    assert session.record(session.pair)["caption"] == "Two inflation centres."
    assert "A save will change" in form._derived.object and "Atmospheric fringes" in form._derived.object
    assert parse_names("low, HIGH", ["Low", "Medium", "High"]) == ["Low", "High"]
    with pytest.raises(ValueError, match="'Huge'"):
        parse_names("Huge", ["Low"])


def test_show_a_version_and_diff_two_versions_on_the_map(session):
    layer_map = LayerMap(state=session.state, edit=session, overlays=[session])
    session.editor.clear()
    session.stroke(*line(session, 30, range(10, 40)))
    assert session.save()
    first = session.store.history(pair=session.pair)[0].id
    session.tool = "eraser"
    session.stroke(*line(session, 30, range(10, 20)))
    session.tool = "brush"
    session.stroke(*line(session, 60, range(10, 40)))
    assert session.save()

    comparison = session.compare(first)
    assert comparison.added > 0 and comparison.removed > 0
    assert (comparison.codes[60, 12:38] == 1).all() and (comparison.codes[30, 12:18] == 2).all()
    assert overlay_slot(0) in layer_map.active_names()
    shown = layer_map.shown()[overlay_slot(0)]
    assert shown is not None and set(np.unique(shown.values)) >= {1, 2}

    assert session.show_version(first)
    shown = session.state.layer("activity").values
    assert (shown[30, 12:38] == MOGI).all() and (shown[60, 12:38] == 0).all()
    assert session.stroke(*line(session, 100, range(10, 40))) is None  # read-only while showing a version
    session.back_to_edits()
    assert session.preview is None and session.comparison is None
    assert (session.state.layer("activity").values[60, 12:38] == MOGI).all()


# ------------------------------------------------------------------------------ derived record fields
def _masks(activity: np.ndarray, intensity: np.ndarray) -> dict[str, np.ndarray]:
    deformation, intensity = schema.consistent_masks(activity, intensity)
    return {
        schema.DEFORMATION_MASK: deformation,
        schema.ACTIVITY_MASK: activity,
        schema.INTENSITY_MASK: intensity,
    }


def test_patterns_are_one_per_activity_type_within_the_gap_largest_first():
    from thalia_viewer.core.record import PATTERN_GAP_PX

    activity, intensity = np.zeros((120, 120), np.uint8), np.zeros((120, 120), np.uint8)
    mogi, dyke = (schema.class_by_name(schema.ACTIVITY_TYPES, n).code for n in ("Mogi", "Dyke"))
    activity[10:20, 10:20] = mogi  # two Mogi blobs closer than the gap: one pattern
    activity[10:20, 20 + PATTERN_GAP_PX // 2 : 30 + PATTERN_GAP_PX // 2] = mogi
    intensity[10:20, 10:40] = 2
    intensity[10:12, 10:14] = 3  # a few High pixels: the pattern's level is its most frequent one
    activity[60:100, 20:60] = dyke  # touching a Mogi blob below it: another type, another pattern
    activity[100:103, 20:60] = mogi  # 120 px: smaller than the two merged blobs (200 px)
    intensity[60:103, 20:60] = 1
    derived = derived_fields(_masks(activity, intensity))
    assert derived["activity_type"] == ["Dyke", "Mogi", "Mogi"]  # largest first
    assert derived["intensity_level"] == ["Low", "Medium", "Low"]
    assert derived["is_crowd"] == 1 and derived["label"] == [schema.Label.DEFORMATION.value]

    quake = np.zeros((40, 40), np.uint8)
    quake[5:15, 5:15] = schema.EARTHQUAKE_ACTIVITY
    derived = derived_fields(_masks(quake, np.zeros_like(quake)))
    assert derived == {
        "label": [schema.Label.EARTHQUAKE.value],
        "activity_type": ["Earthquake"],
        "intensity_level": ["None"],
        "is_crowd": 0,
    }
