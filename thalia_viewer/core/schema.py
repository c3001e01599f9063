"""The Thalia format in one place: variable names, dimensions, class codes, colours, statistics, splits.

Every other module spells a format name, a code or a colour through this module, never by hand.
Facts come from the public Thalia / Hephaestus code (see ``shared/reference/thalia_format.md``);
``activity_type_mask`` and ``intensity_level_mask`` are this project's additions (Hephaestus codes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

import numpy as np

# --------------------------------------------------------------------------------------------- layout
ANNOTATIONS_FILE: Final = "annotations.json"
QUALITY_FILE: Final = "quality_timeseries.json"
STORE_SUFFIX: Final = ".zarr"
#: LiCSAR frame ids (``124D_05291_081406``) and the two stripmap ids (``144A_SM_REUN_S6``).
FRAME_ID_PATTERN: Final = re.compile(r"^\d{3}[AD]_(\d{5}_\d{6}|SM_[A-Z]+_S\d)$")

# ------------------------------------------------------------------------------------------ dimensions
PRIMARY: Final = "primary_date"
SECONDARY: Final = "secondary_date"
DATE_DIMS: Final = (PRIMARY, SECONDARY)
#: Spatial dim names we know of; readers take the last two dims of ``insar_difference`` whatever they are.
SPATIAL_DIM_NAMES: Final = (("y", "x"), ("lat", "lon"), ("latitude", "longitude"))
SPATIAL_REF: Final = "spatial_ref"
DATE_FORMAT: Final = "%Y%m%d"

# ------------------------------------------------------------------------------------------- variables
PHASE: Final = "insar_difference"
COHERENCE: Final = "insar_coherence"
DEM: Final = "dem"
DEFORMATION_MASK: Final = "deformation_mask"
ACTIVITY_MASK: Final = "activity_type_mask"  # project addition, Hephaestus codes
INTENSITY_MASK: Final = "intensity_level_mask"  # project addition
GEOMORPHOLOGY: Final = (PHASE, COHERENCE, DEM)
ERA5_FIELDS: Final = ("total_column_water_vapour", "surface_pressure", "vertical_integral_of_temperature")
MASKS: Final = (DEFORMATION_MASK, ACTIVITY_MASK, INTENSITY_MASK)
REQUIRED_MASKS: Final = (DEFORMATION_MASK,)


def era5_variable(field: str, which: str) -> str:
    """Store name of an ERA5 field at one acquisition, e.g. ``primary_date_surface_pressure``."""
    if field not in ERA5_FIELDS or which not in DATE_DIMS:
        msg = f"unknown ERA5 field {field!r} or date {which!r}; expected one of {ERA5_FIELDS} x {DATE_DIMS}"
        raise ValueError(msg)
    return f"{which}_{field}"


ERA5_VARIABLES: Final = tuple(era5_variable(f, w) for f in ERA5_FIELDS for w in DATE_DIMS)
#: The model-input channel order of the benchmark (9 per time step; the first 3 are the "base setting").
CHANNELS: Final = (*GEOMORPHOLOGY, *ERA5_VARIABLES)
REQUIRED_VARIABLES: Final = (*CHANNELS, DEFORMATION_MASK)

#: Dataset statistics (mean, std) of the Thalia benchmark; ERA5 statistics apply to both dates.
NORMALIZATION: Final[dict[str, tuple[float, float]]] = {
    PHASE: (0.001489616346722796, 1.6176833645747521),
    COHERENCE: (69.3472689222075, 76.50325808397666),
    DEM: (833.0587512223403, 977.504283216005),
    "total_column_water_vapour": (22.526107385139355, 12.85386775756665),
    "surface_pressure": (92966.61998575741, 9132.050564654619),
    "vertical_integral_of_temperature": (2396036.7821715856, 263503.6556952968),
}

COHERENCE_SCALE: Final = 255.0  # real cubes store coherence as 0-255
S1_WAVELENGTH_M: Final = 0.05546  # Sentinel-1 C band
WGS84_WKT: Final = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],'
    'AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)


# ---------------------------------------------------------------------------------------- class codes
@dataclass(frozen=True)
class ClassCode:
    """One class of a label raster: its code, its name in ``annotations.json`` and its display colour."""

    code: int
    name: str
    color: str  # "#rrggbb"
    description: str = ""


#: Class colours: dark (CIELAB L* 19-50), so that a class never looks like a fringe of the wrapped phase (its
#: cyclic map spans every hue at L* 54-84: each class is at least CIEDE2000 17 from all its colours), every
#: class distinct from every other of the three tables (at least 22 apart; at least 11 for protanopes,
#: deuteranopes and tritanopes), earthquakes one colour in all tables, intensity darker as it grows.
#: ``tests/test_colours.py`` checks all of it.
EARTHQUAKE_COLOR: Final = "#c018f0"
DEFORMATION_CLASSES: Final = (
    ClassCode(0, "Non_Deformation", "#00000000", "no deformation"),
    ClassCode(1, "Deformation", "#6c000c", "volcanic deformation"),
    ClassCode(2, "Earthquake", EARTHQUAKE_COLOR, "earthquake deformation"),
)
ACTIVITY_TYPES: Final = (
    ClassCode(0, "none", "#00000000", "no deformation"),
    ClassCode(1, "Mogi", "#d82460", "point pressure source"),
    ClassCode(2, "Dyke", "#844800", "vertical tensile dislocation"),
    ClassCode(3, "Sill", "#847800", "horizontal tensile crack"),
    ClassCode(4, "Spheroid", "#0c846c", "prolate spheroid"),
    ClassCode(5, "Earthquake", EARTHQUAKE_COLOR, "fault slip"),
    ClassCode(6, "Unidentified", "#48483c", "deformation of unidentified source"),
)
INTENSITY_LEVELS: Final = (
    ClassCode(0, "none", "#00000000", "no deformation"),
    ClassCode(1, "Low", "#786c90", "about 1 fringe"),
    ClassCode(2, "Medium", "#005478", "2-3 fringes"),
    ClassCode(3, "High", "#300090", "more than 3 fringes"),
    ClassCode(4, "None", EARTHQUAKE_COLOR, "earthquake (no intensity level)"),
)
#: Class tables by mask variable.
MASK_CLASSES: Final[dict[str, tuple[ClassCode, ...]]] = {
    DEFORMATION_MASK: DEFORMATION_CLASSES,
    ACTIVITY_MASK: ACTIVITY_TYPES,
    INTENSITY_MASK: INTENSITY_LEVELS,
}
EARTHQUAKE_ACTIVITY: Final = 5
EARTHQUAKE_INTENSITY: Final = 4
UNIDENTIFIED_ACTIVITY: Final = 6  # what a deformation_mask pixel of a real cube is, without more facts


def class_by_name(table: tuple[ClassCode, ...], name: str) -> ClassCode:
    """The class of ``table`` called ``name`` (as spelt in ``annotations.json``)."""
    for c in table:
        if c.code and c.name == name:
            return c
    names = [c.name for c in table if c.code]
    msg = f"unknown class name {name!r}; expected one of {names}"
    raise ValueError(msg)


def deformation_from_activity(activity: np.ndarray) -> np.ndarray:
    """``deformation_mask`` codes implied by ``activity_type_mask`` codes (1-4, 6 -> 1; 5 -> 2; 0 -> 0)."""
    activity = np.asarray(activity)
    out = np.where(activity > 0, 1, 0).astype(np.uint8)
    out[activity == EARTHQUAKE_ACTIVITY] = 2
    return out


def consistent_masks(activity: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(deformation_mask, intensity_level_mask)`` made consistent with ``activity_type_mask`` (uint8).

    Intensity becomes 0 where activity is 0, the earthquake code where activity is earthquake, and 0 (level
    unknown) where another activity carries the earthquake code; other levels are kept.
    """
    activity = np.asarray(activity)
    out = np.array(intensity, dtype=np.uint8)
    out[(activity == 0) | (out == EARTHQUAKE_INTENSITY)] = 0
    out[activity == EARTHQUAKE_ACTIVITY] = EARTHQUAKE_INTENSITY
    return deformation_from_activity(activity), out


