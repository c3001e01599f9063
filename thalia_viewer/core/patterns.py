"""Patterns of a pair's class rasters, which record entry owns each, and what an edit did to them.

A *pattern* of the masks is the pixels of one activity type lying within :data:`PATTERN_GAP_PX` of each other
(two touching regions of different types are two patterns; a lobe cut by an eraser stroke or by
decorrelation stays one); its intensity level is the most frequent one inside it. A record lists one
``activity_type`` and ``intensity_level`` per pattern (an *entry*).

:func:`reconcile` compares the masks before and after an edit and says, entry by entry, what became of the
record's patterns: an entry whose pixels the edit did not reach is kept exactly as written; one it reached is
continued by the pattern(s) now covering its pixels (or dropped when they are all erased); patterns painted
where no entry was become new entries. Which entry owns which pixel comes from the placement of the
record's polygons (``core.placement``) where known, else from matching entries to patterns of the same class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from scipy import ndimage

from . import schema
from .placement import NO_OWNER, UNPLACED_OWNER, Entry

_EIGHT_CONNECTED: Final = np.ones((3, 3), bool)
#: Regions of one activity type closer than this (px, ~100 m each) are one pattern.
PATTERN_GAP_PX: Final = 16


@dataclass(frozen=True)
class Patterns:
    """The patterns of class rasters within a window: ``labels`` (int32, -1 outside any) over ``window`` of
    the frame, and each pattern's activity code, intensity code and size (pixels), largest first."""

    window: tuple[slice, slice]
    labels: np.ndarray
    activity: tuple[int, ...]
    intensity: tuple[int, ...]
    sizes: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.sizes)


