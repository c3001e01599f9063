"""Mask editing: classes, footprints of each tool, consistency of the three rasters, undo / redo, changes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from thalia_viewer.core import schema
from thalia_viewer.core.editing import (
    CHANGE_TILE_PX,
    MIN_RADIUS_PX,
    NO_DEFORMATION,
    Box,
    EditError,
    MaskClass,
    MaskEditor,
    footprints,
    masks_from_deformation,
)
from thalia_viewer.core.errors import SchemaError, ThaliaError

MOGI_HIGH = MaskClass.from_names("Mogi", "High")
SILL_LOW = MaskClass.from_names("Sill", "Low")
QUAKE = MaskClass(schema.EARTHQUAKE_ACTIVITY)
ACT = schema.MASKS.index(schema.ACTIVITY_MASK)  # activity plane of a snapshot


def brute_stroke(shape: tuple[int, int], points: np.ndarray, radius: float) -> np.ndarray:
    """Pixels whose centre is within ``radius`` of the polyline, by brute force over the whole raster."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    r = max(radius, MIN_RADIUS_PX)
    pts = np.asarray(points, float)
    best = np.full(shape, np.inf)
    for a, b in itertools.pairwise(pts) if len(pts) > 1 else [(pts[0], pts[0])]:
        d = b - a
        dd = d @ d
        t = np.clip(((rows - a[0]) * d[0] + (cols - a[1]) * d[1]) / dd, 0, 1) if dd else 0.0
        best = np.minimum(best, (rows - a[0] - t * d[0]) ** 2 + (cols - a[1] - t * d[1]) ** 2)
    return best <= r * r


def snapshot(editor: MaskEditor) -> np.ndarray:
    return np.stack([editor.masks[name].copy() for name in schema.MASKS])


def assert_consistent(editor: MaskEditor) -> None:
    deformation, intensity = schema.consistent_masks(editor.activity, editor.intensity)
    np.testing.assert_array_equal(deformation, editor.deformation)
    np.testing.assert_array_equal(intensity, editor.intensity)