def intensity_level_from_fringes(fringes: float, earthquake: bool = False) -> int:
    """Intensity code from the fringe count: Low = 1 fringe, Medium = 2-3, High = more than 3."""
    if earthquake:
        return EARTHQUAKE_INTENSITY
    if fringes < 0.5:
        return 0
    if fringes < 1.5:
        return 1
    if fringes <= 3.5:
        return 2
    return 3


# ---------------------------------------------------------------------------------------- annotations
class Label(StrEnum):
    """Pair labels of ``annotations.json``."""

    NON_DEFORMATION = "Non_Deformation"
    DEFORMATION = "Deformation"
    EARTHQUAKE = "Earthquake"


class Phase(StrEnum):
    """Volcanic phase of a pair (``phase`` field)."""

    REST = "Rest"
    UNREST = "Unrest"  # uplift
    REBOUND = "Rebound"  # subsidence
    NONE = "None"  # pure earthquake


#: Integer flags of an annotation record and their valid values with readable names.
FLAG_FIELDS: Final[dict[str, dict[int, str]]] = {
    "corrupted": {0: "no", 1: "yes"},
    "processing_error": {0: "none", 2: "type 2", 3: "type 3"},
    "glacier_fringes": {0: "none", 1: "some", 2: "strong"},
    "orbital_fringes": {0: "no", 1: "yes"},
    "atmospheric_fringes": {0: "none", 1: "vertical stratification", 2: "turbulent mixing", 3: "both"},
    "low_coherence": {0: "no", 1: "yes"},
    "no_info": {0: "no", 1: "yes"},
    "image_artifacts": {0: "no", 1: "yes"},
}
ATMO_STRATIFIED: Final = 1
ATMO_TURBULENT: Final = 2
#: Fields of an ``annotations.json`` record, in the official order (``segmentation_mask`` is optional).
ANNOTATION_FIELDS: Final = (
    "uniqueID", "frameID", "primary_date", "secondary_date", *FLAG_FIELDS,
    "label", "activity_type", "intensity_level", "phase", "confidence", "is_crowd", "caption",
)  # fmt: skip
OPTIONAL_ANNOTATION_FIELDS: Final = ("segmentation_mask",)
#: A pair is "usable" (kept in quality_timeseries.json) unless one of these flags is set.
UNUSABLE_FLAGS: Final = ("corrupted", "processing_error", "no_info")


