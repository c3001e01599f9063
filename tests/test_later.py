"""A step's deferred page updates (``app/later.py``): next tick in a served session, once per key, at once elsewhere."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc

from thalia_viewer.app import later as later_mod
from thalia_viewer.app.later import batched, later, pending


@pytest.fixture
def served_doc() -> Document:
    """A document that looks served (it has a session context); its next-tick callbacks are run by hand."""
    doc = Document()
    context = SimpleNamespace(id="test-session")
    doc._session_context = lambda: context  # the server keeps a weak reference; the fixture keeps it alive
    return doc


def run_ticks(doc: Document) -> int:
    """Run the document's pending next-tick callbacks as the server's loop would; how many ran."""
    callbacks = list(doc.session_callbacks)
    for cb in callbacks:
        doc.remove_next_tick_callback(cb)
        cb.callback()
    return len(callbacks)


def test_outside_a_session_updates_run_at_once():
    ran = []
    later("card", lambda: ran.append("card"))
    assert ran == ["card"]
    assert batched(lambda x: x * 2)(21) == 42


def test_in_a_session_updates_wait_for_the_next_tick_and_run_in_one_callback(served_doc):
    ran = []
    with set_curdoc(served_doc):
        later("card", lambda: ran.append("card"))
        later("strip", lambda: ran.append("strip"))
        assert ran == []
        assert pending(served_doc) == 2
    assert run_ticks(served_doc) == 1  # both in one tick (one patch)
    assert ran == ["card", "strip"]
    assert pending(served_doc) == 0


def test_an_update_asked_again_before_it_ran_runs_once_the_latest(served_doc):
    ran = []
    with set_curdoc(served_doc):
        for pair in ("p1", "p2", "p3"):  # three keys before the server's loop came round
            later("card", lambda pair=pair: ran.append(pair))
    run_ticks(served_doc)
    assert ran == ["p3"]


def test_after_a_tick_new_updates_are_scheduled_again(served_doc):
    ran = []
    with set_curdoc(served_doc):
        later("card", lambda: ran.append(1))
    run_ticks(served_doc)
    with set_curdoc(served_doc):
        later("card", lambda: ran.append(2))
    assert run_ticks(served_doc) == 1
    assert ran == [1, 2]


def test_a_failing_update_does_not_stop_the_others(served_doc, monkeypatch):
    ran, handled = [], []
    monkeypatch.setattr(later_mod.pn.state, "_handle_exception", handled.append)

    def broken() -> None:
        raise RuntimeError("a damaged pair")

    with set_curdoc(served_doc):
        later("card", broken)
        later("strip", lambda: ran.append("strip"))
    run_ticks(served_doc)
    assert ran == ["strip"]
    assert [str(e) for e in handled] == ["a damaged pair"]


def test_sessions_keep_their_own_queues(served_doc):
    other = Document()
    context = SimpleNamespace(id="other-session")
    other._session_context = lambda: context
    ran = []
    with set_curdoc(served_doc):
        later("card", lambda: ran.append("mine"))
    with set_curdoc(other):
        later("card", lambda: ran.append("theirs"))
    run_ticks(other)
    assert ran == ["theirs"]
    run_ticks(served_doc)
    assert ran == ["theirs", "mine"]
