"""The dates matrix of the real catalogue's biggest date grids (320 and 277 primary dates): build and click.

Ours: ``DatesMatrix`` (cells on date-index axes, one Bokeh figure, ticks thinned in the browser, the view
zoomed on the pair with a year-by-month overview) built for the frame; then a click on a cell, which opens the
pair and moves the marker (in-process, no browser). Naive: the previous matrix, a categorical HoloViews
``HeatMap`` of every cell with every date as an axis label, rendered to Bokeh (what made the axes a black
band at this scale). Figures: build time of each (median), the number of axis labels each puts on screen,
the click time; JSON in ``bench/results/matrix.json``.
"""

from __future__ import annotations

import statistics
import time
from typing import Final

import holoviews as hv

from bench.bench_search import catalogue_root
from bench.common import print_ratio, time_it, timing_dict, write_results
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.dates_matrix import MIN_WINDOW, DatesMatrix, axis_ticks, matrix_cells
from thalia_viewer.viz import elements

NAME: Final = "matrix"
FRAMES: Final = ("162A_06192_060402", "087D_07004_060904")  # 320 primary dates; 1,326 pairs over 277
REPEATS: Final = 3
CLICKS: Final = 15


def naive_matrix(state: AppState) -> object:
    """The previous view: every cell in a categorical heatmap, every date an axis label, rendered to Bokeh."""
    cells = matrix_cells(state.frame_obj)
    return hv.render(elements.dates_matrix(cells, height=480), backend="bokeh")


def main() -> dict:
    root = catalogue_root()
    state = AppState(str(root))
    figures: dict[str, dict] = {}
    ratios = []
    for frame in FRAMES:
        state.go_frame(frame)
        view = DatesMatrix(state=state)
        ours = time_it(lambda: DatesMatrix(state=state), repeats=REPEATS)
        naive = time_it(lambda: naive_matrix(state), repeats=REPEATS)
        ratios.append(
            print_ratio(f"{frame} matrix build", ours, naive, "scalable matrix", "categorical heatmap")
        )
        levels, _ = axis_ticks(view._dates)
        side = view.height - 64
        clicks = []
        pairs = state.pairs
        for k in range(CLICKS):
            target = pairs[(k * 97) % len(pairs)]
            t0 = time.perf_counter()
            view.open_at(*view.cell_of(target))
            clicks.append(time.perf_counter() - t0)
            assert state.pair == target, f"click {k} did not open {target}"
        window = abs(view._fig.x_range.end - view._fig.x_range.start)
        figures[frame] = {
            "dates": len(view._dates),
            "cells": len(view._cells),
            "ours": timing_dict(ours),
            "naive": timing_dict(naive),
            "ratio": naive.median_s / ours.median_s,
            "dates_in_view": round(window, 1),
            "cell_px": round(side / max(window, MIN_WINDOW), 1),
            "naive_axis_labels": len(view._dates),
            "our_axis_levels": {k: len(v) for k, v in levels.items()},
            "click_median_ms": round(statistics.median(clicks) * 1e3, 2),
            "clicks_ok": CLICKS,
        }
        print(
            f"  {frame}: {len(view._dates)} dates, {len(view._cells)} cells; view of {window:.0f} dates "
            f"({side / window:.1f} px a cell) vs {len(view._dates)} labels per axis before; click -> pair "
            f"{statistics.median(clicks) * 1e3:.1f} ms median over {CLICKS} clicks"
        )
    result = {"frames": figures, "ratio": statistics.median(ratios)}
    path = write_results(NAME, result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