def is_positive(record: dict) -> bool:
    """True when an annotation record labels deformation (volcanic or earthquake)."""
    return Label.NON_DEFORMATION.value not in record.get("label", [Label.NON_DEFORMATION.value])


# ------------------------------------------------------------------------------------- dates / splits
def parse_date(value: str | date | np.datetime64) -> date:
    """A ``YYYYMMDD`` string, ``datetime.date`` or ``numpy.datetime64`` as a ``date``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]").item()
    text = str(value).strip().replace("-", "")[:8]
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        msg = f"{value!r} is not a date; expected YYYYMMDD (e.g. 20190115)"
        raise ValueError(msg) from None


def format_date(value: str | date | np.datetime64) -> str:
    """A date as the ``YYYYMMDD`` string used in ``annotations.json``."""
    return parse_date(value).strftime(DATE_FORMAT)


class Split(StrEnum):
    """Temporal benchmark split, by primary date."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"


#: Inclusive primary-date ranges of the Thalia temporal split.
SPLIT_RANGES: Final[dict[Split, tuple[date, date]]] = {
    Split.TRAIN: (date(2014, 1, 1), date(2019, 5, 31)),
    Split.VAL: (date(2019, 6, 1), date(2019, 12, 31)),
    Split.TEST: (date(2020, 1, 1), date(2021, 12, 31)),
}


