"""``SearchSession``: a catalogue query of one app session, its results, and the pair keys walking them.

The catalogue (:class:`~thalia_viewer.core.catalog.Catalog`) is built once per server process and root, in the
background from the first session on; the annotation store's corrections are laid over it again whenever the
store's tip moves (a save anywhere), and a review run's scores (``$THALIA_REVIEW``, a ``thalia-viewer predict
--out`` folder, or the review mode's own run) are added. Every view of a session shares one
:class:`SearchSession` (:func:`search_session`): the search panel types into it, the statistics view shows its
results, and the state's ``step`` walks its valid results (the pair keys ``j`` / ``k``).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Final

import numpy as np
import pandas as pd
import param

from thalia_viewer.app import background
from thalia_viewer.app.session.overlay import open_store
from thalia_viewer.app.session.state import AppState
from thalia_viewer.core.annotations import store_location
from thalia_viewer.core.catalog import Catalog
from thalia_viewer.core.errors import ThaliaError
from thalia_viewer.core.io import Location
from thalia_viewer.core.pairs import Pair
from thalia_viewer.core.query import QueryError, parse

REVIEW_ENV: Final = "THALIA_REVIEW"
URL_PARAMETER: Final = "q"
BUILD_WAIT_S: Final = 120.0  # a query waits this long for the catalogue being built

_lock = threading.RLock()
_base: dict[str, Future] = {}  # root -> Future[Catalog] of the source records
_layered: dict[tuple, Catalog] = {}  # (root, store snapshot, review) -> catalogue with corrections and scores


def _build(root: str) -> Catalog:
    from thalia_viewer.app.data import open_dataset

    return Catalog.from_root(open_dataset(root))


def prepare_catalog(root: str) -> Future:
    """Start building ``root``'s catalogue in the background (once per process); its future."""
    with _lock:
        if root not in _base or (_base[root].done() and _base[root].exception() is not None):
            _base[root] = background.submit(background.Lane.CATALOGUE, _build, root)
        return _base[root]


def catalog_for(root: str, review: str | None = None, timeout: float = BUILD_WAIT_S) -> Catalog:
    """``root``'s catalogue with the store's current corrections and the review run's scores (cached per snapshot)."""
    base: Catalog = prepare_catalog(root).result(timeout)
    snapshot, store = None, None
    location = store_location(root)
    if location is not None and Location(location).exists():
        try:
            store = open_store(location, root)
            snapshot = store.resolve()
        except ThaliaError:
            store = None
    key = (root, snapshot, review)
    with _lock:
        cached = _layered.get(key)
    if cached is not None:
        return cached
    cat = base
    if store is not None and snapshot is not None:
        cat = cat.with_corrections(store, snapshot)
    if review:
        cat = cat.with_review(review)
    with _lock:
        for old in [k for k in _layered if k[0] == root and k != key]:
            del _layered[old]  # one layered catalogue per root: the latest snapshot
        _layered[key] = cat
    return cat


class SearchSession(param.Parameterized):
    """The query of one session, its results (row positions in the catalogue) and what the pair keys walk."""

    query = param.String(default="", doc="The query (see thalia_viewer.core.query)")
    revision = param.Integer(default=0, doc="Bumped when the results change")
    step_results = param.Boolean(
        default=True,
        label="j / k step through the results",
        doc="The pair keys and buttons walk the results (else the frame's pairs)",
    )
    error = param.String(default="", doc="What is wrong with the last query")

    def __init__(self, state: AppState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.catalog: Catalog | None = None
        self.rows = np.empty(0, np.int64)
        self.millis = 0.0
        self._results: list[Pair] = []
        self._valid: list[Pair] = []
        self._review_scores: Mapping[str, Mapping[str, Any]] | None = None
        self.review_source = os.environ.get(REVIEW_ENV, "").strip() or None
        if state.root and state.dataset is not None:
            prepare_catalog(state.root)
        state.walk = self._walk

    # -------------------------------------------------------------------------------------- results
    @property
    def active(self) -> bool:
        """Whether a query with results is on."""
        return bool(self.query.strip()) and not self.error

    @property
    def results(self) -> list[Pair]:
        """The matching pairs, in the query's order."""
        return self._results

    @property
    def valid_results(self) -> list[Pair]:
        """The matching pairs the app can open (valid pairs of the root's frames)."""
        return self._valid

    def table(self) -> pd.DataFrame:
        """The matching rows of the catalogue."""
        if self.catalog is None:
            return pd.DataFrame()
        return self.catalog.table.iloc[self.rows]

    def facets(self) -> dict[str, dict[str, int]]:
        return self.catalog.facets(self.rows) if self.catalog is not None else {}

    def _walk(self) -> list[Pair] | None:
        return self._valid if self.step_results and self.active else None

    # ------------------------------------------------------------------------------------------ run
    def current_catalog(self) -> Catalog | None:
        """The catalogue with the latest corrections (and review scores); ``None`` without a dataset."""
        if self.state.dataset is None or not self.state.root:
            return None
        cat = catalog_for(self.state.root, self.review_source)
        if self._review_scores:
            cat = cat.with_review(self._review_scores)
        return cat

    def run(self, query: str | None = None) -> bool:
        """Run ``query`` (default: the current one); False and :attr:`error` set when it cannot be read."""
        text = (self.query if query is None else query).strip()
        try:
            cat = self.current_catalog()
            if cat is None:
                raise QueryError("no dataset is open.", "Serve the app on a dataset root.")
            start = time.perf_counter()
            rows = parse(text).rows(cat) if text else np.empty(0, np.int64)
            self.millis = (time.perf_counter() - start) * 1e3
        except ThaliaError as exc:
            self.error = str(exc)
            self.param.update(query=text)
            self.revision += 1
            return False
        except TimeoutError:
            self.error = "the catalogue is still being built; try again in a moment."
            self.revision += 1
            return False
        self.catalog, self.rows = cat, rows
        self._results = cat.pairs(rows)
        frames = set(self.state.dataset.frames) if self.state.dataset is not None else set()
        valid = cat.table["valid"].to_numpy()[rows]
        self._valid = [p for p, ok in zip(self._results, valid, strict=True) if ok and p.frame in frames]
        self.error = ""
        self.param.update(query=text)
        self.revision += 1
        return True

    def refresh(self) -> None:
        """Run the query again (corrections or review scores changed)."""
        if self.query.strip():
            self.run()

    def set_review(self, scores: Mapping[str, Mapping[str, Any]] | None) -> None:
        """Scores of the review mode's own run (``{pair key: {tp, fp, fn, iou, f1}}``) for ``model:`` / ``disagree:``."""
        self._review_scores = dict(scores) if scores else None
        self.refresh()

    def open_row(self, position: int) -> bool:
        """Show the pair of result row ``position`` (0-based); reports and returns False for an unusable one."""
        if not 0 <= position < len(self._results):
            return False
        pair = self._results[position]
        if pair not in set(self._valid):
            self.state.notify(
                "warning",
                f"pair {pair} is not a valid pair (corrupted, processing error or no information; "
                "or its frame store is missing): it cannot be opened.",
            )
            return False
        self.state.go(pair)
        return True


_sessions: weakref.WeakKeyDictionary[AppState, SearchSession] = weakref.WeakKeyDictionary()


def search_session(state: AppState) -> SearchSession:
    """The one :class:`SearchSession` of an app session (created on first use)."""
    with _lock:
        session = _sessions.get(state)
        if session is None:
            session = _sessions[state] = SearchSession(state)
        return session
