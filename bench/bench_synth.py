"""Synthetic generation time and disk: the default dataset and one real-size frame, pairs per second.

Each is written twice in one run: by the project's rule (Zarr 2 writes every pair's chunks, all-zero
mask chunks included, so zarr-python 2 reads them as zeros) and the old way (zarr 3's default, skipping
all-zero chunks, which zarr-python 2 reads as garbage); the ratio is the cost of byte-faithful writes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.common import write_results
from thalia_viewer.core import zarr_write
from thalia_viewer.core.synth.writer import write_dataset


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _timed(write_empty: bool, **kwargs: object) -> tuple[float, int]:
    """Seconds and bytes on disk of one ``write_dataset`` with or without the empty-chunk rule."""
    out = Path(tempfile.mkdtemp(prefix="thalia-synth-")) / "d"
    config = {"write_empty_chunks": True} if write_empty else {"write_empty_chunks": False}
    try:
        with mock.patch.object(zarr_write, "array_config", lambda zarr_format: dict(config)):
            t0 = time.perf_counter()
            write_dataset(out, **kwargs)  # type: ignore[arg-type]
            seconds = time.perf_counter() - t0
        return seconds, _disk_bytes(out)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def main(repeats: int = 2) -> dict:
    """Each case written both ways, in alternating order (new, old, old, new, ...); the fastest of each is kept."""
    figures: dict[str, float] = {}
    cases = {
        "default": ({}, 54, repeats),
        "frame3000_d4": ({"n_frames": 1, "shape": (3000, 3000), "n_dates": 4}, 6, 1),
    }
    for name, (kwargs, pairs, n) in cases.items():
        runs: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
        for k in range(n):
            for rule in (True, False) if k % 2 == 0 else (False, True):
                runs[rule].append(_timed(rule, **kwargs))
        new_s, new_b = min(runs[True])
        old_s, old_b = min(runs[False])
        print(
            f"{name} ({pairs} pairs, best of {n}): {new_s:.1f} s, {new_b / 1e6:.2f} MB with every pair's chunks; "
            f"old way (all-zero chunks skipped) {old_s:.1f} s, {old_b / 1e6:.2f} MB: "
            f"time x{new_s / old_s:.2f}, disk +{(new_b - old_b) / 1e3:.1f} kB (x{new_b / old_b:.4f})"
        )
        figures |= {
            f"{name}_s": round(new_s, 2),
            f"{name}_old_s": round(old_s, 2),
            f"{name}_time_ratio": round(new_s / old_s, 3),
            f"{name}_bytes": new_b,
            f"{name}_old_bytes": old_b,
            f"{name}_pairs_per_s": round(pairs / new_s, 3),
        }
    figures["ratio"] = figures["default_time_ratio"]
    write_results("synth", figures)
    return figures


if __name__ == "__main__":
    main()
