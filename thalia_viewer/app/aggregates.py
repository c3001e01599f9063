"""Screen-resolution aggregates of one session: computed in parallel, cached, and prefetched for the next pair.

A pair switch needs one aggregate per visible layer; they are computed before the plot asks for them,
each from the view's window read into memory (Datashader on an in-memory array is about 3x faster than
on the dask graph), the layers side by side (decompression and the overview reductions release the GIL:
on a 4096^2 frame a switch's reads take the longest layer's time, not their sum). A zoomed-out view of a
big frame is aggregated from the layer's overview; the first time, the whole layer is read once into
memory (:func:`thalia_viewer.core.frame.eager_reads`: one Zarr read, no dask graph), a first image is made
from the native pixel nearest each screen pixel (``draft``) and the overview is built from the same array.
Once a pair is on screen, the aggregates of the pairs a user most likely opens next (next and previous
pair, at the same view and screen size) are computed by one background worker per process, so stepping
with ``j`` / ``k`` finds them ready. Entries are futures: a request for an aggregate being prefetched
waits for it instead of computing it twice, and a prefetch still queued behind others is taken over (cancelled
and computed at once) when a session asks for it in the foreground.

The aggregates themselves are shared by every session of the process (:class:`SharedAggregates`, sized in
MB: ``$THALIA_AGGREGATE_CACHE_MB``, default 256, least recently used evicted first): two people looking at
the same pair at the same view compute it once, and a session's memory does not grow with what it viewed.
Keys hold the identity of the data (root, frame, layer, dates, and for masks the saved version or a
session's own edit token), so one session never sees another's unsaved edits. Per session
(:class:`AggregateCache`) are only the queued prefetches and the hit / miss counts.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Final

import numpy as np
import xarray as xr

from thalia_viewer.app import background
from thalia_viewer.app.background import Lane
from thalia_viewer.core import schema
from thalia_viewer.viz.overview import (
    Overview,
    build_overview,
    native_per_screen,
    overview_factor,
    sample_aggregate,
    view_window,
)
from thalia_viewer.viz.shade import Extent, aggregate, aggregate_classes, data_extent, make_canvas

CACHE_ITEMS: Final = 4096  # entries of the shared cache at most, whatever their size
CACHE_MB_ENV: Final = "THALIA_AGGREGATE_CACHE_MB"
DEFAULT_CACHE_MB: Final = 256  # per process; a screen-size aggregate takes 1-8 MB
SESSION_KEYS: Final = 256  # keys a session remembers as its own (for clear())
#: Prefetches start this long after being queued, so they never compete with the update of the pair on screen.
PREFETCH_DELAY_S: Final = 0.2
OVERVIEW_BYTES: Final = 384_000_000  # overviews kept per process (a 4096^2 frame's layer: 1-8 MB)

_foreground = background.executor(Lane.MAP)  # layers of the pair on screen, side by side
_background = background.executor(Lane.PREFETCH)  # its neighbours: one core at most

Job = tuple[Hashable, Callable[[], xr.DataArray]]  # (cache key, how to compute it)


def _nbytes(value: object) -> int:
    return int(getattr(value, "nbytes", 0) or 0)


def budget_from_env(environ: dict[str, str] | os._Environ[str] | None = None) -> int:
    """The shared cache's budget in bytes: ``$THALIA_AGGREGATE_CACHE_MB`` MB (default 256; 0 keeps nothing)."""
    text = (environ if environ is not None else os.environ).get(CACHE_MB_ENV, "").strip()
    try:
        mb = float(text) if text else DEFAULT_CACHE_MB
    except ValueError:
        mb = DEFAULT_CACHE_MB
    return max(0, int(mb * 2**20))


