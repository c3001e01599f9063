"""The fields of an annotation record that follow from its masks: label, activity types, intensities, crowd.

A pattern is the pixels of one activity type within a few pixels of each other (:func:`patterns`); its
intensity level is the most frequent code of ``intensity_level_mask`` inside it. Patterns are listed
largest first, as the lists of ``annotations.json`` hold one entry per pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from scipy import ndimage

from . import schema

DERIVED_FIELDS: Final = ("label", "activity_type", "intensity_level", "is_crowd")
_EIGHT_CONNECTED: Final = np.ones((3, 3), bool)
#: Regions of one activity type closer than this (px, ~100 m each) are one pattern.
PATTERN_GAP_PX: Final = 16


def _mode(values: np.ndarray) -> int:
    return int(np.bincount(values).argmax())


def patterns(masks: Mapping[str, np.ndarray]) -> list[tuple[int, int, int]]:
    """``(pixels, activity code, intensity code)`` of every pattern of the masks, largest first.

    A pattern is the pixels of one activity type that lie within :data:`PATTERN_GAP_PX` of each other: two
    touching regions of different types are two patterns, a lobe cut in pieces by an eraser stroke or by
    decorrelation stays one.
    """
    deformation = np.asarray(masks[schema.DEFORMATION_MASK])
    activity = np.where(deformation > 0, np.asarray(masks[schema.ACTIVITY_MASK]), 0)
    intensity = np.asarray(masks[schema.INTENSITY_MASK])
    found = []
    for code in np.unique(activity[activity > 0]):
        pixels = activity == code
        grown = ndimage.binary_dilation(pixels, structure=_EIGHT_CONNECTED, iterations=PATTERN_GAP_PX // 2)
        labelled, _ = ndimage.label(grown, structure=_EIGHT_CONNECTED)
        labelled[~pixels] = 0
        for k, region in enumerate(ndimage.find_objects(labelled), start=1):  # each grown part holds a pixel
            inside = labelled[region] == k
            found.append((int(inside.sum()), int(code), _mode(intensity[region][inside])))
    return sorted(found, key=lambda p: -p[0])


def derived_fields(masks: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``label``, ``activity_type``, ``intensity_level`` and ``is_crowd`` as the masks say."""
    found = patterns(masks)
    deformation = np.asarray(masks[schema.DEFORMATION_MASK])
    labels = [
        name.value for name, present in ((schema.Label.DEFORMATION, (deformation == 1).any()),
                                         (schema.Label.EARTHQUAKE, (deformation == 2).any())) if present
    ] or [schema.Label.NON_DEFORMATION.value]  # fmt: skip
    return {
        "label": labels,
        "activity_type": [schema.ACTIVITY_TYPES[a].name for _, a, _ in found],
        "intensity_level": [schema.INTENSITY_LEVELS[i].name if i else "None" for _, _, i in found],
        "is_crowd": int(len(found) > 1),
    }


def with_derived_fields(record: Mapping[str, Any], masks: Mapping[str, np.ndarray]) -> tuple[dict, list[str]]:
    """``record`` with its derived fields recomputed from ``masks``, and one warning per field where the
    record said otherwise (what was typed loses: the masks are what a model learns from)."""
    derived = derived_fields(masks)
    warnings = [
        f"{field.replace('_', ' ')}: the record said {record[field]!r}, the masks say {value!r}; saved as the masks say."
        for field, value in derived.items()
        if field in record and _normalised(record[field]) != _normalised(value)
    ]
    return {**record, **derived}, warnings


def _normalised(value: Any) -> Any:
    return sorted(map(str, value)) if isinstance(value, list | tuple) else value
