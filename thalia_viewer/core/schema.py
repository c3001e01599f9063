"""The Thalia format in one place: variable names, dimensions, class codes, colours, statistics, splits.

Every other module spells a format name, a code or a colour through this module, never by hand.
Facts come from the public Thalia / Hephaestus code and annotation files (the authors' ``InSarDataset``
loader, ``annotations.json``, ``quality_timeseries.json``, the paper's benchmark protocol);
``activity_type_mask`` and ``intensity_level_mask`` are this project's additions (Hephaestus codes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, TypedDict

import numpy as np

# --------------------------------------------------------------------------------------------- layout
ANNOTATIONS_FILE: Final = "annotations.json"
QUALITY_FILE: Final = "quality_timeseries.json"
STORE_SUFFIX: Final = ".zarr"
#: Optional file of a root: ``{frame_id: "Volcano, Volcano, ..."}`` (the Thalia repository's ``dataset/frame_names.json``).
FRAME_NAMES_FILE: Final = "frame_names.json"
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


class Label(StrEnum):
    """Pair labels of ``annotations.json``."""

    NON_DEFORMATION = "Non_Deformation"
    DEFORMATION = "Deformation"
    EARTHQUAKE = "Earthquake"


class ActivityType(StrEnum):
    """Activity types of ``annotations.json`` (one per deformation pattern), as spelt there."""

    MOGI = "Mogi"
    DYKE = "Dyke"
    SILL = "Sill"
    SPHEROID = "Spheroid"
    EARTHQUAKE = "Earthquake"
    UNIDENTIFIED = "Unidentified"


class IntensityLevel(StrEnum):
    """Intensity levels of ``annotations.json`` (one per pattern): Low = 1 fringe, Medium = 2-3, High = more
    than 3; ``None`` (the string) is the level of an earthquake."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    NONE = "None"


NO_CLASS: Final = "none"  # name of code 0 of a class raster (no deformation)
NOT_PLACED: Final = "Not_placed"  # name of the raster-only "not placed" codes

