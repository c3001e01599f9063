"""What a user waits for besides the map, on today's small root and the real-scale cube (1,326 pairs).

- ``info``: ``thalia-viewer info ROOT --frame FRAME`` (every primary date and its series), in-process;
- session open: an ``AppState`` on the root (catalogue, frame, default pair, date lists);
- dates matrix: its cells and plot built into a Bokeh document (what a frame switch costs it);
- time-series strip: moving to another primary date (thumbnails already drawn: they are per process);
- date lists: ``AppState.go`` to another pair (the primary / secondary selectors' options), with the
  annotation store's overlay attached as in explore (one status per pair of the frame).

Each is set against the raw catalogue read (``json.loads`` of the two files and ``zarr.open_consolidated``
of the store), the floor of anything that lists pairs. ``THALIA_BENCH_ROOTS=small,plane`` picks roots.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import panel as pn
import zarr
from bokeh.document import Document

from bench.bench_data_layer import bench_pairs, bench_roots
from bench.common import time_alternating, timing_dict, write_results
from thalia_viewer import cli
from thalia_viewer.app.session.overlay import StoreOverlay
from thalia_viewer.app.session.state import AppState
from thalia_viewer.app.views.dates_matrix import DatesMatrix
from thalia_viewer.app.views.timeseries import TimeseriesStrip, thumbnail_uri
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.annotations.store import ON_SAVE
from thalia_viewer.core.dataset import ThaliaDataset

NAME: Final = "browse"
REPEATS: Final = 3


def _measure(label: str, what: str, fn: Callable[[], Any], raw: Callable[[], Any]) -> dict[str, Any]:
    """Time ``fn`` in turn with the raw catalogue read (a loaded machine slows both alike); print the ratio."""
    t, t_raw, _ = time_alternating(fn, raw, repeats=REPEATS)
    ratio = t.median_s / t_raw.median_s
    print(
        f"{NAME} [{label}] {what}: {t.median_s * 1000:.1f} ms (min {t.min_s * 1000:.1f}) = {ratio:.1f}x the raw "
        f"catalogue read ({t_raw.median_s * 1000:.1f} ms)",
        flush=True,
    )
    return {**timing_dict(t), "raw_catalogue": timing_dict(t_raw), "ratio_to_raw_catalogue": round(ratio, 2)}


def run_root(label: str, root: Path) -> dict[str, Any]:
    ds = ThaliaDataset(root)
    frame_id = ds.frames[0]
    store = root / f"{frame_id}{schema.STORE_SUFFIX}"
    pairs = bench_pairs(root, ds)

    def raw() -> None:
        for name in (schema.ANNOTATIONS_FILE, schema.QUALITY_FILE):
            json.loads((root / name).read_text())
        zarr.open_consolidated(str(store), mode="r")

    def info() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["info", str(root), "--frame", frame_id])

    figures: dict[str, Any] = {}
    figures["info"] = _measure(label, "thalia-viewer info --frame", info, raw)
    figures["session_open"] = _measure(
        label, "session open (AppState)", lambda: AppState(str(root), opener=ThaliaDataset), raw
    )
    state = AppState(str(root), opener=ThaliaDataset)
    # as explore has it: saved corrections over the source (a store nobody saved to yet: nothing is written)
    StoreOverlay(
        state, AnnotationStore(Path(tempfile.mkdtemp()) / "store", dataset=state.dataset, create=ON_SAVE)
    )
    state.go(pairs[0])

    def matrix() -> None:
        doc = Document()
        pn.panel(DatesMatrix(state=state)).get_root(doc)

    figures["dates_matrix"] = _measure(label, "dates matrix built", matrix, raw)
    for p in pairs:  # thumbnails are drawn once per process, in the background
        thumbnail_uri(str(root), p.key, 150)
    strip = TimeseriesStrip(state=state)
    primaries = sorted({p.primary for p in pairs})
    by_primary = {d: next(p for p in pairs if p.primary == d) for d in primaries}
    turn = {"n": 0}

    def next_primary() -> None:
        turn["n"] += 1
        state.go(by_primary[primaries[turn["n"] % len(primaries)]])

    figures["strip_primary_switch"] = _measure(
        label, "go to another primary (strip + date lists)", next_primary, raw
    )
    del strip

    def go() -> None:
        turn["n"] += 1
        state.go(pairs[turn["n"] % len(pairs)])

    figures["go_pair"] = _measure(label, "go to another pair (date lists)", go, raw)
    frame = ds.frame(frame_id)
    print(
        f"{NAME} [{label}] date grid {frame.ds.sizes[schema.PRIMARY]} x {frame.ds.sizes[schema.SECONDARY]}, "
        f"{len(frame.pairs)} valid pairs"
    )
    return {
        "date_grid": [int(frame.ds.sizes[d]) for d in schema.DATE_DIMS],
        "valid_pairs": len(frame.pairs),
        **figures,
    }


def main() -> dict[str, Any]:
    results = {label: run_root(label, root) for label, root in bench_roots().items()}
    figures = {"roots": results}
    figures["results_file"] = str(write_results(NAME, figures))
    return figures


if __name__ == "__main__":
    main()
