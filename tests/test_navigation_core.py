"""Pair navigation without the app: next / previous, same dates, closest baseline (``core.navigation``)."""

from __future__ import annotations

from thalia_viewer.core import navigation
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair


def test_neighbour_steps_and_stops_at_the_ends(tiny_root):
    pairs = ThaliaDataset(tiny_root).frame(ThaliaDataset(tiny_root).frames[0]).pairs
    assert navigation.neighbour(pairs, pairs[0], 1) == pairs[1]
    assert navigation.neighbour(pairs, pairs[3], -2) == pairs[1]
    assert (
        navigation.neighbour(pairs, pairs[-1], 1) is None
        and navigation.neighbour(pairs, pairs[0], -1) is None
    )
    assert navigation.neighbour(pairs, pairs[-2], 10) == pairs[-1]  # clamped
    assert (
        navigation.neighbour(pairs, None, 1) == pairs[0]
        and navigation.neighbour(pairs, None, -1) == pairs[-1]
    )
    assert navigation.neighbour([], None, 1) is None


def test_step_primary_keeps_the_closest_baseline(tiny_root):
    ds = ThaliaDataset(tiny_root)
    frame = ds.frame(ds.frames[0])
    pairs, dates = frame.pairs, frame.primary_dates
    start = frame.timeseries(dates[0])[-1]
    moved = navigation.step_primary(pairs, start, 1)
    assert moved is not None and moved.primary == dates[1]
    best = min(frame.timeseries(dates[1]), key=lambda p: abs(p.baseline_days - start.baseline_days))
    assert moved == best == navigation.closest_baseline(frame.timeseries(dates[1]), start.baseline_days)
    assert navigation.step_primary(pairs, frame.timeseries(dates[-1])[0], 1) is None  # the last date
    assert navigation.step_primary(pairs, None, 1).primary == dates[1]


def test_same_dates_and_default_pair():
    p = [
        Pair("F", "20190101", "20190125"),
        Pair("F", "20190101", "20190113"),
        Pair("F", "20190113", "20190125"),
    ]
    p += [Pair("G", "20190101", "20190125")]
    assert navigation.same_primary(p, p[0]) == [p[1], p[0]]  # by secondary date, one frame
    assert navigation.same_secondary(p, p[0]) == [p[0], p[2]]
    assert navigation.closest_baseline(p[:3], 13) == p[1] and navigation.closest_baseline([], 3) is None
    assert navigation.default_pair(p[:3], positives=[p[2]]) == p[2]
    assert navigation.default_pair(p[:3], positives=[p[3]]) == p[0]  # a positive of another list: the first
    assert navigation.default_pair([]) is None
