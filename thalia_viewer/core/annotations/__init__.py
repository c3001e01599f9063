"""Corrections of masks and labels: the versioned annotation store, its diffs, and the corrected-dataset export."""

from __future__ import annotations

from .annotation import PairAnnotation, source_annotation
from .diff import MaskDiff, PairDiff
from .store import AnnotationStore, default_store_path
from .versions import Kind, Version

__all__ = [
    "AnnotationStore",
    "Kind",
    "MaskDiff",
    "PairAnnotation",
    "PairDiff",
    "Version",
    "default_store_path",
    "source_annotation",
]
