"""A training run's configuration: data, labels, model, recipe (every hyper-parameter) and where outputs go.

Defaults follow the Thalia benchmark (the paper and its code): AdamW lr 1e-5, weight decay 1e-2, focal loss gamma 2 /
alpha 0.25, 512 px crops, augmentation on, each epoch all positives plus as many random negatives.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ...core import schema
from ..errors import InputError
from ..zoo import NAME_PATTERN, TIMESTEPS

DEFAULT_SEEDS: Final = (0, 1, 2)  # crop seeds of an evaluation (mean / std over them)
LR: Final = 1e-5
WEIGHT_DECAY: Final = 1e-2
BATCH_SIZE: Final = 2
EPOCHS: Final = 10
ALPHA: Final = 0.25  # focal loss: weight of the background class; deformation gets 1 - alpha
GAMMA: Final = 2.0  # focal loss exponent
CACHE_ENV: Final = "XDG_CACHE_HOME"
#: Recipe fields that a resume may change (the rest must match the checkpoint's).
RESUMABLE: Final = ("epochs", "eval_seeds", "calibrate")


@dataclass
class TrainConfig:
    """Everything :func:`~.engine.train` needs; :meth:`recipe` is what a model card records."""

    root: str  # dataset root (folder or URL)
    model: str  # parent card: a zoo name or a YAML path (architecture, encoder, and weights to start from)
    out: str  # name of the new model card
    zoo: str | None = None  # folder of the new card and weights (default: the user zoo)
    store: str | None = None  # labels: "STORE@TAG" / "STORE" (tip of main); None: the source cubes
    setting: str | None = None  # base / atmospheric (default: the parent card's)
    timesteps: int | None = None  # 1 or 3 (default: the parent card's)
    epochs: int = EPOCHS
    crop: int = schema.CROP_SIZE  # px
    batch_size: int = BATCH_SIZE
    lr: float = LR
    lr_drop: int | None = None  # from this epoch on (1-based) the learning rate is lr / 10; None: constant
    weight_decay: float = WEIGHT_DECAY
    focal_alpha: float = ALPHA
    focal_gamma: float = GAMMA
    augment: bool = True
    val_every: int = 1  # validate (and consider for best) every N epochs, and after the last
    seed: int = 0
    scratch: bool = False  # ignore the parent's weights (random initialisation)
    num_workers: int = 0  # loader processes (0: read in the training process)
    device: str | None = None  # default: CUDA when available, else CPU
    threads: int | None = None  # torch CPU threads (None: torch's default); 1 is steadier on a shared CPU
    resume: bool = (
        False  # continue from this run's last checkpoint (its earlier card is replaced, kept in .backup)
    )
    checkpoint_dir: str | None = None  # default: $XDG_CACHE_HOME/thalia-viewer/checkpoints/<out>
    eval_seeds: tuple[int, ...] = DEFAULT_SEEDS  # crop seeds of the final test-split evaluation ([] to skip)
    calibrate: bool = True  # pick the card's threshold on the validation split (False: keep the parent's)
    command: str = ""  # the command line that started the run (recorded in the card)
    author: str = ""  # who started it (the app's login; recorded in the card)
    overwrite: bool = False  # replace a model of the same name (its files are kept in <zoo>/.backup/)
    inputs_only: bool = False  # check inputs only: parent, name, labels, and read every sample once; train nothing, write nothing

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """:class:`InputError` naming the first bad field."""
        if not NAME_PATTERN.match(self.out or ""):
            msg = f"model name {self.out!r} is not usable as a card name."
            raise InputError(msg, "Use letters, digits, '.', '_' or '-', e.g. out=thalia-small-ft.")
        if self.timesteps is not None and self.timesteps not in TIMESTEPS:
            msg = f"timesteps must be one of {list(TIMESTEPS)}, got {self.timesteps}."
            raise InputError(msg, "Use timesteps=1 or 3.")
        for name, low in (("epochs", 1), ("batch_size", 1), ("num_workers", 0), ("val_every", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                msg = f"{name} must be a whole number >= {low}, got {value!r}."
                raise InputError(msg, f"Pass {name}={max(low, 1)} or more.")
        if self.lr_drop is not None and (
            isinstance(self.lr_drop, bool) or not isinstance(self.lr_drop, int) or self.lr_drop < 2
        ):
            msg = f"lr_drop must be an epoch >= 2 (the first epoch at lr / 10), got {self.lr_drop!r}."
            raise InputError(msg, "Pass lr_drop=2 or more, or leave it out for a constant learning rate.")
        for name in ("lr", "weight_decay"):
            if not float(getattr(self, name)) >= 0:
                msg = f"{name} must be >= 0, got {getattr(self, name)!r}."
                raise InputError(msg, "AdamW takes a non-negative learning rate and weight decay.")
        self.eval_seeds = tuple(int(s) for s in self.eval_seeds)

    def recipe(self) -> dict[str, Any]:
        """Every hyper-parameter of the run (what reproduces it, with the data and labels)."""
        keep = (
            "setting",
            "timesteps",
            "epochs",
            "crop",
            "batch_size",
            "lr",
            "lr_drop",
            "weight_decay",
            "focal_alpha",
            "focal_gamma",
            "augment",
            "val_every",
            "seed",
            "scratch",
            "eval_seeds",
            "calibrate",
        )
        out = {k: getattr(self, k) for k in keep}
        out["eval_seeds"] = list(self.eval_seeds)
        out.update(
            optimizer="AdamW",
            loss="focal",
            sampling="all positives + as many random negatives per epoch",
            selection="lowest validation loss",
        )
        return out

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (1-based): ``lr``, divided by 10 from ``lr_drop`` on."""
        return self.lr / 10 if self.lr_drop is not None and epoch >= self.lr_drop else self.lr

    def lr_until(self, epoch: int) -> list[float]:
        """The learning rates of epochs 1..``epoch`` (what a resume must not change)."""
        return [self.lr_at(e) for e in range(1, epoch + 1)]

    def zoo_dir(self) -> Path:
        """The folder the new card and weights go to: ``zoo``, else the user zoo."""
        from ..zoo import user_zoo

        return Path(self.zoo).expanduser() if self.zoo else user_zoo()

    def checkpoint_path(self) -> Path:
        """The run's checkpoint file (``last.pt``)."""
        if self.checkpoint_dir:
            folder = Path(self.checkpoint_dir).expanduser()
        else:
            cache = Path(os.environ.get(CACHE_ENV) or "~/.cache").expanduser()
            folder = cache / "thalia-viewer" / "checkpoints" / self.out
        return folder / "last.pt"

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
