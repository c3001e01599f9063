"""Checks of what an editor asks the annotation store to save: three class rasters and one label record.

Everything is checked before anything is written, and each problem names the pair, the mask or field,
what was found and what is expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import schema
from ..errors import InvalidEditError
from ..pairs import Pair
from ..validate import validate_record

_FIX = "Nothing was saved; fix the masks in the editor and save again."


def check_masks(pair: Pair, masks: Mapping[str, np.ndarray], shape: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """The three masks of ``pair`` as uint8 codes, after checking keys, shape, codes and consistency.

    ``shape`` is the frame's (rows, columns) in pixels, or ``None`` when unknown (then the masks must only
    agree with each other). Rules: ``deformation_mask`` = :func:`schema.deformation_from_activity` of
    ``activity_type_mask``; no intensity outside deformation; the earthquake intensity code only, or 0, on
    earthquake pixels.
    """
    missing = [m for m in schema.MASKS if m not in masks]
    extra = sorted(set(masks) - set(schema.MASKS))
    if missing or extra:
        msg = f"pair {pair}: masks must be exactly {list(schema.MASKS)}; missing {missing}, unexpected {extra}."
        raise InvalidEditError(msg, _FIX)
    out = {name: _codes(pair, name, masks[name]) for name in schema.MASKS}
    shapes = {name: a.shape for name, a in out.items()}
    expected = shape or shapes[schema.DEFORMATION_MASK]
    wrong = {name: s for name, s in shapes.items() if s != tuple(expected)}
    if wrong:
        msg = f"pair {pair}: mask shape(s) {wrong} differ from the frame's {tuple(expected)} (rows, columns)."
        raise InvalidEditError(msg, _FIX)
    _check_consistency(pair, out)
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


def _check_consistency(pair: Pair, m: dict[str, np.ndarray]) -> None:
    """The activity -> deformation rule of :func:`schema.deformation_from_activity`, and the intensity rules.

    Codes are known valid here, so each deformation class must cover exactly the pixels of the activity
    codes that imply it; the class implied by most codes is then right wherever the others are.
    """
    deformation, activity, intensity = (m[n] for n in schema.MASKS)
    activity_codes = [c.code for c in schema.ACTIVITY_TYPES]
    implied = schema.deformation_from_activity(np.array(activity_codes)).tolist()
    sources = {c.code: [k for k, d in zip(activity_codes, implied, strict=True) if d == c.code] for c in schema.DEFORMATION_CLASSES}
    remainder = max(sources, key=lambda d: len(sources[d]))
    is_class = {d: deformation == d for d in sources if d != remainder}
    for d, mask in is_class.items():
        expected = activity == sources[d][0]
        for k in sources[d][1:]:
            expected |= activity == k
        n = int(np.count_nonzero(expected != mask))
        if n:
            msg = (
                f"pair {pair}: {schema.DEFORMATION_MASK} disagrees with {schema.ACTIVITY_MASK} at {n} pixel(s) "
                "(activity 1-4 and 6 imply deformation 1, activity 5 (Earthquake) implies 2, 0 implies 0)."
            )
            raise InvalidEditError(msg, _FIX)
    none, quake = deformation == 0, deformation == 2
    nonzero = intensity != 0
    stray = int(np.count_nonzero(none & nonzero))
    if stray:
        msg = f"pair {pair}: {schema.INTENSITY_MASK} is set at {stray} pixel(s) without deformation."
        raise InvalidEditError(msg, _FIX)
    eq = schema.EARTHQUAKE_INTENSITY
    wrong = int(np.count_nonzero((intensity == eq) != (quake & nonzero)))
    if wrong:
        msg = (
            f"pair {pair}: {schema.INTENSITY_MASK} on earthquake pixels (deformation 2) must be {eq} (None) or 0, "
            f"and {eq} only there; {wrong} pixel(s) break that."
        )
        raise InvalidEditError(msg, _FIX)


def check_record(pair: Pair, record: Mapping[str, Any], source: Mapping[str, Any] | None) -> dict[str, Any]:
    """``record`` as a plain JSON-able dict, after checking its fields (:func:`validate_record`) against ``pair``.

    ``source`` is the pair's record in the source ``annotations.json`` (its ``uniqueID`` must be kept).
    """
    if not isinstance(record, Mapping):
        msg = f"pair {pair}: the label record is a {type(record).__name__}; expected a dict like an annotations.json record."
        raise InvalidEditError(msg, _FIX)
    try:
        rec = json.loads(json.dumps(dict(record), allow_nan=False))
    except (TypeError, ValueError) as exc:
        msg = f"pair {pair}: the label record is not plain JSON ({exc})."
        raise InvalidEditError(msg, _FIX) from None
    problems = validate_record(str(rec.get("uniqueID", pair)), rec)
    named = {"frameID": pair.frame, "primary_date": pair.primary, "secondary_date": pair.secondary}
    for field, value in named.items():
        if field in rec and str(rec[field]) != value:
            problems.append(f"{field}={rec[field]!r} does not match pair {pair} ({value!r})")
    if source is not None and "uniqueID" in source and rec.get("uniqueID") != source["uniqueID"]:
        problems.append(f"uniqueID={rec.get('uniqueID')!r} differs from the source record's {source['uniqueID']!r}")
    if problems:
        msg = f"pair {pair}: the label record is invalid: " + "; ".join(problems) + "."
        raise InvalidEditError(msg, _FIX)
    return rec
