"""``EditSession``: the annotate mode's state: the tool, the class it paints, and the pair's masks being edited.

Plain ``param`` like :class:`~thalia_viewer.app.session.state.AppState` (views build widgets from it; tests drive it
without a browser). Map gestures arrive in map coordinates (lon / lat) and become pixels through the frame;
the unsaved edits of every pair opened in the session (switching pairs never drops them) live in a
:class:`~thalia_viewer.core.editing.workspace.Workspace` over the versioned
:class:`~thalia_viewer.core.annotations.AnnotationStore`: this module is the UI over it. Each save is one
commit, attributed, and a pair saved by someone else since it was opened is a conflict the user resolves
(reload theirs, overwrite, keep editing).

Every write (save, revert, release tag) asks the session's :class:`~thalia_viewer.core.roles.Identity` first,
here on the server, whatever the page shows; under a login the author is the login, never the name box.
The unsaved edits of the pair on screen can be written as a draft (:meth:`EditSession.draft`) that the
browser keeps, and restored after a reload (:meth:`EditSession.restore_draft`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Final

import numpy as np
import param
import xarray as xr

from thalia_viewer.app.messages import Level, describe, log_unexpected
from thalia_viewer.app.session.overlay import StoreOverlay, as_layer, store_exists
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, PairAnnotation
from thalia_viewer.core.editing import Box, MaskClass, MaskEditor
from thalia_viewer.core.editing.accept import accepted_masks
from thalia_viewer.core.editing.drafts import draft_time
from thalia_viewer.core.editing.workspace import Workspace
from thalia_viewer.core.errors import ConflictError, ThaliaError
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.record import RecordUpdate
from thalia_viewer.core.roles import LOCAL, Action, Identity, PermissionDenied
from thalia_viewer.viz import elements, overlays


class Tool(StrEnum):
    """What a drag, a click or a polygon on the map does (the values are the names the page sends)."""

    PAN = "pan"  # the map zooms and pans
    BRUSH = "brush"
    ERASER = "eraser"
    LASSO = "lasso"
    POLYGON = "polygon"
    FILL = "fill"


#: Tools of the editor, as shown.
TOOLS: Final = {t.value.capitalize(): t for t in Tool}
ACTIVITY_NAMES: Final = [c.name for c in schema.ACTIVITY_TYPES if c.code]
VOLCANIC_LEVELS: Final = [
    c.name for c in schema.INTENSITY_LEVELS if c.code and c.code != schema.EARTHQUAKE_INTENSITY
]
ANONYMOUS: Final = ""


def save_error(exc: BaseException, pair: Pair, store: AnnotationStore) -> str:
    """What a failed save tells the user: what failed, why, that the edits are kept, and what to do."""
    kept = "Your edits are kept (unsaved)"
    location = store.location
    if store.exists and not store_exists(location):  # created (or found) once, gone now
        return (
            f"saving {pair} failed: the annotation store {location} is gone (moved or deleted while the app "
            f"runs). {kept}: put the store back, then save again."
        )
    if isinstance(exc, ThaliaError):
        return f"{describe(exc, f'saving {pair}')} {kept}."
    text = describe(exc, f"saving {pair}")
    if not isinstance(exc, OSError):
        text += f" Check that the annotation store {location} is writable and its disk has room."
    return f"{text} {kept}: save again once it is fixed."


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

    tool = param.Selector(
        default=Tool.BRUSH, objects=TOOLS, doc="What a drag, a click or a polygon on the map does"
    )
    radius = param.Integer(
        default=6,
        bounds=(1, 200),
        label="Brush radius (px)",
        doc="Brush and eraser radius in data pixels (~100 m each), whatever the zoom",
    )
    activity = param.Selector(
        default=schema.ActivityType.MOGI.value,
        objects=ACTIVITY_NAMES,
        label="Activity type",
        doc="Activity type painted by brush, lasso, polygon and fill",
    )
    intensity = param.Selector(
        default=schema.IntensityLevel.MEDIUM.value,
        objects=VOLCANIC_LEVELS,
        label="Intensity level",
        doc="Intensity painted (earthquakes take 'None')",
    )
    author = param.String(default=ANONYMOUS, doc="Who saves: the logged-in user, else a name set once")
    message = param.String(default="", doc="What this save changes")
    revision = param.Integer(default=0, doc="Bumped by every change of the masks on screen")
    record_revision = param.Integer(default=0, doc="Bumped by every change of the label record on screen")
    dirty = param.Boolean(default=False, doc="The pair on screen has unsaved edits")
    conflict = param.ClassSelector(class_=Conflict, default=None, doc="A save waiting for the user's choice")
    comparison = param.ClassSelector(class_=Comparison, default=None, doc="Two versions diffed on the map")
    preview = param.ClassSelector(
        class_=Preview, default=None, doc="A saved version shown read-only instead of the edits"
    )
    overlay_revision = param.Integer(default=0, doc="Bumped when the version diff drawn on the map changes")

    #: The version diff as a code overlay of the map (``app.overlay.CodeOverlay``).
    overlay_title: ClassVar[str] = overlays.DIFF_TITLE
    overlay_colors: ClassVar[tuple[str, ...]] = elements.DIFF_COLORS
    status = param.String(default="", doc="One line on what was last done")
    unsaved = param.Boolean(default=False, doc="Some pair opened in this session has unsaved edits")
    draft_revision = param.Integer(
        default=0, doc="Bumped when the unsaved edits of the pair on screen change"
    )
    pending_revert = param.String(default="", doc="A revert waiting for the user to drop the unsaved edits")
    class_chosen = param.Boolean(
        default=False, doc="The user picked the class (an accepted mask then takes it)"
    )

    def __init__(
        self,
        state: AppState,
        store: AnnotationStore,
        identity: Identity = LOCAL,
        reopen: Callable[[], AnnotationStore] | None = None,
        **params: Any,
    ) -> None:
        if identity.authenticated:
            params["author"] = identity.user
        super().__init__(**params)
        self.state = state
        self.workspace = Workspace(store)  # the staged edits of every pair opened here
        self.identity = identity
        self.reopen = reopen  # opens the store again after a failed save (it may have been put back)
        self._store_failed = False
        self._token = uuid.uuid4().hex  # names this session's edits in caches shared by every session
        self.param.watch(self._keep_login, "author")
        self.param.watch(lambda *_: setattr(self, "class_chosen", True), ["activity", "intensity"])
        self.last_edit: tuple[int, Box] | None = (
            None  # (revision it made, pixels it changed) of the latest edit
        )
        self.saved = StoreOverlay(state, store)
        state.corrections = self  # the state shows this session's edits over the saved versions
        state.watch(lambda *_: self._on_pair(), "pair", "opening the pair for editing")
        self._on_pair()

    # ------------------------------------------------------------------------------------ loading
    @property
    def store(self) -> AnnotationStore:
        """Where saves go (the workspace's store)."""
        return self.workspace.store

    @store.setter
    def store(self, store: AnnotationStore) -> None:
        self.workspace.store = self.saved.store = store

    @property
    def pair(self) -> Pair | None:
        return self.state.pair

    @property
    def editor(self) -> MaskEditor | None:
        """The editor of the pair on screen (opened on first use)."""
        pair = self.pair
        return None if pair is None else self.workspace.editor(pair)

    def _on_pair(self) -> None:
        self.preview = self.comparison = None
        # a session holds only the pair on screen and its unsaved work (3 bytes a pixel each)
        self.workspace.drop_clean(keep=self.pair)
        try:
            _ = self.editor  # opens the pair (reads it from the store)
        except Exception as exc:  # a damaged pair or store: this pair cannot be edited, the others can
            self.state.report(exc, f"opening {self.pair} for editing")
            return
        self.conflict = None
        self._changed()

    # -------------------------------------------------------------------------------- map sources
    def mask_layer(self, pair: Pair, key: str) -> xr.DataArray | None:
        """Mask layer ``key`` of ``pair`` as previewed, else as edited in this session, else as saved, else
        ``None`` (the source)."""
        preview = self.preview
        if preview is not None and preview.pair == pair and self.state.dataset is not None:
            return as_layer(preview.annotation, key, self.state.dataset)
        editor = self.workspace.opened_editor(pair)
        if editor is None or self.state.dataset is None:
            return self.saved.mask_layer(pair, key)
        variable = schema.layer(key).variable  # copied: a prefetch thread reads it while the user paints
        return as_layer(
            PairAnnotation(pair, {variable: editor.masks[variable].copy()}, {}), key, self.state.dataset
        )

    def version(self, pair: Pair) -> Any:
        """What the masks of ``pair`` depend on: its saved version and, once opened here, the edit revision."""
        preview = self.preview.version if self.preview is not None and self.preview.pair == pair else None
        # the edits are this session's own: its token keeps them apart in caches shared by all sessions
        edits = (self._token, self.revision) if pair in self.workspace else None
        return (self.saved.version(pair), edits, preview)

    def record(self, pair: Pair) -> dict | None:
        """The label record of ``pair`` as edited in this session, else as saved, else ``None`` (the source)."""
        record = self.workspace.record(pair)
        return record if record is not None else self.saved.record(pair)

    # ---------------------------------------------------------------------------------- gestures
    @property
    def mask_class(self) -> MaskClass:
        """The class the painting tools paint now."""
        intensity = None if self.activity == schema.ActivityType.EARTHQUAKE else self.intensity
        return MaskClass.from_names(self.activity, intensity)

    def _pixels(self, xs: Any, ys: Any) -> np.ndarray:
        frame = self.state.frame_obj
        points = frame.to_pixels(xs, ys)  # type: ignore[union-attr]
        return points[np.isfinite(points).all(axis=1)]

    def stroke(self, xs: Any, ys: Any) -> Box | None:
        """A freehand stroke in map coordinates: brush, eraser or lasso, as the tool says."""
        if self.tool == Tool.LASSO:
            return self.polygon(xs, ys)
        points = self._pixels(xs, ys)
        return self._edit(
            lambda e: (
                e.erase(points, self.radius)
                if self.tool == Tool.ERASER
                else e.brush(points, self.radius, self.mask_class)
            ),
            "erased" if self.tool == Tool.ERASER else f"painted {self.mask_class.name}",
        )

    def polygon(self, xs: Any, ys: Any) -> Box | None:
        """Fill the polygon (or closed lasso path) through these map points with the class."""
        points = self._pixels(xs, ys)
        if len(points) < 3:
            return None
        return self._edit(
            lambda e: e.fill_polygon(points, self.mask_class), f"filled a polygon with {self.mask_class.name}"
        )

    def fill_at(self, x: float, y: float) -> Box | None:
        """Flood-fill the region under the map point ``(x, y)`` with the class."""
        ((row, col),) = self._pixels([x], [y])
        return self._edit(
            lambda e: e.flood_fill(row, col, self.mask_class), f"filled a region with {self.mask_class.name}"
        )

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
        """A model's binary mask as the starting masks (one undoable edit, saved like any other).

        The predicted pixels keep the pair's classes (the activity type / intensity of the mask they overlap,
        else of the nearest pattern, else of the record: :func:`~thalia_viewer.core.editing.accept.accepted_masks`);
        the class picker's only when the user chose one. ``source`` names the mask in the status line.
        """
        editor, pair = self.editor, self.pair
        if editor is None or pair is None:
            self.state.notify(Level.WARNING, "no pair is open: pick a pair before accepting a mask.")
            return None
        chosen = self.mask_class if self.class_chosen else None
        try:
            activity, intensity, how = accepted_masks(
                mask,
                editor.masks[schema.ACTIVITY_MASK],
                editor.masks[schema.INTENSITY_MASK],
                self.workspace.record(pair),
                chosen,
            )
        except ThaliaError as exc:
            self.state.notify(Level.WARNING, str(exc))
            return None
        return self.replace(activity, intensity, f"accepted the {source} {how}")

    def _edit(self, action: Any, done: str, quiet_if_none: str = "") -> Box | None:
        if self.preview is not None:
            self.state.notify(
                Level.WARNING,
                f"Showing version {self.preview.version[:8]} read-only: go back to editing first.",
            )
            return None
        editor = self.editor
        if editor is None:
            self.state.notify(Level.WARNING, "no pair is open: pick a pair before editing.")
            return None
        try:
            box = action(editor)
        except ThaliaError as exc:
            self.state.notify(Level.WARNING, str(exc))
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
        _ = self.editor  # the pair on screen is open (its edits counted)
        self.dirty = self.workspace.dirty(self.pair)
        self.unsaved = self.dirty or self.workspace.unsaved
        self.revision += 1
        self.draft_revision += 1

    def _keep_login(self, event: param.parameterized.Event) -> None:
        """Under a login the author is the login: a name sent from the page is put back."""
        if self.identity.authenticated and event.new != self.identity.user:
            self.author = self.identity.user  # type: ignore[assignment]

    # ------------------------------------------------------------------------------------- labels
    def set_field(self, field: str, value: Any) -> None:
        """Change one field of the pair's label record (validated on save)."""
        pair = self.pair
        if pair is None or not self.workspace.set_field(pair, field, value):
            return
        self.record_revision += 1
        self.dirty = self.unsaved = True
        self.draft_revision += 1

    def pending(self) -> RecordUpdate | None:
        """What saving the pair on screen writes in its record, field by field, with the reasons, the problems
        that keep it from being saved and notes (``core.record``); ``None`` when no pair is open."""
        pair = self.pair
        if pair is None or self.editor is None:
            return None
        return self.workspace.pending(pair)

    def placement_text(self) -> str:
        """How the classes of the pair on screen were placed when it was opened (or last saved)."""
        pair = self.pair
        return self.workspace.placement_text(pair) if pair is not None else ""

    def derived_record(self) -> tuple[dict, list[str]]:
        """The record a save writes and the problems and notes about it."""
        update = self.pending()
        if update is None:
            return dict((self.workspace.record(self.pair) or {}) if self.pair else {}), []
        return update.record, update.problems + update.notes

    # --------------------------------------------------------------------------------------- save
    def save(self, force: bool = False) -> bool:
        """Commit the pair on screen (masks + record) as one version; False when refused or in conflict."""
        editor, pair = self.editor, self.pair
        if editor is None or pair is None:
            return False
        try:
            self.identity.require(Action.SAVE)  # here, on the server: a hidden button proves nothing
        except PermissionDenied as exc:
            self.state.notify(Level.ERROR, str(exc))
            return False
        author = self.identity.author(self.author)
        if not author:
            self.state.notify(Level.WARNING, "Set your name before saving: every version says who made it.")
            return False
        update = self.pending()
        if update is None:
            return False
        if update.problems:
            self.state.notify(Level.ERROR, f"Not saved: {' '.join(update.problems)}")
            return False
        message = self.message.strip() or f"Correct masks of {pair.key}"
        try:
            if self._store_failed and self.reopen is not None:  # the store may be back: open it again
                self.store = self.reopen()
            version = self.workspace.save(pair, author=author, message=message, force=force).version
        except ConflictError as exc:
            self.conflict = Conflict(pair, str(exc))
            return False
        except (
            Exception
        ) as exc:  # OSError, IcechunkError, Zarr errors, ThaliaError: nothing saved, edits kept
            self._store_failed = not isinstance(exc, ThaliaError) or (
                self.store.exists and not store_exists(self.store.location)
            )
            log_unexpected(exc, f"saving {pair}")
            self.status = f"not saved: {type(exc).__name__}"
            self.state.notify(Level.ERROR, save_error(exc, pair, self.store))
            return False
        self._store_failed = False
        self.conflict = None
        self.message = ""
        self._changed()
        self.status = f"saved version {version[:8]} of {pair.key}"
        fields = ", ".join(c.field for c in update.changes)
        self.state.notify(
            Level.INFO,
            f"Saved {pair.key} as version {version[:8]}" + (f" (record: {fields})." if fields else "."),
        )
        self.record_revision += 1
        return True

    def reload(self) -> None:
        """Drop this session's edits of the pair on screen and open it as stored now (e.g. theirs)."""
        pair = self.pair
        if pair is None:
            return
        self.workspace.forget(pair)  # opened again, as stored now, by _on_pair
        self.conflict = None
        self.pending_revert = ""
        self._on_pair()
        self.record_revision += 1
        self.status = f"reloaded {pair.key} as stored"

    def revert(self, version: str, confirmed: bool = False) -> str | None:
        """A new version of the pair on screen restoring ``version``; returns its id, or ``None`` when refused.

        With unsaved edits of the pair, nothing happens until confirmed: :attr:`pending_revert` asks first
        (the revert drops them).
        """
        pair = self.pair
        if pair is None:
            return None
        try:
            self.identity.require(Action.REVERT)
        except PermissionDenied as exc:
            self.state.notify(Level.ERROR, str(exc))
            return None
        if self.dirty and not confirmed:
            self.pending_revert = version
            return None
        self.pending_revert = ""
        author = self.identity.author(self.author)
        if not author:
            self.state.notify(
                Level.WARNING, "Set your name before reverting: every version says who made it."
            )
            return None
        try:
            new = self.store.revert(pair, version, author=author, message=f"Revert to {version[:8]}")
        except Exception as exc:  # OSError, IcechunkError, ThaliaError: nothing reverted
            self.state.report(exc, f"reverting {pair} to {version[:8]}")
            return None
        self.reload()
        self.state.notify(Level.INFO, f"Reverted {pair.key} to {version[:8]} as version {new[:8]}.")
        return new

    def tag_release(self, name: str, version: str | None = None) -> str | None:
        """Tag ``version`` (default: the latest) of the whole store as release ``name``, logged with the author."""
        try:
            self.identity.require(Action.TAG)
        except PermissionDenied as exc:
            self.state.notify(Level.ERROR, str(exc))
            return None
        author = self.identity.author(self.author)
        if not author:
            self.state.notify(Level.WARNING, "Set your name before tagging: every release says who made it.")
            return None
        try:
            snapshot = self.store.tag(name, version, author=author)
        except Exception as exc:  # OSError, IcechunkError, ThaliaError: nothing tagged
            self.state.report(exc, f"tagging release {name.strip()!r}")
            return None
        self.state.notify(Level.INFO, f"Tagged version {snapshot[:8]} as release {name.strip()}.")
        self.status = f"tagged {snapshot[:8]} as {name.strip()}"
        return snapshot

    # --------------------------------------------------------------------------------------- drafts
    def draft(self, pair: Pair | None = None) -> dict | None:
        """The unsaved edits of ``pair`` (default: on screen) as a draft for the browser (``None``: nothing
        unsaved). Raises :class:`~thalia_viewer.core.editing.drafts.DraftTooLarge` for edits too big to keep.
        """
        pair = pair or self.pair
        return None if pair is None else self.workspace.draft(pair, self.message)

    def restore_draft(self, draft: dict) -> bool:
        """Put a draft of the pair on screen back as unsaved edits (one undoable edit); False when it does not
        apply (another pair, this session has newer edits, or it equals what is stored)."""
        editor, pair, frame = self.editor, self.pair, self.state.frame_obj
        if editor is None or pair is None or frame is None:
            return False
        try:  # None: another pair's, or edits made in this page are newer, or nothing new
            restored = self.workspace.restore_draft(pair, draft, frame.shape)
        except ThaliaError as exc:
            self.state.notify(Level.WARNING, str(exc))
            return False
        if restored is None:
            return False
        if restored.record_changed:
            self.record_revision += 1
        self.message = str(draft.get("message") or self.message)
        when = draft_time(draft)
        at = f" from {when:%Y-%m-%d %H:%M} UTC" if when else ""
        self.status = f"restored the unsaved edits of {pair.key}{at}"
        self._changed()
        self.state.notify(
            Level.INFO, f"Restored your unsaved edits of {pair.key}{at} (kept in this browser until saved)."
        )
        if restored.base != restored.stored_base:
            self.state.notify(
                Level.WARNING,
                f"{pair.key} was saved by someone else since your draft: saving will ask "
                "whether to keep theirs or yours.",
            )
        return True

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
        except Exception as exc:
            self.state.report(exc, f"reading version {version[:8]} of {pair}")
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
        except Exception as exc:
            self.state.report(exc, f"comparing versions of {pair}")
            return None
        mask = diff.masks[schema.ACTIVITY_MASK]
        self.comparison = Comparison(
            pair, old, new, mask.codes(), mask.n_added, mask.n_removed, sorted(diff.record)
        )
        self.status = self.comparison.summary()
        return self.comparison

    def back_to_edits(self) -> None:
        """Leave a preview or a comparison: the map shows this session's edits again."""
        if self.preview is not None or self.comparison is not None:
            self.preview = self.comparison = None
            self.status = "back to editing"
            self.revision += 1
