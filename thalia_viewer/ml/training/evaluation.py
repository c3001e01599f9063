"""Scores of a model on a benchmark split, over several crop seeds, laid out like the Thalia paper's Table 4.

Protocol: every sample of the split (no undersampling), one crop each (positives around the deformation
with a random offset, negatives anywhere), no augmentation; pixels of all crops are pooled (micro
scores of the deformation class, like torchmetrics over a test loader). ``seeds`` pick the crop offsets,
so the spread over seeds says how much the scores depend on where crops fall; crops as large as the
frame make them equal. Predictions are thresholded at the card's ``threshold``.

>>> result = evaluate("data/default", "thalia-small", split="test", seeds=(0, 1, 2))
>>> print(result.table())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import torch

from ...core import schema
from ...core.dataset import ThaliaDataset
from ..errors import InputError
from ..inference import DEFAULT_STRIDE, deformation_probability
from ..metrics import SCORES, Confusion, Scores, ThresholdSweep, confusion, mean_std
from ..torch_env import import_torch, resolve_device
from ..zoo import ModelCard, ModelZoo, load_model, resolve_card
from .config import DEFAULT_SEEDS
from .labels import Labels, LabelSnapshot
from .loader import CropDataset, CropSpec, make_loader
from .samples import Sample, build_samples, counts, split_of
from .sampling import fixed_items

ROW_NAMES: Final = {"precision": "Precision", "recall": "Recall", "f1": "F1", "iou": "IoU"}

Progress = Callable[[int, int], None]  # (batches done, batches in all)


@dataclass
class Evaluation:
    """Per-seed scores (0-1) and their mean / std, with what was evaluated."""

    model: str
    root: str
    split: str
    labels: LabelSnapshot
    crop: int
    samples: int
    positives: int
    seeds: list[int]
    per_seed: list[Scores]  # confusion counts and scores of each seed
    summary: dict[str, dict[str, float]] = field(default_factory=dict)  # score -> {mean, std, n}

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready, scores rounded to 4 decimals (what a model card's metrics hold)."""
        return {
            "split": self.split,
            "crop": self.crop,
            "samples": self.samples,
            "positives": self.positives,
            "labels": self.labels.to_dict(),
            "seeds": list(self.seeds),
            "per_seed": [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()} for s in self.per_seed
            ],
            **{k: {"mean": round(v["mean"], 4), "std": round(v["std"], 4)} for k, v in self.summary.items()},
        }

    def table(self) -> str:
        """The Table-4 layout: one row per score of the deformation class, percent, per seed then mean ± std."""
        head = f"{self.model} on {self.root}, {self.split} split: {self.samples} samples ({self.positives} positive), "
        head += f"crop {self.crop} px, labels {self.labels.describe()}"
        cols = [f"seed {s}" for s in self.seeds] + ["mean ± std"]
        rows = [["Deformation (%)", *cols]]
        for key in SCORES:
            values = [f"{100 * s[key]:.1f}" for s in self.per_seed]
            m = self.summary.get(key, {"mean": float("nan"), "std": float("nan")})
            rows.append([ROW_NAMES[key], *values, f"{100 * m['mean']:.1f} ± {100 * m['std']:.1f}"])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head]
        for r in rows:
            lines.append(
                "  ".join(
                    [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
                )
            )
        return "\n".join(lines)


def eval_crop(dataset: ThaliaDataset, frames: Sequence[str], crop: int | None = None) -> int:
    """``crop`` or the benchmark's 512 px, no larger than the smallest frame, a multiple of 32 px."""
    smallest = min(min(dataset.frame(f).shape) for f in frames)
    size = min(crop or schema.CROP_SIZE, smallest)
    return max(DEFAULT_STRIDE, size // DEFAULT_STRIDE * DEFAULT_STRIDE)


def score_loader(
    model: torch.nn.Module,
    card: ModelCard,
    loader: Any,
    device: torch.device,
    loss_fn: torch.nn.Module | None = None,
    progress: Progress | None = None,
    sweep: ThresholdSweep | None = None,
) -> tuple[float | None, Confusion]:
    """Mean loss (when ``loss_fn``) and pooled confusion of the deformation class over a loader.

    ``sweep``: also counts every probability into it (the confusion at each threshold of its grid).
    """
    model.eval()
    total = Confusion()
    loss_sum, n = 0.0, 0
    batches = len(loader)
    with torch.no_grad():
        for k, (x, y) in enumerate(loader):
            logits = model(x.to(device))
            if loss_fn is not None:
                loss_sum += float(loss_fn(logits, y.to(device))) * len(x)
                n += len(x)
            probability = deformation_probability(logits, card).cpu().numpy()
            total = total + confusion(probability >= card.threshold, y.numpy())
            if sweep is not None:
                sweep.add(probability, y.numpy())
            if progress:
                progress(k + 1, batches)
    return (loss_sum / n if n else None), total


def evaluate_model(
    model: torch.nn.Module,
    card: ModelCard,
    dataset: ThaliaDataset,
    labels: Labels,
    split: str = "test",
    seeds: Sequence[int] = DEFAULT_SEEDS,
    crop: int | None = None,
    batch_size: int = 4,
    device: torch.device | None = None,
    progress: Progress | None = None,
    sweep: ThresholdSweep | None = None,
) -> Evaluation:
    """:func:`evaluate` with a model already in memory (what training calls at its end).

    ``sweep``: also counts every probability into it (how training picks the card's threshold).
    """
    device = device or next(model.parameters()).device
    split = split_of(split).value
    samples: list[Sample] = build_samples(dataset, split, labels, card.timesteps)
    pos, _ = counts(samples)
    if not samples:
        msg = f"the {split} split of {dataset.root} holds no pairs (primary dates outside its range)."
        raise InputError(msg, "Pick another split=, or check the dates with `thalia-viewer info ROOT`.")
    if pos == 0:
        msg = f"the {split} split of {dataset.root} has no positive sample (labels: {labels.snapshot.describe()}): deformation scores are undefined."
        raise InputError(msg, "Evaluate on a split with labelled deformation, or label some in the app.")
    frames = sorted({s.frame for s in samples})
    size = eval_crop(dataset, frames, crop)
    masks = labels.masks(p for s in samples for p in s.pairs)
    shapes = {f: dataset.frame(f).shape for f in frames}
    spec = CropSpec(str(dataset.root), card.setting, size, card.normalisation)
    data = CropDataset(spec, samples, masks, shapes)
    seeds = [int(s) for s in seeds] or list(DEFAULT_SEEDS)
    per_seed = []
    for seed in seeds:
        loader, _ = make_loader(data, fixed_items(len(samples), seed), batch_size)
        _, conf = score_loader(model, card, loader, device, progress=progress, sweep=sweep)
        per_seed.append(conf.to_dict())
    summary = mean_std([{k: s[k] for k in SCORES} for s in per_seed])
    return Evaluation(
        card.name,
        str(dataset.root),
        split,
        labels.snapshot,
        size,
        len(samples),
        pos,
        seeds,
        per_seed,
        summary,
    )


def evaluate(
    root: str,
    model: str | ModelCard,
    split: str = "test",
    seeds: Sequence[int] = DEFAULT_SEEDS,
    store: str | None = None,
    crop: int | None = None,
    batch_size: int = 4,
    device: str | None = None,
    zoo: ModelZoo | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Scores of ``model`` (zoo name, YAML path or card, with weights) on ``split`` of ``root``.

    ``store``: labels from an annotation store version (``STORE@TAG``) instead of the source masks.
    """
    import_torch()
    card = resolve_card(model, zoo)
    dataset = ThaliaDataset(root)
    labels = Labels.from_spec(dataset, store)
    dev = resolve_device(device)
    net = load_model(card, dev)
    return evaluate_model(net, card, dataset, labels, split, seeds, crop, batch_size, dev, progress)