def window_of(*masks: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of the non-zero pixels of any of ``masks`` (an empty box when there are none)."""
    union = np.zeros(np.shape(masks[0]), bool)
    for m in masks:
        union |= np.asarray(m) != 0
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if not rows.size:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def find_patterns(
    activity: np.ndarray, intensity: np.ndarray, window: tuple[slice, slice] | None = None
) -> Patterns:
    """The patterns of ``activity`` / ``intensity`` (uint8 codes, whole frame) inside ``window`` (default:
    the box of the labelled pixels), largest first.

    Linear in the pixels near each class: the gap is bridged by one square maximum filter (the 8-connected
    dilation by half the gap) over the class's own box; sizes and levels are counted with ``bincount``.
    """
    window = window_of(activity) if window is None else window
    act, lev = np.asarray(activity)[window], np.asarray(intensity)[window]
    parts = np.zeros(act.shape, np.int32)  # part id + 1 over all classes
    codes: list[int] = []
    sizes: list[np.ndarray] = []
    levels: list[np.ndarray] = []
    half = PATTERN_GAP_PX // 2
    present = np.flatnonzero(np.bincount(act.ravel(), minlength=2)[1:]) + 1
    for code in present.tolist():
        box = window_of(act == code)
        box = (
            slice(max(box[0].start - half, 0), box[0].stop + half),
            slice(max(box[1].start - half, 0), box[1].stop + half),
        )
        pixels = act[box] == code
        grown = ndimage.maximum_filter(pixels.view(np.uint8), size=2 * half + 1, mode="constant") > 0
        labelled, n = ndimage.label(grown, structure=_EIGHT_CONNECTED)
        ids = labelled[pixels]
        sizes.append(np.bincount(ids, minlength=n + 1)[1:])
        lv = lev[box][pixels].astype(np.int64)
        width = int(lv.max(initial=0)) + 1
        levels.append(
            np.bincount(ids * width + lv, minlength=(n + 1) * width).reshape(-1, width)[1:].argmax(axis=1)
        )
        parts[box][pixels] = ids + len(codes)
        codes += [code] * n
    labels = np.full(act.shape, -1, np.int32)
    if not codes:
        return Patterns(window, labels, (), (), ())
    size, level = np.concatenate(sizes), np.concatenate(levels)
    order = np.flatnonzero(size)[np.argsort(-size[size > 0], kind="stable")]
    lut = np.full(len(codes) + 1, -1, np.int32)
    lut[order + 1] = np.arange(len(order), dtype=np.int32)
    labelled_pixels = parts > 0
    labels[labelled_pixels] = lut[parts[labelled_pixels]]
    return Patterns(
        window,
        labels,
        tuple(codes[k] for k in order),
        tuple(int(level[k]) for k in order),
        tuple(int(size[k]) for k in order),
    )


def entry_name(activity: int, intensity: int) -> tuple[str, str]:
    """The record's names of a pattern's codes (intensity ``""`` when its level is unknown)."""
    act = next(c.name for c in schema.MASK_CLASSES[schema.ACTIVITY_MASK] if c.code == activity)
    lev = (
        ""
        if intensity == 0
        else next(c.name for c in schema.MASK_CLASSES[schema.INTENSITY_MASK] if c.code == intensity)
    )
    return act, lev


# ------------------------------------------------------------------------------------------ owners
def class_owners(entries: Sequence[Entry], found: Patterns) -> tuple[np.ndarray, tuple[int, ...]]:
    """Owners (entry index per pixel of ``found.window``) matched by class, and the entries not placed.

    For masks without placement (a saved correction, a cube with its own rasters): an entry owns the pattern
    of its class (all of them when it is the only entry of that class; one each, largest first, when there
    are several); "not placed" pixels belong to the entries whose class no pattern shows.
    """
    owner = np.full(found.labels.shape, NO_OWNER, np.int16)
    by_class: dict[tuple[int, int], list[int]] = {}
    for k, e in enumerate(entries):
        by_class.setdefault((e.activity_code, e.intensity_code), []).append(k)
    matched: set[int] = set()
    unplaced_pixels = False
    for m in range(len(found)):
        cls = (found.activity[m], found.intensity[m])
        if found.activity[m] == schema.UNPLACED_ACTIVITY:
            owner[found.labels == m] = UNPLACED_OWNER
            unplaced_pixels = True
            continue
        ks = by_class.get(cls, [])
        if len(ks) == 1:
            owner[found.labels == m] = ks[0]
            matched.add(ks[0])
        elif ks:
            free = [k for k in ks if k not in matched]
            if free:
                owner[found.labels == m] = free[0]
                matched.add(free[0])
    unplaced = (
        tuple(k for k, e in enumerate(entries) if k not in matched and not e.earthquake)
        if unplaced_pixels
        else ()
    )
    return owner, unplaced


# --------------------------------------------------------------------------------------- reconcile
@dataclass(frozen=True)
class Outcome:
    """One entry of the record after an edit: its names, the base entry it continues (``None``: a new
    pattern) and the after-edit pattern it now stands for (``None``: its pixels are as they were)."""

    activity: str
    intensity: str
    base: int | None
    pattern: int | None

    @property
    def kept(self) -> bool:
        """True when the entry and its pixels are exactly as in the base."""
        return self.base is not None and self.pattern is None


@dataclass
class PatternEdit:
    """What an edit did to a record's patterns (see :func:`reconcile`)."""

    outcomes: list[Outcome]
    base: list[Entry]
    after: Patterns | None  # the after-edit patterns (None when the masks did not change)
    removed: list[int] = field(default_factory=list)  # base entries whose pixels were all erased
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the masks changed."""
        return self.after is not None

    @property
    def lists(self) -> tuple[list[str], list[str]]:
        """``(activity_type, intensity_level)`` after the edit."""
        return [o.activity for o in self.outcomes], [o.intensity for o in self.outcomes]

    def owners(
        self, before: np.ndarray | None, unplaced: Sequence[int]
    ) -> tuple[np.ndarray | None, tuple[int, ...]]:
        """Owners (whole frame) and entries not placed of the record after the edit, from the base's
        (``before``: ``None`` when they were matched by class, and then they are matched again later)."""
        if self.after is None or before is None:
            return before, tuple(unplaced)
        out = np.full(before.shape, NO_OWNER, np.int16)
        window, labels = self.after.window, self.after.labels
        old = before[window]
        new = out[window]
        group = [n for n, o in enumerate(self.outcomes) if o.kept and o.base in set(unplaced)]
        if group:
            new[old == UNPLACED_OWNER] = UNPLACED_OWNER
        for n, o in enumerate(self.outcomes):
            if o.pattern is not None:
                new[labels == o.pattern] = n
            elif o.base is not None:
                new[old == o.base] = n
        outside = np.ones(before.shape, bool)
        outside[window] = False
        out[outside] = before[outside]  # nothing outside the window is labelled: kept as it was
        return out, tuple(group)

    def describe(self) -> list[str]:
        """One line per pattern the edit touched, for people."""
        lines = []
        for o in self.outcomes:
            if o.base is None:
                lines.append(f"new pattern {o.activity} / {o.intensity or '?'}")
            elif o.pattern is not None:
                e = self.base[o.base]
                now = (o.activity, o.intensity) != (e.activity, e.intensity)
                lines.append(
                    f"pattern {o.base + 1} ({e.name}) "
                    + (f"now {o.activity} / {o.intensity}" if now else "reshaped")
                )
        lines += [f"pattern {k + 1} ({self.base[k].name}) erased" for k in self.removed]
        return lines


def _overlaps(owner: np.ndarray, labels: np.ndarray, n_patterns: int) -> dict[int, list[tuple[int, int]]]:
    """For each owner value, the patterns overlapping its pixels as ``(pattern, pixels)``, most first."""
    both = (owner != NO_OWNER) & (labels >= 0)
    if not both.any() or not n_patterns:
        return {}
    shift = -UNPLACED_OWNER  # owners start at UNPLACED_OWNER (-2)
    key = (owner[both].astype(np.int64) + shift) * n_patterns + labels[both]
    counts = np.bincount(key)
    out: dict[int, list[tuple[int, int]]] = {}
    for k in np.flatnonzero(counts).tolist():
        out.setdefault(k // n_patterns - shift, []).append((k % n_patterns, int(counts[k])))
    for v in out.values():
        v.sort(key=lambda t: -t[1])
    return out


def reconcile(
    entries: Sequence[Entry],
    before: Mapping[str, np.ndarray],
    after: Mapping[str, np.ndarray],
    owner: np.ndarray | None = None,
    unplaced: Sequence[int] = (),
) -> PatternEdit:
    """What an edit from ``before`` to ``after`` (class rasters keyed by ``schema.MASKS`` names) did to the
    record patterns ``entries``. ``owner`` (whole frame) and ``unplaced`` come from the base's placement;
    without them, owners are matched by class (:func:`class_owners`). See the module docstring."""
    entries = list(entries)
    act0, lev0 = np.asarray(before[schema.ACTIVITY_MASK]), np.asarray(before[schema.INTENSITY_MASK])
    act1, lev1 = np.asarray(after[schema.ACTIVITY_MASK]), np.asarray(after[schema.INTENSITY_MASK])
    keep_all = [Outcome(e.activity, e.intensity, k, None) for k, e in enumerate(entries)]
    window = window_of(act0, act1)
    changed = (act0[window] != act1[window]) | (lev0[window] != lev1[window])
    if not changed.any():
        return PatternEdit(keep_all, entries, None)
    if owner is None:
        own, unplaced = class_owners(entries, find_patterns(act0, lev0, window))
    else:
        own = np.asarray(owner)[window]
    unplaced = [k for k in unplaced if 0 <= k < len(entries)]
    found = find_patterns(act1, lev1, window)
    labels = found.labels
    touched = set(np.unique(labels[changed & (labels >= 0)]).tolist())
    overlaps = _overlaps(own, labels, len(found))
    reached = set(np.unique(own[changed]).tolist())  # owners of changed pixels, and of pixels now in a
    reached |= {
        o for o, v in overlaps.items() if any(m in touched for m, _ in v)
    }  # pattern with changed ones
    claimed: set[int] = set()
    group: dict[int, Outcome | None] = {}
    if UNPLACED_OWNER in reached and unplaced:
        group = _group_outcomes(entries, unplaced, overlaps.get(UNPLACED_OWNER, []), found, claimed)
    outcomes: list[Outcome] = []
    removed: list[int] = []
    for k, e in enumerate(entries):
        if k in unplaced and group:
            outcome = group[k]
            if outcome is None:
                removed.append(k)
            else:
                outcomes.append(outcome)
            continue
        if k not in reached:
            outcomes.append(keep_all[k])
            continue
        same_class = (e.activity_code, e.intensity_code)
        mine = [
            m
            for m, _ in sorted(
                overlaps.get(k, []),
                key=lambda t: (
                    (found.activity[t[0]], found.intensity[t[0]]) != same_class
                    and found.activity[t[0]] != e.activity_code,
                    -t[1],
                ),
            )
            if m not in claimed
        ]  # its own class continues it first, then the most overlapping
        if not mine:
            removed.append(k)
            continue
        claimed.update(mine)
        first = _named(found, mine[0])
        same = (first[0], first[1] or e.intensity) == (e.activity, e.intensity)
        outcomes.append(Outcome(e.activity, e.intensity, k, mine[0]) if same else Outcome(*first, k, mine[0]))
        # parts of the entry's own pixels in its continuing class stay that one entry (an expert's entry may
        # span regions farther apart than the gap); other classes painted over it become entries of their own
        kept = (found.activity[mine[0]], found.intensity[mine[0]])
        outcomes += [
            Outcome(*_named(found, m), None, m)
            for m in mine[1:]
            if (found.activity[m], found.intensity[m]) != kept
        ]
    outcomes += [Outcome(*_named(found, m), None, m) for m in sorted(touched - claimed)]
    edit = PatternEdit(outcomes, entries, found, removed)
    edit.problems = _problems(edit)
    return edit


def _named(found: Patterns, m: int) -> tuple[str, str]:
    return entry_name(found.activity[m], found.intensity[m])


def _group_outcomes(
    entries: list[Entry],
    unplaced: list[int],
    overlapping: list[tuple[int, int]],
    found: Patterns,
    claimed: set[int],
) -> dict[int, Outcome | None]:
    """Outcomes of the entries not placed, when the edit reached their pixels: an entry whose class a pattern
    over those pixels now shows is placed by it; the others stay while "not placed" pixels (or pixels of
    their class) remain there, and go when none do."""
    out: dict[int, Outcome | None] = {}
    patterns = [m for m, _ in overlapping]
    for k in unplaced:
        e = entries[k]
        match = next(
            (
                m
                for m in patterns
                if m not in claimed
                and (found.activity[m], found.intensity[m]) == (e.activity_code, e.intensity_code)
            ),
            None,
        )
        if match is not None:
            claimed.add(match)
            out[k] = Outcome(e.activity, e.intensity, k, match)
    # the group lives on where "not placed" pixels remain (or, for entries of one class, pixels of that class)
    group_classes = {(entries[k].activity_code, entries[k].intensity_code) for k in unplaced}
    one_class = group_classes if len(group_classes) == 1 else set()
    remains = [
        m
        for m in patterns
        if found.activity[m] == schema.UNPLACED_ACTIVITY
        or (found.activity[m], found.intensity[m]) in one_class
    ]
    claimed.update(remains)  # what is left of the group's region is the group's, not a new pattern
    for k in unplaced:
        if k not in out:
            out[k] = Outcome(entries[k].activity, entries[k].intensity, k, None) if remains else None
    return out


def _problems(edit: PatternEdit) -> list[str]:
    """What keeps the edited lists from being written: classes the masks cannot name."""
    problems = []
    for n, o in enumerate(edit.outcomes, start=1):
        if o.base is not None and o.pattern is None:
            continue
        if o.activity == schema.UNPLACED_ACTIVITY_CLASS.name:
            problems.append(
                f"pattern {n} is painted 'not placed' but no entry of the record is left to give its class; "
                "paint it with a class."
            )
        elif not o.intensity:
            problems.append(
                f"pattern {n} ({o.activity}) has no intensity level in the masks; "
                f"paint it with {', '.join(schema.VOLCANIC_LEVEL_NAMES)}, or type its level in the form."
            )
    return problems
