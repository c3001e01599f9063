"""Changing plain Bokeh models (not Panel's) safely from any callback of a served session.

A glyph's ``ColumnDataSource`` that a view changes itself (the dates matrix's marker) is outside Panel's
machinery. Changed while Bokeh's document lock is not held (Panel runs a ``JSComponent`` message, such as a
key press, or a stream callback, outside it), Bokeh raises ``RuntimeError: _pending_writes should be
non-None`` and every watcher after it is skipped: the views stop agreeing. :func:`update_model` routes the
change the way Panel routes its own model updates.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from bokeh.model import Model
from panel.io.document import unlocked
from panel.io.state import state


def update_model(model: Model, **props: Any) -> None:
    """Set ``props`` on ``model``: at once outside a server or where the session may dispatch events itself
    (Panel's ``unlocked``), else on the session's next tick (under the document lock)."""
    doc = model.document
    if doc is None or doc.session_context is None:
        model.update(**props)
        return
    unblocked = getattr(state, "_unblocked", None)  # Panel's own test before it updates a model
    if unblocked is None or unblocked(doc):
        with unlocked():
            model.update(**props)
    else:
        doc.add_next_tick_callback(partial(model.update, **props))
