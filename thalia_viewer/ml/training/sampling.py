"""Which samples an epoch sees: every positive plus as many random negatives, shuffled, seeded.

Everything random about an epoch (the negatives drawn, the order, each item's crop offset and
augmentation) derives from ``(seed, epoch)``, so an epoch is the same whether it runs straight through,
after a resume, or with any number of loader workers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

Item = tuple[int, int]  # (sample index, item seed)


def epoch_rng(seed: int, epoch: int, salt: int = 0) -> np.random.Generator:
    """The generator of one epoch (``salt`` separates independent uses)."""
    return np.random.default_rng([seed, epoch, salt])


def undersample(positive: Sequence[bool], seed: int, epoch: int) -> list[int]:
    """Indices of one epoch: all positives plus ``min(#positives, #negatives)`` random negatives, shuffled."""
    flags = np.asarray(positive, dtype=bool)
    pos = np.flatnonzero(flags)
    neg = np.flatnonzero(~flags)
    rng = epoch_rng(seed, epoch)
    chosen = rng.choice(neg, size=min(len(pos), len(neg)), replace=False) if len(neg) else neg
    order = np.concatenate([pos, chosen])
    return [int(i) for i in rng.permutation(order)]


def epoch_items(positive: Sequence[bool], seed: int, epoch: int) -> list[Item]:
    """(sample index, item seed) of one epoch: every positive and as many negatives, in a seeded order."""
    indices = undersample(positive, seed, epoch)
    seeds = epoch_rng(seed, epoch, salt=1).integers(0, 2**31 - 1, size=len(indices))
    return [(i, int(s)) for i, s in zip(indices, seeds, strict=True)]


def fixed_items(n: int, seed: int) -> list[Item]:
    """Every sample in order, each with a seed fixed by ``seed`` (evaluation: the same crops every time)."""
    seeds = np.random.default_rng([seed, 2**20]).integers(0, 2**31 - 1, size=n)
    return [(i, int(s)) for i, s in enumerate(seeds)]


class ItemSampler:
    """A torch-compatible sampler over a fixed list of items (``len`` and iteration; no torch import)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)