class SharedAggregates:
    """A thread-safe, byte-budgeted LRU map from keys to (future) aggregates, shared by the sessions of a process.

    A future counts once it is done (its result's ``nbytes``); the least recently used done entries are
    evicted until the total fits ``budget_bytes`` (running ones are never evicted: someone waits for them).
    """

    def __init__(self, budget_bytes: int | None = None, max_items: int = CACHE_ITEMS) -> None:
        self.budget_bytes = budget_from_env() if budget_bytes is None else budget_bytes
        self.max_items = max_items
        self._items: OrderedDict[Hashable, Future[xr.DataArray]] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self.nbytes = 0  # of the done entries
        # re-entrant: cancelling a queued future under it runs its done callback (forget) at once
        self._lock = threading.RLock()
        self._prefetches: weakref.WeakSet[Future] = (
            weakref.WeakSet()
        )  # futures made by any session's prefetch()
        self._demanded: set[Hashable] = set()  # keys asked for while their prefetch was running

    def __len__(self) -> int:
        return len(self._items)

    def lookup(self, key: Hashable) -> Future[xr.DataArray] | None:
        with self._lock:
            future = self._items.get(key)
            if future is not None:
                self._items.move_to_end(key)
            return future

    def _account(self, key: Hashable, future: Future[xr.DataArray]) -> None:
        with self._lock:
            self._demanded.discard(key)  # (a prefetch asked for after its staleness check left it behind)
        if future.cancelled() or future.exception() is not None:
            self.forget(key, future)
            return
        with self._lock:
            if self._items.get(key) is future and key not in self._sizes:
                self._sizes[key] = size = _nbytes(future.result())
                self.nbytes += size
                self._evict()

    def _evict(self) -> None:
        """Drop least recently used done entries until the budget and the item bound hold (lock held)."""
        for key in list(self._items):
            if self.nbytes <= self.budget_bytes and len(self._items) <= self.max_items:
                return
            if self._items[key].done():
                self._drop(key)

    def _drop(self, key: Hashable) -> None:
        self._items.pop(key, None)
        self.nbytes -= self._sizes.pop(key, 0)

    def forget(self, key: Hashable, future: Future[xr.DataArray] | None = None) -> None:
        """Drop ``key`` (only if it still holds ``future``, when given)."""
        with self._lock:
            if key in self._items and (future is None or self._items[key] is future):
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self.nbytes = 0


#: The process's aggregates, shared by every session.
SHARED: Final = SharedAggregates()


