"""``EditSession``: the annotate mode's state: the tool, the class it paints, and the pair's masks being edited.

Plain ``param`` like :class:`~thalia_viewer.app.state.AppState` (views build widgets from it; tests drive it
without a browser). Map gestures arrive in map coordinates (lon / lat) and become pixels through the frame;
the pixels are changed by :class:`~thalia_viewer.core.editing.MaskEditor`, the saves go to the versioned
:class:`~thalia_viewer.core.annotations.AnnotationStore`. Unsaved edits of every pair opened in the session
are kept (switching pairs never drops them); each save is one commit, attributed, and a pair saved by
someone else since it was opened is a conflict the user resolves (reload theirs, overwrite, keep editing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import param
import xarray as xr

from thalia_viewer.app.overlay import StoreOverlay, as_layer
from thalia_viewer.app.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, PairAnnotation
from thalia_viewer.core.editing import Box, MaskClass, MaskEditor
from thalia_viewer.core.errors import ConflictError, ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.record import with_derived_fields
from thalia_viewer.viz import elements

#: Tools of the editor, as shown; ``pan`` leaves the map to zooming and panning.
TOOLS: Final = {"Pan": "pan", "Brush": "brush", "Eraser": "eraser", "Lasso": "lasso", "Polygon": "polygon",
                "Fill": "fill"}  # fmt: skip
ACTIVITY_NAMES: Final = [c.name for c in schema.ACTIVITY_TYPES if c.code]
VOLCANIC_LEVELS: Final = [c.name for c in schema.INTENSITY_LEVELS if c.code and c.code != schema.EARTHQUAKE_INTENSITY]
ANONYMOUS: Final = ""


@dataclass
class Comparison:
    """Two versions of a pair compared on the map: the activity-type mask's pixels added and removed."""

    pair: Pair
    old: str | None  # version id; None: the source cube
    new: str | None  # version id; None: the latest saved version
    codes: np.ndarray  # MaskDiff.codes(): 0 unchanged, 1 added, 2 removed
    added: int
    removed: int
    fields: list[str]  # record fields that changed

    @property
    def token(self) -> tuple:
        """What the map's diff layer depends on."""
        return (self.pair, self.old, self.new)

    def summary(self) -> str:
        names = {None: "the source"}
        old, new = names.get(self.old, (self.old or "")[:8]), names.get(self.new, (self.new or "latest")[:8])
        fields = f"; fields changed: {', '.join(self.fields)}" if self.fields else "; no field changed"
        return f"{old} → {new}: +{self.added} px added (green), −{self.removed} px removed (red){fields}"


@dataclass
class Preview:
    """A saved version of a pair shown read-only on the map."""

    pair: Pair
    version: str
    annotation: PairAnnotation


@dataclass
class Conflict:
    """A save refused because someone else saved the same pair since it was opened."""

    pair: Pair
    text: str


