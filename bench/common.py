"""Benchmark helpers: repeated timings (median / min), JSON figures under ``bench/results/`` and ratios.

Every benchmark compares two ways of doing the same work in one run and prints the ratio; figures are
written as JSON (``bench/results/<name>.json``, git-ignored), never asserted in tests.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"
DEFAULT_REPEATS: Final = 5
DEFAULT_WARMUP: Final = 1
#: Debian's chromium and the flags of a quiet headless browser, for the benchmarks and browser tests
CHROMIUM: Final = os.environ.get("THALIA_CHROMIUM", "/usr/bin/chromium")
#: Debian's headless shell (``apt-get install chromium-headless-shell``, ``make headless-shell``): Chromium's
#: own Blink and V8 without the full browser's services (the headless browser Playwright itself ships). Pages
#: cost the same; the browser process costs a third (10 vs 27 ms of CPU a pair step), so the load benchmark's
#: many browsers, which share the server's cores, take a fifth less of them.
HEADLESS_SHELL: Final = os.environ.get("THALIA_HEADLESS_SHELL", "/usr/bin/chromium-headless-shell")
FLAGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: ``THALIA_BENCH_QUICK=1``: one timed run, no warm-up (for code so slow that repeats would take hours).
QUICK: Final = os.environ.get("THALIA_BENCH_QUICK", "") not in ("", "0")


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one function (warm-up runs excluded)."""

    median_s: float
    min_s: float
    runs_s: list[float]
    warmup_s: list[float]  # the first calls (JIT compilation, caches), reported apart


def time_it(fn: Callable[[], Any], repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP) -> Timing:
    """Run ``fn`` ``warmup`` times untimed-for-the-median, then ``repeats`` times; seconds per run."""
    if QUICK:
        repeats, warmup = 1, 0
    warm = []
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    runs = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return Timing(statistics.median(runs), min(runs), runs, warm)


def time_alternating(
    a: Callable[[], Any], b: Callable[[], Any], repeats: int = DEFAULT_REPEATS, warmup: int = DEFAULT_WARMUP
) -> tuple[Timing, Timing, tuple[float, float]]:
    """Time ``a`` and ``b`` in turn (a, b, a, b, ...), so that a shared, loaded machine slows both alike.

    Returns both wall-clock timings and the median CPU seconds of this process (all threads) per run of each:
    the cost of the work itself, less sensitive than wall time to what other processes do meanwhile.
    """
    if QUICK:
        repeats, warmup = 1, 0
    for _ in range(warmup):
        a()
        b()
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(repeats, 1)):
        for k, fn in enumerate((a, b)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            walls[k].append(time.perf_counter() - t0)
            cpus[k].append(time.process_time() - c0)
    ta, tb = (Timing(statistics.median(w), min(w), w, []) for w in walls)
    return ta, tb, (statistics.median(cpus[0]), statistics.median(cpus[1]))


def timing_dict(timing: Timing) -> dict[str, Any]:
    """A ``Timing`` as rounded JSON-ready figures."""
    return {
        k: [round(v, 4) for v in x] if isinstance(x, list) else round(x, 4) for k, x in asdict(timing).items()
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def write_results(name: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` (plus the machine) to ``bench/results/<name>.json``; returns the path.

    ``THALIA_BENCH_TAG=before`` writes ``<name>-before.json`` instead (to keep the figures of another run).
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tag = os.environ.get("THALIA_BENCH_TAG", "").strip()
    path = RESULTS_DIR / (f"{name}-{tag}.json" if tag else f"{name}.json")
    payload = {"name": name, "machine": machine(), **figures}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def ratio_line(
    name: str, ours: Timing, naive: Timing, ours_label: str = "ours", naive_label: str = "naive"
) -> str:
    """One line: both medians and how many times faster ours is."""
    ratio = naive.median_s / ours.median_s if ours.median_s > 0 else float("inf")
    return (
        f"{name}: {ours_label} {ours.median_s:.3f} s (min {ours.min_s:.3f}) vs {naive_label} "
        f"{naive.median_s:.3f} s (min {naive.min_s:.3f}) -> {ratio:.1f}x"
    )


def print_ratio(
    name: str, ours: Timing, naive: Timing, ours_label: str = "ours", naive_label: str = "naive"
) -> float:
    """Print ``ratio_line`` and return the ratio naive / ours (of the medians)."""
    print(ratio_line(name, ours, naive, ours_label, naive_label))
    return naive.median_s / ours.median_s if ours.median_s > 0 else float("inf")
