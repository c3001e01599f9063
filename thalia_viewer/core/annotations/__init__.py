"""Corrections of masks and labels: the versioned annotation store, diffs, the corrected-dataset export."""

from __future__ import annotations

from .annotation import PairAnnotation, source_annotation
from .diff import MaskDiff, PairDiff
from .export import ExportSummary, export_dataset
from .store import STORE_ENV, AnnotationStore, default_store_path, store_location
from .versions import Kind, Version

__all__ = [
    "STORE_ENV",
    "AnnotationStore",
    "ExportSummary",
    "Kind",
    "MaskDiff",
    "PairAnnotation",
    "PairDiff",
    "Version",
    "default_store_path",
    "export_dataset",
    "source_annotation",
    "store_location",
]