def ring_editor(shape=(64, 64), centre=(30, 30), outer=12, inner=6) -> MaskEditor:
    """An editor holding a Mogi / High annulus around an unlabelled hole."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    dist2 = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2
    ring = (dist2 <= outer**2) & (dist2 > inner**2)
    activity = np.where(ring, MOGI_HIGH.activity, 0).astype(np.uint8)
    intensity = np.where(ring, MOGI_HIGH.intensity, 0).astype(np.uint8)
    return MaskEditor(activity, intensity)


# ---------------------------------------------------------------------------------------------- classes
def test_class_codes_follow_the_format():
    assert MOGI_HIGH.codes == (1, 1, 3)
    assert MOGI_HIGH.name == "Mogi / High"
    assert QUAKE.codes == (2, schema.EARTHQUAKE_ACTIVITY, schema.EARTHQUAKE_INTENSITY)
    assert MaskClass(schema.EARTHQUAKE_ACTIVITY, 3) == QUAKE  # earthquake forces the "None" intensity
    assert MaskClass.from_names("Earthquake") == QUAKE
    assert NO_DEFORMATION.codes == (0, 0, 0)
    assert MaskClass(0, 2) == NO_DEFORMATION


@pytest.mark.parametrize(
    ("activity", "intensity", "named"),
    [
        (7, 1, "6 Unidentified"),
        (-1, 1, "1 Mogi"),
        (1.0, 1, "1 Mogi"),
        (True, 1, "1 Mogi"),
        (1, 9, "4 None"),
        (1, 0, "1 Low, 2 Medium, 3 High"),  # volcanic classes need a level
        (2, schema.EARTHQUAKE_INTENSITY, "1 Low, 2 Medium, 3 High"),
    ],
)
def test_invalid_class_codes_are_refused_with_the_valid_values(activity, intensity, named):
    with pytest.raises(SchemaError, match=named) as info:
        MaskClass(activity, intensity)
    assert isinstance(info.value, ValueError)


def test_consistent_masks_derives_deformation_and_fixes_intensity():
    activity = np.array([[0, 1, 5, 6, 2, 0]], np.uint8)
    intensity = np.array([[3, 0, 1, 4, 2, 0]], np.uint8)
    deformation, fixed = schema.consistent_masks(activity, intensity)
    np.testing.assert_array_equal(deformation, [[0, 1, 2, 1, 1, 0]])
    np.testing.assert_array_equal(fixed, [[0, 0, 4, 0, 2, 0]])
    assert intensity[0, 0] == 3  # the input is not modified


def test_masks_from_deformation_of_a_real_cube():
    deformation = np.array([[0.0, 1.0, 2.0, np.nan]])  # real masks may be float with NaN no-data
    activity, intensity = masks_from_deformation(deformation, intensity=2)
    np.testing.assert_array_equal(
        activity, [[0, schema.UNIDENTIFIED_ACTIVITY, schema.EARTHQUAKE_ACTIVITY, 0]]
    )
    np.testing.assert_array_equal(intensity, [[0, 2, schema.EARTHQUAKE_INTENSITY, 0]])
    np.testing.assert_array_equal(schema.deformation_from_activity(activity), np.nan_to_num(deformation))
    with pytest.raises(SchemaError, match="reserved for earthquakes"):
        masks_from_deformation(deformation, intensity=schema.EARTHQUAKE_INTENSITY)
    with pytest.raises(SchemaError, match=r"unknown codes \[3\]"):
        masks_from_deformation(np.array([[0, 3]]), intensity=1)
    with pytest.raises(SchemaError, match="non-integer"):
        masks_from_deformation(np.array([[0.5]]), intensity=1)


# ------------------------------------------------------------------------------------------------- load
def test_load_copies_validates_and_exposes_read_only_views():
    activity = np.zeros((8, 9), np.uint8)
    activity[2, 3] = 1
    intensity = np.zeros_like(activity)
    intensity[2, 3] = 2
    editor = MaskEditor(activity, intensity)
    activity[2, 3] = 0
    assert editor.activity[2, 3] == 1 and editor.deformation[2, 3] == 1 and editor.shape == (8, 9)
    assert not editor.dirty and not editor.can_undo
    with pytest.raises(ValueError, match="read-only"):
        editor.activity[0, 0] = 1
    assert set(editor.masks) == set(schema.MASKS)
    with pytest.raises(SchemaError, match="unknown codes"):
        MaskEditor(np.full((4, 4), schema.UNPLACED_ACTIVITY + 1, np.uint8), np.zeros((4, 4), np.uint8))
    unplaced = MaskEditor(np.full((4, 4), schema.UNPLACED_ACTIVITY, np.uint8), np.zeros((4, 4), np.uint8))
    assert (unplaced.intensity == schema.UNPLACED_INTENSITY).all() and (unplaced.deformation == 1).all()
    with pytest.raises(SchemaError, match="shape"):
        MaskEditor(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))
    with pytest.raises(SchemaError, match="2-D"):
        MaskEditor(np.zeros((1, 4, 4), np.uint8), np.zeros((1, 4, 4), np.uint8))


def test_load_refuses_a_contradicting_deformation_and_corrects_intensity():
    activity = np.array([[0, 1], [5, 0]], np.uint8)
    with pytest.raises(SchemaError, match="disagrees"):
        MaskEditor(activity, np.zeros_like(activity), deformation=np.array([[0, 2], [2, 0]]))
    editor = MaskEditor(
        activity, np.array([[3, 1], [0, 0]], np.uint8), deformation=np.array([[0, 1], [2, 0]])
    )
    np.testing.assert_array_equal(editor.intensity, [[0, 1], [schema.EARTHQUAKE_INTENSITY, 0]])
    assert editor.dirty  # the corrections must be saved
    assert editor.changed_box == Box(0, 2, 0, 1)
    editor.mark_saved()
    assert not editor.dirty


def test_from_deformation_and_empty():
    editor = MaskEditor.from_deformation(np.array([[0, 1], [2, 0]], np.uint8), intensity=1)
    np.testing.assert_array_equal(
        editor.activity, [[0, schema.UNIDENTIFIED_ACTIVITY], [schema.EARTHQUAKE_ACTIVITY, 0]]
    )
    assert_consistent(editor)
    assert not MaskEditor.empty((3, 5)).activity.any()


# ------------------------------------------------------------------------------------------------ brush
def test_brush_single_point_is_the_exact_disc():
    editor = MaskEditor.empty((21, 21))
    box = editor.brush([[10, 10]], 2, MOGI_HIGH)
    rows, cols = np.mgrid[0:21, 0:21]
    np.testing.assert_array_equal(editor.activity > 0, (rows - 10) ** 2 + (cols - 10) ** 2 <= 4)
    assert int((editor.activity > 0).sum()) == 13
    assert box == Box(8, 13, 8, 13)


def test_brush_disc_area_is_pi_r_squared():
    editor = MaskEditor.empty((64, 64))
    editor.brush([[31.5, 30.25]], 20, SILL_LOW)
    assert (editor.activity > 0).sum() == pytest.approx(np.pi * 20**2, rel=0.02)


def test_brush_matches_the_distance_to_the_polyline():
    rng = np.random.default_rng(3)
    shape = (40, 50)
    for _ in range(40):
        points = rng.uniform(-10, 60, (int(rng.integers(1, 6)), 2))
        radius = float(rng.uniform(0, 9))
        editor = MaskEditor.empty(shape)
        editor.brush(points, radius, MOGI_HIGH)
        np.testing.assert_array_equal(editor.activity > 0, brute_stroke(shape, points, radius))


def test_stroke_between_far_points_has_no_gap():
    editor = MaskEditor.empty((100, 100))
    editor.brush([[5, 5], [5, 90], [95, 3]], 1.5, MOGI_HIGH)
    painted = editor.activity > 0
    assert painted[5, 5:91].all()
    assert ndimage.label(painted)[1] == 1
    thin = MaskEditor.empty((100, 100))
    thin.brush([[2.3, 3.6], [90.1, 70.8]], 0, MOGI_HIGH)  # thinnest brush: still one 8-connected line
    assert ndimage.label(thin.activity > 0, structure=np.ones((3, 3)))[1] == 1
    assert thin.activity[2, 4] and thin.activity[90, 71]


def test_brush_paints_all_three_rasters_consistently():
    editor = MaskEditor.empty((30, 30))
    editor.brush([[5, 5], [5, 20]], 2, MOGI_HIGH)
    editor.brush([[20, 5], [20, 20]], 2, QUAKE)
    codes = snapshot(editor)
    assert {tuple(c) for c in codes[:, 5, 5:21].T} == {(1, 1, 3)}
    assert {tuple(c) for c in codes[:, 20, 5:21].T} == {(2, 5, 4)}
    assert_consistent(editor)


def test_strokes_outside_the_raster_are_clipped_and_empty_strokes_are_no_ops():
    shape = (32, 32)
    editor = MaskEditor.empty(shape)
    points = [[-50, -40], [80, 70]]
    editor.brush(points, 3, MOGI_HIGH)
    np.testing.assert_array_equal(editor.activity > 0, brute_stroke(shape, points, 3))
    blank = MaskEditor.empty(shape)
    assert blank.brush([[-10, -10], [-10, 50]], 3, MOGI_HIGH) is None
    assert blank.brush(np.empty((0, 2)), 3, MOGI_HIGH) is None
    assert blank.brush([[-1e12, 5], [1e12, 5]], 1, MOGI_HIGH) == Box(0, 32, 4, 7)
    blank.undo()
    assert not blank.can_undo and not blank.dirty and not blank.activity.any()


def test_repainting_the_same_class_changes_nothing_and_records_nothing():
    editor = MaskEditor.empty((20, 20))
    assert editor.brush([[5, 5], [9, 12]], 2, MOGI_HIGH) is not None
    assert editor.brush([[5, 5], [9, 12]], 2, MOGI_HIGH) is None
    editor.undo()
    assert not editor.can_undo


@pytest.mark.parametrize(
    ("points", "radius", "match"),
    [
        ([[1.0, np.nan]], 2, "NaN"),
        ([[1.0, np.inf], [2, 2]], 2, "infinite"),
        ([[1.0, 2.0, 3.0]], 2, r"\(N, 2\)"),
        ([[1.0, 2.0]], -1, "radius"),
        ([[1.0, 2.0]], np.nan, "radius"),
    ],
)
def test_bad_coordinates_are_refused(points, radius, match):
    editor = MaskEditor.empty((10, 10))
    with pytest.raises(EditError, match=match) as info:
        editor.brush(points, radius, MOGI_HIGH)
    assert isinstance(info.value, ThaliaError) and isinstance(info.value, ValueError)
    assert not editor.can_undo


def test_erase_sets_the_footprint_to_zero_in_every_raster():
    editor = MaskEditor.empty((30, 30))
    editor.brush([[15, 2], [15, 27]], 4, QUAKE)
    before = snapshot(editor)
    editor.erase([[15, 15]], 3)
    cleared = brute_stroke((30, 30), [[15, 15]], 3)
    assert not snapshot(editor)[:, cleared].any()
    np.testing.assert_array_equal(snapshot(editor)[:, ~cleared], before[:, ~cleared])


# ---------------------------------------------------------------------------------------------- polygon
def test_square_polygon_fills_the_pixels_whose_centre_is_inside():
    editor = MaskEditor.empty((10, 10))
    editor.fill_polygon([[2, 2], [2, 5], [5, 5], [5, 2]], MOGI_HIGH)
    expected = np.zeros((10, 10), bool)
    expected[2:5, 2:5] = True  # top / left edges in, bottom / right edges out: area 9
    np.testing.assert_array_equal(editor.activity > 0, expected)


def test_concave_l_shaped_polygon():
    editor = MaskEditor.empty((10, 10))
    editor.fill_polygon([[0, 0], [0, 6], [3, 6], [3, 3], [6, 3], [6, 0]], SILL_LOW)
    expected = np.zeros((10, 10), bool)
    expected[0:3, 0:6] = True
    expected[3:6, 0:3] = True
    np.testing.assert_array_equal(editor.activity > 0, expected)
    assert_consistent(editor)


def test_polygons_sharing_an_edge_tile_without_overlap():
    a, b = MaskEditor.empty((16, 16)), MaskEditor.empty((16, 16))
    a.fill_polygon([[2.5, 2.2], [2.5, 6.7], [10.3, 6.7], [10.3, 2.2]], MOGI_HIGH)
    b.fill_polygon([[2.5, 6.7], [2.5, 12.1], [10.3, 12.1], [10.3, 6.7]], MOGI_HIGH)
    whole = MaskEditor.empty((16, 16))
    whole.fill_polygon([[2.5, 2.2], [2.5, 12.1], [10.3, 12.1], [10.3, 2.2]], MOGI_HIGH)
    assert not ((a.activity > 0) & (b.activity > 0)).any()
    np.testing.assert_array_equal((a.activity > 0) | (b.activity > 0), whole.activity > 0)


def test_lasso_of_a_freehand_circle():
    editor = MaskEditor.empty((80, 80))
    angle = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    centre, radius = np.array([40.3, 38.7]), 25.0
    editor.fill_polygon(centre + radius * np.column_stack([np.sin(angle), np.cos(angle)]), QUAKE)
    rows, cols = np.mgrid[0:80, 0:80]
    dist = np.hypot(rows - centre[0], cols - centre[1])
    painted = editor.activity == schema.EARTHQUAKE_ACTIVITY
    assert painted.sum() == pytest.approx(np.pi * radius**2, rel=0.02)
    assert painted[dist < radius - 0.5].all() and not painted[dist > radius].any()


def test_polygons_are_clipped_and_degenerate_ones_are_no_ops():
    editor = MaskEditor.empty((10, 10))
    assert editor.fill_polygon([[1, 1], [8, 8]], MOGI_HIGH) is None
    assert editor.fill_polygon([[20, 20], [20, 30], [30, 30]], MOGI_HIGH) is None
    assert editor.fill_polygon([[-5, -5], [-5, 5], [5, 5], [5, -5]], MOGI_HIGH) == Box(0, 5, 0, 5)
    with pytest.raises(EditError, match="vertices"):
        editor.fill_polygon([[1, 1], [np.nan, 2], [3, 3]], MOGI_HIGH)


# ------------------------------------------------------------------------------------------- flood fill
def test_flood_fill_fills_a_hole():
    editor = ring_editor()
    labels, _ = ndimage.label(editor.activity == 0)
    hole = labels == labels[30, 30]
    outside = (editor.activity == 0) & ~hole
    box = editor.flood_fill(30.2, 29.8, MOGI_HIGH)
    assert (editor.activity[hole] == MOGI_HIGH.activity).all() and not editor.activity[outside].any()
    rows, cols = np.nonzero(hole)
    assert box == Box(rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
    assert_consistent(editor)


def test_flood_fill_recolours_one_4_connected_blob():
    activity = np.zeros((12, 12), np.uint8)
    activity[2:5, 2:5] = 1
    activity[5, 5] = 1  # touches the blob diagonally only: not 4-connected
    activity[8:10, 8:10] = 1
    editor = MaskEditor(activity, np.where(activity > 0, 3, 0).astype(np.uint8))
    editor.flood_fill(3, 3, SILL_LOW)
    assert (editor.activity[2:5, 2:5] == SILL_LOW.activity).all()
    assert (editor.intensity[2:5, 2:5] == SILL_LOW.intensity).all()
    assert editor.activity[5, 5] == 1 and (editor.activity[8:10, 8:10] == 1).all()


def test_flood_fill_of_the_background_is_refused():
    editor = ring_editor()
    before = snapshot(editor)
    with pytest.raises(EditError, match="max_fraction"):
        editor.flood_fill(1, 1, QUAKE)
    np.testing.assert_array_equal(snapshot(editor), before)
    assert not editor.can_undo
    editor.flood_fill(1, 1, QUAKE, max_fraction=1.0)
    assert (
        editor.activity[(before[ACT] == 0) & (np.arange(64)[:, None] < 10)] == schema.EARTHQUAKE_ACTIVITY
    ).all()


def test_flood_fill_grows_its_window_until_the_region_is_closed(monkeypatch):
    monkeypatch.setattr(footprints, "FLOOD_START_HALF_PX", 1)
    editor = ring_editor(shape=(64, 80), centre=(30, 40), outer=25, inner=18)
    background = editor.activity == 0
    labels, _ = ndimage.label(background)
    editor.flood_fill(30, 40, SILL_LOW)
    np.testing.assert_array_equal(editor.activity == SILL_LOW.activity, labels == labels[30, 40])


def test_flood_fill_outside_or_nan_is_refused():
    editor = ring_editor()
    with pytest.raises(EditError, match="outside"):
        editor.flood_fill(-3, 5, MOGI_HIGH)
    with pytest.raises(EditError, match="finite"):
        editor.flood_fill(np.nan, 5, MOGI_HIGH)


# ---------------------------------------------------------------------------------------- clear, replace
def test_clear_and_undo_it():
    editor = ring_editor()
    before = snapshot(editor)
    assert editor.clear() == Box(18, 43, 18, 43)
    assert not snapshot(editor).any()
    assert editor.clear() is None
    editor.undo()
    np.testing.assert_array_equal(snapshot(editor), before)


def test_replace_is_one_undoable_edit():
    editor = ring_editor()
    before = snapshot(editor)
    activity, intensity = masks_from_deformation((before[ACT] == 0).astype(np.uint8), intensity=1)
    editor.replace(activity, intensity)
    np.testing.assert_array_equal(editor.activity, activity)
    assert_consistent(editor)
    assert editor.replace(activity, intensity) is None
    editor.undo()
    np.testing.assert_array_equal(snapshot(editor), before)
    with pytest.raises(SchemaError, match="shape"):
        editor.replace(activity[:5], intensity[:5])


# ------------------------------------------------------------------------------------------ undo / redo
def random_edit(editor: MaskEditor, rng: np.random.Generator) -> None:
    classes = [MOGI_HIGH, SILL_LOW, QUAKE, MaskClass(2, 2), MaskClass(6, 1)]
    cls = classes[int(rng.integers(len(classes)))]
    h, w = editor.shape
    kind = int(rng.integers(4))
    points = rng.uniform(-5, [h + 5, w + 5], (int(rng.integers(1, 30)), 2))
    if kind == 0:
        editor.brush(points, float(rng.uniform(0, 8)), cls)
    elif kind == 1:
        editor.erase(points, float(rng.uniform(1, 8)))
    elif kind == 2:
        editor.fill_polygon(points[:8], cls)
    else:
        try:
            editor.flood_fill(*rng.uniform(0, [h - 1, w - 1]), cls, max_fraction=0.3)
        except EditError:
            editor.brush(points[:2], 2, cls)


def test_undo_redo_sixty_steps_restore_exact_rasters():
    rng = np.random.default_rng(11)
    editor = MaskEditor.empty((48, 56))
    states = [snapshot(editor)]
    while len(states) < 61:
        random_edit(editor, rng)
        if not np.array_equal(snapshot(editor), states[-1]):
            states.append(snapshot(editor))
        assert_consistent(editor)
    for state in reversed(states[:-1]):
        assert editor.undo() is not None
        np.testing.assert_array_equal(snapshot(editor), state)
    assert not editor.can_undo and editor.undo() is None and not editor.dirty
    for state in states[1:]:
        assert editor.redo() is not None
        np.testing.assert_array_equal(snapshot(editor), state)
    assert not editor.can_redo and editor.redo() is None


def test_undo_and_redo_return_the_box_they_changed():
    editor = MaskEditor.empty((40, 40))
    box = editor.brush([[10, 10], [12, 30]], 3, MOGI_HIGH)
    assert editor.undo() == box
    assert editor.redo() == box


def test_a_new_edit_clears_the_redo_stack():
    editor = MaskEditor.empty((20, 20))
    editor.brush([[5, 5]], 2, MOGI_HIGH)
    editor.brush([[12, 12]], 2, MOGI_HIGH)
    editor.undo()
    assert editor.can_redo
    editor.brush([[15, 3]], 2, SILL_LOW)
    assert not editor.can_redo and editor.redo() is None
    assert editor.activity[12, 12] == 0


def test_history_keeps_at_most_max_steps():
    editor = MaskEditor.empty((20, 20), max_steps=5)
    states = [snapshot(editor)]
    for k in range(8):
        editor.brush([[2 * k + 2, 10]], 1, MOGI_HIGH)
        states.append(snapshot(editor))
    while editor.can_undo:
        editor.undo()
    np.testing.assert_array_equal(snapshot(editor), states[3])
    assert editor.dirty  # the loaded state cannot be reached any more


def test_history_memory_is_bounded_by_the_changed_pixels_and_the_byte_budget():
    shape = (512, 512)
    editor = MaskEditor.empty(shape)
    rng = np.random.default_rng(5)
    for _ in range(60):
        start = rng.uniform(50, 460, 2)
        editor.brush(start + np.cumsum(rng.normal(0, 2, (50, 2)), axis=0), 10, MOGI_HIGH)
    whole_copies = 60 * 3 * shape[0] * shape[1]
    assert 0 < editor.history_nbytes < whole_copies / 50
    small = MaskEditor.empty(shape, max_history_bytes=20_000)
    for k in range(10):
        small.brush([[40 * k + 30, 30], [40 * k + 30, 400]], 5, MOGI_HIGH)
        assert small.history_nbytes <= 20_000 or not small.can_undo
    undone = 0
    while small.undo() is not None:
        undone += 1
    assert 1 <= undone < 10


def test_rasters_stay_consistent_after_any_sequence():
    rng = np.random.default_rng(2)
    editor = ring_editor()
    for _ in range(80):
        random_edit(editor, rng)
        if rng.random() < 0.2:
            editor.undo()
    assert_consistent(editor)
    assert set(np.unique(editor.activity)) <= {c.code for c in schema.ACTIVITY_TYPES}


# -------------------------------------------------------------------------------------------- changes
def test_dirty_follows_undo_redo_and_saves():
    editor = MaskEditor.empty((32, 32))
    assert not editor.dirty and editor.changed_box is None and editor.changed_chunks((16, 16)) == []
    editor.brush([[5, 5]], 2, MOGI_HIGH)
    assert editor.dirty
    editor.undo()
    assert not editor.dirty and editor.changed_chunks((16, 16)) == []
    editor.redo()
    editor.mark_saved()
    assert not editor.dirty
    editor.undo()
    assert editor.dirty  # the saved state had the stroke
    editor.redo()
    assert not editor.dirty


def chunks_with_changes(changed: np.ndarray, chunk_shape: tuple[int, int]) -> set[Box]:
    h, w = changed.shape
    ch, cw = chunk_shape
    return {
        Box(i, min(i + ch, h), j, min(j + cw, w))
        for i in range(0, h, ch)
        for j in range(0, w, cw)
        if changed[i : i + ch, j : j + cw].any()
    }


def test_changed_chunks_hold_every_changed_pixel():
    editor = ring_editor(shape=(300, 260), centre=(150, 130), outer=40, inner=10)
    saved = snapshot(editor)
    editor.brush([[20, 20], [25, 200]], 3, QUAKE)
    editor.flood_fill(150, 130, SILL_LOW)
    editor.erase([[150, 95]], 4)
    editor.brush([[280, 250]], 4, MOGI_HIGH)
    changed = (snapshot(editor) != saved).any(axis=0)
    aligned = (2 * CHANGE_TILE_PX, 2 * CHANGE_TILE_PX)  # chunks made of whole tiles: exact
    assert set(editor.changed_chunks(aligned)) == chunks_with_changes(changed, aligned)
    assert len(editor.changed_chunks(aligned)) == 5
    chunks = editor.changed_chunks((50, 100))  # otherwise a superset
    assert set(chunks) >= chunks_with_changes(changed, (50, 100))
    assert len(chunks) < 18 and chunks == sorted(chunks)
    rows, cols = np.nonzero(changed)
    assert editor.changed_box == Box(rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
    with pytest.raises(EditError, match="chunk_shape"):
        editor.changed_chunks((0, 10))
