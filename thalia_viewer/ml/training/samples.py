"""Benchmark samples of one split: single pairs, or length-T sequences sharing a primary date.

The split is temporal, by primary date (``schema.SPLIT_RANGES``, via :meth:`ThaliaDataset.pairs`). With
``timesteps`` > 1, each (frame, primary date) group ordered by secondary date gives fixed-length
sequences (:func:`thalia_viewer.core.pairs.sequences`: shorter groups padded by duplication, longer ones
split into subsets); as in the Thalia code, training groups with a positive pair keep subsets sharing up to
T-2 pairs (more positive samples), other training groups and all val / test groups disjoint ones.
A sample is positive when any of its pairs is (the target is the union of their masks).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ...core import schema
from ...core.dataset import ThaliaDataset
from ...core.errors import did_you_mean
from ...core.pairs import Pair, group_by_primary, pair_key, sequences
from ...core.schema import Split
from ..errors import InputError
from .labels import Labels


@dataclass(frozen=True)
class Sample:
    """One model input: a frame and its pairs (time-major), positive when any pair shows deformation."""

    frame: str
    pairs: tuple[Pair, ...]
    positive: bool

    @property
    def key(self) -> str:
        """``FRAME/PRIMARY_S1+S2+...`` (a readable id)."""
        return pair_key(self.frame, self.pairs[0].primary, "+".join(p.secondary for p in self.pairs))


def split_of(name: str | Split) -> Split:
    """``name`` as a :class:`Split`; :class:`InputError` naming the valid ones otherwise."""
    try:
        return Split(str(name).strip().lower())
    except ValueError as exc:
        splits = [s.value for s in Split]
        msg = f"unknown split={name!r}.{did_you_mean(name, splits)}"
        raise InputError(msg, f"Splits: {', '.join(splits)} (temporal, by primary date).") from exc


def min_distinct(timesteps: int, positive_group: bool, training: bool) -> int:
    """Thalia's overlap rule: subsets kept share fewer than this many pairs with those already kept."""
    if not training:
        return 1
    return max(1, timesteps - 1 if positive_group else timesteps - 2)


def build_samples(
    dataset: ThaliaDataset,
    split: str | Split,
    labels: Labels,
    timesteps: int = 1,
    training: bool = False,
    frames: list[str] | None = None,
) -> list[Sample]:
    """The samples of ``split`` (sorted), labelled by ``labels``."""
    split = split_of(split)
    if timesteps < 1:
        msg = f"timesteps must be at least 1, got {timesteps}."
        raise InputError(msg, f"Use 1 or {schema.SEQUENCE_LENGTH} (the benchmark's length).")
    pairs = dataset.pairs(frames, split=split)
    if timesteps == 1:
        return [Sample(p.frame, (p,), labels.is_positive(p)) for p in sorted(pairs)]
    out: list[Sample] = []
    for (frame, primary), group in group_by_primary(pairs).items():
        positive = [labels.is_positive(p) for p in group]
        rule = min_distinct(timesteps, any(positive), training)
        seed = zlib.crc32(f"{frame}/{primary}".encode())  # padding choice stable across runs
        flags = dict(zip(group, positive, strict=True))
        for seq in sequences(group, timesteps, rule, seed=seed):
            out.append(Sample(frame, tuple(seq), any(flags[p] for p in seq)))
    return out


def counts(samples: list[Sample]) -> tuple[int, int]:
    """(positives, negatives) among ``samples``."""
    pos = sum(s.positive for s in samples)
    return pos, len(samples) - pos
