"""``Workspace``: the staged (unsaved) edits of several pairs over an annotation store, with save / reload.

Per pair it holds a :class:`~thalia_viewer.core.editing.MaskEditor`, the label record being edited, the
store version the pair was opened at (its *base*) and the record and masks as opened (what a save changes).
A save is one version of the :class:`~thalia_viewer.core.annotations.AnnotationStore`, made against the base:
when someone else saved the pair since, the store raises :class:`~thalia_viewer.core.errors.ConflictError`
and nothing is written; :meth:`Workspace.reload` then opens the pair as stored now (theirs), a forced save
overwrites it. No Panel: the annotate mode is UI over one workspace, and a notebook can use one directly::

    ws = Workspace(store)
    ws.editor(pair).brush(points, 5, MaskClass.from_names(ActivityType.MOGI, IntensityLevel.MEDIUM))
    ws.set_field(pair, "caption", "uplift")
    version = ws.save(pair, author="ada", message="corrected").version
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import schema
from ..annotations import AnnotationStore, PairAnnotation
from ..errors import InvalidEditError
from ..pairs import Pair
from ..record import Opened, RecordUpdate
from .drafts import decode_draft, encode_draft
from .editor import MaskEditor


@dataclass(frozen=True)
class Saved:
    """What a save wrote: the new version id and the record update it made."""

    pair: Pair
    version: str
    update: RecordUpdate


@dataclass(frozen=True)
class Restored:
    """A draft put back as unsaved edits: whether it changed the record, and the base it came with."""

    record_changed: bool
    base: str | None
    stored_base: str | None  # the base the pair had before (another one: someone saved since the draft)


class Workspace:
    """Unsaved edits of the pairs opened over ``store`` (opened on first use, kept until saved or reloaded)."""

    def __init__(self, store: AnnotationStore) -> None:
        self.store = store
        self._editors: dict[Pair, MaskEditor] = {}
        self._records: dict[Pair, dict] = {}
        self._bases: dict[Pair, str | None] = {}  # the version each pair was opened at
        self._opened: dict[Pair, Opened] = {}  # record and masks as opened (or last saved)
        self._record_dirty: set[Pair] = set()  # pairs whose record was changed and not saved

    # ------------------------------------------------------------------------------------ opening
    def __contains__(self, pair: object) -> bool:
        """Whether ``pair`` is open here."""
        return pair in self._editors

    def __iter__(self) -> Iterator[Pair]:
        return iter(list(self._editors))

    def open(self, pair: Pair) -> MaskEditor:
        """Open ``pair`` as stored now (the store's latest version, else the source cube); its editor."""
        annotation = self.store.read_merged(pair)
        return self._adopt(pair, annotation)

    def _adopt(self, pair: Pair, annotation: PairAnnotation) -> MaskEditor:
        editor = MaskEditor(annotation.masks[schema.ACTIVITY_MASK], annotation.masks[schema.INTENSITY_MASK])
        self._editors[pair] = editor
        self._records[pair] = dict(annotation.record or {})
        self._bases[pair] = annotation.version
        how = "" if annotation.source else f"as saved in version {(annotation.version or '')[:8]}"
        self._opened[pair] = Opened.of(
            annotation.record or {}, annotation.masks, annotation.placement, how=how
        )
        self._record_dirty.discard(pair)
        return editor

    def editor(self, pair: Pair) -> MaskEditor:
        """The editor of ``pair`` (opened on first use; raises what the store raises for a damaged pair)."""
        editor = self._editors.get(pair)
        return editor if editor is not None else self.open(pair)

    def opened_editor(self, pair: Pair) -> MaskEditor | None:
        """The editor of ``pair`` if it is open here, else ``None`` (never reads the store)."""
        return self._editors.get(pair)

    def record(self, pair: Pair) -> dict | None:
        """The label record of ``pair`` as edited here (``None``: not open)."""
        return self._records.get(pair)

    def base(self, pair: Pair) -> str | None:
        """The store version ``pair`` was opened (or last saved) at; ``None``: the source cube."""
        return self._bases.get(pair)

    def placement_text(self, pair: Pair) -> str:
        """How the classes of ``pair`` were placed when it was opened (or last saved)."""
        opened = self._opened.get(pair)
        return opened.how if opened is not None else ""

    # ------------------------------------------------------------------------------------- state
    def dirty(self, pair: Pair | None) -> bool:
        """Whether ``pair`` has unsaved edits (masks or record)."""
        editor = self._editors.get(pair) if pair is not None else None
        return bool(editor is not None and editor.dirty) or pair in self._record_dirty

    @property
    def unsaved(self) -> bool:
        """Whether any pair open here has unsaved edits."""
        return bool(self._record_dirty) or any(e.dirty for e in self._editors.values())

    def unsaved_pairs(self) -> list[Pair]:
        """The pairs with unsaved edits."""
        return [p for p in self._editors if self.dirty(p)]

    def forget(self, pair: Pair) -> None:
        """Drop the edits of ``pair`` (it opens as stored on next use)."""
        for table in (self._editors, self._records, self._bases, self._opened):
            table.pop(pair, None)
        self._record_dirty.discard(pair)

    def drop_clean(self, keep: Pair | None = None) -> None:
        """Forget the pairs without unsaved edits but ``keep`` (3 bytes a pixel each; reopened on return)."""
        for pair in [p for p in self._editors if p != keep and not self.dirty(p)]:
            self.forget(pair)

    # ------------------------------------------------------------------------------------ records
    def set_field(self, pair: Pair, field: str, value: Any) -> bool:
        """Change one field of the record of an open pair (validated on save); False when it is not open."""
        if pair not in self._records:
            return False
        self._records[pair][field] = value
        self._record_dirty.add(pair)
        return True

    def pending(self, pair: Pair) -> RecordUpdate | None:
        """What saving ``pair`` writes in its record, field by field, with reasons, problems and notes
        (``core.record``); ``None`` when it is not open."""
        editor, opened = self._editors.get(pair), self._opened.get(pair)
        if editor is None or opened is None:
            return None
        return opened.update(self._records.get(pair, {}), editor.masks)

    # --------------------------------------------------------------------------------------- save
    def save(self, pair: Pair, author: str, message: str, force: bool = False) -> Saved:
        """Commit ``pair`` (masks + derived record) as one version made against its base.

        Raises :class:`~thalia_viewer.core.errors.InvalidEditError` when the record has problems,
        :class:`~thalia_viewer.core.errors.ConflictError` when someone else saved the pair since it was opened
        (unless ``force``), and what the store raises; the edits stay unsaved on any error.
        """
        update = self.pending(pair)
        if update is None:
            msg = f"{pair} is not open for editing."
            raise InvalidEditError(msg, "Open the pair (edit it) before saving it.")
        if update.problems:
            msg = f"{pair} not saved: {' '.join(update.problems)}"
            raise InvalidEditError(msg, "Fix the label record, then save again.")
        editor = self._editors[pair]
        version = self.store.save_pair(
            pair,
            editor.masks,
            update.record,
            author=author,
            message=message,
            base=self._bases.get(pair),
            force=force,
        )
        self._opened[pair] = self._opened[pair].saved(update, editor.masks)
        editor.mark_saved()
        self._records[pair] = update.record
        self._bases[pair] = version
        self._record_dirty.discard(pair)
        return Saved(pair, version, update)

    def reload(self, pair: Pair) -> MaskEditor:
        """Drop the edits of ``pair`` and open it as stored now (e.g. someone else's save after a conflict)."""
        self.forget(pair)
        return self.open(pair)

    # -------------------------------------------------------------------------------------- drafts
    def draft(self, pair: Pair, message: str = "") -> dict | None:
        """The unsaved edits of ``pair`` as a JSON-able draft (``None``: nothing unsaved). Raises
        :class:`~thalia_viewer.core.editing.drafts.DraftTooLarge` for edits too big to keep."""
        editor = self._editors.get(pair)
        if editor is None or not self.dirty(pair):
            return None
        return encode_draft(
            pair.key, editor.masks, self._records.get(pair, {}), self._bases.get(pair), message
        )

    def restore_draft(self, pair: Pair, draft: Mapping[str, Any], shape: tuple[int, int]) -> Restored | None:
        """Put a draft of ``pair`` back as unsaved edits (one undoable edit); ``None`` when it does not apply
        (another pair, unsaved edits here are newer, or it equals what is open). Raises ``ThaliaError`` for a
        damaged draft or one of another frame size; ``shape``: the frame's (rows, cols)."""
        if draft.get("pair") != pair.key or self.dirty(pair):
            return None
        editor = self.editor(pair)
        activity, intensity = decode_draft(dict(draft), pair.key, shape)
        box = editor.replace(activity, intensity)
        record = draft.get("record")
        record_changed = isinstance(record, dict) and record != self._records.get(pair)
        if record_changed:
            self._records[pair] = dict(record)  # type: ignore[arg-type]
            self._record_dirty.add(pair)
        elif box is None:
            return None
        stored = self._bases.get(pair)
        self._bases[pair] = draft.get("base")  # a save then detects a save of someone else since the draft
        return Restored(record_changed, draft.get("base"), stored)
