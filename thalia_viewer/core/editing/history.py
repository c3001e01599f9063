"""Bounded undo / redo of mask edits, each step holding only the pixels it changed."""

from __future__ import annotations

from collections import deque
from collections.abc import MutableSequence
from dataclasses import dataclass

import numpy as np

from thalia_viewer.core.editing.footprints import Box

DEFAULT_MAX_STEPS = 100
DEFAULT_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class Step:
    """One edit: the box of the pixels it changed, which of them (bits), and their codes before and after.

    ``before`` is ``(3, n)`` uint8 in :data:`schema.MASKS` order for the ``n`` changed pixels in row-major
    order; ``after`` is ``(3, n)``, or ``(3, 1)`` when every changed pixel got the same codes.
    """

    box: Box
    bits: np.ndarray  # np.packbits of the changed-pixel mask over ``box``
    before: np.ndarray
    after: np.ndarray

    @classmethod
    def of(cls, box: Box, changed: np.ndarray, before: np.ndarray, after: np.ndarray) -> Step:
        """The step changing the pixels of the boolean ``changed`` over ``box``."""
        return cls(box, np.packbits(changed), before, after)

    @property
    def changed(self) -> np.ndarray:
        """The changed-pixel mask over ``box`` (bool)."""
        h, w = self.box.shape
        return np.unpackbits(self.bits, count=h * w).view(bool).reshape(h, w)

    @property
    def nbytes(self) -> int:
        """Memory held by the step, bytes."""
        return self.bits.nbytes + self.before.nbytes + self.after.nbytes


class History:
    """Undo and redo stacks of at most ``max_steps`` steps and about ``max_bytes`` bytes.

    The oldest steps are dropped first (the newest one is always kept). Every state of the rasters has an
    id (:attr:`state`), so an editor can tell whether it is back at the state it last saved.
    """

    def __init__(self, max_steps: int = DEFAULT_MAX_STEPS, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_steps < 1 or max_bytes < 0:
            raise ValueError(f"max_steps must be >= 1 and max_bytes >= 0, got {max_steps} and {max_bytes}.")
        self.max_steps = max_steps
        self.max_bytes = max_bytes
        self._undo: deque[tuple[int, Step]] = deque()
        self._redo: list[tuple[int, Step]] = []
        self._last_id = 0
        self._base = 0  # state id reached by undoing every kept step
        self._nbytes = 0

    @property
    def state(self) -> int:
        """Id of the current state of the rasters (new ids for new edits; undo / redo go back to old ones)."""
        return self._undo[-1][0] if self._undo else self._base

    @property
    def nbytes(self) -> int:
        """Memory held by both stacks, bytes."""
        return self._nbytes

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    def __len__(self) -> int:
        """Number of steps that can be undone."""
        return len(self._undo)

    def push(self, step: Step) -> None:
        """Record a new edit: clears the redo stack, then drops the oldest steps beyond the bounds."""
        self._nbytes -= sum(s.nbytes for _, s in self._redo)
        self._redo.clear()
        self._last_id += 1
        self._undo.append((self._last_id, step))
        self._nbytes += step.nbytes
        while len(self._undo) > self.max_steps or (self._nbytes > self.max_bytes and len(self._undo) > 1):
            self._base, dropped = self._undo.popleft()
            self._nbytes -= dropped.nbytes

    def undo(self) -> Step | None:
        """The step to revert (moved to the redo stack), or None."""
        return _move(self._undo, self._redo)

    def redo(self) -> Step | None:
        """The step to apply again (moved back to the undo stack), or None."""
        return _move(self._redo, self._undo)

    def clear(self) -> None:
        """Forget every step; the current state keeps its id."""
        self._base = self.state
        self._undo.clear()
        self._redo.clear()
        self._nbytes = 0


def _move(
    source: MutableSequence[tuple[int, Step]], target: MutableSequence[tuple[int, Step]]
) -> Step | None:
    """Move the newest entry of ``source`` onto ``target``; its step, or None when ``source`` is empty."""
    if not source:
        return None
    entry = source.pop()
    target.append(entry)
    return entry[1]
