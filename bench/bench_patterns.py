"""Per-pattern classes at real frame size: the save preview after a stroke, and placing polygons on a pair.

A 4096 x 4096 pair with two large patterns (a 400 px-radius sill, an elongated dyke; 1.2 M labelled pixels),
its record's two polygons in preview-PNG pixels (~3.3 cube px each). Compares, in one run:

- what the label form recomputes after every stroke (``Opened.update``: the patterns of the masks, which the
  stroke touched, the record to save) against the same with the patterns found the naive way (an 8-step
  binary dilation per class over the whole window, an ``argsort`` of the labels);
- placing the classes (``placement.place``) against a naive nearest-polygon lookup (one distance transform
  over the whole labelled box instead of only the pixels outside every polygon).

``python -m bench.run patterns``
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from bench.common import ratio_line, time_it, timing_dict, write_results
from thalia_viewer.core import patterns, placement, schema
from thalia_viewer.core.editing import MaskEditor
from thalia_viewer.core.placement import FrameFit, PolygonTransform, place
from thalia_viewer.core.polygons import flat, outline, simplify
from thalia_viewer.core.record import Opened

SIZE = 4096
REPEATS = 3


def _naive_find_patterns(activity: np.ndarray, intensity: np.ndarray, window=None) -> patterns.Patterns:
    """The straightforward pattern finder: binary dilation with iterations, labels ordered by argsort."""
    window = patterns.window_of(activity) if window is None else window
    act, lev = np.asarray(activity)[window], np.asarray(intensity)[window]
    labels = np.full(act.shape, -1, np.int32)
    found = []
    for code in np.unique(act[act > 0]):
        pixels = act == code
        grown = ndimage.binary_dilation(
            pixels, structure=np.ones((3, 3), bool), iterations=patterns.PATTERN_GAP_PX // 2
        )
        parts, _ = ndimage.label(grown, structure=np.ones((3, 3), bool))
        parts[~pixels] = 0
        flat_parts = parts.ravel()
        order = np.argsort(flat_parts, kind="stable")
        bounds = np.searchsorted(flat_parts[order], np.arange(1, flat_parts.max() + 2))
        for k in range(len(bounds) - 1):
            index = order[bounds[k] : bounds[k + 1]]
            if index.size:
                found.append(
                    (int(index.size), int(code), int(np.bincount(lev.ravel()[index]).argmax()), index)
                )
    found.sort(key=lambda p: -p[0])
    for m, (*_, index) in enumerate(found):
        labels.ravel()[index] = m
    return patterns.Patterns(
        window, labels, tuple(p[1] for p in found), tuple(p[2] for p in found), tuple(p[0] for p in found)
    )


def _scene() -> tuple[np.ndarray, dict[str, Any], FrameFit]:
    yy, xx = np.ogrid[0:SIZE, 0:SIZE]
    sill = (yy - 1500) ** 2 + (xx - 1500) ** 2 < 400**2
    dyke = (yy - 2600) ** 2 / 4 + (xx - 2600) ** 2 < 250**2
    deformation = (sill | dyke).astype(np.uint8)
    transform = PolygonTransform(3.3, 3.3, 2.0, -1.0)
    polygons = [flat(simplify(transform.to_source(outline(m)), 0.35), 1) for m in (sill, dyke)]
    kinds = [schema.ACTIVITY_TYPES[3].name, schema.ACTIVITY_TYPES[2].name]  # a sill and a dyke
    levels = [schema.INTENSITY_LEVELS[1].name, schema.INTENSITY_LEVELS[3].name]  # low and high
    record = {
        "label": [schema.Label.DEFORMATION.value],
        "activity_type": kinds,
        "intensity_level": levels,
        schema.POLYGONS_FIELD: polygons,
        "is_crowd": 1,
    }
    return deformation, record, FrameFit("bench", transform, {"bench": 1.0})


def main() -> dict[str, Any]:
    deformation, record, fit = _scene()
    placed = place(deformation, record, fit)
    masks = {
        schema.DEFORMATION_MASK: deformation,
        schema.ACTIVITY_MASK: placed.activity,
        schema.INTENSITY_MASK: placed.intensity,
    }
    opened = Opened.of(record, masks, placed)
    editor = MaskEditor(placed.activity, placed.intensity)
    editor.erase(np.array([[1500.0, 1000.0], [1500.0, 1300.0]]), 6)  # one eraser stroke through the sill
    edited = editor.masks

    ours = time_it(lambda: opened.update(record, edited), repeats=REPEATS)
    real = patterns.find_patterns
    try:
        patterns.find_patterns = _naive_find_patterns  # type: ignore[assignment]
        naive = time_it(lambda: opened.update(record, edited), repeats=REPEATS)
    finally:
        patterns.find_patterns = real
    assert opened.update(record, edited).record == record  # the stroke keeps both patterns' classes

    placing = time_it(lambda: place(deformation, record, fit), repeats=REPEATS)

    def naive_nearest(labels: np.ndarray, allowed, where: np.ndarray) -> np.ndarray | None:
        seeds = np.isin(labels, list(allowed))
        if not seeds.any():
            return None
        box = patterns.window_of(seeds | where)
        _, (ri, ci) = ndimage.distance_transform_edt(~seeds[box], return_indices=True)
        return labels[box][ri, ci][where[box]]

    def naive_place() -> None:
        real_nearest = placement._nearest
        placement._nearest = naive_nearest  # type: ignore[assignment]
        try:
            place(deformation, record, fit)
        finally:
            placement._nearest = real_nearest

    naive_placing = time_it(naive_place, repeats=REPEATS)
    print(
        ratio_line(
            "save preview after a stroke (4096 px, 1.2 M labelled px)", ours, naive, "ours", "naive patterns"
        )
    )
    print(
        ratio_line(
            "place two patterns' classes from their polygons", placing, naive_placing, "ours", "whole-box EDT"
        )
    )
    figures = {
        "size_px": SIZE,
        "labelled_px": int(np.count_nonzero(deformation)),
        "save_preview": {"ours": timing_dict(ours), "naive": timing_dict(naive)},
        "place": {"ours": timing_dict(placing), "naive": timing_dict(naive_placing)},
        "ratio": naive.median_s / ours.median_s,
        "place_ratio": naive_placing.median_s / placing.median_s,
    }
    write_results("patterns", figures)
    return figures


if __name__ == "__main__":
    main()
