"""Synthetic datasets the benchmarks read, generated once with the project's generator and kept.

They live under ``bench/results/data/`` (git-ignored); delete it to regenerate.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import RESULTS_DIR
from thalia_viewer.core.synth.writer import write_dataset

DATA_DIR = RESULTS_DIR / "data"


def big_frame(size: int = 4096, n_dates: int = 4) -> Path:
    """A root with one ``size`` x ``size`` frame of ``n_dates`` acquisitions (generated on first use)."""
    root = DATA_DIR / f"frame{size}_d{n_dates}"
    if not (root / "annotations.json").exists():
        print(f"generating {root} (one-off) ...", flush=True)
        write_dataset(root, n_frames=1, shape=(size, size), n_dates=n_dates, seed=1, overwrite=True)
    return root
