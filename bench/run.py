"""Run the benchmarks: ``python -m bench.run [names...]`` (``render`` runs ``bench/bench_render.py``).

Each ``bench/bench_<name>.py`` exposes ``main() -> dict`` (its figures, with a ``ratio`` when it compares
two ways); the runner prints the figures of each and a summary. Exit status 1 when one failed.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Final

BENCH_DIR: Final = Path(__file__).resolve().parent
PREFIX: Final = "bench_"


def available() -> list[str]:
    """Names of the benchmarks found in ``bench/`` (``bench_render.py`` -> ``render``)."""
    return sorted(p.stem.removeprefix(PREFIX) for p in BENCH_DIR.glob(f"{PREFIX}*.py"))


def run(name: str) -> dict:
    """Import ``bench.bench_<name>`` and return what its ``main()`` returns."""
    module = importlib.import_module(f"bench.{PREFIX}{name}")
    return module.main()


def main(argv: list[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv) or available()
    unknown = [n for n in names if n.removeprefix(PREFIX) not in available()]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available()}", file=sys.stderr)
        return 2
    summary: list[tuple[str, str, float, object]] = []
    for name in (n.removeprefix(PREFIX) for n in names):
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            figures = run(name)
        except Exception:  # a failing benchmark must not hide the others
            traceback.print_exc()
            summary.append((name, "FAILED", time.perf_counter() - t0, None))
            continue
        print(json.dumps(figures, indent=2, default=str))
        summary.append((name, "ok", time.perf_counter() - t0, figures.get("ratio")))
    print("=== summary")
    for name, status, seconds, ratio in summary:
        shown = f"ratio {ratio:.1f}x" if isinstance(ratio, (int, float)) else ""
        print(f"{name:<20} {status:<7} {seconds:6.1f} s  {shown}")
    return 1 if any(status != "ok" for _, status, _, _ in summary) else 0


if __name__ == "__main__":
    raise SystemExit(main())