#: Class colours: dark (CIELAB L* 16-50), so that a class never looks like a fringe of the wrapped phase (its
#: cyclic map spans every hue at L* 54-84: each class is at least CIEDE2000 17 from all its colours), every
#: class distinct from every other of the three tables (at least 20 apart; at least 10 for protanopes,
#: deuteranopes and tritanopes), earthquakes one colour in all tables, "not placed" one (near-black) colour
#: in both tables that have it, intensity darker as it grows.
#: ``tests/test_colours.py`` checks all of it.
EARTHQUAKE_COLOR: Final = "#c018f0"
UNPLACED_COLOR: Final = "#302430"
DEFORMATION_CLASSES: Final = (
    ClassCode(0, Label.NON_DEFORMATION.value, "#00000000", "no deformation"),
    ClassCode(1, Label.DEFORMATION.value, "#6c000c", "volcanic deformation"),
    ClassCode(2, Label.EARTHQUAKE.value, EARTHQUAKE_COLOR, "earthquake deformation"),
)
ACTIVITY_TYPES: Final = (
    ClassCode(0, NO_CLASS, "#00000000", "no deformation"),
    ClassCode(1, ActivityType.MOGI.value, "#d82460", "point pressure source"),
    ClassCode(2, ActivityType.DYKE.value, "#844800", "vertical tensile dislocation"),
    ClassCode(3, ActivityType.SILL.value, "#847800", "horizontal tensile crack"),
    ClassCode(4, ActivityType.SPHEROID.value, "#0c846c", "prolate spheroid"),
    ClassCode(5, ActivityType.EARTHQUAKE.value, EARTHQUAKE_COLOR, "fault slip"),
    ClassCode(6, ActivityType.UNIDENTIFIED.value, "#48483c", "deformation of unidentified source"),
)
INTENSITY_LEVELS: Final = (
    ClassCode(0, NO_CLASS, "#00000000", "no deformation"),
    ClassCode(1, IntensityLevel.LOW.value, "#786c90", "about 1 fringe"),
    ClassCode(2, IntensityLevel.MEDIUM.value, "#005478", "2-3 fringes"),
    ClassCode(3, IntensityLevel.HIGH.value, "#300090", "more than 3 fringes"),
    ClassCode(4, IntensityLevel.NONE.value, EARTHQUAKE_COLOR, "earthquake (no intensity level)"),
)
#: Raster-only codes (never names in a record): deformation whose classes the record gives, for several
#: patterns, without saying which pixels are which (no polygons, or polygons that do not fit the cube).
#: Both rasters carry them together; the record's ``activity_type`` / ``intensity_level`` lists hold the
#: classes. Exports document them in ``flag_meanings``.
UNPLACED_ACTIVITY_CLASS: Final = ClassCode(
    7, NOT_PLACED, UNPLACED_COLOR, "classes from the record (several patterns), not placed on pixels"
)
UNPLACED_INTENSITY_CLASS: Final = ClassCode(
    5, NOT_PLACED, UNPLACED_COLOR, "levels from the record (several patterns), not placed on pixels"
)
#: Class tables by mask variable: the record's classes plus the raster-only "not placed" codes.
MASK_CLASSES: Final[dict[str, tuple[ClassCode, ...]]] = {
    DEFORMATION_MASK: DEFORMATION_CLASSES,
    ACTIVITY_MASK: (*ACTIVITY_TYPES, UNPLACED_ACTIVITY_CLASS),
    INTENSITY_MASK: (*INTENSITY_LEVELS, UNPLACED_INTENSITY_CLASS),
}
EARTHQUAKE_ACTIVITY: Final = 5
EARTHQUAKE_INTENSITY: Final = 4
UNIDENTIFIED_ACTIVITY: Final = 6  # deformation whose record names no volcanic class at all
UNPLACED_ACTIVITY: Final = UNPLACED_ACTIVITY_CLASS.code
UNPLACED_INTENSITY: Final = UNPLACED_INTENSITY_CLASS.code
VOLCANIC_LEVEL_NAMES: Final = tuple(
    c.name for c in INTENSITY_LEVELS if c.code not in (0, EARTHQUAKE_INTENSITY)
)
EARTHQUAKE: Final = ACTIVITY_TYPES[EARTHQUAKE_ACTIVITY].name  # the record's name of the earthquake class
NO_LEVEL: Final = INTENSITY_LEVELS[EARTHQUAKE_INTENSITY].name  # "None": the earthquake's intensity level


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

    Intensity becomes 0 where activity is 0, the earthquake code where activity is earthquake, the "not
    placed" code where activity is "not placed", and 0 (level unknown) where another activity carries the
    earthquake or "not placed" code; other levels are kept.
    """
    activity = np.asarray(activity)
    out = np.array(intensity, dtype=np.uint8)
    out[(activity == 0) | (out == EARTHQUAKE_INTENSITY) | (out == UNPLACED_INTENSITY)] = 0
    out[activity == EARTHQUAKE_ACTIVITY] = EARTHQUAKE_INTENSITY
    out[activity == UNPLACED_ACTIVITY] = UNPLACED_INTENSITY
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
#: The flag fields by name, for code that needs one in particular.
(
    FLAG_CORRUPTED,
    FLAG_PROCESSING_ERROR,
    FLAG_GLACIER,
    FLAG_ORBITAL,
    FLAG_ATMOSPHERIC,
    FLAG_LOW_COHERENCE,
    FLAG_NO_INFO,
    FLAG_IMAGE_ARTIFACTS,
) = FLAG_FIELDS
ATMO_STRATIFIED: Final = 1
ATMO_TURBULENT: Final = 2
#: Short names of the flags set, for tables and tooltips (the atmospheric flag by its kind).
FLAG_SHORT: Final[dict[str, str | dict[int, str]]] = {
    FLAG_ATMOSPHERIC: {
        ATMO_STRATIFIED: "strat.",
        ATMO_TURBULENT: "turb.",
        ATMO_STRATIFIED | ATMO_TURBULENT: "strat.+turb.",
    },
    FLAG_ORBITAL: "orbital",
    FLAG_GLACIER: "glacier",
    FLAG_LOW_COHERENCE: "low coh.",
    FLAG_CORRUPTED: "corrupted",
    FLAG_PROCESSING_ERROR: "proc. error",
    FLAG_NO_INFO: "no info",
    FLAG_IMAGE_ARTIFACTS: "artifacts",
}


def flag_value(record: Any, name: str) -> int:
    """The integer code of flag ``name`` in a record or catalogue row (a mapping); 0 when absent or not an
    integer (a damaged record shows no flag rather than breaking the view that lists it)."""
    try:
        return int(record.get(name) or 0) if record is not None else 0
    except (TypeError, ValueError, OverflowError):
        return 0


def flags_text(record: Any) -> str:
    """The flags set in a record or catalogue row, by their short names ("orbital, strat."); "" when none."""
    out = []
    for name, short in FLAG_SHORT.items():
        value = flag_value(record, name)
        if value:
            out.append(short.get(value, name) if isinstance(short, dict) else short)
    return ", ".join(out)


#: Fields of an ``annotations.json`` record, in the official order (``segmentation_mask`` is optional).
ANNOTATION_FIELDS: Final = (
    "uniqueID",
    "frameID",
    "primary_date",
    "secondary_date",
    *FLAG_FIELDS,
    "label",
    "activity_type",
    "intensity_level",
    "phase",
    "confidence",
    "is_crowd",
    "caption",
)
OPTIONAL_ANNOTATION_FIELDS: Final = ("segmentation_mask",)


class AnnotationRecord(TypedDict, total=False):
    """One record of ``annotations.json`` (the official fields, in :data:`ANNOTATION_FIELDS` order). Real files
    are not always complete, hence ``total=False``: read a field with ``.get`` where it may be absent."""

    uniqueID: int
    frameID: str
    primary_date: str  # YYYYMMDD
    secondary_date: str  # YYYYMMDD
    corrupted: int  # 0/1
    processing_error: int  # 0, 2, 3
    glacier_fringes: int  # 0-2
    orbital_fringes: int  # 0/1
    atmospheric_fringes: int  # 0-3: none, vertical stratification, turbulent mixing, both
    low_coherence: int  # 0/1
    no_info: int  # 0/1
    image_artifacts: int  # 0/1
    label: list[str]  # Label names
    activity_type: list[str]  # ActivityType names, one per pattern
    intensity_level: list[str | None]  # IntensityLevel names, one per pattern
    phase: str  # Phase name
    confidence: float  # 0-1
    is_crowd: int  # 1 when more than one pattern
    caption: str
    segmentation_mask: list[list[float]]  # optional: one flat [x0, y0, x1, y1, ...] polygon per pattern


#: Polygons of a record, one per pattern (flat ``[x0, y0, x1, y1, ...]``), in the source's pixel frame: the
#: Hephaestus records' LiCSAR preview-PNG pixels (~333 m), not the cube's grid.
POLYGONS_FIELD: Final = "segmentation_mask"
#: The project's key for polygons in cube pixels (x = column, y = row, pixel centres at integers), written
#: by an export for an edited record when the source's pixel frame is not known for its frame.
CUBE_POLYGONS_FIELD: Final = "segmentation_mask_cube_px"
#: A pair is "usable" (kept in quality_timeseries.json) unless one of these flags is set.
UNUSABLE_FLAGS: Final = ("corrupted", "processing_error", "no_info")


def is_positive(record: Mapping[str, Any]) -> bool:
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
        return _parse_text(text)
    except ValueError as exc:
        msg = f"{value!r} is not a date; expected YYYYMMDD (e.g. 20190115)"
        raise ValueError(msg) from exc


@lru_cache(maxsize=1 << 16)
def _parse_text(text: str) -> date:
    """``YYYYMMDD`` -> ``date``, memoised: a 1,326-pair frame parses the same few hundred dates many times."""
    return datetime.strptime(text, DATE_FORMAT).date()


def format_date(value: str | date | np.datetime64) -> str:
    """A date as the ``YYYYMMDD`` string used in ``annotations.json``."""
    if isinstance(value, str):
        try:
            return _format_text(value.strip().replace("-", "")[:8])
        except ValueError:
            parse_date(value)  # raises the error that names the value
    return parse_date(value).strftime(DATE_FORMAT)


@lru_cache(maxsize=1 << 16)
def _format_text(text: str) -> str:
    return _parse_text(text).strftime(DATE_FORMAT)


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
            Layer(
                f"{short}_primary",
                era5_variable(field, PRIMARY),
                f"{title} (primary)",
                units,
                LayerKind.CONTINUOUS,
                date=PRIMARY,
            ),
            Layer(
                f"{short}_secondary",
                era5_variable(field, SECONDARY),
                f"{title} (secondary)",
                units,
                LayerKind.CONTINUOUS,
                date=SECONDARY,
            ),
            Layer(
                f"{short}_delta",
                field,
                f"{title} (secondary - primary)",
                units,
                LayerKind.CONTINUOUS,
                delta=True,
            ),
        ]
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
    except KeyError as exc:
        from .errors import UnknownLayerError, did_you_mean  # errors import nothing of the schema: no cycle

        msg = f"unknown layer {key!r}.{did_you_mean(key, [*LAYERS, *LAYER_ALIASES])}"
        raise UnknownLayerError(
            msg, f"Layers: {', '.join(sorted(LAYERS))} (aliases: {', '.join(sorted(LAYER_ALIASES))})."
        ) from exc


# ------------------------------------------------------------------------------------- frames, volcanoes
#: The volcanoes each of the 38 Thalia frames covers, as the Thalia repository's ``dataset/frame_names.json``
#: lists them (comma-separated names); a root's own ``frame_names.json`` takes precedence.
FRAME_VOLCANOES: Final[dict[str, str]] = {
    "162A_06192_060402": "Gran Canaria, Tenerife",
    "128D_09016_110500": "Fernandina, Sierra Negra, ecuador, santiago, wolf",
    "021D_09150_131313": "Karisimbi, Muhavura, Nyamuragira, Nyiragongo, Tshibinda, Visoke",
    "156A_05796_080500": "Aira, kirishimayama, yonemaru-sumiyoshiike",
    "012D_07075_080504": "Colima",
    "115D_04601_131313": "Blue Lake Crater, Cinnamon Butte, Crater Lake, Davis Lake, Devils Garden, Jefferson, Newberry, "
    "Sand Mountain Field, Three Sisters",
    "022D_04826_121209": "Campi Flegrei, colli_albani, Ischia, vesuvius",
    "032D_09854_070505": "Batur, Buyan-Bratan, Rinjani",
    "152D_09114_131313": "Elmenteita Badlands, Homa Mountain, Longonot, Menengai, Ol Doinyo Eburru, Olkaria",
    "155D_02579_100800": "Geysir, Grensdalur, Grimsnes, Helgrindur, Hengill, Hromundartindur, Krysuvik, Ljosufjoll, "
    "Prestahnukur, Reykjanes",
    "106A_09090_000404": "Cerro Azul, Sierra Negra",
    "103A_07010_121313": "Tin Zaouatene Volcanic Field",
    "175D_12845_111312": "Okataina, Rotorua, Taupo, Maroa, Moutohora Island, Reporoa, white_island",
    "174A_09133_131313": "Bufumbira, Bunyaruguru, Karisimbi, Katunga, Muhavura, Nyamuragira, Nyiragongo, Tshibinda, Visoke",
    "076D_09725_121107": "Dieng Volcanic Complex, Lawu, Merapi, Merbabu, Muria, Slamet, Sundoro, Telomoyo, Ungaran",
    "142A_07606_131313": "Taal, Banahaw, Laguna Caldera, Malindig, Mariveles, Natib, Panay, San Pablo Volcanic Field",
    "124D_05291_081406": "Etna",
    "124D_04854_171313": "Campi Flegrei, Ischia, vesuvius",
    "083D_12636_131313": "Cerro Azul, Cochiquito Volcanic Group, Descabezado Grande, Llancanelo Volcanic Field, Lomas Blancas, "
    "Nevado de Longaví, Nevados de Chillan, Payún Matrú, Puelche Volcanic Field, Resago, San Pedro-Pellado, "
    "Tromen, azul",
    "014A_07688_131313": "Nabro, Gada Ale, Alayta, Ale Bagu, Alu-Dalafilla, Asavyo, Bora Ale, Borawli, Dabbahu, Dabbayra, Dubbi, "
    "Erta Ale, Hayli Gubbi, Ma Alalta, Manda Hararo, Manda-Inakir, Mat Ala, Tat Ali, afdera, mallahle, sork_ale",
    "152D_08915_131313": "Emuruangogolak, Korosi, Menengai, Ol Kokwe, Paka",
    "109D_05390_141615": "Milos, Santorini",
    "079D_05011_131313": "Ghegam Ridge, Porak, Tskhouk-Karckar, Unnamed",
    "146D_12613_231107": "Auckland Field, Kaikohe-Bay of Islands, Taranaki [Egmont], Whangarei",
    "164A_13146_131313": "Huequi, Osorno, Puntiagudo-Cordón Cenizos, Tronador, Yate, hornopiren",
    "079D_07694_131313": "Hayli Gubbi, Kurub, Ma Alalta, Manda Hararo, Mat Ala, Tat Ali, afdera, mallahle",
    "169D_00001_020800": "Hierro, La Palma",
    "005A_07021_131313": "Chichinautzin, Cofre de Perote, Iztaccíhuatl, La Malinche, La, Gloria, Las Cumbres, Los Humeros, Papayo, "
    "Pico de Orizaba, Popocatépetl, Serdán-Oriental, la_gloria",
    "155D_02484_191814": "Grensdalur, Grimsnes, Helgrindur, Hengill, Hromundartindur, Krysuvik, Langjokull, Ljosufjoll, "
    "Prestahnukur, Reykjanes, Snaefellsjokull",
    "086A_06208_131313": "Bazman, Taftan, kuh-e_nader",
    "083D_12440_131313": "Caldera del Atuel, Infiernillo, Maipo, Nevado de los Piuquenes, Northern Mendoza Volcanic Field, Palomo, "
    "Planchón-Peteroa, Risco Plateado, San José, Sordo Lucas, Tinguiririca, Tupungatito, Tupungato",
    "049A_07091_051113": "Colima",
    "032D_07536_111313": "Arayat, Banahaw, Laguna Caldera, Mariveles, Natib, Panay, Pinatubo, San Pablo Volcanic Field",
    "087D_07004_060904": "Haleakala, Hualalai, Hualalai2, Kilauea, Mauna Kea, Mauna Loa",
    "081A_12881_141414": "Okataina, Rotorua, Taupo, Maroa, Reporoa, Ruapehu, Tongariro",
    "115D_04999_131313": "Lassen Volcanic Center, Clear Lake, Silver Lake",
    "144A_SM_REUN_S6": "Piton de la Fournaise",
    "151D_SM_REUN_S4": "Piton de la Fournaise",
}


def volcanoes(frame_id: str, names: dict[str, str] | None = None) -> str:
    """The volcano names of a frame (``names``: a root's ``frame_names.json``, else :data:`FRAME_VOLCANOES`);
    ``""`` when unknown."""
    return str((names or {}).get(frame_id) or FRAME_VOLCANOES.get(frame_id, ""))
