"""Training and evaluation of segmentation models on Thalia roots (the benchmark protocol).

Modules: :mod:`.samples` (split, single pairs and length-T sequences), :mod:`.crops` (crop rules),
:mod:`.sampling` (all positives plus as many negatives per epoch), :mod:`.augment`, :mod:`.loss` (focal),
:mod:`.labels` (source or annotation-store snapshot), :mod:`.loader` (the fast crop loader),
:mod:`.engine` (:func:`train`), :mod:`.evaluation` (:func:`evaluate`, the Table-4 layout).

Importing this package does not import torch; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config",
    "train": "engine",
    "TrainProgress": "engine",
    "TrainPhase": "phases",
    "TrainResult": "engine",
    "evaluate": "evaluation",
    "Evaluation": "evaluation",
    "Labels": "labels",
    "LabelSnapshot": "labels",
    "Sample": "samples",
    "build_samples": "samples",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _EXPORTS[name] in ("engine", "evaluation"):
        from ..torch_env import import_torch

        import_torch()  # a clear ModelStackError when torch is missing, and the torchvision shim first
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
