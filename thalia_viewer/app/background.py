"""Work on worker threads whose results land in the session that asked for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
from panel.io.state import set_curdoc


def in_session(fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` bound to the current session: called from a worker thread, it runs on the session's next tick
    with the document locked and current (at once outside a served session: scripts and tests)."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return fn

    def call(*args: Any) -> None:
        def run() -> None:
            with set_curdoc(doc):
                fn(*args)

        doc.add_next_tick_callback(run)  # thread-safe in Bokeh

    return call