class AggregateCache:
    """One session's view of the shared aggregates: get / warm / prefetch, its own queue and counts.

    ``shared``: where the aggregates live (default: the process's :data:`SHARED`).
    """

    def __init__(self, shared: SharedAggregates | None = None) -> None:
        self.shared = SHARED if shared is None else shared
        self._mine: OrderedDict[Hashable, None] = OrderedDict()  # keys this session computed or used
        self._lock = threading.Lock()
        self._prefetching: list[Future[xr.DataArray]] = []
        self._generation = 0  # bumped by cancel_prefetch: waiting prefetches of older generations give up
        self._wanted: set[Hashable] = set()  # keys the latest prefetch wants
        self.hits = 0  # requests answered from the cache (or a computation already running)
        self.misses = 0  # requests computed on the spot

    def __len__(self) -> int:
        return sum(1 for key in list(self._mine) if key in self)

    def __contains__(self, key: Hashable) -> bool:
        future = self.shared.lookup(key)
        return future is not None and future.done() and not future.cancelled() and future.exception() is None

    def clear(self) -> None:
        """Cancel the pending prefetches and drop what this session computed or used from the shared cache."""
        self.cancel_prefetch()
        with self._lock:
            keys, self._mine = list(self._mine), OrderedDict()
        for key in keys:
            self.shared.forget(key)

    def _note(self, key: Hashable) -> None:
        with self._lock:
            self._mine[key] = None
            self._mine.move_to_end(key)
            while len(self._mine) > SESSION_KEYS:
                self._mine.popitem(last=False)

    def _submit(
        self, key: Hashable, compute: Callable[[], xr.DataArray], pool: ThreadPoolExecutor | None
    ) -> Future[xr.DataArray]:
        """The future of ``key``: the cached one, or a new one run on ``pool`` (``None``: run it here, now).

        Asked for outside a prefetch, a prefetch of ``key`` still queued (by any session) is taken over
        (cancelled and run on ``pool``), one already started is waited for and never skipped.
        """
        self._note(key)
        shared = self.shared
        with shared._lock:  # look up and insert at once: two sessions asking together compute once
            future = shared._items.get(key)
            if future is not None and pool is not _background and future in shared._prefetches:
                if future.cancel():  # still queued behind other prefetches: do it now instead
                    future = None  # (its done callback forgot it, under this same re-entrant lock)
                else:
                    shared._demanded.add(key)
            if future is not None and not _failed(future):
                shared._items.move_to_end(key)
                self.hits += pool is None
                return future
            self.misses += pool is None
            if pool is None:
                future = Future()
                future.set_running_or_notify_cancel()
            else:
                future = pool.submit(compute)
            shared._drop(key)
            shared._items[key] = future
            shared._evict()
        future.add_done_callback(lambda f: shared._account(key, f))
        if pool is None:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
        return future

    def get(self, key: Hashable, compute: Callable[[], xr.DataArray]) -> xr.DataArray:
        """The aggregate of ``key``, computed here if nobody has it (errors are raised, not cached)."""
        future = self._submit(key, compute, None)
        try:
            return future.result()
        except BaseException:
            self._forget(key, future)
            raise

    def future(self, key: Hashable) -> Future[xr.DataArray] | None:
        """The future held for ``key`` in the shared cache (``None``: none), without asking for anything."""
        with self.shared._lock:
            return self.shared._items.get(key)

    def submit(self, key: Hashable, compute: Callable[[], xr.DataArray]) -> Future[xr.DataArray]:
        """The future of ``key``: the cached one, or ``compute`` queued on the foreground worker (no waiting)."""
        return self._submit(key, compute, _foreground)

    def warm(self, jobs: Iterable[Job]) -> None:
        """Compute the aggregates of ``jobs`` and wait for them (errors surface later, in ``get``)."""
        futures = [(key, self._submit(key, compute, _foreground)) for key, compute in jobs]
        for key, future in futures:
            if future.exception() is not None:
                self._forget(key, future)

    def prefetch(self, jobs: Iterable[Job], delay_s: float = PREFETCH_DELAY_S) -> None:
        """Queue ``jobs`` on the background worker (after ``delay_s``), cancelling this session's stale ones
        (a job wanted again keeps its place, or its result)."""
        jobs = list(jobs)
        self.cancel_prefetch()
        start_at = time.monotonic() + delay_s
        generation = self._generation
        with self._lock:
            self._wanted = {key for key, _ in jobs}
        futures = [
            self._submit(key, partial(self._after, key, start_at, generation, compute), _background)
            for key, compute in jobs
        ]
        with self.shared._lock:
            self.shared._prefetches.update(f for f in futures if not f.done())
        self._prefetching = futures

    def _after(
        self, key: Hashable, start_at: float, generation: int, compute: Callable[[], xr.DataArray]
    ) -> xr.DataArray:
        """Run a prefetch once its delay is over, unless the session has moved on meanwhile (and nobody asks for it)."""
        time.sleep(max(0.0, start_at - time.monotonic()))
        with self.shared._lock:  # another session may have asked for it too
            stale = (
                generation != self._generation
                and key not in self._wanted
                and key not in self.shared._demanded
            )
            self.shared._demanded.discard(key)
        if stale:
            raise PrefetchSkipped
        return compute()

    def cancel_prefetch(self) -> None:
        """Cancel the queued prefetches (a waiting one gives up; a computing one finishes and stays cached)."""
        self._generation += 1
        with self._lock:
            self._wanted = set()
        for future in self._prefetching:
            future.cancel()
        self._prefetching = []

    def wait_prefetch(self, timeout: float | None = None) -> None:
        """Block until the queued prefetches are done (for tests and benchmarks)."""
        for future in list(self._prefetching):
            if not future.cancelled():
                future.exception(timeout=timeout)

    def _forget(self, key: Hashable, future: Future[xr.DataArray]) -> None:
        self.shared.forget(key, future)


