"""Training crops per second: our loader vs opening the store and selecting each sample with xarray.

Naive (what a first script does): per sample ``xr.open_zarr``, ``.sel`` of the pair's dates, ``.values`` of
every channel and the mask over the whole frame, then the crop and the z-score. Ours
(:class:`~thalia_viewer.ml.training.loader.CropDataset`): stores kept open, only the crop window read, the
targets from the per-pair mask metadata; then the same with 2 prefetching worker processes, and on the
small default frames (where whole pairs are kept) a warm second epoch. Both give identical crops (checked).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from bench.common import print_ratio, time_it, timing_dict, write_results
from bench.datasets import big_frame
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.ml.inputs import channel_names, normalise
from thalia_viewer.ml.training.labels import Labels
from thalia_viewer.ml.training.loader import CropDataset, CropSpec, make_loader
from thalia_viewer.ml.training.samples import build_samples
from thalia_viewer.ml.training.sampling import fixed_items

FRAME_PX = 2048  # a real frame is 2,000-4,000 px a side
CROP = 512
ITEMS = 16  # crops per timed run
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "data" / "default"


def _dataset(root: Path, setting: str, crop: int) -> CropDataset:
    ds = ThaliaDataset(root)
    labels = Labels(ds)
    samples = [s for split in schema.Split for s in build_samples(ds, split, labels)]
    masks = labels.masks(p for s in samples for p in s.pairs)
    shapes = {f: ds.frame(f).shape for f in ds.frames}
    return CropDataset(CropSpec(str(root), setting, crop), samples, masks, shapes)


def naive_item(root: Path, data: CropDataset, index: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One crop the naive way: open the store, select the pair, load whole frames, crop, normalise."""
    sample = data.samples[index]
    (pair,) = sample.pairs
    r0, r1, c0, c1 = data.window(index, np.random.default_rng(seed))
    cube = xr.open_zarr(root / f"{pair.frame}{schema.STORE_SUFFIX}")
    cell = cube.sel(
        {
            schema.PRIMARY: np.datetime64(schema.parse_date(pair.primary)),
            schema.SECONDARY: np.datetime64(schema.parse_date(pair.secondary)),
        }
    )
    raw = np.stack([cell[name].values for name in channel_names(data.spec.setting)])[:, r0:r1, c0:c1]
    mask = cell[schema.DEFORMATION_MASK].values[r0:r1, c0:c1]
    return normalise(raw, data.spec.setting), (np.nan_to_num(mask) != 0).astype(np.uint8)


def _compare(name: str, root: Path, setting: str, crop: int, workers: bool) -> dict:
    data = _dataset(root, setting, crop)
    items = fixed_items(len(data), 0) * (ITEMS // len(data) + 1)
    items = items[:ITEMS]
    for index, seed in items[:3]:  # same crops both ways
        ours, naive = data.item(index, seed), naive_item(root, data, index, seed)
        np.testing.assert_allclose(ours[0], naive[0], atol=1e-4)
        np.testing.assert_array_equal(ours[1], naive[1])

    def run_ours() -> None:
        fresh = CropDataset(data.spec, data.samples, data.masks, data.shapes)  # cold: nothing read yet
        for index, seed in items:
            fresh.item(index, seed)

    def run_naive() -> None:
        for index, seed in items:
            naive_item(root, data, index, seed)

    t_ours = time_it(run_ours, repeats=3)
    t_naive = time_it(run_naive, repeats=3)
    ratio = print_ratio(f"{name}: {ITEMS} crops", t_ours, t_naive)
    out = {
        "setting": setting,
        "crop_px": crop,
        "frame_px": next(iter(data.shapes.values())),
        "items": ITEMS,
        "ours": timing_dict(t_ours),
        "naive": timing_dict(t_naive),
        "ratio": round(ratio, 2),
        "ours_samples_per_s": round(ITEMS / t_ours.median_s, 1),
        "naive_samples_per_s": round(ITEMS / t_naive.median_s, 1),
    }
    if workers:
        loader, _ = make_loader(data, items, batch_size=4, num_workers=2)
        next(iter(loader))  # start the workers (persistent) before timing
        t_workers = time_it(lambda: [None for _ in loader], repeats=3)
        out["workers_2"] = timing_dict(t_workers)
        out["workers_2_samples_per_s"] = round(ITEMS / t_workers.median_s, 1)
        print(f"{name}: with 2 prefetching workers {ITEMS / t_workers.median_s:.1f} crops/s")
    return out


def _warm_default() -> dict | None:
    """The default dataset's 512 px frames with 256 px crops: whole pairs kept, a second epoch reads memory."""
    if not (DEFAULT_ROOT / schema.ANNOTATIONS_FILE).exists():
        return None
    data = _dataset(DEFAULT_ROOT, "base", 256)
    items = fixed_items(len(data), 0)
    t0 = time.perf_counter()
    for index, seed in items:
        data.item(index, seed)
    cold = time.perf_counter() - t0
    warm = time_it(lambda: [data.item(i, s) for i, s in items], repeats=3)
    naive = time_it(lambda: [naive_item(DEFAULT_ROOT, data, i, s) for i, s in items], repeats=1)
    ratio = print_ratio(f"default root, {len(items)} crops of 256 px, warm epoch", warm, naive)
    return {
        "items": len(items),
        "cold_epoch_s": round(cold, 3),
        "warm": timing_dict(warm),
        "naive": timing_dict(naive),
        "ratio": round(ratio, 1),
        "warm_samples_per_s": round(len(items) / warm.median_s, 1),
        "naive_samples_per_s": round(len(items) / naive.median_s, 1),
    }


def main() -> dict:
    root = big_frame(FRAME_PX, n_dates=8)
    base = _compare("base setting", root, "base", CROP, workers=False)
    atmo = _compare("atmospheric setting", root, "atmospheric", CROP, workers=True)
    figures = {"base": base, "atmospheric": atmo, "default_warm": _warm_default(), "ratio": atmo["ratio"]}
    write_results("loader", figures)
    return figures


if __name__ == "__main__":
    main()
