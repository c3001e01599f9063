"""Synthetic generation time: the default dataset, and one real-size frame, pairs per second."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from thalia_viewer.core.synth.writer import write_dataset


def _timed(**kwargs: object) -> float:
    out = Path(tempfile.mkdtemp(prefix="thalia-synth-")) / "d"
    try:
        t0 = time.perf_counter()
        write_dataset(out, **kwargs)  # type: ignore[arg-type]
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def main() -> dict:
    default_s = _timed()
    big_s = _timed(n_frames=1, shape=(3000, 3000), n_dates=4)
    print(f"default dataset (3 frames, 512 x 512, 12 dates, 54 pairs): {default_s:.1f} s")
    print(f"one 3000 x 3000 frame, 4 dates (6 pairs): {big_s:.1f} s ({6 / big_s:.2f} pairs/s)")
    figures = {
        "default_dataset_s": round(default_s, 2),
        "frame3000_d4_s": round(big_s, 2),
        "frame3000_pairs_per_s": round(6 / big_s, 3),
    }
    write_results("synth", figures)
    return figures
