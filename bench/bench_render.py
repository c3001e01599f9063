"""Render one 4096^2 pair view at 800 px: ours (screen-resolution aggregation) vs naive (full-res shade + resize).

Ours: ``shade_layer`` of phase (circular mean), coherence (mean) and the deformation mask (mode of the
labelled pixels), with the mask overlaid on both panels, all from a lazily opened Zarr store.
Naive: load the full arrays, ``tf.shade`` them at 4096^2, overlay the mask at full resolution, then resize
each RGBA image to 800 px with Pillow. Both read the same store; the raw read of the three arrays is
timed too (the floor under both).

Then the same three layers of one pair of the real-scale cube (``bench/realscale.py``: 320 x 320 date grid,
whole-plane and 512 px-tile chunks) through the data layer (``Frame.layer`` -> ``shade_layer``), against the
raw Zarr read of the same three arrays: the ratio says what rendering adds to the read at real scale.
``THALIA_BENCH_ROOTS=plane`` picks real-scale roots (``small`` is the temporary store above).
"""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import dask
import datashader.transfer_functions as tf
import numpy as np
import xarray as xr
from PIL import Image

from bench.bench_data_layer import Cycle, bench_pairs, bench_roots
from bench.common import print_ratio, time_it, timing_dict, write_results
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.viz.colormaps import colormap_for
from thalia_viewer.viz.shade import overlay_masks, shade_layer

NAME: Final = "render"
SIZE: Final = 4096  # px a side
CHUNK: Final = 1024
WIDTH: Final = 800  # px of each rendered panel
PIXEL_DEG: Final = 0.001
FRINGES: Final = 12  # fringes of the synthetic deformation at its centre
SEED: Final = 0
REPEATS: Final = 3
NAIVE_WARMUP: Final = 0  # tf.shade + Pillow need no JIT warm-up; a full-res run costs ~7 s on 2 cores
MASK_KEY: Final = "deformation"


def make_pair(size: int = SIZE, seed: int = SEED) -> xr.Dataset:
    """A pair on a lon/lat grid: wrapped phase (rad, Mogi-like fringes + ramp + noise), coherence 0-1, mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:size, :size]
    r2 = ((yy - 0.45 * size) ** 2 + (xx - 0.55 * size) ** 2) / (0.12 * size) ** 2
    deformation = (2 * np.pi * FRINGES) * (1 + r2) ** -1.5
    ramp = 2 * np.pi * 3 * (xx / size) + 2 * np.pi * 2 * (yy / size)
    coherence = np.clip(0.85 - 0.5 * (xx / size) - 0.2 * (r2 > 9), 0.05, 1).astype(np.float32)
    noise = rng.standard_normal((size, size), dtype=np.float32) * (1.2 * (1 - coherence))
    phase = ((deformation + ramp + noise + np.pi) % (2 * np.pi) - np.pi).astype(np.float32)  # wrapped
    mask = (r2 < 1.6).astype(np.uint8)  # deformation where the signal is at least about one fringe
    mask[(yy - 0.8 * size) ** 2 + (xx - 0.2 * size) ** 2 < (0.05 * size) ** 2] = 2  # an "earthquake"
    coords = {"y": 38.0 - PIXEL_DEG * np.arange(size), "x": 15.0 + PIXEL_DEG * np.arange(size)}
    dims = ("y", "x")
    return xr.Dataset(
        {
            schema.PHASE: (dims, phase),
            schema.COHERENCE: (dims, coherence),
            schema.DEFORMATION_MASK: (dims, mask),
        },
        coords=coords,
    )


def ours(ds: xr.Dataset) -> list[np.ndarray]:
    """Two 800 px RGBA panels (phase, coherence) with the mask overlaid, aggregated at screen resolution."""
    mask = shade_layer(ds[schema.DEFORMATION_MASK], MASK_KEY, WIDTH)
    panels = [
        shade_layer(ds[schema.PHASE], "phase", WIDTH),
        shade_layer(ds[schema.COHERENCE], "coherence", WIDTH),
    ]
    return [overlay_masks(p.rgba, mask.agg.values, schema.DEFORMATION_MASK) for p in panels]


def naive(ds: xr.Dataset) -> list[np.ndarray]:
    """The same two panels, shaded at full resolution with ``tf.shade`` and resized with Pillow."""
    # .compute() returns in-memory copies; .load() would load ``ds`` itself and later runs would skip the read
    phase, coherence, mask = (
        ds[v].compute() for v in (schema.PHASE, schema.COHERENCE, schema.DEFORMATION_MASK)
    )
    out = []
    for da, key in ((phase, "phase"), (coherence, "coherence")):
        span = schema.layer(key).span
        packed = np.asarray(
            tf.shade(da, cmap=colormap_for(key), how="linear", span=span).data, dtype=np.uint32
        )
        rgba = np.ascontiguousarray(packed).view(np.uint8).reshape(*packed.shape, 4)
        rgba = overlay_masks(rgba, mask.values, schema.DEFORMATION_MASK)
        height = round(WIDTH * rgba.shape[0] / rgba.shape[1])
        image = Image.fromarray(rgba, "RGBA").resize((WIDTH, height), Image.Resampling.BILINEAR)
        out.append(np.asarray(image))
    return out


def raw_read(ds: xr.Dataset) -> None:
    """Only read and decompress the three full arrays (the floor under both ways)."""
    dask.compute(*(ds[v].data for v in (schema.PHASE, schema.COHERENCE, schema.DEFORMATION_MASK)))


def peak_mib(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Peak traced (Python + NumPy) memory of one call, MiB, and what the call returned."""
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1] / 2**20, result
    finally:
        tracemalloc.stop()


