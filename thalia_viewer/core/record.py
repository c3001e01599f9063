"""What a save writes in a pair's label record: only what the person changed, field by field, with the reason.

:func:`record_update` takes the record and masks as they were opened (the *base*), the record as the label
form holds it and the masks as edited, and returns the record to save with one :class:`FieldChange` per
field that will differ from the base:

- a field typed in the form is saved as typed;
- ``activity_type`` / ``intensity_level`` (unless typed): the entries of patterns the edit did not reach stay
  exactly as the expert wrote them; a reached pattern is continued by what now covers its pixels, dropped
  when erased; newly painted patterns are added (``core.patterns``);
- ``label`` (unless typed) follows the masks only where the edit made volcanic or earthquake deformation
  appear or disappear; ``is_crowd`` (unless typed) only when the edit changed the number of patterns;
- "None" is the intensity level of earthquakes only; a pattern whose level the masks do not give is a
  problem to fix before saving, never a guess.

Nothing else changes: a disagreement between an untouched record and the masks is reported as a note, not
"fixed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from . import schema
from .patterns import PATTERN_GAP_PX, PatternEdit, entry_name, find_patterns, reconcile, window_of
from .placement import NO_OWNER, Entry, Placement, record_entries

__all__ = [
    "DERIVED_FIELDS",
    "PATTERN_GAP_PX",
    "FieldChange",
    "Opened",
    "RecordUpdate",
    "derived_fields",
    "patterns",
    "record_update",
]

DERIVED_FIELDS: Final = ("label", "activity_type", "intensity_level", "is_crowd")
LIST_FIELDS: Final = ("activity_type", "intensity_level")
TYPED: Final = "typed in the form"


def patterns(masks: Mapping[str, np.ndarray]) -> list[tuple[int, int, int]]:
    """``(pixels, activity code, intensity code)`` of every pattern of the masks, largest first."""
    deformation = np.asarray(masks[schema.DEFORMATION_MASK])
    activity = np.where(deformation > 0, np.asarray(masks[schema.ACTIVITY_MASK]), 0)
    found = find_patterns(activity, np.asarray(masks[schema.INTENSITY_MASK]))
    return list(zip(found.sizes, found.activity, found.intensity, strict=True))


def _labels(deformation: np.ndarray) -> list[str]:
    present = (
        (schema.Label.DEFORMATION, (deformation == 1).any()),
        (schema.Label.EARTHQUAKE, (deformation == 2).any()),
    )
    return [name.value for name, here in present if here] or [schema.Label.NON_DEFORMATION.value]


def derived_fields(masks: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``label``, ``activity_type``, ``intensity_level`` and ``is_crowd`` as the masks alone say them
    (a level the masks do not give is ``""``; "not placed" pixels are one pattern named ``Not_placed``)."""
    found = patterns(masks)
    names = [entry_name(a, i) for _, a, i in found]
    return {
        "label": _labels(np.asarray(masks[schema.DEFORMATION_MASK])),
        "activity_type": [a for a, _ in names],
        "intensity_level": [i for _, i in names],
        "is_crowd": int(len(found) > 1),
    }


@dataclass(frozen=True)
class FieldChange:
    """One field a save changes: its value in the base record, the value written, and why."""

    field: str
    old: Any
    new: Any
    why: str


