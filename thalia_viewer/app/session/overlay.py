"""Corrections over the source in every mode: the annotation store's saved versions, read per pair.

:func:`open_store` opens a dataset's store once per process (``$THALIA_STORE`` or ``ROOT/.thalia/annotations``),
without creating it: browsing never writes (a lab's dataset root is often read-only); the first save creates it;
:class:`StoreOverlay` plugs it into an :class:`~thalia_viewer.app.session.state.AppState`, so the map, the label card
and the time series show the latest saved correction of a pair instead of the source cube. The annotate
mode's :class:`~thalia_viewer.app.session.annotate.EditSession` puts the session's unsaved edits on top.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Final, Protocol

import numpy as np
import xarray as xr

from thalia_viewer.app.session.state import AppState
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore, PairAnnotation
from thalia_viewer.core.annotations.store import ON_SAVE
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import AnnotationStoreError
from thalia_viewer.core.pairs import Pair

#: How long the store's tip is trusted before being looked up again (saves of other processes show after it).
TIP_TTL_S: Final = 1.0
RETRY_S: Final = (
    5.0  # after a failed read of the store, the source is shown for this long before trying again
)


class CodeOverlay(Protocol):
    """Something the map draws on top of its layers as small integer codes (0 = nothing), e.g. the pixels a
    version changed or a prediction against the labels. ``overlay_revision`` (a param) is bumped on change."""

    overlay_title: ClassVar[str]
    overlay_colors: ClassVar[tuple[str, ...]]  # #rrggbbaa per code

    def overlay_token(self, pair: Pair) -> Any:
        """What the overlay shows for ``pair`` now (equal tokens, equal codes; ``None``: nothing)."""

    def overlay_codes(self) -> np.ndarray | None:
        """The codes, the frame's shape (uint8)."""


_stores: dict[tuple[str, str], AnnotationStore] = {}
_stores_lock = threading.Lock()


def local_folder(location: str) -> Path | None:
    """The folder of a local store location (a path or ``file://`` URL); ``None`` for object storage."""
    scheme, sep, rest = location.partition("://")
    if sep and scheme != "file":
        return None
    return Path(rest if sep else location).expanduser().absolute()


def store_exists(location: str) -> bool:
    """Whether a store may be at ``location`` (object storage: assumed; a local folder: it exists)."""
    folder = local_folder(location)
    return folder is None or folder.is_dir()


def store_writable(location: str) -> bool:
    """Whether a save can go to ``location``: object storage is assumed to; in a local store (or the nearest
    existing folder above one not created yet) this process must be able to create a file. Tried for real (a
    hidden temporary folder, removed at once): permission bits say nothing for root or read-only mounts."""
    folder = local_folder(location)
    if folder is None:
        return True
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        return False
    try:
        probe = tempfile.mkdtemp(prefix=".thalia-write-check-", dir=folder)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def open_store(location: str, root: str) -> AnnotationStore:
    """The annotation store at ``location`` for the dataset at ``root``, opened once per process.

    Nothing is written until the first save: a missing store reads as an empty one and is created then (a
    read-only place makes that save fail with a message naming ``--store`` / ``$THALIA_STORE``). A store
    this process opened that has since gone (its folder deleted or moved while the server runs) is not
    created again, which would start an empty history beside the lost one: ``AnnotationStoreError`` says so
    until the store is back, then it is opened again.
    """
    from thalia_viewer.app.data import open_dataset

    key = (location, root)
    with _stores_lock:
        store = _stores.get(key)
    if store is not None:
        if store.exists and not store_exists(location):
            msg = f"the annotation store {location} is gone (moved or deleted while the app runs)."
            raise AnnotationStoreError(
                msg,
                "Put it back and try again (the app picks it up), or restart the "
                "server to start a new, empty store there.",
            )
        try:
            store.resolve()  # the branch tip: one small read
            return store
        except Exception:  # put back, or replaced: open it again
            with _stores_lock:
                _stores.pop(key, None)
    store = AnnotationStore(location, dataset=open_dataset(root), create=ON_SAVE)
    with _stores_lock:
        _stores[key] = store
    return store


def forget_stores() -> None:
    """Drop the opened stores (tests; a server that must re-open every store)."""
    with _stores_lock:
        _stores.clear()


def as_layer(ann: PairAnnotation, key: str, dataset: ThaliaDataset) -> xr.DataArray:
    """Mask layer ``key`` of a stored annotation, with the frame's coordinates, as the source layer has them."""
    spec = schema.layer(key)
    return dataset.frame(ann.pair.frame).raster(
        ann.masks[spec.variable], spec.key, {"long_name": spec.title, "units": spec.units, "layer": spec.key}
    )


class StoreOverlay:
    """Saved corrections as the state's :class:`~thalia_viewer.app.session.state.Corrections` (read-only).

    The store's tip is looked up at most every :data:`TIP_TTL_S` (or after a save through the same store),
    so listing the statuses of a frame's 1,326 pairs costs one lookup, not one per pair.
    """

    def __init__(self, state: AppState, store: AnnotationStore) -> None:
        self.state, self.store = state, store
        self._tip: tuple[str, int, float] | None = None  # (snapshot, store.writes, when)
        self._failed_at = -RETRY_S

    def _snapshot(self) -> str:
        now = time.monotonic()
        tip = self._tip
        if tip is None or tip[1] != self.store.writes or now - tip[2] > TIP_TTL_S:
            self._tip = tip = (self.store.resolve(), self.store.writes, now)
        return tip[0]

    def _call(self, read: Any, doing: str) -> Any:
        """``read()``, or ``None`` when the store cannot be read (reported; the source shows meanwhile)."""
        if time.monotonic() - self._failed_at < RETRY_S:
            return None
        try:
            return read()
        except Exception as exc:  # the store went away or broke: say so once, show the source
            self._failed_at = time.monotonic()
            self.state.report(exc, f"{doing} (the source is shown)")
            return None

    def version(self, pair: Pair) -> Any:
        """The pair's latest saved version (``None``: never corrected, or the store cannot be read)."""
        return self._call(
            lambda: self.store.pair_version(pair, at=self._snapshot()),
            f"reading the saved versions of {pair}",
        )

    def _read(self, pair: Pair) -> PairAnnotation | None:
        if self.version(pair) is None:
            return None
        return self._call(lambda: self.store.read_pair(pair), f"reading the correction of {pair}")

    def mask_layer(self, pair: Pair, key: str) -> xr.DataArray | None:
        ann = self._read(pair)
        return None if ann is None or self.state.dataset is None else as_layer(ann, key, self.state.dataset)

    def record(self, pair: Pair) -> dict | None:
        ann = self._read(pair)
        return None if ann is None else ann.record
