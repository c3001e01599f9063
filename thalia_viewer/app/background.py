"""The app's one way to work off the session thread, and its one way back.

:func:`submit` runs a job on the process's worker threads, shared by every session, in a :class:`Lane`: jobs
of one lane run one at a time, in order (one model on the GPU or CPU at a time; one catalogue build), and
the lanes run side by side (a long review never holds up the Predict button; a training never blocks a
search). The map's lanes are wider: the layers of one pair switch are computed side by side. :func:`in_session`
wraps a callback so that, called from a worker, it runs on the session's next tick with the document locked
and current. (Deferring work on the session's own thread to its next tick, one patch: :mod:`.later`.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import StrEnum
from functools import partial
from typing import Any


class Lane(StrEnum):
    """A queue of background work: its jobs run one at a time, beside the other lanes'."""

    MODEL = "model"  # predicting the pair on screen (one model in memory at a time)
    REVIEW = "review"  # a review run over many pairs
    TRAIN = "train"  # fine-tuning
    CATALOGUE = "catalogue"  # building a dataset's search catalogue
    MAP = "map"  # the map's layers of the pair on screen (app/aggregates.py)
    PREFETCH = "prefetch"  # the map's neighbours of the pair on screen: never more than one core
    THUMBNAILS = "thumbnails"  # the time-series strip's thumbnails

    @property
    def workers(self) -> int:
        """Jobs of this lane that run at once (one, but the map's: a switch shows up to 7 layers, whose reads
        and reductions release the GIL)."""
        return 8 if self is Lane.MAP else 1


_executors: dict[Lane, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def executor(lane: Lane) -> ThreadPoolExecutor:
    """The process's workers of ``lane`` (started on first use)."""
    with _lock:
        pool = _executors.get(lane)
        if pool is None:
            pool = _executors[lane] = ThreadPoolExecutor(
                lane.workers, thread_name_prefix=f"thalia-{lane.value}"
            )
        return pool


def submit(lane: Lane, fn: Callable[..., Any], *args: Any) -> Future:
    """Run ``fn(*args)`` on ``lane``'s worker; its future (hand results back with :func:`in_session`)."""
    return executor(lane).submit(fn, *args)


def on_next_tick(doc: Any, fn: Callable[[], Any]) -> None:
    """Run ``fn`` on the session of Bokeh document ``doc`` at its next tick, with the document locked and
    current, from any thread; an error is handled as Panel handles a callback's (the session lives on)."""
    from panel.io.state import set_curdoc, state  # Panel only here: the session models import none

    def run() -> None:
        with set_curdoc(doc):
            try:
                fn()
            except Exception as exc:
                state._handle_exception(exc)

    doc.add_next_tick_callback(run)  # thread-safe in Bokeh


def in_session(fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` bound to the current session: called from a worker thread, it runs on the session's next tick
    with the document locked and current (at once outside a served session: scripts and tests)."""
    from panel.io.state import state

    doc = state.curdoc
    if doc is None or doc.session_context is None:
        return fn

    def call(*args: Any) -> None:
        on_next_tick(doc, partial(fn, *args))

    return call
