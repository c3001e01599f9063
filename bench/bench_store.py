"""Saving and reading one pair's corrections in the annotation store on a 4096 x 4096 frame.

- save (checks of the masks and record included): the median of saves that repaint a small region
  (64 x 64 px) of a pair already in the store, with the store's in-memory copy of the previous version
  (an editor saving again) and without it (a new session: the previous version is read back to find
  the changed chunks); and of a first save of a pair: its real synthetic masks, and a full mask
  (deformation in every chunk: every chunk written).
  Target: under 300 ms.
- read: a pair's three masks through the overlay (``read_pair``, no in-memory copy) vs straight from
  the source Zarr (``zarr`` indexing of the same cells, the bound). Ratio = overlay / source.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import numpy as np
import zarr

from bench.common import RESULTS_DIR, print_ratio, time_it, timing_dict, write_results
from bench.datasets import big_frame
from thalia_viewer.core import schema
from thalia_viewer.core.annotations import AnnotationStore
from thalia_viewer.core.dataset import ThaliaDataset
from thalia_viewer.core.frame import Frame
from thalia_viewer.core.pairs import Pair

NAME: Final = "store"
TARGET_S: Final = 0.3  # a save should take less than this
BOX: Final = 64  # px a side of the region a small edit repaints
REPEATS: Final = 7


def _paint(masks: dict[str, np.ndarray], rows: slice, cols: slice, activity: int) -> dict[str, np.ndarray]:
    out = {k: v.copy() for k, v in masks.items()}
    out[schema.ACTIVITY_MASK][rows, cols] = activity
    out[schema.INTENSITY_MASK][rows, cols] = 2 if activity else 0
    out[schema.DEFORMATION_MASK] = schema.deformation_from_activity(out[schema.ACTIVITY_MASK])
    return out


def _full_masks(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Deformation over a disk that reaches every 512 x 512 chunk, with a ragged edge."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)
    disk = r < shape[0] * 0.72 + 40 * np.sin(np.arctan2(yy - shape[0] / 2, xx - shape[1] / 2) * 17)
    activity = np.where(disk, 1, 0).astype(np.uint8)
    intensity = np.where(disk, 3, 0).astype(np.uint8)
    return {
        schema.DEFORMATION_MASK: schema.deformation_from_activity(activity),
        schema.ACTIVITY_MASK: activity,
        schema.INTENSITY_MASK: intensity,
    }


def main() -> dict:
    root = big_frame()
    ds = ThaliaDataset(root)
    frame = ds.frame(ds.frames[0])
    pair = (frame.positives or frame.pairs)[0]
    work = Path(tempfile.mkdtemp(prefix="store_", dir=RESULTS_DIR))
    try:
        return _run(ds, frame, pair, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(ds: ThaliaDataset, frame: Frame, pair: Pair, work: Path) -> dict:
    source = AnnotationStore(work / "probe", dataset=ds).read_merged(pair)
    record = source.record
    stores = [AnnotationStore(work / f"first{k}", dataset=ds) for k in range(2 * (REPEATS + 1))]

    def first_save(masks: dict[str, np.ndarray]):
        def run() -> None:
            stores.pop().save_pair(pair, masks, record, "bench", "first save", base=None)

        return run

    t_first = time_it(first_save(source.masks), repeats=REPEATS)
    full = _full_masks(frame.shape)
    t_full = time_it(first_save(full), repeats=REPEATS)

    store = AnnotationStore(work / "edits", dataset=ds)
    cold = AnnotationStore(work / "edits", dataset=ds, cache_pairs=0)
    edits = [source.masks]
    for n in range(1, 2 * (REPEATS + 1) + 1):  # prepared beforehand: only the saves are timed
        r, c = (n * 523) % (frame.shape[0] - BOX), (n * 787) % (frame.shape[1] - BOX)
        edits.append(_paint(edits[-1], slice(r, r + BOX), slice(c, c + BOX), 1 + n % 2))
    state: dict[str, Any] = {
        "n": 0,
        "version": store.save_pair(pair, edits[0], record, "bench", "start", base=None),
    }

    def small_edit(writer: AnnotationStore):
        def run() -> None:
            n = state["n"] = state["n"] + 1
            state["version"] = writer.save_pair(
                pair, edits[n], record, "bench", f"edit {n}", base=state["version"]
            )

        return run

    t_small = time_it(small_edit(store), repeats=REPEATS)
    t_small_cold = time_it(small_edit(cold), repeats=REPEATS)

    def overlay() -> None:
        cold.read_pair(pair)

    group = zarr.open_group(str(Path(ds.root) / f"{frame.frame_id}{schema.STORE_SUFFIX}"), mode="r")
    i, j = frame.cell(pair)

    def raw() -> None:
        for name in schema.MASKS:
            np.asarray(group[name][i, j])

    t_overlay = time_it(overlay, repeats=REPEATS)
    t_raw = time_it(raw, repeats=REPEATS)
    print_ratio("read a pair's 3 masks (4096 x 4096)", t_raw, t_overlay, "source zarr", "overlay")
    print(
        f"save: small edit {t_small.median_s:.3f} s (no cached previous {t_small_cold.median_s:.3f} s), "
        f"first save "
        f"{t_first.median_s:.3f} s, first save of a full mask {t_full.median_s:.3f} s (target < {TARGET_S} s)"
    )
    worst = max(t_small.median_s, t_small_cold.median_s, t_first.median_s, t_full.median_s)
    figures = {
        "frame_px": list(frame.shape),
        "pair": pair.key,
        "save_small_edit": timing_dict(t_small),
        "save_small_edit_no_cached_previous": timing_dict(t_small_cold),
        "save_first": timing_dict(t_first),
        "save_first_full_mask": timing_dict(t_full),
        "save_target_s": TARGET_S,
        "save_within_target": worst < TARGET_S,
        "read_overlay": timing_dict(t_overlay),
        "read_source_zarr": timing_dict(t_raw),
        "overhead_ratio": round(t_overlay.median_s / t_raw.median_s, 3),
        "ratio": round(t_overlay.median_s / t_raw.median_s, 3),
    }
    write_results(NAME, figures)
    return figures