def frame_render(root: Path) -> dict[str, Any]:
    """Render a pair of a frame store at ``WIDTH`` px through the data layer vs the raw read of its 3 arrays."""
    import zarr

    ds = ThaliaDataset(root)
    frame = ds.frame(ds.frames[0])
    group = zarr.open_consolidated(str(root / f"{frame.frame_id}{schema.STORE_SUFFIX}"), mode="r")
    ours_pair, raw_pair = Cycle(bench_pairs(root, ds)), Cycle(bench_pairs(root, ds))

    def render() -> list[np.ndarray]:
        pair = ours_pair()
        mask = shade_layer(frame.layer(pair, MASK_KEY), MASK_KEY, WIDTH)
        panels = [shade_layer(frame.layer(pair, k), k, WIDTH) for k in ("phase", "coherence")]
        return [overlay_masks(p.rgba, mask.agg.values, schema.DEFORMATION_MASK) for p in panels]

    def read() -> None:
        i, j = frame.cell(raw_pair())
        for name in (schema.PHASE, schema.COHERENCE, schema.DEFORMATION_MASK):
            np.asarray(group[name][i, j])

    t_ours, t_read = time_it(render, repeats=REPEATS), time_it(read, repeats=REPEATS)
    ratio = t_ours.median_s / t_read.median_s
    print(
        f"{NAME} [{root.name}] {frame.shape[0]}^2, date grid {frame.ds.sizes[schema.PRIMARY]} x "
        f"{frame.ds.sizes[schema.SECONDARY]}: render {t_ours.median_s:.3f} s vs raw read of the 3 arrays "
        f"{t_read.median_s:.3f} s -> {ratio:.2f}x raw",
        flush=True,
    )
    return {
        "ours": timing_dict(t_ours),
        "raw_read": timing_dict(t_read),
        "ours_over_raw_read": round(ratio, 2),
        "date_grid": [int(frame.ds.sizes[d]) for d in schema.DATE_DIMS],
    }


def main() -> dict[str, Any]:
    real = {label: frame_render(root) for label, root in bench_roots().items() if label != "small"}
    with tempfile.TemporaryDirectory(prefix="bench_render_") as tmp:
        store = Path(tmp) / "pair.zarr"
        make_pair().chunk({"y": CHUNK, "x": CHUNK}).to_zarr(store, mode="w")
        ds = xr.open_zarr(store)
        if any(ds[v].chunks is None for v in ds.data_vars):
            msg = "the store did not open lazily: the benchmark would not time the reads"
            raise RuntimeError(msg)
        t_ours = time_it(lambda: ours(ds), repeats=REPEATS)
        t_naive = time_it(lambda: naive(ds), repeats=REPEATS, warmup=NAIVE_WARMUP)
        t_read = time_it(lambda: raw_read(ds), repeats=REPEATS)
        (mem_ours, ours_out), (mem_naive, naive_out) = peak_mib(lambda: ours(ds)), peak_mib(lambda: naive(ds))
        store_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    ratio = print_ratio(f"{NAME} {SIZE}^2 -> {WIDTH} px (2 panels + mask)", t_ours, t_naive)
    print(
        f"{NAME}: raw read of the 3 arrays {t_read.median_s:.3f} s; peak memory ours {mem_ours:.0f} MiB vs "
        f"naive {mem_naive:.0f} MiB"
    )
    figures = {
        "size_px": SIZE,
        "chunk_px": CHUNK,
        "width_px": WIDTH,
        "ours": timing_dict(t_ours),
        "naive": timing_dict(t_naive),
        "raw_read": timing_dict(t_read),
        "ratio": round(ratio, 2),
        "ours_over_raw_read": round(t_ours.median_s / t_read.median_s, 2),
        "output_shape": list(ours_out[0].shape),
        "rgba_bytes_ours": int(sum(a.nbytes for a in ours_out)),
        "rgba_bytes_naive_output": int(sum(a.nbytes for a in naive_out)),
        "rgba_bytes_naive_full_res": 2 * SIZE * SIZE * 4,
        "peak_mib_ours": round(mem_ours, 1),
        "peak_mib_naive": round(mem_naive, 1),
        "store_bytes": store_bytes,
        "realscale": real,
    }
    figures["results_file"] = str(write_results(NAME, figures))
    return figures


if __name__ == "__main__":
    main()
