"""Brush strokes and undo on a 4096 x 4096 pair: the editor's patch history vs whole-array snapshots.

Ours records only what each edit changed (its box, a bit mask and the old codes of the changed pixels);
the naive editor copies the three rasters before every edit and copies them back on undo. Both paint the
same strokes (~50 points, radius 10 px) with the same footprint; the ratio is naive / ours of the median
time of a stroke plus its undo. Also reported: history bytes per step, and our polygon / flood-fill times.
"""

from __future__ import annotations

import numpy as np

from bench.common import print_ratio, time_it, timing_dict, write_results
from thalia_viewer.core import schema
from thalia_viewer.core.editing import (
    EditError,
    MaskClass,
    MaskEditor,
    masks_from_deformation,
    stroke_footprint,
)

SIZE = 4096
POINTS = 50
RADIUS_PX = 10.0
STEP_PX = 3.0  # spacing of the points of a freehand stroke
REPEATS = 9  # the naive editor holds one 48 MB copy per stroke
TARGET_MS = 20.0
MOGI_HIGH = MaskClass.from_names("Mogi", "High")
SILL_LOW = MaskClass.from_names("Sill", "Low")


def _masks(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Activity and intensity of a frame with a few deformation discs, one with an unlabelled hole."""
    rows, cols = np.ogrid[:SIZE, :SIZE]
    deformation = np.zeros((SIZE, SIZE), np.uint8)
    for r, c, radius in rng.uniform([300, 300, 60], [SIZE - 300, SIZE - 300, 250], (6, 3)):
        deformation[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = 1
    deformation[(rows - 2048) ** 2 + (cols - 2048) ** 2 <= 300**2] = 1
    deformation[(rows - 2048) ** 2 + (cols - 2048) ** 2 <= 100**2] = 0
    return masks_from_deformation(deformation, intensity=2)


def _strokes(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` freehand strokes: random walks of ``POINTS`` points, ``STEP_PX`` apart."""
    starts = rng.uniform(200, SIZE - 200, (n, 1, 2))
    angles = np.cumsum(rng.normal(0, 0.3, (n, POINTS, 1)), axis=1) + rng.uniform(0, 2 * np.pi, (n, 1, 1))
    steps = STEP_PX * np.concatenate([np.sin(angles), np.cos(angles)], axis=2)
    return list(starts + np.cumsum(steps, axis=1))


class NaiveEditor:
    """Undo by snapshots: copies the ``(3, H, W)`` rasters before each edit, copies them back on undo."""

    def __init__(self, masks: np.ndarray) -> None:
        self.masks = masks.copy()
        self.snapshots: list[np.ndarray] = []

    def brush(self, points: np.ndarray, radius_px: float, cls: MaskClass) -> None:
        self.snapshots.append(self.masks.copy())
        footprint = stroke_footprint(points, radius_px, self.masks.shape[1:])
        if footprint is not None:
            for plane, code in zip(self.masks[(slice(None), *footprint.box.slices)], cls.codes, strict=True):
                plane[footprint.covered] = code

    def undo(self) -> None:
        np.copyto(self.masks, self.snapshots.pop())


def _stroke_and_undo(editor: MaskEditor | NaiveEditor, strokes: list[np.ndarray]) -> tuple:
    """Timings of painting every stroke in turn, then of undoing each of them."""
    queue = iter(strokes)
    brush = time_it(lambda: editor.brush(next(queue), RADIUS_PX, MOGI_HIGH), repeats=REPEATS)
    undo = time_it(editor.undo, repeats=REPEATS)
    return brush, undo


def _other_tools(editor: MaskEditor) -> dict:
    """Median ms of our lasso fill, corner-to-corner stroke, hole flood fill and refused background fill."""
    angle = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    lasso = np.array([1000.0, 3000.0]) + 300 * np.column_stack([np.sin(angle), np.cos(angle)])
    classes = iter([SILL_LOW, MOGI_HIGH] * 20)
    polygon = time_it(lambda: editor.fill_polygon(lasso, next(classes)), repeats=5)
    hole = time_it(lambda: (editor.flood_fill(2048, 2048, MOGI_HIGH), editor.undo()), repeats=5)
    corners = [[0, 0], [SIZE - 1, SIZE - 1]]  # after the hole fill: it crosses the hole
    diagonal = time_it(lambda: editor.brush(corners, RADIUS_PX, next(classes)), repeats=5)

    def refused() -> None:
        try:
            editor.flood_fill(10, SIZE - 10, MOGI_HIGH)
        except EditError:
            return
        raise AssertionError("a flood fill of the background must be refused")

    refusal = time_it(refused, repeats=5)
    return {
        "lasso_fill_r300_px_ms": round(polygon.median_s * 1e3, 2),
        "corner_to_corner_stroke_ms": round(diagonal.median_s * 1e3, 2),
        "hole_flood_fill_r100_px_plus_undo_ms": round(hole.median_s * 1e3, 2),
        "refused_background_flood_fill_ms": round(refusal.median_s * 1e3, 2),
    }


def main() -> dict:
    rng = np.random.default_rng(0)
    activity, intensity = _masks(rng)
    strokes = _strokes(rng, REPEATS + 1)  # + the warm-up run
    ours = MaskEditor(activity, intensity)
    naive = NaiveEditor(np.stack([ours.masks[name] for name in schema.MASKS]))

    ours_brush, ours_undo = _stroke_and_undo(ours, strokes)
    naive_brush, naive_undo = _stroke_and_undo(naive, strokes)
    np.testing.assert_array_equal(naive.masks, np.stack([ours.masks[name] for name in schema.MASKS]))
    for stroke in strokes:
        ours.brush(stroke, RADIUS_PX, MOGI_HIGH)
    ours_step_bytes = ours.history_nbytes / len(strokes)

    print_ratio("brush stroke, 50 points r=10 px (4096^2)", ours_brush, naive_brush, "ours", "snapshots")
    print_ratio("undo of that stroke", ours_undo, naive_undo, "ours", "snapshots")
    ratio = (naive_brush.median_s + naive_undo.median_s) / (ours_brush.median_s + ours_undo.median_s)
    figures = {
        "frame_px": [SIZE, SIZE],
        "stroke": {"points": POINTS, "radius_px": RADIUS_PX, "step_px": STEP_PX},
        "brush_ms": {
            "ours": round(ours_brush.median_s * 1e3, 3),
            "naive": round(naive_brush.median_s * 1e3, 3),
        },
        "undo_ms": {"ours": round(ours_undo.median_s * 1e3, 3), "naive": round(naive_undo.median_s * 1e3, 3)},
        "history_bytes_per_step": {"ours": round(ours_step_bytes), "naive": 3 * SIZE * SIZE},
        "history_bytes_ratio": round(3 * SIZE * SIZE / ours_step_bytes, 1),
        "meets_20_ms_target": bool(max(ours_brush.median_s, ours_undo.median_s) * 1e3 < TARGET_MS),
        "ours": {"brush": timing_dict(ours_brush), "undo": timing_dict(ours_undo)},
        "naive": {"brush": timing_dict(naive_brush), "undo": timing_dict(naive_undo)},
        "other_tools_ours": _other_tools(ours),
        "ratio": round(ratio, 1),
    }
    write_results("editing", figures)
    return figures
