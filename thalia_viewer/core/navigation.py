"""Moving between pairs: next / previous, same primary or secondary date, closest temporal baseline.

Plain functions over lists of :class:`~thalia_viewer.core.pairs.Pair` (no Panel, no param), so a notebook
walks a frame the way the app's keys do::

    >>> from thalia_viewer.core.pairs import Pair
    >>> pairs = [Pair("F", "20190101", "20190113"), Pair("F", "20190101", "20190125"),
    ...          Pair("F", "20190113", "20190125")]
    >>> neighbour(pairs, pairs[0], 1).key
    'F/20190101_20190125'
    >>> neighbour(pairs, pairs[-1], 1) is None
    True
    >>> step_primary(pairs, pairs[1], 1).key
    'F/20190113_20190125'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from thalia_viewer.core.pairs import Pair


def neighbour(pairs: Sequence[Pair], current: Pair | None, n: int) -> Pair | None:
    """The pair ``n`` places from ``current`` along ``pairs`` (clamped to the ends); ``None`` when it would
    not move (``current`` is already the first / last one) or there are no pairs.

    A ``current`` that is not in ``pairs`` starts before the first pair (``n`` > 0) or after the last one.
    """
    if not pairs:
        return None
    i = pairs.index(current) if current in pairs else -1 if n > 0 else len(pairs)
    j = min(max(i + n, 0), len(pairs) - 1)
    return None if j == i else pairs[j]


def same_primary(pairs: Iterable[Pair], pair: Pair) -> list[Pair]:
    """The pairs sharing ``pair``'s frame and primary date, ordered by secondary date (its time series)."""
    return sorted(p for p in pairs if p.frame == pair.frame and p.primary == pair.primary)


def same_secondary(pairs: Iterable[Pair], pair: Pair) -> list[Pair]:
    """The pairs sharing ``pair``'s frame and secondary date, ordered by primary date."""
    return sorted(p for p in pairs if p.frame == pair.frame and p.secondary == pair.secondary)


def closest_baseline(pairs: Iterable[Pair], baseline_days: int) -> Pair | None:
    """The pair whose temporal baseline (days) is closest to ``baseline_days`` (the earliest on a tie)."""
    return min(pairs, key=lambda p: abs(p.baseline_days - baseline_days), default=None)


def primary_dates(pairs: Iterable[Pair]) -> list[str]:
    """The distinct primary dates of ``pairs``, sorted (``YYYYMMDD``)."""
    return sorted({p.primary for p in pairs})


def step_primary(pairs: Sequence[Pair], current: Pair | None, n: int) -> Pair | None:
    """The pair ``n`` primary dates from ``current`` whose temporal baseline is closest to ``current``'s.

    ``pairs`` are one frame's pairs; ``None`` when it would not move (first / last primary date). With no
    ``current``, it starts from the first primary date and a zero-day baseline.
    """
    dates = primary_dates(pairs)
    if not dates:
        return None
    i = dates.index(current.primary) if current is not None and current.primary in dates else 0
    j = min(max(i + n, 0), len(dates) - 1)
    if j == i and current is not None:
        return None
    series = [p for p in pairs if p.primary == dates[j]]
    return closest_baseline(series, current.baseline_days if current is not None else 0)


def default_pair(pairs: Sequence[Pair], positives: Iterable[Pair] = ()) -> Pair | None:
    """Where a frame opens: its first positive pair (of ``positives``, in ``pairs``), else its first pair."""
    valid = set(pairs)
    return next((p for p in positives if p in valid), None) or (pairs[0] if pairs else None)
