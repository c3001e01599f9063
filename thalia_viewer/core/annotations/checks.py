"""Checks of what an editor asks the annotation store to save: three class rasters and one label record.

Everything is checked before anything is written, and each problem names the pair, the mask or field,
what was found and what is expected. The rules between the masks (:func:`check_consistency`) are checked
on the chunks a save writes: the others are those of the previous, already checked, version (or all 0).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .. import schema
from ..errors import InvalidEditError
from ..pairs import Pair
from ..validate import validate_record
from .chunks import Block

_FIX = "Nothing was saved; fix the masks in the editor and save again."


def check_masks(
    pair: Pair, masks: Mapping[str, np.ndarray], shape: tuple[int, int] | None
) -> dict[str, np.ndarray]:
    """The three masks of ``pair`` as uint8 codes (copies), after checking keys, shapes and class codes.

    ``shape`` is the frame's (rows, columns) in pixels, or ``None`` when unknown (then the masks must only
    agree with each other).
    """
    missing = [m for m in schema.MASKS if m not in masks]
    extra = sorted(set(masks) - set(schema.MASKS))
    if missing or extra:
        msg = (
            f"pair {pair}: masks must be exactly {list(schema.MASKS)}; missing {missing}, unexpected {extra}."
        )
        raise InvalidEditError(msg, _FIX)
    out = {name: _codes(pair, name, masks[name]) for name in schema.MASKS}
    shapes = {name: a.shape for name, a in out.items()}
    expected = shape or shapes[schema.DEFORMATION_MASK]
    wrong = {name: s for name, s in shapes.items() if s != tuple(expected)}
    if wrong:
        msg = f"pair {pair}: mask shape(s) {wrong} differ from the frame's {tuple(expected)} (rows, columns)."
        raise InvalidEditError(msg, _FIX)
    return out


def _codes(pair: Pair, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as uint8 class codes of mask ``name``; unknown codes, NaN or fractions are refused.

    Element-wise comparisons only (``np.unique`` of a 4096^2 raster costs 0.1 s, these a few ms).
    """
    a = np.asarray(values)
    if a.ndim != 2:
        msg = f"pair {pair}: {name} has {a.ndim} dimension(s); expected a 2-D (rows, columns) raster."
        raise InvalidEditError(msg, _FIX)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        msg = f"pair {pair}: {name} has dtype {a.dtype}; expected integer class codes."
        raise InvalidEditError(msg, _FIX)
    codes = np.array(a, dtype=np.uint8, copy=True)  # wraps or truncates what is not a code: caught below
    valid = sorted(c.code for c in schema.MASK_CLASSES[name])
    holes = sorted(set(range(valid[-1] + 1)) - set(valid))
    exact = a.dtype == np.uint8 or np.array_equal(codes, a)
    if not exact or codes.max(initial=0) > valid[-1] or (holes and np.isin(codes, holes).any()):
        wrong = (codes != a) | (codes > valid[-1]) | np.isin(codes, holes)
        bad = np.unique(a[wrong]).tolist()
        msg = f"pair {pair}: {name} holds unknown class code(s) {bad[:10]}; valid codes are {valid}."
        raise InvalidEditError(msg, _FIX)
    return codes


def check_consistency(pair: Pair, masks: Mapping[str, np.ndarray], blocks: Iterable[Block]) -> None:
    """The rules between the uint8 masks of ``pair``, within ``blocks`` (row and column slices).

    ``deformation_mask`` = :func:`schema.deformation_from_activity` of ``activity_type_mask``; no intensity
    outside deformation; on earthquake pixels intensity is 0 or the earthquake code, used nowhere else; the
    "not placed" codes of both rasters go together.
    """
    counts = np.zeros(4, np.int64)
    for block in blocks:
        counts += _rule_breaks(*(masks[n][block] for n in schema.MASKS))
    disagree, stray, quake, unplaced = counts.tolist()
    if disagree:
        msg = (
            f"pair {pair}: {schema.DEFORMATION_MASK} disagrees with {schema.ACTIVITY_MASK} "
            f"at {disagree} pixel(s) "
            "(activity 1-4 and 6 imply deformation 1, activity 5 (Earthquake) implies 2, 0 implies 0)."
        )
        raise InvalidEditError(msg, _FIX)
    if stray:
        msg = f"pair {pair}: {schema.INTENSITY_MASK} is set at {stray} pixel(s) without deformation."
        raise InvalidEditError(msg, _FIX)
    if quake:
        eq = schema.EARTHQUAKE_INTENSITY
        msg = (
            f"pair {pair}: {schema.INTENSITY_MASK} on earthquake pixels (deformation 2) must be "
            f"{eq} (None) or 0, "
            f"and {eq} only there; {quake} pixel(s) break that."
        )
        raise InvalidEditError(msg, _FIX)
    if unplaced:
        msg = (
            f"pair {pair}: {schema.ACTIVITY_MASK} {schema.UNPLACED_ACTIVITY} and {schema.INTENSITY_MASK} "
            f"{schema.UNPLACED_INTENSITY} (classes not placed) go together; {unplaced} pixel(s) have only one."
        )
        raise InvalidEditError(msg, _FIX)


def _rule_breaks(
    deformation: np.ndarray, activity: np.ndarray, intensity: np.ndarray
) -> tuple[int, int, int, int]:
    """Pixels breaking each rule of :func:`check_consistency` (codes are known valid)."""
    disagree = int(np.count_nonzero(schema.deformation_from_activity(activity) != deformation))
    nonzero = intensity != 0
    stray = int(np.count_nonzero(nonzero & (deformation == 0)))
    eq = schema.EARTHQUAKE_INTENSITY
    quake = int(np.count_nonzero((intensity == eq) != (nonzero & (deformation == 2))))
    unplaced = int(
        np.count_nonzero((intensity == schema.UNPLACED_INTENSITY) != (activity == schema.UNPLACED_ACTIVITY))
    )
    return disagree, stray, quake, unplaced


def check_record(pair: Pair, record: Mapping[str, Any], source: Mapping[str, Any] | None) -> dict[str, Any]:
    """``record`` as a plain JSON-able dict, its fields checked (:func:`validate_record`) against ``pair``.

    ``source`` is the pair's record in the source ``annotations.json`` (its ``uniqueID`` must be kept).
    ``segmentation_mask`` is dropped: the masks are the truth, the export vectorises them again.
    """
    if not isinstance(record, Mapping):
        kind = type(record).__name__
        msg = f"pair {pair}: the label record is a {kind}; expected a dict like an annotations.json record."
        raise InvalidEditError(msg, _FIX)
    try:
        rec = json.loads(json.dumps(dict(record), allow_nan=False))
    except (TypeError, ValueError) as exc:
        msg = f"pair {pair}: the label record is not plain JSON ({exc})."
        raise InvalidEditError(msg, _FIX) from exc
    rec.pop("segmentation_mask", None)
    problems = validate_record(str(rec.get("uniqueID", pair)), rec)
    named = {"frameID": pair.frame, "primary_date": pair.primary, "secondary_date": pair.secondary}
    for field, value in named.items():
        if field in rec and str(rec[field]) != value:
            problems.append(f"{field}={rec[field]!r} does not match pair {pair} ({value!r})")
    if source is not None and "uniqueID" in source and rec.get("uniqueID") != source["uniqueID"]:
        problems.append(
            f"uniqueID={rec.get('uniqueID')!r} differs from the source record's {source['uniqueID']!r}"
        )
    if problems:
        msg = f"pair {pair}: the label record is invalid: " + "; ".join(problems) + "."
        raise InvalidEditError(msg, _FIX)
    return rec