@dataclass
class RecordUpdate:
    """The record a save writes, what changes in it, what keeps it from being saved, and notes."""

    record: dict[str, Any]
    changes: list[FieldChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    patterns: PatternEdit | None = None

    @property
    def ok(self) -> bool:
        """True when nothing keeps the record from being saved."""
        return not self.problems


def _same(a: Any, b: Any) -> bool:
    return a == b or (a in (None, []) and b in (None, []))


def _list_problems(kinds: Any, levels: Any) -> list[str]:
    """Problems of typed activity / intensity lists: lengths and "None" only for earthquakes."""
    if not isinstance(kinds, list) or not isinstance(levels, list):
        return ["activity types and intensity levels must be lists."]
    if len(kinds) != len(levels):
        return [f"{len(kinds)} activity type(s) but {len(levels)} intensity level(s): one level per pattern."]
    out = []
    for n, (kind, level) in enumerate(zip(kinds, levels, strict=True), start=1):
        quake = kind == schema.EARTHQUAKE
        if quake and level != schema.NO_LEVEL:
            out.append(
                f"pattern {n} is an earthquake: its intensity level is {schema.NO_LEVEL!r}, not {level!r}."
            )
        elif not quake and level == schema.NO_LEVEL:
            out.append(
                f"pattern {n} ({kind}): {schema.NO_LEVEL!r} is the earthquakes' level; pick {', '.join(schema.VOLCANIC_LEVEL_NAMES)}."
            )
    return out


def owners_of(placement: Placement | None) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """The owner raster (whole frame) and the entries not placed of a placement; ``(None, ())`` when it has
    no owners (a cube with its own rasters, no deformation)."""
    if placement is None or not placement.box[0].stop:
        return None, ()
    return placement.owners(), placement.unplaced


def record_update(
    base_record: Mapping[str, Any],
    base_masks: Mapping[str, np.ndarray],
    form_record: Mapping[str, Any],
    masks: Mapping[str, np.ndarray],
    placement: Placement | None = None,
    owner: np.ndarray | None = None,
    unplaced: Sequence[int] = (),
) -> RecordUpdate:
    """The record to save for ``masks`` edited from ``base_masks`` and ``form_record`` edited from
    ``base_record`` (see the module docstring). Which entry owns which pixel: ``placement`` (the source's),
    or ``owner`` and ``unplaced`` (a previous save's); neither: matched by class."""
    base = dict(base_record)
    form = dict(form_record)
    typed = {f for f in set(form) | set(base) if not _same(form.get(f), base.get(f))}
    out = dict(form)
    update = RecordUpdate(out)
    why: dict[str, str] = dict.fromkeys(typed, TYPED)

    entries: list[Entry] | None = record_entries(base)
    edit = None
    if entries is None:
        update.notes.append(
            "the record's activity / intensity lists are malformed; they change only if typed."
        )
    else:
        if placement is not None:
            owner, unplaced = owners_of(placement)
        edit = reconcile(entries, base_masks, masks, owner, unplaced)
        update.patterns = edit
    lists_typed = bool(typed & set(LIST_FIELDS))
    if lists_typed:
        update.problems += _list_problems(out.get("activity_type"), out.get("intensity_level"))
        if edit is not None and edit.changed:
            kinds, levels = edit.lists
            if (kinds, levels) != (out.get("activity_type"), out.get("intensity_level")):
                update.notes.append(
                    "activity types / intensity levels are saved as typed; from your strokes they would be "
                    f"{_pairs(kinds, levels)}."
                )
    elif edit is not None and edit.changed:
        kinds, levels = edit.lists
        update.problems += edit.problems
        reason = "; ".join(edit.describe()) or "your strokes"
        for name, value in (("activity_type", kinds), ("intensity_level", levels)):
            if not _same(value, base.get(name)):
                out[name] = value
                why[name] = reason
    deformation0 = np.asarray(base_masks[schema.DEFORMATION_MASK])
    deformation1 = np.asarray(masks[schema.DEFORMATION_MASK])
    if "label" not in typed:
        before, after = _labels(deformation0), _labels(deformation1)
        if before != after:
            new = after
            if not _same(new, base.get("label")):
                out["label"] = new
                why["label"] = "your strokes made " + _presence_change(before, after)
    if "is_crowd" not in typed and not lists_typed:
        n_before = len(base.get("activity_type") or [])
        n_after = len(out.get("activity_type") or [])
        crowd = int(n_after > 1)
        if n_before != n_after and "is_crowd" in base and crowd != base.get("is_crowd"):
            out["is_crowd"] = crowd
            why["is_crowd"] = f"the record now lists {n_after} pattern(s)"
    fields = [*schema.ANNOTATION_FIELDS, *[f for f in out if f not in schema.ANNOTATION_FIELDS]]
    update.changes = [
        FieldChange(f, base.get(f), out.get(f), why.get(f, ""))
        for f in fields
        if not _same(base.get(f), out.get(f))
    ]
    present = _labels(deformation1)
    if "label" in typed and sorted(out.get("label") or []) != sorted(present):
        update.problems.append(
            f"the label is typed as {', '.join(out.get('label') or []) or 'nothing'} but the masks "
            f"show {', '.join(present)}: change the label or the masks."
        )
    elif sorted(out.get("label") or []) != sorted(present):
        update.notes.append(
            f"the label says {', '.join(out.get('label') or []) or 'nothing'}; the masks show "
            f"{', '.join(present)} (left as the record has it)."
        )
    return update


def _pairs(kinds: Sequence[str], levels: Sequence[str]) -> str:
    return ", ".join(f"{a} / {i or '?'}" for a, i in zip(kinds, levels, strict=True)) or "none"


def _presence_change(before: list[str], after: list[str]) -> str:
    gone = [x for x in before if x not in after and x != schema.Label.NON_DEFORMATION.value]
    new = [x for x in after if x not in before and x != schema.Label.NON_DEFORMATION.value]
    parts = [f"{x} appear" for x in new] + [f"{x} disappear" for x in gone]
    return " and ".join(parts) or "the label change"


@dataclass
class Opened:
    """A pair's record and masks as opened for editing (or as last saved), kept compactly: the masks only
    inside the box of their labelled pixels, and which record entry owns which pixel."""

    record: dict[str, Any]
    shape: tuple[int, int]
    window: tuple[slice, slice]
    crops: dict[str, np.ndarray]
    owner: np.ndarray | None  # over ``window``; None: owners matched by class
    unplaced: tuple[int, ...] = ()
    how: str = ""  # how the classes were placed, for people

    @classmethod
    def of(
        cls,
        record: Mapping[str, Any],
        masks: Mapping[str, np.ndarray],
        placement: Placement | None = None,
        owner: np.ndarray | None = None,
        unplaced: Sequence[int] = (),
        how: str = "",
    ) -> Opened:
        """The state of ``record`` and ``masks`` (owners from ``placement``, or ``owner`` and ``unplaced``)."""
        if placement is not None:
            owner, unplaced = owners_of(placement)
            how = how or placement.summary()
        shape = np.shape(masks[schema.ACTIVITY_MASK])
        # owners are NO_OWNER (-1) off the labelled pixels: ``owner + 1`` is 0 there
        window = window_of(masks[schema.ACTIVITY_MASK], *(() if owner is None else (owner + 1,)))
        crops = {m: np.array(masks[m][window]) for m in schema.MASKS}
        own = None if owner is None else np.array(owner[window])
        return cls(dict(record), (int(shape[0]), int(shape[1])), window, crops, own, tuple(unplaced), how)

    def masks(self) -> dict[str, np.ndarray]:
        """The masks, whole frame."""
        out = {}
        for m, crop in self.crops.items():
            full = np.zeros(self.shape, np.uint8)
            full[self.window] = crop
            out[m] = full
        return out

    def owners(self) -> np.ndarray | None:
        """The owner raster, whole frame (``None``: matched by class)."""
        if self.owner is None:
            return None
        full = np.full(self.shape, NO_OWNER, np.int16)
        full[self.window] = self.owner
        return full

    def update(self, form_record: Mapping[str, Any], masks: Mapping[str, np.ndarray]) -> RecordUpdate:
        """What saving ``masks`` with ``form_record`` writes (:func:`record_update`)."""
        return record_update(
            self.record, self.masks(), form_record, masks, owner=self.owners(), unplaced=self.unplaced
        )

    def saved(self, update: RecordUpdate, masks: Mapping[str, np.ndarray]) -> Opened:
        """The state once ``update`` is saved with ``masks``: the next edit starts from there."""
        owner, unplaced = self.owners(), self.unplaced
        if update.patterns is not None and not _lists_typed(update):
            owner, unplaced = update.patterns.owners(owner, unplaced)
        else:
            owner, unplaced = None, ()
        return Opened.of(update.record, masks, owner=owner, unplaced=unplaced, how="as saved")


def _lists_typed(update: RecordUpdate) -> bool:
    return any(c.field in LIST_FIELDS and c.why == TYPED for c in update.changes)
