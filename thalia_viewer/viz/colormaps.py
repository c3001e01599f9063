"""Colour maps of the layers: a cyclic map for wrapped phase, grey for coherence, a terrain map for the DEM,
sequential / diverging maps for ERA5 and RGBA lookup tables for the class masks.

Every class colour comes from ``schema.MASK_CLASSES``; the continuous maps are colorcet palettes (256 hex
colours, perceptually uniform).
"""

from __future__ import annotations

from typing import Final

import colorcet as cc
import numpy as np

from thalia_viewer.core import schema
from thalia_viewer.core.schema import Layer, LayerKind

#: Wrapped phase: a cyclic rainbow (red-yellow-green-cyan-blue-magenta-red); -pi and +pi share a colour,
#: so a fringe reads as one full colour cycle, as in the usual InSAR figures.
PHASE_CMAP: Final = "cyclic_rygcbmr_50_90_c64"  # CET_C6
COHERENCE_CMAP: Final = "linear_grey_0_100_c0"  # black = incoherent, white = coherent
DEM_CMAP: Final = "linear_gow_60_85_c27"  # green-orange-white, terrain-like (shown with hillshade)
DELTA_CMAP: Final = "diverging_bwr_40_95_c42"  # blue < 0 < red, span symmetric around 0
DEFAULT_SEQUENTIAL_CMAP: Final = "linear_bgy_10_95_c74"
#: Sequential maps of the single-date ERA5 layers, by ERA5 field.
ERA5_CMAPS: Final[dict[str, str]] = {
    "total_column_water_vapour": "linear_blue_95_50_c20",  # white -> blue: more water, bluer
    "surface_pressure": "linear_bgy_10_95_c74",
    "vertical_integral_of_temperature": "linear_kryw_0_100_c71",  # "fire": warmer, brighter
}
#: Colour of a "no class" cell and of codes absent from a table: fully transparent.
TRANSPARENT: Final = "#00000000"
OPAQUE: Final = 255


def _as_layer(layer: Layer | str) -> Layer:
    return layer if isinstance(layer, Layer) else schema.layer(layer)


def _era5_field(layer: Layer) -> str | None:
    """The ERA5 field shown by ``layer`` (``surface_pressure`` ...), or ``None`` for other layers."""
    for field in schema.ERA5_FIELDS:
        if layer.variable == field or layer.variable.endswith(f"_{field}"):
            return field
    return None


def cmap_name(layer: Layer | str) -> str:
    """The colorcet palette name used for a continuous or cyclic layer (a layer object or key)."""
    layer = _as_layer(layer)
    if layer.kind is LayerKind.CYCLIC:
        return PHASE_CMAP
    if layer.kind is LayerKind.CLASSES:
        msg = f"layer {layer.key!r} is a class layer: use class_lut({layer.variable!r}), not a colour map"
        raise ValueError(msg)
    if layer.delta:
        return DELTA_CMAP
    if layer.variable == schema.COHERENCE:
        return COHERENCE_CMAP
    if layer.variable == schema.DEM:
        return DEM_CMAP
    field = _era5_field(layer)
    return ERA5_CMAPS.get(field, DEFAULT_SEQUENTIAL_CMAP) if field else DEFAULT_SEQUENTIAL_CMAP


def colormap_for(layer: Layer | str) -> list[str]:
    """Hex colours (``#rrggbb``) of a layer's colour map, low to high.

    For a class layer: one colour per code, index = code (``#rrggbbaa``, code 0 transparent).
    """
    layer = _as_layer(layer)
    if layer.kind is LayerKind.CLASSES:
        lut = class_lut(layer.variable)
        return ["#" + "".join(f"{v:02x}" for v in row) for row in lut]
    return list(cc.palette[cmap_name(layer)])


def hex_to_rgba(color: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` or ``#rrggbbaa`` as an (r, g, b, a) tuple of 0-255 ints (alpha 255 when absent)."""
    text = color.lstrip("#")
    if len(text) not in (6, 8):
        msg = f"colour {color!r} is not #rrggbb or #rrggbbaa"
        raise ValueError(msg)
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    a = int(text[6:8], 16) if len(text) == 8 else OPAQUE
    return r, g, b, a


def palette_rgb(colors: list[str]) -> np.ndarray:
    """A list of hex colours as an (n, 3) uint8 array."""
    return np.array([hex_to_rgba(c)[:3] for c in colors], dtype=np.uint8)


def class_table(mask_variable: str) -> tuple[schema.ClassCode, ...]:
    """The class table of a mask variable (``deformation_mask`` ...) or of its layer key."""
    variable = mask_variable
    if variable not in schema.MASK_CLASSES and variable in schema.LAYERS:
        variable = schema.LAYERS[variable].variable
    try:
        return schema.MASK_CLASSES[variable]
    except KeyError as exc:
        msg = f"{mask_variable!r} is not a class mask; expected one of {sorted(schema.MASK_CLASSES)}"
        raise KeyError(msg) from exc


def class_lut(mask_variable: str) -> np.ndarray:
    """RGBA lookup table of a class mask: an (n, 4) uint8 array, row = code, n = highest code + 1.

    Colours and codes come from ``schema.MASK_CLASSES``; code 0 ("none") and any gap are transparent.
    """
    table = class_table(mask_variable)
    lut = np.zeros((max(c.code for c in table) + 1, 4), dtype=np.uint8)
    for c in table:
        lut[c.code] = hex_to_rgba(c.color) if c.code else hex_to_rgba(TRANSPARENT)
    return lut
