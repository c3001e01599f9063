"""Datasets opened once per server process and shared, read-only, by every session.

Only source data and values derived from it live in these caches; per-session state (the pair on screen,
zoom, future mask edits) never does.
"""

from __future__ import annotations

import os
from functools import cached_property

import panel as pn

from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.errors import AnnotationFileError

#: Dataset roots kept open per process (each holds lazily opened frame stores, a few KB each).
MAX_OPEN_DATASETS = 8
ROOT_ENV = "THALIA_ROOT"


class AppDataset(ThaliaDataset):
    """The dataset as the app browses it: a malformed ``annotations.json`` or ``quality_timeseries.json`` does
    not stop browsing the cubes. The file's error is kept in ``json_errors`` (the app shows it where labels
    would be) and the frames open without it: no records (labels unknown), and without the quality file the
    valid pairs come from the cube's non-empty cells, as for a root that has no such file."""

    @cached_property
    def json_errors(self) -> list[AnnotationFileError]:
        """Errors of the dataset's JSON files (empty when both read, or are absent)."""
        errors = []
        for name in ("_app_records", "_app_quality"):
            error = getattr(self, name)[1]
            if error is not None:
                errors.append(error)
        return errors

    @cached_property
    def _app_records(self) -> tuple[dict, AnnotationFileError | None]:
        try:
            return ThaliaDataset._records_by_frame.func(self), None  # type: ignore[attr-defined]
        except AnnotationFileError as exc:
            return {}, exc

    @cached_property
    def _app_quality(self) -> tuple[dict | None, AnnotationFileError | None]:
        try:
            return ThaliaDataset.quality.func(self), None  # type: ignore[attr-defined]
        except AnnotationFileError as exc:
            return None, exc

    @cached_property
    def _records_by_frame(self) -> dict:  # type: ignore[override]
        return self._app_records[0]

    @cached_property
    def quality(self) -> dict | None:  # type: ignore[override]
        return self._app_quality[0]


@pn.cache(max_items=MAX_OPEN_DATASETS)
def open_dataset(root: str) -> ThaliaDataset:
    """The dataset at ``root``, opened once per process; raises ``DatasetNotFoundError`` (not cached)."""
    return AppDataset(root)


def root_from(argv: list[str], environ: os._Environ[str] | dict[str, str]) -> str:
    """The dataset root of a served app: ``--args ROOT`` first, else ``$THALIA_ROOT``, else ``""``."""
    args = [a for a in argv[1:] if a.strip()]
    if args:
        return args[0]
    return environ.get(ROOT_ENV, "").strip()
