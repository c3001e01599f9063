"""Mask editing: paint, erase, fill and undo on one pair's three label rasters, in pixel coordinates.

:class:`MaskEditor` holds ``deformation_mask``, ``activity_type_mask`` and ``intensity_level_mask`` of a
pair and keeps them consistent; a :class:`MaskClass` says what a tool paints. No view code: the app turns
lon / lat into pixels (pixel ``(i, j)`` centred on ``(row, col) = (i, j)``) and calls these.
"""

from thalia_viewer.core.editing.classes import NO_DEFORMATION, MaskClass, as_codes, masks_from_deformation
from thalia_viewer.core.editing.editor import CHANGE_TILE_PX, DEFAULT_MAX_FILL_FRACTION, MaskEditor
from thalia_viewer.core.editing.footprints import (
    MIN_RADIUS_PX,
    Box,
    EditError,
    Footprint,
    polygon_footprint,
    region_footprint,
    stroke_footprint,
)
from thalia_viewer.core.editing.history import DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS

__all__ = [
    "CHANGE_TILE_PX",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILL_FRACTION",
    "DEFAULT_MAX_STEPS",
    "MIN_RADIUS_PX",
    "NO_DEFORMATION",
    "Box",
    "EditError",
    "Footprint",
    "MaskClass",
    "MaskEditor",
    "as_codes",
    "masks_from_deformation",
    "polygon_footprint",
    "region_footprint",
    "stroke_footprint",
]
