"""A pair step's page updates in two batches: what must follow at once, then the rest, without user action.

A step changes what many views show. The map, the pair pickers and the address follow at once, in one
document patch (:func:`batched`: one websocket message, one pass of the browser over the changes instead
of one per changed model). The label card, the time-series strip, the dates matrix and the mode links
follow right after (:func:`later`): on the session's next tick, after the step's own patch has left, all of
a session's deferred updates together in one more patch. An update asked for again before it ran runs
once, for what is on screen by then: keys pressed faster than the server answers cost one update of those
views, not one per key. Outside a served session (scripts, tests, notebooks) both run at once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from functools import partial, wraps
from typing import Any

import panel as pn
from bokeh.document import Document
from panel.io.document import hold
from panel.io.state import set_curdoc

_lock = threading.Lock()
#: Per session document: the deferred updates waiting for its next tick, by key, in the order first asked.
_pending: weakref.WeakKeyDictionary[Document, dict[Hashable, Callable[[], Any]]] = weakref.WeakKeyDictionary()


def _served_doc() -> Document | None:
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def later(key: Hashable, fn: Callable[[], Any]) -> None:
    """Run ``fn()`` on the session's next tick with the other deferred updates (at once outside a session);
    asked again under the same ``key`` before it ran, only the latest ``fn`` runs, once."""
    doc = _served_doc()
    if doc is None:
        fn()
        return
    with _lock:
        queue = _pending.get(doc)
        first = queue is None
        if first:
            queue = _pending[doc] = {}
        queue[key] = fn
    if first:
        doc.add_next_tick_callback(partial(_flush, doc))


def pending(doc: Document | None = None) -> int:
    """How many deferred updates wait for the next tick of ``doc`` (default: the current session's)."""
    doc = doc or pn.state.curdoc
    with _lock:
        return len(_pending.get(doc, {})) if doc is not None else 0


def _flush(doc: Document) -> None:
    with _lock:
        queue = _pending.pop(doc, {})
    with set_curdoc(doc), hold(doc):
        for fn in queue.values():
            try:
                fn()
            except Exception as exc:  # one view's failure must not stop the others (views report their own)
                pn.state._handle_exception(exc)


def batched(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` whose document changes reach the browser as one patch (Panel's ``hold``) in a served session."""

    @wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        doc = _served_doc()
        if doc is None:
            return fn(*args, **kwargs)
        with hold(doc):
            return fn(*args, **kwargs)

    return call
