"""A server process's warm-up: it settles the heap once warm, so full collections walk only what came later."""

from __future__ import annotations

import gc
import weakref

from thalia_viewer.app import warm
from thalia_viewer.app.data import ROOT_ENV


def test_settle_heap_freezes_what_the_process_holds_and_spaces_full_collections():
    threshold = gc.get_threshold()
    try:
        held = [[i] for i in range(1000)]  # containers the collector tracks
        warm.settle_heap()
        assert gc.get_freeze_count() >= len(held)
        young, middle, full = gc.get_threshold()
        assert (young, middle) == threshold[:2] and full == warm.FULL_COLLECTION_EVERY

        class Node:
            pass

        cycle = Node()
        cycle.self = cycle  # garbage made after settling is still collected
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_heap_is_settled_after_a_warm_up_and_not_after_a_failed_one(monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(warm, "settle_heap", lambda: calls.append("settled"))
    monkeypatch.setattr(warm, "warm", lambda root: calls.append(f"warmed {root}") or 0.5)
    thread = warm.start_in_background({ROOT_ENV: "some/root"})
    assert thread is not None
    thread.join(10)
    assert calls == ["warmed some/root", "settled"]
    assert warm.READY_LINE in capsys.readouterr().err

    def fail(root: str) -> float:
        raise OSError("no such root")

    calls.clear()
    monkeypatch.setattr(warm, "warm", fail)
    thread = warm.start_in_background({ROOT_ENV: "some/root"})
    assert thread is not None
    thread.join(10)
    assert calls == []
    assert "warm-up failed (OSError: no such root)" in capsys.readouterr().err
    assert warm.start_in_background({ROOT_ENV: "some/root", warm.WARM_ENV: "0"}) is None