class PrefetchSkipped(Exception):
    """A prefetch dropped because the session moved on before it started."""


def _failed(future: Future[xr.DataArray]) -> bool:
    """Cancelled, or done with an error (a skipped prefetch): not worth returning, compute again."""
    return future.cancelled() or (future.done() and future.exception() is not None)


def load_view(da: xr.DataArray, view: Extent) -> xr.DataArray:
    """The part of a lazy 2-D layer inside ``view`` (plus one pixel), read into memory.

    Reading the window first and aggregating the in-memory array is faster than Datashader on the
    dask graph (measured on a 4096^2 frame: 3x for the raster step), and reads only the chunks in view.
    """
    return view_window(da, view).load()


class OverviewCache:
    """Overviews of source layers (:mod:`thalia_viewer.viz.overview`), shared by the sessions of a process,
    least recently used first out past ``max_bytes``; a layer being built is built once (others wait)."""

    def __init__(self, max_bytes: int = OVERVIEW_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Future[Overview]] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def get(self, key: Hashable, build: Callable[[], Overview]) -> Overview:
        with self._lock:
            future = self._items.get(key)
            mine = future is None or _failed(future)
            if mine:
                future = Future()
                future.set_running_or_notify_cancel()
                self._items[key] = future
            else:
                self._items.move_to_end(key)
        if mine:
            try:
                future.set_result(build())
                self.builds += 1
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    if self._items.get(key) is future:
                        del self._items[key]
                raise
            self._trim()
        return future.result()

    def _trim(self) -> None:
        with self._lock:
            done = [(k, f) for k, f in self._items.items() if f.done() and f.exception() is None]
            total = sum(f.result().nbytes for _, f in done)
            for k, f in done:
                if total <= self.max_bytes:
                    break
                del self._items[k]
                total -= f.result().nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


overviews = OverviewCache()


def compute_aggregate(
    da: xr.DataArray,
    key: str,
    view: Extent,
    size: tuple[int, int],
    identity: Hashable = None,
    load: Callable[[], xr.DataArray] | None = None,
    draft: Callable[[xr.DataArray], None] | None = None,
) -> xr.DataArray:
    """Layer ``key``'s aggregate at ``view`` on a (width, height) px canvas, by the rules of ``viz.shade``.

    With ``identity`` (what the layer's data depends on), a big layer is reduced once into a process-wide
    overview, and every view that needs no finer pixels aggregates from it instead of reading the frame.
    ``load``: the whole layer in memory, read faster than ``da`` would be (used to build the overview).
    ``draft``: called, before the overview is built, with a first image of the same canvas, the native pixel
    nearest each screen pixel (:func:`sample_aggregate`; not for class rasters, whose overview is cheap and
    whose thin regions a decimation would drop); never called when the overview is ready or being built by
    someone else.
    """
    native = (int(da.shape[-2]), int(da.shape[-1]))
    factor = overview_factor(native)
    if (
        identity is not None
        and factor > 1
        and native_per_screen(view, size, native, data_extent(da)) >= factor
    ):
        layer = schema.layer(key)

        def build() -> Overview:
            whole = load() if load is not None else da
            if draft is not None and layer.kind is not schema.LayerKind.CLASSES:
                draft(sample_aggregate(whole, view, size))
            return build_overview(whole, layer, factor)

        return overviews.get((identity, factor), build).aggregate(view, size, layer)
    return aggregate(load_view(da, view), key, size[0], view.x_range, view.y_range, height=size[1])


def code_aggregate(codes: xr.DataArray, view: Extent, size: tuple[int, int]) -> np.ndarray:
    """Small integer codes (0 = nothing; a diff, truth vs prediction) at ``view`` on a (width, height) px
    canvas: the most frequent non-zero code of each screen pixel, so thin changes stay visible."""
    return aggregate_classes(load_view(codes, view), make_canvas(view, *size)).values
