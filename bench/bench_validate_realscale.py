"""``validate`` (metadata and catalogue checks) on today's small root and the real-scale cube, vs the raw read.

The raw read is what the checks cannot avoid: ``json.loads`` of the two catalogue files and
``zarr.open_consolidated`` of every store. Ratio = validate / raw. The data reads of ``--deep`` are timed on
the small root only (the real-scale cube holds data for a dozen of its 1,326 pairs).
``THALIA_BENCH_ROOTS=small,plane`` picks roots.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Final

import zarr

from bench.bench_data_layer import bench_roots
from bench.common import time_it, timing_dict, write_results
from thalia_viewer.core import schema
from thalia_viewer.core.validate import validate

NAME: Final = "validate_realscale"


def _validate(root: Path, deep: bool) -> Any:
    """``validate`` of ``root``, with or without the pair data, whatever the option is called now."""
    params = inspect.signature(validate).parameters
    if "read_data" in params:
        return validate(str(root), read_data=deep)
    return validate(str(root), deep=deep)


def run_root(label: str, root: Path) -> dict[str, Any]:
    def raw() -> None:
        for name in (schema.ANNOTATIONS_FILE, schema.QUALITY_FILE):
            json.loads((root / name).read_text())
        for store in root.glob(f"*{schema.STORE_SUFFIX}"):
            zarr.open_consolidated(str(store), mode="r")

    t_meta = time_it(lambda: _validate(root, deep=False), repeats=3)
    t_raw = time_it(raw, repeats=3)
    report = _validate(root, deep=False)
    ratio = t_meta.median_s / t_raw.median_s
    print(
        f"{NAME} [{label}] metadata: {t_meta.median_s:.3f} s vs raw catalogue + store open {t_raw.median_s:.3f} s "
        f"-> {ratio:.1f}x raw; {report.pairs} pairs, {len(report.problems)} problem(s)",
        flush=True,
    )
    figures = {
        "metadata": timing_dict(t_meta),
        "raw": timing_dict(t_raw),
        "ratio": round(ratio, 2),
        "pairs": report.pairs,
        "problems": len(report.problems),
    }
    if label == "small":
        t_deep = time_it(lambda: _validate(root, deep=True), repeats=1, warmup=0)
        print(
            f"{NAME} [{label}] with pair data: {t_deep.median_s:.2f} s ({t_deep.median_s / max(report.pairs, 1) * 1000:.0f} ms a pair)"
        )
        figures["deep"] = timing_dict(t_deep)
    return figures


def main() -> dict[str, Any]:
    results = {label: run_root(label, root) for label, root in bench_roots().items()}
    figures = {"roots": results, "ratio": max(r["ratio"] for r in results.values())}
    figures["results_file"] = str(write_results(NAME, figures))
    return figures


if __name__ == "__main__":
    main()
