"""Datasets opened once per server process and shared, read-only, by every session.

Only source data and values derived from it live in these caches; per-session state (the pair on screen,
zoom, future mask edits) never does.
"""

from __future__ import annotations

import os

import panel as pn

from thalia_viewer.core.dataset import ThaliaDataset

#: Dataset roots kept open per process (each holds lazily opened frame stores, a few KB each).
MAX_OPEN_DATASETS = 8
ROOT_ENV = "THALIA_ROOT"


@pn.cache(max_items=MAX_OPEN_DATASETS)
def open_dataset(root: str) -> ThaliaDataset:
    """The dataset at ``root``, opened once per process; raises ``DatasetNotFoundError`` (not cached)."""
    return ThaliaDataset(root)


def root_from(argv: list[str], environ: os._Environ[str] | dict[str, str]) -> str:
    """The dataset root of a served app: ``--args ROOT`` first, else ``$THALIA_ROOT``, else ``""``."""
    args = [a for a in argv[1:] if a.strip()]
    if args:
        return args[0]
    return environ.get(ROOT_ENV, "").strip()
