"""Interferogram pairs, time series of one primary date, and the benchmark's length-3 sequences."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import schema
from .schema import Split


@dataclass(frozen=True, order=True)
class Pair:
    """One interferogram: a frame and its primary and secondary acquisition dates (``YYYYMMDD``)."""

    frame: str
    primary: str
    secondary: str

    def __post_init__(self) -> None:
        # normalise any date spelling to YYYYMMDD so pairs compare and hash alike
        object.__setattr__(self, "primary", schema.format_date(self.primary))
        object.__setattr__(self, "secondary", schema.format_date(self.secondary))

    @property
    def name(self) -> str:
        """``PRIMARY_SECONDARY``, the pair's name inside its frame (the app's ``pair=``, store groups, files)."""
        return pair_name(self.primary, self.secondary)

    @property
    def key(self) -> str:
        """``FRAME/PRIMARY_SECONDARY``, the pair's name in URLs, stores and the CLI."""
        return pair_key(self.frame, self.primary, self.secondary)

    @classmethod
    def parse(cls, key: str, frame: str | None = None) -> Pair:
        """The pair named by :attr:`key` (``FRAME/PRIMARY_SECONDARY``), or by :attr:`name` of ``frame``
        (``PRIMARY_SECONDARY``) when ``frame`` is given; :class:`ValueError` naming the text otherwise."""
        text = key.strip()
        try:
            if frame is not None and "/" not in text:
                frame_id, dates = frame, text
            else:
                frame_id, dates = text.split("/")
            primary, secondary = dates.split("_")
        except ValueError as exc:
            msg = f"{key!r} is not a pair name; expected FRAME/PRIMARY_SECONDARY, e.g. 124D_05291_081406/20190101_20190113"
            raise ValueError(msg) from exc
        return cls(frame_id, primary, secondary)

    @property
    def baseline_days(self) -> int:
        """Temporal baseline, days."""
        return (schema.parse_date(self.secondary) - schema.parse_date(self.primary)).days

    @property
    def split(self) -> Split | None:
        """The benchmark split of this pair (by primary date)."""
        return schema.split_of(self.primary)

    def __str__(self) -> str:
        return self.key


def pair_name(primary: str, secondary: str) -> str:
    """``PRIMARY_SECONDARY`` of two ``YYYYMMDD`` dates: :attr:`Pair.name` without building a :class:`Pair`
    (for tables of many cells)."""
    return f"{primary}_{secondary}"


def pair_key(frame: str, primary: str, secondary: str) -> str:
    """``FRAME/PRIMARY_SECONDARY`` of a frame id and two ``YYYYMMDD`` dates: :attr:`Pair.key` without a
    :class:`Pair`."""
    return f"{frame}/{pair_name(primary, secondary)}"


def timeseries(pairs: Iterable[Pair], frame: str, primary: str) -> list[Pair]:
    """The pairs of ``frame`` sharing ``primary``, ordered by secondary date."""
    primary = schema.format_date(primary)
    return sorted(p for p in pairs if p.frame == frame and p.primary == primary)


def group_by_primary(pairs: Iterable[Pair]) -> dict[tuple[str, str], list[Pair]]:
    """Pairs grouped by (frame, primary date), each group ordered by secondary date."""
    groups: dict[tuple[str, str], list[Pair]] = {}
    for p in sorted(pairs):
        groups.setdefault((p.frame, p.primary), []).append(p)
    return groups


def sequences(
    group: Sequence[Pair], length: int = schema.SEQUENCE_LENGTH, min_distinct: int = 1, seed: int = 0
) -> list[tuple[Pair, ...]]:
    """The benchmark's fixed-length sequences of one primary-date group (Thalia ``dataset_utils``).

    Shorter groups are padded by duplicating random entries (kept in date order); longer ones give every
    order-preserving combination that shares fewer than ``min_distinct`` pairs with those already kept
    (Thalia uses ``length - 2`` for training negatives, ``length - 1`` for training positives, 1 otherwise).
    """
    group = sorted(group)
    if not group:
        return []
    if len(group) <= length:
        rng = random.Random(seed)
        padded = list(group)
        while len(padded) < length:
            padded.append(rng.choice(group))
        return [tuple(sorted(padded))]
    kept: list[tuple[Pair, ...]] = []
    for combo in itertools.combinations(group, length):
        if all(len(set(combo) & set(k)) < min_distinct for k in kept):
            kept.append(combo)
    return kept
