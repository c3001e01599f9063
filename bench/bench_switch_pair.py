"""Switch pair in the explore app on 4096^2 frames: server time and bytes sent, ours vs a naive full-res view.

Runs on today's 4096 px frame with 4 dates (``small``) and on the real-scale cube of ``bench/realscale.py``
(320 x 320 date grid, 1,326 pairs) chunked as whole pair planes (``plane``) and 512 px tiles (``tile``),
switching among the pairs written there; the naive way runs on ``small`` only (it serialises ~150 MB a
switch). Targets: <= 150 ms prefetched (warm), <= 400 ms cold; the ratio to the raw read of the three
arrays is printed for each root. ``THALIA_BENCH_ROOTS=small,plane`` picks roots.

Both run the app's own stack in-process (Panel + HoloViews + Bokeh document, no browser), showing wrapped
phase, coherence at 50 % and the deformation mask, and switch to another pair of the frame:

- ours: ``AppState`` + ``LayerMap`` (screen-resolution Datashader aggregation, each layer's image encoded
  compactly and sent once to the browser's pool, a small show message per switch), the plot at a
  900 x 760 px screen size, switching to the next pair as ``j`` does:
  *prefetched* (the app aggregates the next and previous pair in the background while a pair is on
  screen; the run waits for that before switching, as a user looking at a pair for a second does) and
  *cold*: a pair never seen, read and aggregated on the spot. Before every cold switch the run waits
  until the process is idle (the pair on screen refined, its neighbours' prefetch done: a user who looked
  at it), then drops every cache that could hold the next pair's work: the process's aggregates and
  layer overviews (the browser-side pool never held it; the OS page cache is outside the process). The
  switch reads the shown layers side by side, shows a first image of each (one native pixel per overview
  block) and ends there; the exact images (the overviews' block means) replace them without any user
  action: their time, from the start of the switch, is printed as *refined*;
- naive: the same three layers as full-resolution ``hv.Image``s in a ``pn.pane.HoloViews``, replaced on
  each switch (what plotting the arrays directly does).

Server time = the switch (watchers, reads, aggregation, plot update) plus serialising the document
patches into websocket messages (Bokeh's protocol); bytes = those messages (header, JSON content, binary
buffers), as the browser would receive them (before any websocket compression). The raw read of the
three full arrays is timed too (``Frame.read``: the data layer's whole-array read, one array after the
other; the floor under the naive way), and of the largest one alone (phase: the floor under a switch that
reads its layers side by side on enough cores).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Final

import holoviews as hv
import numpy as np
import panel as pn
from bokeh.document import Document
from bokeh.document.events import DocumentChangedEvent
from bokeh.protocol import Protocol

from bench.bench_data_layer import bench_pairs, bench_roots
from bench.common import QUICK, Timing, print_ratio, time_it, timing_dict, write_results
from thalia_viewer.app import aggregates
from thalia_viewer.app.explorer import ExplorerApp
from thalia_viewer.app.views.layer_map import LayerMap
from thalia_viewer.app.views.timeseries import PREFETCH, thumbnail_uri
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair
from thalia_viewer.viz import elements

NAME: Final = "switch_pair"
SCREEN: Final = (900, 760)  # px of the map's plot area
LAYERS: Final = ("phase", "coherence")
OPACITY: Final = (1.0, 0.5)
MASK: Final = "deformation"
REPEATS: Final = 1 if QUICK else 7  # ours: one switch per repeat, cycling through the frame's pairs
NAIVE_REPEATS: Final = 2  # a full-res switch serialises ~150 MB
TARGET_S: Final = 0.150
TARGET_COLD_S: Final = 0.400
MB: Final = 1e6
THUMBNAIL_WIDTH: Final = 150  # px, as in layouts/explore.yaml


class PatchMeter:
    """Collects the document changes of one action and measures them as Bokeh websocket messages."""

    def __init__(self, doc: Document) -> None:
        self.events: list[DocumentChangedEvent] = []
        self.protocol = Protocol()
        doc.on_change(self.events.append)

    def reset(self) -> None:
        self.events.clear()

    def message_sizes(self) -> list[int]:
        """Bytes of each PATCH-DOC message (one per change, as the server sends them outside ``hold``)."""
        sizes = []
        for event in self.events:
            msg = self.protocol.create("PATCH-DOC", [event])
            size = len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json)
            size += sum(memoryview(b.data).nbytes for b in msg.buffers)
            sizes.append(size)
        return sizes


def _document(viewable: Any) -> tuple[Document, PatchMeter]:
    doc = Document()
    pn.state.curdoc = doc
    doc.add_root(pn.panel(viewable).get_root(doc))
    return doc, PatchMeter(doc)


def _timed(runs: list[float], warm: list[float]) -> Timing:
    return Timing(statistics.median(runs), min(runs), runs, warm)


def _ours(root: str, pairs: list[Pair], prefetched: bool) -> dict[str, Any]:
    """Switch pair ``REPEATS`` times (+1 warm-up), cold or after the neighbours' prefetch has finished.

    The whole explore page is in the document (map, label card, navigator, time series, dates matrix).
    """
    app = ExplorerApp(root, opener=ThaliaDataset)
    state = app.state
    state.set_layers(list(LAYERS), list(OPACITY))
    state.masks = [MASK]
    state.go(pairs[0])
    view = next(v for v in app.views.values() if isinstance(v, LayerMap))
    _, meter = _document(pn.Column(*app.sidebar(), *app.main()))
    view.set_screen_size(*SCREEN)
    runs: list[float] = []
    refined: list[float] = []
    cpu: list[float] = []
    sizes: list[list[int]] = []
    for i in range(1, REPEATS + 2):
        view.wait_refined()  # the user looked at the pair for a second:
        view._aggs.wait_prefetch()  # ... j finds the next one ready
        if not prefetched:  # a pair never seen: nothing of it anywhere in the process
            view._aggs.clear()
            aggregates.overviews.clear()
        meter.reset()
        c0, t0 = time.process_time(), time.perf_counter()
        state.go(pairs[i % len(pairs)])
        sizes.append(meter.message_sizes())  # serialising the messages is server work too
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        view.wait_refined()
        refined.append(time.perf_counter() - t0)
    shape = view.shown()["value0"].values.shape
    view._aggs.clear()
    return {
        "timing": _timed(runs[1:], runs[:1]),
        "refined": _timed(refined[1:], refined[:1]),
        "cpu_s": statistics.median(cpu[1:]),
        "bytes": int(np.median([sum(s) for s in sizes[1:]])),
        "max_message": max(max(s) for s in sizes[1:]),
        "messages": int(np.median([len(s) for s in sizes[1:]])),
        "aggregate_shape": shape,
    }


def _naive_overlay(ds: ThaliaDataset, pair: Pair) -> hv.Overlay:
    frame = ds.frame(pair.frame)
    arrays = frame.read(pair, [*LAYERS, MASK])
    e = elements
    bounds = frame.bounds
    extent = e.Extent(bounds[0], bounds[2], bounds[1], bounds[3])
    kdims = [e.geo_dimension("x", frame.x_dim), e.geo_dimension("y", frame.y_dim)]
    layers = []
    for key, opacity in zip(LAYERS, OPACITY, strict=True):
        layer = schema.layer(key)
        layers.append(e.layer_image(arrays[key], layer, extent, layer.span, kdims).opts(alpha=opacity))
    layers.append(
        e.mask_image(arrays[MASK], schema.layer(MASK).variable, extent, "fill", kdims, fill_alpha=0.35)
    )
    return hv.Overlay(layers).opts(width=SCREEN[0], height=SCREEN[1])


def _naive(root: str, pairs: list[Pair]) -> dict[str, Any]:
    ds = ThaliaDataset(root)
    pane = pn.pane.HoloViews(_naive_overlay(ds, pairs[0]))
    _, meter = _document(pane)
    sizes: list[list[int]] = []
    i = [0]

    def switch() -> None:
        i[0] += 1
        meter.reset()
        pane.object = _naive_overlay(ds, pairs[i[0] % len(pairs)])
        sizes.append(meter.message_sizes())

    timing = time_it(switch, repeats=NAIVE_REPEATS, warmup=0)
    return {
        "timing": timing,
        "bytes": int(np.median([sum(s) for s in sizes])),
        "max_message": max(max(s) for s in sizes),
    }


def _cpu_s(fn: Any, repeats: int = 3) -> float:
    """Median CPU seconds of the process (every thread) that ``fn`` takes: what a busy machine cannot inflate much."""
    runs = []
    for _ in range(repeats):
        c0 = time.process_time()
        fn()
        runs.append(time.process_time() - c0)
    return statistics.median(runs)


def strip_pairs(frame: Any, pairs: list[Pair]) -> list[Pair]:
    """Every pair whose thumbnail the time-series strip asks for while ``pairs`` are on screen."""
    out: dict[str, Pair] = {}
    for pair in pairs:
        series = frame.timeseries(pair.primary)
        here = next((i for i, p in enumerate(series) if p.key == pair.key), 0)
        out.update((p.key, p) for p in series[max(0, here - PREFETCH) : here + PREFETCH + 1])
    return list(out.values())


def run_root(label: str, root: str) -> dict[str, Any]:
    """Time and measure pair switches on one root."""
    ds = ThaliaDataset(root)
    frame = ds.frame(ds.frames[0])
    pairs = bench_pairs(Path(root), ds)
    read = time_it(lambda: frame.read(pairs[1], [*LAYERS, MASK]), repeats=3, warmup=1)
    read_one = time_it(lambda: frame.read(pairs[2], [LAYERS[0]]), repeats=3, warmup=1)
    read_cpu = _cpu_s(lambda: frame.read(pairs[3], [*LAYERS, MASK]))
    # time-series thumbnails: drawn once per process by a background worker in the served app, shared by all
    # sessions; drawn here first so the timed switches measure what a switch waits for
    # (the strip asks for its PREFETCH neighbours in the primary date's series too, written pairs or not)
    shown = strip_pairs(frame, pairs)
    thumbs = time_it(
        lambda: [thumbnail_uri(root, p.key, THUMBNAIL_WIDTH) for p in shown], repeats=1, warmup=0
    )
    t0 = time.perf_counter()
    cold = _ours(root, pairs, prefetched=False)
    ours = _ours(root, pairs, prefetched=True)
    print(f"{NAME} [{label}] two explore sessions built and run in {time.perf_counter() - t0:.1f} s")
    naive = _naive(root, pairs) if label == "small" else None
    if naive is not None:
        print_ratio(f"{NAME} [{label}] (server time, next pair prefetched)", ours["timing"], naive["timing"])
        print_ratio(
            f"{NAME} [{label}] (server time, cold pair)", cold["timing"], naive["timing"], "ours cold"
        )
        print(
            f"{NAME} [{label}] (bytes sent): ours {ours['bytes'] / MB:.2f} MB in {ours['messages']} messages "
            f"(largest {ours['max_message'] / MB:.2f} MB) vs naive {naive['bytes'] / MB:.1f} MB "
            f"(largest {naive['max_message'] / MB:.1f} MB) -> {naive['bytes'] / ours['bytes']:.0f}x"
        )
    warm_s, cold_s, read_s = ours["timing"].median_s, cold["timing"].median_s, read.median_s
    refined_s, one_s = cold["refined"].median_s, read_one.median_s
    print(
        f"{NAME} [{label}] thumbnails (background, once per process): {thumbs.median_s / len(shown) * 1000:.0f} ms a pair"
    )
    print(
        f"{NAME} [{label}] raw read of the 3 full-res arrays {read_s * 1000:.0f} ms; ours {warm_s * 1000:.0f} ms "
        f"prefetched (target <= {TARGET_S * 1000:.0f}), {cold_s * 1000:.0f} ms cold (target <= "
        f"{TARGET_COLD_S * 1000:.0f}) = {cold_s / read_s:.2f}x the raw read",
        flush=True,
    )
    print(
        f"{NAME} [{label}] cold switch: first images {cold_s * 1000:.0f} ms (CPU {cold['cpu_s'] * 1000:.0f} ms vs "
        f"{read_cpu * 1000:.0f} ms for the raw read of the 3 arrays), "
        f"exact images in place {refined_s * 1000:.0f} ms after the key press; raw read of phase alone "
        f"{one_s * 1000:.0f} ms -> first images {cold_s / one_s:.2f}x, exact {refined_s / one_s:.2f}x",
        flush=True,
    )
    figures = {
        "frame_px": list(frame.shape),
        "date_grid": [int(frame.ds.sizes[d]) for d in schema.DATE_DIMS],
        "valid_pairs": len(frame.pairs),
        "pairs_switched": len(pairs),
        "screen_px": list(SCREEN),
        "layers": [*LAYERS, MASK],
        "ours": {
            **timing_dict(ours["timing"]),
            "bytes": ours["bytes"],
            "max_message_bytes": ours["max_message"],
            "messages": ours["messages"],
            "aggregate_shape": list(ours["aggregate_shape"]),
        },
        "ours_cold": {
            **timing_dict(cold["timing"]),
            "cpu_s": round(cold["cpu_s"], 4),
            "refined": timing_dict(cold["refined"]),
            "bytes": cold["bytes"],
            "max_message_bytes": cold["max_message"],
        },
        "raw_read": timing_dict(read),
        "raw_read_phase": timing_dict(read_one),
        "raw_read_cpu_s": round(read_cpu, 4),
        "cold_refined_over_raw_read": round(refined_s / read_s, 3),
        "cold_over_raw_read": round(cold_s / read_s, 3),
        "warm_over_raw_read": round(warm_s / read_s, 3),
        "thumbnail_s_per_pair": round(thumbs.median_s / len(shown), 4),
        "within_target": warm_s <= TARGET_S,
        "cold_within_target": cold_s <= TARGET_COLD_S,
    }
    if naive is not None:
        figures["naive"] = {
            **timing_dict(naive["timing"]),
            "bytes": naive["bytes"],
            "max_message_bytes": naive["max_message"],
        }
        figures["ratio"] = naive["timing"].median_s / warm_s
        figures["cold_ratio"] = naive["timing"].median_s / cold_s
        figures["bytes_ratio"] = naive["bytes"] / ours["bytes"]
    return figures


def main() -> dict[str, Any]:
    """Time and measure pair switches on every root; print medians, ratios and the JSON file."""
    results = {label: run_root(label, str(root)) for label, root in bench_roots().items()}
    figures: dict[str, Any] = {"roots": results, "target_s": TARGET_S, "target_cold_s": TARGET_COLD_S}
    if "small" in results:
        figures["ratio"] = results["small"]["ratio"]
    path = write_results(NAME, figures)
    print(f"wrote {path}")
    return figures


if __name__ == "__main__":
    main()
