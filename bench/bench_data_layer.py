"""Reading one pair through the data layer vs the raw Zarr read of the same chunks, on three roots.

Roots: today's 4096 px frame with 4 dates (``small``) and the real-scale cube of ``bench/realscale.py``
(4096 px, 320 x 320 date grid, 1,326 pairs) chunked as whole pair planes (``plane``) and as 512 px tiles
(``tile``). On each:

- open: a fresh ``ThaliaDataset`` and its frame (JSON catalogue + lazy store) vs ``zarr.open_consolidated``
  plus ``json.loads`` of the two catalogue files;
- one layer (phase) of one pair at full resolution, and one 1024 px window of it (a zoomed-in view);
- six layers of one pair (phase, coherence, DEM, both dates' water vapour, deformation mask).

The data layer selects by date, finds the spatial dims, rescales coherence, masks no-data and casts masks;
the raw read is ``zarr`` indexing of the same cells: the bound it cannot beat. Ratio = data layer / raw
(target <= 1.5 for one layer).

``python -m bench.run data_layer`` (``THALIA_BENCH_ROOTS=small,plane`` picks roots).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import zarr

from bench.common import time_alternating, timing_dict, write_results
from bench.datasets import big_frame
from bench.realscale import realscale_root, written_pairs
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.pairs import Pair

NAME: Final = "data_layer"
KEYS: Final = ("phase", "coherence", "dem", "tcwv_primary", "tcwv_secondary", "deformation")
WINDOW: Final = 1024  # px a side of the zoomed-in read
REPEATS: Final = 5
TARGET_RATIO: Final = 1.5
ROOTS: Final = ("small", "plane", "tile")


def bench_roots() -> dict[str, Path]:
    """The roots to run on: ``$THALIA_BENCH_ROOTS`` (comma-separated) or all of :data:`ROOTS`."""
    names = [n for n in os.environ.get("THALIA_BENCH_ROOTS", ",".join(ROOTS)).split(",") if n]
    return {n: big_frame() if n == "small" else realscale_root(n) for n in names}


def bench_pairs(root: Path, ds: ThaliaDataset) -> list[Pair]:
    """Pairs with data: the written ones of a real-scale root, every pair of a generated one."""
    frame = ds.frame(ds.frames[0])
    if (root / "written.json").exists():
        return [Pair.parse(k, frame=frame.frame_id) for k in written_pairs(root)]
    return frame.pairs


class Cycle:
    """Hands out the pairs in turn, so no timed read is answered by a cache of the previous one."""

    def __init__(self, pairs: list[Pair]) -> None:
        self.pairs, self.n = pairs, 0

    def __call__(self) -> Pair:
        self.n += 1
        return self.pairs[self.n % len(self.pairs)]


def compare(
    label: str, what: str, ours: Callable[[], Any], raw: Callable[[], Any], repeats: int = REPEATS
) -> dict[str, Any]:
    """Time ``ours`` and ``raw`` in turn; print and return both, with wall and CPU ratios (ours / raw)."""
    t_ours, t_raw, (cpu_ours, cpu_raw) = time_alternating(ours, raw, repeats=repeats)
    ratio = t_ours.median_s / t_raw.median_s if t_raw.median_s > 0 else float("inf")
    cpu_ratio = cpu_ours / cpu_raw if cpu_raw > 0 else float("inf")
    print(
        f"{NAME} [{label}] {what}: data layer {t_ours.median_s * 1000:.1f} ms (min {t_ours.min_s * 1000:.1f}) vs raw zarr "
        f"{t_raw.median_s * 1000:.1f} ms (min {t_raw.min_s * 1000:.1f}) -> {ratio:.2f}x raw "
        f"(CPU {cpu_ours * 1000:.0f} vs {cpu_raw * 1000:.0f} ms: {cpu_ratio:.2f}x)",
        flush=True,
    )
    return {
        "data_layer": timing_dict(t_ours),
        "raw": timing_dict(t_raw),
        "ratio": round(ratio, 3),
        "cpu_s": [round(cpu_ours, 4), round(cpu_raw, 4)],
        "cpu_ratio": round(cpu_ratio, 3),
    }


def run_root(label: str, root: Path) -> dict[str, Any]:
    """Every measurement on one root."""
    ds = ThaliaDataset(root)
    frame_id = ds.frames[0]
    store = root / f"{frame_id}{schema.STORE_SUFFIX}"

    def open_ours() -> None:
        fresh = ThaliaDataset(root)
        fresh.frame(frame_id).pairs  # noqa: B018

    def open_raw() -> None:
        zarr.open_consolidated(str(store), mode="r")
        for name in (schema.ANNOTATIONS_FILE, schema.QUALITY_FILE):
            json.loads((root / name).read_text())

    opened = compare(label, "open dataset + frame", open_ours, open_raw, repeats=3)
    frame = ds.frame(frame_id)
    group = zarr.open_consolidated(str(store), mode="r")
    pairs = bench_pairs(root, ds)
    h, w = frame.shape
    win = (
        slice(h // 2 - WINDOW // 2, h // 2 + WINDOW // 2),
        slice(w // 2 - WINDOW // 2, w // 2 + WINDOW // 2),
    )
    era5 = "total_column_water_vapour"
    ours_pair, raw_pair = Cycle(pairs), Cycle(pairs)

    def six_raw() -> None:
        i, j = frame.cell(raw_pair())
        for name in (schema.PHASE, schema.COHERENCE, schema.DEFORMATION_MASK):
            np.asarray(group[name][i, j])
        np.asarray(group[schema.DEM][:])
        np.asarray(group[schema.era5_variable(era5, schema.PRIMARY)][i])
        np.asarray(group[schema.era5_variable(era5, schema.SECONDARY)][j])

    one = compare(
        label,
        "one pair, one layer, full res",
        lambda: frame.read(ours_pair(), ["phase"]),
        lambda: np.asarray(group[schema.PHASE][frame.cell(raw_pair())]),
    )
    window = compare(
        label,
        f"one pair, one layer, {WINDOW} px window",
        lambda: frame.layer(ours_pair(), "phase")[win].values,
        lambda: np.asarray(group[schema.PHASE][(*frame.cell(raw_pair()), *win)]),
    )
    six = compare(label, "one pair, six layers, full res", lambda: frame.read(ours_pair(), KEYS), six_raw)
    chunks = group[schema.PHASE].chunks
    print(
        f"{NAME} [{label}] {h} x {w} px, date grid {frame.ds.sizes[schema.PRIMARY]} x "
        f"{frame.ds.sizes[schema.SECONDARY]}, {len(frame.pairs)} valid pairs, phase chunks {chunks}",
        flush=True,
    )
    return {
        "frame_px": [h, w],
        "date_grid": [int(frame.ds.sizes[d]) for d in schema.DATE_DIMS],
        "valid_pairs": len(frame.pairs),
        "phase_chunks": list(chunks),
        "open": opened,
        "one_layer": one,
        "window": {"px": WINDOW, **window},
        "six_layers": {"layers": list(KEYS), **six},
    }


def main() -> dict[str, Any]:
    results = {label: run_root(label, root) for label, root in bench_roots().items()}
    worst = max(r["one_layer"]["ratio"] for r in results.values())
    figures = {
        "roots": results,
        "target_ratio": TARGET_RATIO,
        "ratio": worst,
        "within_target": worst <= TARGET_RATIO,
    }
    print(f"{NAME}: worst one-layer ratio to the raw read {worst:.2f}x (target <= {TARGET_RATIO}x)")
    figures["results_file"] = str(write_results(NAME, figures))
    return figures


if __name__ == "__main__":
    main()