class EditSession(param.Parameterized):
    """Tool, class, author and the unsaved edits of one annotate session."""

    tool = param.Selector(default="brush", objects=TOOLS, doc="What a drag, a click or a polygon on the map does")
    radius = param.Integer(default=6, bounds=(1, 200), label="Brush radius (px)",
                           doc="Brush and eraser radius in data pixels (~100 m each), whatever the zoom")  # fmt: skip
    activity = param.Selector(default="Mogi", objects=ACTIVITY_NAMES, label="Activity type",
                              doc="Activity type painted by brush, lasso, polygon and fill")  # fmt: skip
    intensity = param.Selector(default="Medium", objects=VOLCANIC_LEVELS, label="Intensity level",
                               doc="Intensity painted (earthquakes take 'None')")  # fmt: skip
    author = param.String(default=ANONYMOUS, doc="Who saves: the logged-in user, else a name set once")
    message = param.String(default="", doc="What this save changes")
    revision = param.Integer(default=0, doc="Bumped by every change of the masks on screen")
    record_revision = param.Integer(default=0, doc="Bumped by every change of the label record on screen")
    dirty = param.Boolean(default=False, doc="The pair on screen has unsaved edits")
    conflict = param.ClassSelector(class_=Conflict, default=None, doc="A save waiting for the user's choice")
    comparison = param.ClassSelector(class_=Comparison, default=None, doc="Two versions diffed on the map")
    preview = param.ClassSelector(class_=Preview, default=None, doc="A saved version shown read-only instead of the edits")
    overlay_revision = param.Integer(default=0, doc="Bumped when the version diff drawn on the map changes")

    #: The version diff as a code overlay of the map (``app.overlay.CodeOverlay``).
    overlay_title: ClassVar[str] = "Change (1 added, 2 removed)"
    overlay_colors: ClassVar[tuple[str, ...]] = elements.DIFF_COLORS
    status = param.String(default="", doc="One line on what was last done")

    def __init__(self, state: AppState, store: AnnotationStore, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.store = store
        self._editors: dict[Pair, MaskEditor] = {}
        self._records: dict[Pair, dict] = {}
        self._bases: dict[Pair, str | None] = {}  # the version each pair was opened at
        self.last_edit: tuple[int, Box] | None = None  # (revision it made, pixels it changed) of the latest edit
        self.saved = StoreOverlay(state, store)
        state.mask_source = self.mask_layer
        state.record_source = self.record
        state.overlay_version = self.version
        state.param.watch(lambda *_: self._on_pair(), "pair")
        self._on_pair()

    # ------------------------------------------------------------------------------------ loading
    @property
    def pair(self) -> Pair | None:
        return self.state.current

    @property
    def editor(self) -> MaskEditor | None:
        """The editor of the pair on screen (opened on first use)."""
        pair = self.pair
        if pair is None:
            return None
        if pair not in self._editors:
            self._open(pair)
        return self._editors.get(pair)

    def _open(self, pair: Pair) -> None:
        annotation = self._read(pair)
        self._editors[pair] = MaskEditor(annotation.masks[schema.ACTIVITY_MASK], annotation.masks[schema.INTENSITY_MASK])
        self._records[pair] = dict(annotation.record or {})
        self._bases[pair] = annotation.version

    def _read(self, pair: Pair) -> PairAnnotation:
        """The pair as stored now: the overlay's latest version, else the source cube."""
        return self.store.read_merged(pair)

    def _on_pair(self) -> None:
        self.preview = self.comparison = None
        try:
            editor = self.editor
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return
        self.conflict = None
        self.dirty = bool(editor is not None and editor.dirty)
        self._changed()

    # -------------------------------------------------------------------------------- map sources
    def mask_layer(self, pair: Pair, key: str) -> xr.DataArray | None:
        """Mask layer ``key`` of ``pair`` as previewed, else as edited in this session, else as saved, else
        ``None`` (the source)."""
        preview = self.preview
        if preview is not None and preview.pair == pair and self.state.dataset is not None:
            return as_layer(preview.annotation, key, self.state.dataset)
        editor = self._editors.get(pair)
        if editor is None or self.state.dataset is None:
            return self.saved.mask_layer(pair, key)
        variable = schema.layer(key).variable  # copied: a prefetch thread reads it while the user paints
        return as_layer(PairAnnotation(pair, {variable: editor.masks[variable].copy()}, {}), key, self.state.dataset)

    def version(self, pair: Pair) -> Any:
        """What the masks of ``pair`` depend on: its saved version and, once opened here, the edit revision."""
        preview = self.preview.version if self.preview is not None and self.preview.pair == pair else None
        return (self.saved.version(pair), self.revision if pair in self._editors else None, preview)

    def record(self, pair: Pair) -> dict | None:
        """The label record of ``pair`` as edited in this session, else as saved, else ``None`` (the source)."""
        return self._records[pair] if pair in self._records else self.saved.record(pair)

    # ---------------------------------------------------------------------------------- gestures
    @property
    def mask_class(self) -> MaskClass:
        """The class the painting tools paint now."""
        intensity = None if self.activity == "Earthquake" else self.intensity
        return MaskClass.from_names(self.activity, intensity)

    def _pixels(self, xs: Any, ys: Any) -> np.ndarray:
        frame = self.state.frame_obj
        points = frame.to_pixels(xs, ys)  # type: ignore[union-attr]
        return points[np.isfinite(points).all(axis=1)]

    def stroke(self, xs: Any, ys: Any) -> Box | None:
        """A freehand stroke in map coordinates: brush, eraser or lasso, as the tool says."""
        if self.tool == "lasso":
            return self.polygon(xs, ys)
        points = self._pixels(xs, ys)
        return self._edit(
            lambda e: e.erase(points, self.radius) if self.tool == "eraser" else e.brush(points, self.radius, self.mask_class),
            "erased" if self.tool == "eraser" else f"painted {self.mask_class.name}",
        )  # fmt: skip

    def polygon(self, xs: Any, ys: Any) -> Box | None:
        """Fill the polygon (or closed lasso path) through these map points with the class."""
        points = self._pixels(xs, ys)
        if len(points) < 3:
            return None
        return self._edit(lambda e: e.fill_polygon(points, self.mask_class), f"filled a polygon with {self.mask_class.name}")

    def fill_at(self, x: float, y: float) -> Box | None:
        """Flood-fill the region under the map point ``(x, y)`` with the class."""
        (row, col), = self._pixels([x], [y])
        return self._edit(lambda e: e.flood_fill(row, col, self.mask_class), f"filled a region with {self.mask_class.name}")

    def undo(self) -> Box | None:
        return self._edit(lambda e: e.undo(), "undone", quiet_if_none="nothing to undo")

    def redo(self) -> Box | None:
        return self._edit(lambda e: e.redo(), "redone", quiet_if_none="nothing to redo")

    def clear(self) -> Box | None:
        return self._edit(lambda e: e.clear(), "cleared every mask pixel")

    def replace(self, activity: np.ndarray, intensity: np.ndarray, what: str) -> Box | None:
        """Replace the masks as one undoable edit."""
        return self._edit(lambda e: e.replace(activity, intensity), what)

    def accept_mask(self, mask: np.ndarray, source: str) -> Box | None:
        """A model's binary mask as the starting masks, in the class picked in the tools (one undoable edit,
        saved through the store like any other); ``source`` names it in the status line."""
        cls = self.mask_class
        labelled = np.asarray(mask) > 0
        activity = np.where(labelled, cls.activity, 0).astype(np.uint8)
        intensity = np.where(labelled, cls.intensity, 0).astype(np.uint8)
        return self.replace(activity, intensity, f"accepted the {source} as {cls.name}")

    def _edit(self, action: Any, done: str, quiet_if_none: str = "") -> Box | None:
        if self.preview is not None:
            self.state.notify("warning", f"Showing version {self.preview.version[:8]} read-only: go back to editing first.")
            return None
        editor = self.editor
        if editor is None:
            self.state.notify("warning", "no pair is open: pick a pair before editing.")
            return None
        try:
            box = action(editor)
        except ThaliaError as exc:
            self.state.notify("warning", str(exc))
            return None
        if box is None:
            if quiet_if_none:
                self.status = quiet_if_none
            return None
        self.status = f"{done} ({box.shape[0]} x {box.shape[1]} px)"
        self.last_edit = (self.revision + 1, box)  # the map redraws only this box of the masks
        self._changed()
        return box

    def _changed(self) -> None:
        editor = self.editor
        self.dirty = bool(editor is not None and editor.dirty)
        self.revision += 1

    # ------------------------------------------------------------------------------------- labels
    def set_field(self, field: str, value: Any) -> None:
        """Change one field of the pair's label record (validated on save)."""
        pair = self.pair
        if pair is None or pair not in self._records:
            return
        self._records[pair][field] = value
        self.record_revision += 1
        self.dirty = True

    def derived_record(self) -> tuple[dict, list[str]]:
        """The record with the fields that follow from the masks recomputed, and a warning per field that
        disagrees with what was typed."""
        editor, pair = self.editor, self.pair
        record = dict(self._records.get(pair, {})) if pair else {}
        if editor is None:
            return record, []
        return with_derived_fields(record, editor.masks)

    # --------------------------------------------------------------------------------------- save
    def save(self, force: bool = False) -> bool:
        """Commit the pair on screen (masks + record) as one version; False when refused or in conflict."""
        editor, pair = self.editor, self.pair
        if editor is None or pair is None:
            return False
        author = self.author.strip()
        if not author:
            self.state.notify("warning", "Set your name before saving: every version says who made it.")
            return False
        record, warnings = self.derived_record()
        message = self.message.strip() or f"Correct masks of {pair.key}"
        try:
            version = self.store.save_pair(
                pair, editor.masks, record, author=author, message=message, base=self._bases.get(pair), force=force
            )
        except ConflictError as exc:
            self.conflict = Conflict(pair, str(exc))
            return False
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return False
        editor.mark_saved()
        self._records[pair] = record
        self._bases[pair] = version
        self.conflict = None
        self.message = ""
        self.dirty = False
        self.status = f"saved version {version[:8]} of {pair.key}"
        for warning in warnings:
            self.state.notify("warning", warning)
        self.state.notify("info", f"Saved {pair.key} as version {version[:8]}.")
        self.record_revision += 1
        return True

    def reload(self) -> None:
        """Drop this session's edits of the pair on screen and open it as stored now (e.g. theirs)."""
        pair = self.pair
        if pair is None:
            return
        for table in (self._editors, self._records, self._bases):
            table.pop(pair, None)
        self.conflict = None
        self._on_pair()
        self.record_revision += 1
        self.status = f"reloaded {pair.key} as stored"

    # ----------------------------------------------------------------------------- versions on map
    def overlay_token(self, pair: Pair) -> tuple | None:
        """What the diff layer shows for ``pair`` (``None``: nothing)."""
        c = self.comparison
        return c.token if c is not None and c.pair == pair else None

    def overlay_codes(self) -> np.ndarray | None:
        return None if self.comparison is None else self.comparison.codes

    @param.depends("comparison", watch=True)
    def _comparison_changed(self) -> None:
        self.overlay_revision += 1

    def show_version(self, version: str) -> bool:
        """Show saved ``version`` of the pair on screen read-only (edits stay, hidden until :meth:`back_to_edits`)."""
        pair = self.pair
        if pair is None:
            return False
        try:
            annotation = self.store.read_merged(pair, version)
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return False
        self.preview = Preview(pair, version, annotation)
        self.status = f"showing version {version[:8]} (read-only)"
        self.revision += 1
        return True

    def compare(self, old: str | None, new: str | None = None) -> Comparison | None:
        """Draw on the map what changed in the pair from version ``old`` (None: the source) to ``new``
        (None: the latest saved version)."""
        pair = self.pair
        if pair is None:
            return None
        try:
            diff = self.store.diff(pair, old, new)
        except ThaliaError as exc:
            self.state.notify("error", str(exc))
            return None
        mask = diff.masks[schema.ACTIVITY_MASK]
        self.comparison = Comparison(pair, old, new, mask.codes(), mask.n_added, mask.n_removed, sorted(diff.record))
        self.status = self.comparison.summary()
        return self.comparison

    def back_to_edits(self) -> None:
        """Leave a preview or a comparison: the map shows this session's edits again."""
        if self.preview is not None or self.comparison is not None:
            self.preview = self.comparison = None
            self.status = "back to editing"
            self.revision += 1
