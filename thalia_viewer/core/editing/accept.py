"""A model's binary mask as a pair's masks, keeping the classes the pair already has.

A model predicts "deformation here", not which pattern: accepting its mask must not relabel a pair recorded
as, say, Unidentified / Low with whatever a class picker shows. Each predicted pixel takes the activity type
and intensity level of the labelled pixel it overlaps or, outside the labelled regions, of the nearest one;
a pair with no labelled pixel takes the class of its record's largest pattern; only a pair with neither, or a
class the user picked on purpose, uses the given class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from thalia_viewer.core import schema
from thalia_viewer.core.editing.classes import MaskClass
from thalia_viewer.core.errors import ThaliaError


def record_class(record: Mapping[str, Any] | None) -> MaskClass | None:
    """The class of the record's first (largest) pattern, or ``None`` when it names none or an unusable one."""
    record = record or {}
    types, levels = record.get("activity_type") or [], record.get("intensity_level") or []
    if not isinstance(types, list | tuple) or not types:
        return None
    level = levels[0] if isinstance(levels, list | tuple) and levels else None
    try:
        return MaskClass.from_names(
            str(types[0]), None if level in (None, schema.IntensityLevel.NONE) else str(level)
        )
    except ThaliaError:
        try:  # a known type with a missing / odd level: the type still says more than a guess
            return MaskClass.from_names(
                str(types[0]),
                schema.IntensityLevel.LOW if str(types[0]) != schema.ActivityType.EARTHQUAKE else None,
            )
        except ThaliaError:
            return None


def accepted_masks(
    mask: np.ndarray,
    activity: np.ndarray,
    intensity: np.ndarray,
    record: Mapping[str, Any] | None = None,
    chosen: MaskClass | None = None,
    fallback: MaskClass | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """``(activity, intensity, how)``: rasters for the predicted pixels of ``mask`` (non-zero = deformation).

    ``activity`` / ``intensity``: the pair's current rasters (codes). ``chosen``: a class the user picked on
    purpose (it wins). ``fallback``: the class when the pair has no class at all (default Unidentified / Low).
    ``how`` says in words where the classes came from.
    """
    labelled = np.asarray(mask) > 0
    activity, intensity = np.asarray(activity), np.asarray(intensity)
    if labelled.shape != activity.shape:
        raise ThaliaError(
            f"the model's mask is {labelled.shape} px but the pair's masks are {activity.shape} px.",
            "Predict the pair again.",
        )
    out_a, out_i = np.zeros_like(activity, np.uint8), np.zeros_like(intensity, np.uint8)
    if chosen is not None:
        out_a[labelled], out_i[labelled] = chosen.activity, chosen.intensity
        return out_a, out_i, f"as {chosen.name} (the class you picked)"
    known = activity > 0
    if known.any() and labelled.any():
        # each predicted pixel: the class of the labelled pixel it overlaps or, outside, the nearest one
        rows, cols = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
        out_a[labelled] = activity[rows[labelled], cols[labelled]]
        out_i[labelled] = intensity[rows[labelled], cols[labelled]]
        pairs = np.unique(out_a[labelled].astype(np.int32) * 16 + out_i[labelled])
        names = sorted(MaskClass(int(p) // 16, int(p) % 16).name for p in pairs)
        return out_a, out_i, f"keeping the pair's classes ({', '.join(names[:4])})"
    cls = record_class(record)
    how = f"as {cls.name}, the class of the pair's record" if cls is not None else ""
    if cls is None:
        cls = fallback or MaskClass(schema.UNIDENTIFIED_ACTIVITY, 1)
        how = f"as {cls.name} (the pair had no class)"
    out_a[labelled], out_i[labelled] = cls.activity, cls.intensity
    return out_a, out_i, how
