"""Work-arounds for Panel bugs the app runs into, each with how it shows and when to drop it.

**Updates stranded in Panel's write queue** (Panel 1.9.4, ``panel.io.document._dispatch_msgs``). While a
session's socket is busy, Panel queues the patches it cannot write at once in ``_WRITE_MSGS`` and schedules a
task that writes them while ``_WRITE_BLOCK`` is set. When patches are queued while an earlier such task is
awaiting its writes, the earlier task clears ``_WRITE_BLOCK`` as it ends, and the task scheduled for the new
patches then finds no block and returns without writing them. They stay queued until some later update of
that session schedules another write: the page shows a stale state meanwhile. In the app: stepping back to a
damaged pair left the map's "cannot be read" line hidden until the next key (a browser test caught it).
:func:`fix_write_queue` reschedules the writer when an ending task leaves patches queued.
``tests/test_panel_fixes.py`` replays the race against Panel's own function, and fails once Panel no longer
needs the fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from panel.io import document as panel_document

_FIXED_ATTR = "_thalia_fixed"


def fix_write_queue() -> None:
    """Make Panel write every queued patch, however its write tasks interleave (idempotent)."""
    original: Callable[[Any], Awaitable[None]] = panel_document._dispatch_msgs
    if getattr(original, _FIXED_ATTR, False):
        return

    async def dispatch_msgs(doc: Any) -> None:
        await original(doc)
        if doc in panel_document._WRITE_MSGS and doc not in panel_document._WRITE_BLOCK:
            panel_document._WRITE_BLOCK[doc] = True  # patches queued while it ran: write them too
            panel_document._dispatch_write_task(doc, panel_document._dispatch_msgs, doc)

    setattr(dispatch_msgs, _FIXED_ATTR, True)
    dispatch_msgs.__wrapped__ = original  # type: ignore[attr-defined]
    panel_document._dispatch_msgs = dispatch_msgs
