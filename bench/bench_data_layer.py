"""Reading one pair's layers through the data layer vs the raw Zarr read of the same chunks.

The data layer selects by date, finds the spatial dims, rescales coherence, masks no-data and casts masks;
the raw read is ``zarr`` indexing of the same cells: the bound it cannot beat. Ratio = overhead.
"""

from __future__ import annotations

import numpy as np
import zarr

from bench.common import print_ratio, time_it, timing_dict, write_results
from bench.datasets import big_frame
from thalia_viewer.core import schema
from thalia_viewer.core.dataset import ThaliaDataset

KEYS = ("phase", "coherence", "dem", "tcwv_primary", "tcwv_secondary", "deformation")


def main() -> dict:
    root = big_frame()
    ds = ThaliaDataset(root)
    frame = ds.frame(ds.frames[0])
    pairs = frame.pairs
    state = {"n": 0}

    def next_pair():
        state["n"] += 1
        return pairs[state["n"] % len(pairs)]

    def ours() -> None:
        frame.read(next_pair(), KEYS)

    group = zarr.open_group(str(root / f"{frame.frame_id}.zarr"), mode="r")
    primaries = [schema.format_date(d) for d in frame.ds[schema.PRIMARY].values]
    secondaries = [schema.format_date(d) for d in frame.ds[schema.SECONDARY].values]

    def raw() -> None:
        p = next_pair()
        i, j = primaries.index(p.primary), secondaries.index(p.secondary)
        for name in (schema.PHASE, schema.COHERENCE, schema.DEFORMATION_MASK):
            np.asarray(group[name][i, j])
        np.asarray(group[schema.DEM][:])
        np.asarray(group[schema.era5_variable("total_column_water_vapour", schema.PRIMARY)][i])
        np.asarray(group[schema.era5_variable("total_column_water_vapour", schema.SECONDARY)][j])

    t_ours = time_it(ours, repeats=7)
    t_raw = time_it(raw, repeats=7)
    ratio = print_ratio("read one pair's 6 layers (4096 x 4096)", t_raw, t_ours, "raw zarr", "data layer")
    figures = {
        "frame_px": list(frame.shape),
        "layers": list(KEYS),
        "data_layer": timing_dict(t_ours),
        "raw_zarr": timing_dict(t_raw),
        "overhead_ratio": round(1 / ratio, 3),
        "ratio": round(1 / ratio, 3),
    }
    write_results("data_layer", figures)
    return figures
