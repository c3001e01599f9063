"""What the editing tools paint: one (activity type, intensity level) class, and label rasters as codes.

Codes, names and the consistency rule between the three rasters come from :mod:`thalia_viewer.core.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalia_viewer.core import schema
from thalia_viewer.core.errors import SchemaError

#: Intensity levels a volcanic (non-earthquake) class may be painted with: Low, Medium, High.
VOLCANIC_INTENSITIES = tuple(
    c.code for c in schema.INTENSITY_LEVELS if c.code not in (0, schema.EARTHQUAKE_INTENSITY)
)


def _listing(table: tuple[schema.ClassCode, ...], codes: tuple[int, ...] | None = None) -> str:
    return ", ".join(f"{c.code} {c.name}" for c in table if codes is None or c.code in codes)


def _entry(table: tuple[schema.ClassCode, ...], code: object, what: str) -> schema.ClassCode:
    if isinstance(code, (int, np.integer)) and not isinstance(code, bool):
        for c in table:
            if c.code == code:
                return c
    raise SchemaError(f"{what} code {code!r} is not valid.", f"Expected one of: {_listing(table)}.")


@dataclass(frozen=True)
class MaskClass:
    """The class a tool paints: an activity-type code and an intensity-level code (Hephaestus codes).

    Earthquake activity forces the earthquake intensity (``None``); activity 0 forces intensity 0 (this is
    :data:`NO_DEFORMATION`, what the eraser paints); any other activity needs a level 1-3 (Low, Medium, High).
    """

    activity: int
    intensity: int = 0

    def __post_init__(self) -> None:
        activity = _entry(schema.ACTIVITY_TYPES, self.activity, "activity type").code
        intensity = _entry(schema.INTENSITY_LEVELS, self.intensity, "intensity level").code
        if activity == schema.EARTHQUAKE_ACTIVITY:
            intensity = schema.EARTHQUAKE_INTENSITY
        elif activity == 0:
            intensity = 0
        elif intensity not in VOLCANIC_INTENSITIES:
            name = _entry(schema.ACTIVITY_TYPES, activity, "activity type").name
            msg = f"activity type {activity} ({name}) cannot take intensity level {intensity}."
            raise SchemaError(
                msg, f"Expected one of: {_listing(schema.INTENSITY_LEVELS, VOLCANIC_INTENSITIES)}."
            )
        object.__setattr__(self, "activity", int(activity))
        object.__setattr__(self, "intensity", int(intensity))

    @classmethod
    def from_names(cls, activity: str, intensity: str | None = None) -> MaskClass:
        """The class of an activity name and an intensity name as spelt in ``annotations.json``."""
        code = schema.class_by_name(schema.ACTIVITY_TYPES, activity).code
        level = schema.class_by_name(schema.INTENSITY_LEVELS, intensity).code if intensity else 0
        return cls(code, level)

    @property
    def deformation(self) -> int:
        """The ``deformation_mask`` code this class implies."""
        return int(schema.deformation_from_activity(np.asarray(self.activity)))

    @property
    def codes(self) -> tuple[int, ...]:
        """Codes painted in each raster, in :data:`schema.MASKS` order (deformation, activity, intensity)."""
        codes = {
            schema.DEFORMATION_MASK: self.deformation,
            schema.ACTIVITY_MASK: self.activity,
            schema.INTENSITY_MASK: self.intensity,
        }
        return tuple(codes[name] for name in schema.MASKS)

    @property
    def name(self) -> str:
        """A readable name, e.g. ``Mogi / High``."""
        activity = _entry(schema.ACTIVITY_TYPES, self.activity, "activity type").name
        return f"{activity} / {_entry(schema.INTENSITY_LEVELS, self.intensity, 'intensity level').name}"


NO_DEFORMATION = MaskClass(0, 0)


def as_codes(raster: np.ndarray, variable: str) -> np.ndarray:
    """``raster`` as a C-contiguous uint8 copy of valid codes of mask ``variable`` (NaN no-data -> 0)."""
    a = np.asarray(raster)
    table = schema.MASK_CLASSES[variable]
    if a.ndim != 2:
        raise SchemaError(f"{variable} must be 2-D (rows, cols), got shape {a.shape}.")
    if a.dtype.kind == "f":
        a = np.nan_to_num(a, nan=0.0)
        if not np.array_equal(a, np.round(a)):
            raise SchemaError(f"{variable} holds non-integer values.", f"Expected codes: {_listing(table)}.")
    elif a.dtype.kind not in "iub":
        raise SchemaError(f"{variable} has dtype {a.dtype}; expected integer or float codes.")
    top = max(c.code for c in table)
    if a.size and (a.min() < 0 or a.max() > top):
        bad = np.unique(a[(a < 0) | (a > top)])[:10].tolist()
        raise SchemaError(f"{variable} holds unknown codes {bad}.", f"Expected one of: {_listing(table)}.")
    return np.array(a, dtype=np.uint8, order="C")


def masks_from_deformation(deformation: np.ndarray, intensity: int) -> tuple[np.ndarray, np.ndarray]:
    """``(activity_type_mask, intensity_level_mask)`` for a cube that only has ``deformation_mask``.

    Volcanic pixels become Unidentified with intensity level ``intensity`` (1-3, or 0 when the level is
    unknown: the caller decides, e.g. from the pair's annotation record); earthquake pixels become
    Earthquake with the earthquake intensity.
    """
    level = _entry(schema.INTENSITY_LEVELS, intensity, "intensity level").code
    if level == schema.EARTHQUAKE_INTENSITY:
        msg = f"intensity level {level} is reserved for earthquakes; volcanic pixels take 0-3."
        raise SchemaError(
            msg,
            f"Expected one of: 0 none (unknown), {_listing(schema.INTENSITY_LEVELS, VOLCANIC_INTENSITIES)}.",
        )
    codes = as_codes(deformation, schema.DEFORMATION_MASK)
    lut = np.zeros(len(schema.DEFORMATION_CLASSES), np.uint8)
    for activity in (schema.UNIDENTIFIED_ACTIVITY, schema.EARTHQUAKE_ACTIVITY):
        lut[schema.deformation_from_activity(np.asarray(activity))] = activity
    activity = lut[codes]
    _, levels = schema.consistent_masks(activity, np.full(codes.shape, level, np.uint8))
    return activity, levels
