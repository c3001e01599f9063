"""The mask editor: one pair's three label rasters, the tools that paint them, undo / redo, changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Unpack

import numpy as np

from thalia_viewer.core import schema
from thalia_viewer.core.editing.classes import NO_DEFORMATION, MaskClass, as_codes, masks_from_deformation
from thalia_viewer.core.editing.footprints import (
    Box,
    EditError,
    Footprint,
    crop,
    polygon_footprint,
    region_footprint,
    stroke_footprint,
)
from thalia_viewer.core.editing.history import DEFAULT_MAX_BYTES, DEFAULT_MAX_STEPS, History, Step
from thalia_viewer.core.errors import SchemaError


class HistoryOptions(TypedDict, total=False):
    """The undo history's limits, as :class:`MaskEditor` takes them."""

    max_steps: int  # undo steps kept
    max_history_bytes: int  # bytes of saved patches kept (the oldest steps go first)


#: Changes are tracked on a grid of tiles this many pixels a side (chunks are reported at that precision).
CHANGE_TILE_PX = 64
DEFAULT_MAX_FILL_FRACTION = 0.25
_ACTIVITY = schema.MASKS.index(schema.ACTIVITY_MASK)


def _stacked(
    activity: np.ndarray, intensity: np.ndarray, deformation: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The three rasters as one consistent ``(3, H, W)`` uint8 array in :data:`schema.MASKS` order, and the
    mask of the intensity codes corrected on the way (:func:`schema.consistent_masks`).

    A ``deformation`` that disagrees with activity is refused, since it is not known which one is right.
    """
    act = as_codes(activity, schema.ACTIVITY_MASK)
    given = as_codes(intensity, schema.INTENSITY_MASK)
    if given.shape != act.shape:
        raise SchemaError(
            f"{schema.INTENSITY_MASK} has shape {given.shape}, {schema.ACTIVITY_MASK} {act.shape}."
        )
    implied, levels = schema.consistent_masks(act, given)
    if deformation is not None:
        _check_deformation(as_codes(deformation, schema.DEFORMATION_MASK), implied)
    named = {schema.DEFORMATION_MASK: implied, schema.ACTIVITY_MASK: act, schema.INTENSITY_MASK: levels}
    return np.stack([named[name] for name in schema.MASKS]), levels != given


def _check_deformation(given: np.ndarray, implied: np.ndarray) -> None:
    if given.shape != implied.shape:
        raise SchemaError(
            f"{schema.DEFORMATION_MASK} has shape {given.shape}, {schema.ACTIVITY_MASK} {implied.shape}."
        )
    if n := int(np.count_nonzero(given != implied)):
        msg = f"{schema.DEFORMATION_MASK} disagrees with {schema.ACTIVITY_MASK} at {n} px."
        hint = "Pass only the activity and intensity rasters, or build them with masks_from_deformation."
        raise SchemaError(msg, hint)


def _tile_starts(lo: int, hi: int) -> np.ndarray:
    """Offsets from ``lo`` where the change tiles met by pixels ``lo:hi`` begin (the first one at 0)."""
    return np.r_[0, np.arange((lo // CHANGE_TILE_PX + 1) * CHANGE_TILE_PX, hi, CHANGE_TILE_PX) - lo]


def _pick(patch: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """The ``(3, n)`` codes of a ``(3, h, w)`` patch at the ``changed`` pixels, in row-major order."""
    return np.stack([plane[changed] for plane in patch])


class MaskEditor:
    """One pair's ``deformation_mask``, ``activity_type_mask`` and ``intensity_level_mask`` (uint8, H x W).

    Every tool works in pixel coordinates ``(row, col)`` (pixel ``(i, j)`` is centred on ``(i, j)``),
    paints one :class:`MaskClass` into all three rasters so they stay consistent, returns the :class:`Box`
    of the pixels it changed (None when it changed none, and then records no undo step) and only works
    within the box of its footprint. Undo steps hold the changed pixels only, bounded by ``max_steps`` and
    ``max_history_bytes``.
    """

    def __init__(
        self,
        activity: np.ndarray,
        intensity: np.ndarray,
        deformation: np.ndarray | None = None,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        max_history_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._history = History(max_steps, max_history_bytes)
        self.load(activity, intensity, deformation)

    @classmethod
    def empty(cls, shape: tuple[int, int], **options: Unpack[HistoryOptions]) -> MaskEditor:
        """An editor of blank rasters of ``shape`` (rows, cols)."""
        blank = np.zeros(shape, np.uint8)
        return cls(blank, blank, **options)

    @classmethod
    def from_masks(cls, masks: Mapping[str, np.ndarray], **options: Unpack[HistoryOptions]) -> MaskEditor:
        """An editor of the three rasters keyed by ``schema.MASKS`` names, as a :class:`PairAnnotation`, a
        pair view's ``masks`` or an annotation store read gives them."""
        missing = [m for m in (schema.ACTIVITY_MASK, schema.INTENSITY_MASK) if m not in masks]
        if missing:
            msg = f"masks lack {', '.join(missing)} (they have {', '.join(map(str, masks)) or 'nothing'})."
            raise SchemaError(msg, f"Pass the rasters keyed by {', '.join(schema.MASKS)}.")
        return cls(
            masks[schema.ACTIVITY_MASK],
            masks[schema.INTENSITY_MASK],
            masks.get(schema.DEFORMATION_MASK),
            **options,
        )

    @classmethod
    def from_deformation(
        cls, deformation: np.ndarray, intensity: int, **options: Unpack[HistoryOptions]
    ) -> MaskEditor:
        """An editor of a cube that only has ``deformation_mask`` (see :func:`masks_from_deformation`)."""
        return cls(*masks_from_deformation(deformation, intensity), **options)

    # ------------------------------------------------------------------------------------------ state
    def load(
        self, activity: np.ndarray, intensity: np.ndarray, deformation: np.ndarray | None = None
    ) -> None:
        """Replace the rasters (copied) and forget the history; the loaded state counts as saved.

        Intensity codes that contradict activity are corrected (:func:`schema.consistent_masks`); such
        corrections count as unsaved changes, so the next save writes them.
        """
        self._masks, corrected = _stacked(activity, intensity, deformation)
        self._history.clear()
        self._tiles = np.zeros([-(-n // CHANGE_TILE_PX) for n in self.shape], bool)
        self._changed: Box | None = None
        self._saved = self._history.state
        footprint = crop(Box(0, self.shape[0], 0, self.shape[1]), corrected)
        if footprint is not None:
            self._mark(*footprint)
            self._saved = -1  # no state id is negative: dirty until saved

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the rasters, pixels."""
        return self._masks.shape[1], self._masks.shape[2]

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """The three rasters by variable name: live read-only views (copy them to keep a state)."""
        return {name: self._view(k) for k, name in enumerate(schema.MASKS)}

    @property
    def deformation(self) -> np.ndarray:
        """``deformation_mask`` (read-only view)."""
        return self._view(schema.MASKS.index(schema.DEFORMATION_MASK))

    @property
    def activity(self) -> np.ndarray:
        """``activity_type_mask`` (read-only view)."""
        return self._view(_ACTIVITY)

    @property
    def intensity(self) -> np.ndarray:
        """``intensity_level_mask`` (read-only view)."""
        return self._view(schema.MASKS.index(schema.INTENSITY_MASK))

    def _view(self, k: int) -> np.ndarray:
        view = self._masks[k].view()
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------------------------------ tools
    def brush(self, points: np.ndarray, radius_px: float, cls: MaskClass) -> Box | None:
        """Paint ``cls`` within ``radius_px`` pixels of the polyline through ``points`` (N x 2 (row, col))."""
        return self._paint(stroke_footprint(points, radius_px, self.shape), cls)

    def erase(self, points: np.ndarray, radius_px: float) -> Box | None:
        """Set the brush footprint to 0 in all three rasters."""
        return self.brush(points, radius_px, NO_DEFORMATION)

    def fill_polygon(self, vertices: np.ndarray, cls: MaskClass) -> Box | None:
        """Paint ``cls`` inside the closed polygon through ``vertices`` (polygon tool and lasso alike)."""
        return self._paint(polygon_footprint(vertices, self.shape), cls)

    def flood_fill(
        self, row: float, col: float, cls: MaskClass, max_fraction: float = DEFAULT_MAX_FILL_FRACTION
    ) -> Box | None:
        """Paint ``cls`` on the 4-connected region sharing the activity code of the pixel at ``(row, col)``.

        Raises :class:`EditError` when the region is more than ``max_fraction`` of the raster.
        """
        return self._paint(region_footprint(self._masks[_ACTIVITY], row, col, max_fraction), cls)

    def clear(self) -> Box | None:
        """Set every pixel of the three rasters to 0."""
        whole = Box(0, self.shape[0], 0, self.shape[1])
        return self._paint(Footprint(whole, self._masks[_ACTIVITY] != 0), NO_DEFORMATION)

    def replace(self, activity: np.ndarray, intensity: np.ndarray) -> Box | None:
        """Replace the rasters as one undoable edit (e.g. accept a model's prediction as a starting mask)."""
        new, _ = _stacked(activity, intensity, None)
        if new.shape != self._masks.shape:
            raise SchemaError(f"replacement rasters have shape {new.shape[1:]}, the editor {self.shape}.")
        footprint = crop(Box(0, self.shape[0], 0, self.shape[1]), (new != self._masks).any(axis=0))
        if footprint is None:
            return None
        box, changed = footprint
        return self._apply(box, changed, _pick(new[(slice(None), *box.slices)], changed))

    def _paint(self, footprint: Footprint | None, cls: MaskClass) -> Box | None:
        """Write the codes of ``cls`` on the covered pixels that do not hold them yet."""
        if footprint is None:
            return None
        codes = np.array(cls.codes, np.uint8)[:, None]
        box, covered = footprint
        patch = self._masks[(slice(None), *box.slices)]
        changed = crop(box, covered & (patch != codes[:, :, None]).any(axis=0))
        return None if changed is None else self._apply(*changed, codes)

    def _apply(self, box: Box, changed: np.ndarray, after: np.ndarray) -> Box:
        """Write ``after`` ((3, n) or (3, 1)) on the ``changed`` pixels of tight ``box``; records it."""
        before = _pick(self._masks[(slice(None), *box.slices)], changed)
        self._history.push(Step.of(box, changed, before, after))
        return self._write(box, changed, after)

    def _write(self, box: Box, changed: np.ndarray, values: np.ndarray) -> Box:
        """Write ``values`` ((3, n) or (3, 1)) on the ``changed`` pixels of ``box``; returns ``box``."""
        for plane, value in zip(self._masks[(slice(None), *box.slices)], values, strict=True):
            plane[changed] = value  # plane by plane: boolean indexing of a 3-D view is ~15x slower
        self._mark(box, changed)
        return box

    # ---------------------------------------------------------------------------------------- history
    def undo(self) -> Box | None:
        """Revert the last edit; the box it changed, or None when there is nothing to undo."""
        step = self._history.undo()
        return None if step is None else self._write(step.box, step.changed, step.before)

    def redo(self) -> Box | None:
        """Apply the last undone edit again; the box it changed, or None when there is nothing to redo."""
        step = self._history.redo()
        return None if step is None else self._write(step.box, step.changed, step.after)

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return self._history.can_redo

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo and redo steps, bytes."""
        return self._history.nbytes

    # ---------------------------------------------------------------------------------------- changes
    def _mark(self, box: Box, changed: np.ndarray) -> None:
        """Note the ``changed`` pixels of ``box`` in the change tiles and the changed box."""
        cuts = _tile_starts(box.row0, box.row1)
        # Band by band, then columns on the small result: reduceat over the whole box is ~40x slower.
        bands = np.stack([changed[a:b].any(axis=0) for a, b in zip(cuts, [*cuts[1:], None], strict=True)])
        tiles = np.logical_or.reduceat(bands, _tile_starts(box.col0, box.col1), axis=1)
        t0, t1 = box.row0 // CHANGE_TILE_PX, box.col0 // CHANGE_TILE_PX
        self._tiles[t0 : t0 + tiles.shape[0], t1 : t1 + tiles.shape[1]] |= tiles
        self._changed = box.union(self._changed)

    @property
    def dirty(self) -> bool:
        """True when the rasters differ from the state loaded or last marked saved."""
        return self._history.state != self._saved

    def mark_saved(self) -> None:
        """The current state is stored: not dirty, no changed pixels."""
        self._saved = self._history.state
        self._tiles[:] = False
        self._changed = None

    @property
    def changed_box(self) -> Box | None:
        """Box of every pixel changed since load or the last save (None when not dirty)."""
        return self._changed if self.dirty else None

    def changed_chunks(self, chunk_shape: tuple[int, int]) -> list[Box]:
        """Chunks of a ``chunk_shape`` (rows, cols) grid that hold pixels changed since load or the last save.

        A superset: precise to :data:`CHANGE_TILE_PX` tiles, and edits undone since count as changes.
        Empty when not dirty. Row-major order.
        """
        ch, cw = chunk_shape
        if ch < 1 or cw < 1:
            raise EditError(f"chunk_shape must be positive, got {chunk_shape}.")
        if not self.dirty:
            return []
        h, w = self.shape
        grid = np.zeros((-(-h // ch), -(-w // cw)), bool)
        for tr, tc in zip(*np.nonzero(self._tiles), strict=True):
            r0, c0 = tr * CHANGE_TILE_PX, tc * CHANGE_TILE_PX
            r1, c1 = min(r0 + CHANGE_TILE_PX, h), min(c0 + CHANGE_TILE_PX, w)
            grid[r0 // ch : (r1 - 1) // ch + 1, c0 // cw : (c1 - 1) // cw + 1] = True
        rows, cols = np.nonzero(grid)
        return [
            Box(int(i) * ch, min(int(i) * ch + ch, h), int(j) * cw, min(int(j) * cw + cw, w))
            for i, j in zip(rows, cols, strict=True)
        ]
