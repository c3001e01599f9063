"""Model weights: safetensors (ours) and torch checkpoints of the official Thalia code, never unpickled.

Torch checkpoints are read only with ``torch.load(weights_only=True)``: a pickle that would import or call
anything beyond tensors and plain containers is refused. Wrappers (``{"state_dict": ...}``,
``{"model_state_dict": ...}``, ...) and ``module.`` / ``model.`` key prefixes (DataParallel, Lightning)
are unwrapped. Every refusal is a :class:`~thalia_viewer.ml.errors.ModelWeightsError` saying why.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .errors import MissingWeightsError, ModelWeightsError
from .files import replacing
from .torch_env import import_torch

if TYPE_CHECKING:
    import torch
    from torch import nn

SAFETENSORS_SUFFIX: Final = ".safetensors"
#: Keys under which training scripts nest the model's state dict.
WRAPPER_KEYS: Final = ("state_dict", "model_state_dict", "model", "net", "network", "weights", "ema")
#: Key prefixes added by wrappers (``nn.DataParallel``, Lightning modules, ``torch.compile``).
PREFIXES: Final = ("module.", "model.", "_orig_mod.", "net.")
MAX_LISTED: Final = 5  # keys named in an error message
ZIP_MAGIC: Final = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_MAGIC: Final = b"\x80"  # legacy torch.save: a pickle (PROTO opcode)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (safetensors or a torch checkpoint), on the CPU, unwrapped."""
    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"weights file {path} does not exist."
        raise MissingWeightsError(
            msg, "Check the path (an official checkpoint, or a .safetensors next to its card)."
        )
    if path.suffix == SAFETENSORS_SUFFIX or _looks_like_safetensors(path):
        return _read_safetensors(path)
    return _unwrap(_read_checkpoint(path), path)


def _looks_like_safetensors(path: Path) -> bool:
    """A safetensors file starts with an 8-byte header length then ``{``."""
    with path.open("rb") as fh:
        head = fh.read(9)
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    import_torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (
        SafetensorError,
        OSError,
        ValueError,
        RuntimeError,
    ) as exc:  # its text may quote the header: not echoed
        msg = f"weights file {path} is not a readable safetensors file ({type(exc).__name__})."
        raise ModelWeightsError(
            msg, "It is truncated or damaged: copy it again or retrain the model."
        ) from exc


def _read_checkpoint(path: Path) -> Any:
    torch = import_torch()
    with path.open("rb") as fh:
        head = fh.read(4)
    if not (
        head.startswith(ZIP_MAGIC) or head[:1] == PICKLE_MAGIC
    ):  # its bytes are not echoed: it may be any file
        msg = f"weights file {path} is neither a safetensors file nor a torch checkpoint (no safetensors, zip or pickle header)."
        raise ModelWeightsError(
            msg, "Pass a .safetensors file or a checkpoint saved with torch.save(model.state_dict())."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", UserWarning
            )  # "Detected pickle protocol 4": the refusal says more
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found:
            msg = f"weights file {path} is a pickle that would import {found.group(1)} (it could run code); it was not loaded."
        else:
            reason = _detail(text)
            msg = f"weights file {path} holds pickle content that a safe load refuses ({reason}); it was not loaded."
        raise ModelWeightsError(
            msg,
            "Only checkpoints of plain tensors load; re-save it as a state dict or safetensors where you trust it.",
        ) from exc
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        IndexError,
        KeyError,
        TypeError,
    ) as exc:
        msg = f"weights file {path} is truncated or damaged ({type(exc).__name__}: {_first_line(str(exc))})."
        raise ModelWeightsError(msg, "Copy or download it again.") from exc


def _detail(text: str) -> str:
    """The weights-only unpickler's own reason, without torch's advice to disable the safety check."""
    after = text.split("WeightsUnpickler error:", 1)[-1]
    return _first_line(after if after != text else text)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0].split(". ")[0][:160] if lines else "no detail"


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint object."""
    torch = import_torch()
    for _ in range(3):  # e.g. {"model": {"state_dict": ...}}
        if isinstance(obj, Mapping) and not _is_state_dict(obj, torch):
            inner = next((obj[k] for k in WRAPPER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping) or not obj or not _is_state_dict(obj, torch):
        kind = type(obj).__name__
        keys = list(obj)[:MAX_LISTED] if isinstance(obj, Mapping) else []
        msg = (
            f"weights file {path} holds no model state dict (a {kind}{f' with keys {keys}' if keys else ''})."
        )
        raise ModelWeightsError(
            msg, f"Pass a checkpoint whose tensors are at the top level or under one of {list(WRAPPER_KEYS)}."
        )
    return dict(obj)


def _is_state_dict(obj: Mapping, torch: Any) -> bool:
    return bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def match_keys(state: Mapping[str, torch.Tensor], expected: set[str]) -> dict[str, torch.Tensor]:
    """``state`` with wrapper prefixes stripped when that makes its keys match ``expected``."""
    state = dict(state)
    for _ in range(len(PREFIXES)):
        if set(state) == expected:
            break
        prefix = next((p for p in PREFIXES if all(k.startswith(p) for k in state)), None)
        if prefix is None:
            break
        state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_state_dict(path: str | os.PathLike[str], model: nn.Module) -> nn.Module:
    """Load the weights at ``path`` into ``model`` (strict); returns ``model``.

    :class:`ModelWeightsError` when the file is unsafe, damaged, not a model, or does not fit the model
    (the message names missing / unexpected keys, or the first key whose shape differs, with both shapes).
    """
    own = model.state_dict()
    state = match_keys(read_state_dict(path), set(own))
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[:MAX_LISTED]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:MAX_LISTED]})")
        msg = f"weights file {path} does not fit the model: {'; '.join(parts)} parameter keys."
        raise ModelWeightsError(
            msg, "It was saved from another architecture or encoder: use the card it was trained with."
        )
    for key, tensor in own.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            msg = (
                f"weights file {path} does not fit the model: {key!r} has shape {tuple(state[key].shape)} in "
                f"the file but {tuple(tensor.shape)} in the model."
            )
            hint = "Check the card's setting and timesteps (input channels) and classes (output channels) against how it was trained."
            raise ModelWeightsError(msg, hint)
    check_finite(state, path)
    model.load_state_dict(state, strict=True)
    return model


def check_finite(state: Mapping[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """:class:`ModelWeightsError` naming the first tensor holding NaN or Inf (such a model predicts nonsense)."""
    th = import_torch()

    def finite(v: torch.Tensor) -> bool:
        if v.dtype in (th.float16, th.float32, th.float64):  # numpy: no per-op thread pool overhead
            return bool(np.isfinite(v.detach().cpu().numpy()).all())
        return bool(th.isfinite(v).all())

    bad = [k for k, v in state.items() if v.is_floating_point() and not finite(v)]
    if bad:
        t = state[bad[0]]
        n = int((~th.isfinite(t)).sum())
        msg = f"weights file {path} holds NaN or Inf values: {len(bad)} tensor(s), e.g. {bad[0]!r} ({n} of {t.numel()} values); it was not loaded."
        raise ModelWeightsError(
            msg,
            "The training that wrote it diverged or the file is damaged: retrain (a lower lr=) or copy it again.",
        )


def save_weights(
    model: nn.Module, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``model``'s state dict to a safetensors file (atomically); returns the path."""
    import_torch()
    from safetensors.torch import save_file

    path = Path(path).expanduser().resolve()
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    with replacing(path) as tmp:
        save_file(tensors, str(tmp), metadata={str(k): str(v) for k, v in (metadata or {}).items()})
    return path