def split_of(primary: str | date | np.datetime64) -> Split | None:
    """The benchmark split of a pair with this primary date, or ``None`` outside every range."""
    d = parse_date(primary)
    for split, (lo, hi) in SPLIT_RANGES.items():
        if lo <= d <= hi:
            return split
    return None


SEQUENCE_LENGTH: Final = 3  # benchmark time-series length
CROP_SIZE: Final = 512  # benchmark crop, pixels


# ---------------------------------------------------------------------------------------------- layers
class LayerKind(StrEnum):
    """How a layer's values are read and shown."""

    CYCLIC = "cyclic"  # wrapped phase: cyclic colour map, never averaged across the wrap
    CONTINUOUS = "continuous"
    CLASSES = "classes"  # integer codes: never averaged


@dataclass(frozen=True)
class Layer:
    """A 2-D view of one pair: which variable(s), what it means, its units and how it is shown."""

    key: str
    variable: str
    title: str
    units: str
    kind: LayerKind
    date: str | None = None  # PRIMARY / SECONDARY for one acquisition; None for pair or static layers
    delta: bool = False  # secondary minus primary (ERA5 only)
    span: tuple[float, float] | None = None  # fixed colour range, else from the data


ERA5_SHORT: Final = {
    "total_column_water_vapour": ("tcwv", "Total column water vapour", "kg m-2"),
    "surface_pressure": ("sp", "Surface pressure", "Pa"),
    "vertical_integral_of_temperature": ("vit", "Vertical integral of temperature", "K kg m-2"),
}


def _layers() -> dict[str, Layer]:
    table = [
        Layer("phase", PHASE, "Wrapped phase", "rad", LayerKind.CYCLIC, span=(-np.pi, np.pi)),
        Layer("coherence", COHERENCE, "Coherence", "0-1", LayerKind.CONTINUOUS, span=(0.0, 1.0)),
        Layer("dem", DEM, "Elevation", "m", LayerKind.CONTINUOUS),
    ]
    for field, (short, title, units) in ERA5_SHORT.items():
        table += [
            Layer(f"{short}_primary", era5_variable(field, PRIMARY), f"{title} (primary)", units,
                  LayerKind.CONTINUOUS, date=PRIMARY),
            Layer(f"{short}_secondary", era5_variable(field, SECONDARY), f"{title} (secondary)", units,
                  LayerKind.CONTINUOUS, date=SECONDARY),
            Layer(f"{short}_delta", field, f"{title} (secondary - primary)", units,
                  LayerKind.CONTINUOUS, delta=True),
        ]  # fmt: skip
    table += [
        Layer("deformation", DEFORMATION_MASK, "Deformation mask", "class", LayerKind.CLASSES),
        Layer("activity", ACTIVITY_MASK, "Activity type", "class", LayerKind.CLASSES),
        Layer("intensity", INTENSITY_MASK, "Intensity level", "class", LayerKind.CLASSES),
    ]
    return {layer.key: layer for layer in table}


LAYERS: Final[dict[str, Layer]] = _layers()
#: Short names accepted wherever a layer key is: ``mask`` is the deformation mask, ``tcwv`` its change.
LAYER_ALIASES: Final = {"mask": "deformation", **{s: f"{s}_delta" for s, _, _ in ERA5_SHORT.values()}}


def layer(key: str) -> Layer:
    """The layer called ``key`` (or one of its aliases)."""
    key = LAYER_ALIASES.get(key.strip().lower(), key.strip().lower())
    try:
        return LAYERS[key]
    except KeyError:
        msg = f"unknown layer {key!r}; expected one of {sorted(LAYERS)} or an alias in {sorted(LAYER_ALIASES)}"
        raise KeyError(msg) from None
