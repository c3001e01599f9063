"""Lazy, safe import of the model stack (torch, torchvision, smp) and the default device.

PyPI's torchvision 0.28.0 is a CUDA build: with the CPU torch, ``import torchvision`` (hence timm and smp)
fails with ``operator torchvision::nms does not exist``. :func:`ensure_torchvision` loads torchvision's
``_C.so`` when it matches torch (a CUDA box), else declares the two operator schemas torchvision's meta
registrations need (``torchvision::nms`` and ``torchvision::qnms``, through ``torch.library``), before
torchvision is first imported; ``torchvision.ops`` / ``torchvision.io`` stay unavailable on the CPU, and the
smp models do not need them.
Nothing here imports torch at module import time, so browsing works where the model stack cannot load.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from .errors import ModelStackError

if TYPE_CHECKING:
    import torch

DEVICE_ENV: Final = "THALIA_DEVICE"  # e.g. "cpu", "cuda", "cuda:1"

_LOCK = threading.Lock()
_TV_LIBRARY: Any = None  # torch.library.Library defining torchvision::nms/qnms (kept alive on purpose)
_TV_DONE = False


def import_torch() -> ModuleType:
    """``torch``, with the torchvision shim applied; :class:`ModelStackError` when torch is not installed."""
    try:
        import torch
    except ImportError as exc:
        msg = f"the model stack is not installed ({exc})."
        raise ModelStackError(
            msg, "Install it with `pip install -c constraints.txt -e .` (torch, smp)."
        ) from exc
    ensure_torchvision()
    return torch


def ensure_torchvision() -> None:
    """Make ``import torchvision`` work on a CPU torch (idempotent, thread-safe; no-op once torchvision is in)."""
    global _TV_LIBRARY, _TV_DONE
    if _TV_DONE:
        return
    with _LOCK:
        if _TV_DONE or "torchvision" in sys.modules:
            _TV_DONE = True
            return
        import torch

        spec = importlib.util.find_spec("torchvision")  # locates it without importing it
        if spec is not None and spec.submodule_search_locations:
            lib = os.path.join(next(iter(spec.submodule_search_locations)), "_C.so")
            try:  # a torchvision built for this torch: nothing else to do
                torch.ops.load_library(lib)
            except (OSError, ImportError, RuntimeError):
                if not _has_op(torch, "nms"):
                    _TV_LIBRARY = torch.library.Library("torchvision", "DEF")
                    _TV_LIBRARY.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
                    _TV_LIBRARY.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TV_DONE = True


def _has_op(torch: ModuleType, name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def import_smp() -> ModuleType:
    """``segmentation_models_pytorch``, importable on the CPU torch; :class:`ModelStackError` if missing."""
    import_torch()
    try:
        import segmentation_models_pytorch as smp
    except ImportError as exc:
        msg = f"segmentation-models-pytorch cannot be imported ({exc})."
        raise ModelStackError(
            msg, "Install the pinned stack: `pip install -c constraints.txt -e .`."
        ) from exc
    return smp


def default_device() -> torch.device:
    """``$THALIA_DEVICE`` if set, else CUDA when available, else the CPU."""
    torch = import_torch()
    wanted = os.environ.get(DEVICE_ENV, "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as exc:
            msg = f"{DEVICE_ENV}={wanted!r} is not a torch device."
            raise ModelStackError(msg, "Use cpu, cuda or cuda:N, or unset it.") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            msg = f"{DEVICE_ENV}={wanted!r} but CUDA is not available here."
            raise ModelStackError(msg, "Unset it to run on the CPU.")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device`` (``None`` -> :func:`default_device`)."""
    torch = import_torch()
    return default_device() if device is None else torch.device(device)
