"""Many people on one server: N concurrent browser sessions load a mode and step through pairs.

Starts the app the way ``thalia-viewer serve`` does (same ``panel serve`` command line, with its start-up
warm-up), waits until every process reports it is warm, then:

1. the first page after start: one session loads the mode (time until the page is idle with its plot);
2. for each level N (default 1, 8, 16): N sessions at once (one headless Chromium, one context each),
   each loads the mode, then presses ``j`` ``--steps`` times, each step timed from the key press until the
   URL names the next pair and the page is idle again;

and prints per level the load and step latency percentiles (p50 / p95), the errors (console errors,
timeouts), the server's RSS (all its processes) before and after, and the growth per session. The
comparison in one run: the p95 step at N sessions against the single session's (target on 2 cores: 8
sessions within 2x, no error, RSS growth <= 150 MB a session). Figures go to ``bench/results/load.json``.

    python -m bench.bench_load                            # 1, 8, 16 sessions of explore, 10 steps each
    python -m bench.bench_load --sessions 1 4 --steps 3   # a quick check
    python -m bench.bench_load --num-procs 2 --mode annotate
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import psutil

from bench.common import RESULTS_DIR, free_port, write_results
from thalia_viewer.app import theme
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.serve import panel_command
from thalia_viewer.app.warm import READY_LINE
from thalia_viewer.core.annotations import STORE_ENV

CHROMIUM: Final = os.environ.get("THALIA_CHROMIUM", "/usr/bin/chromium")
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
IDLE: Final = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
PAIR_IN_URL: Final = "() => new URLSearchParams(window.location.search).get('pair')"
PLOT: Final = {"review": ".thalia-section-sides canvas"}  # default: the map's canvas
START_TIMEOUT_S: Final = 600  # the warm-up of a cold process on a busy machine
PAGE_TIMEOUT_S: Final = 180
STEP_TIMEOUT_S: Final = (
    120  # a step of a page still finishing its first load can wait that long on a busy machine
)
TARGET_P95_RATIO: Final = 2.0
TARGET_MB_PER_SESSION: Final = 150.0


def default_root() -> Path:
    """The default synthetic dataset (3 frames of 512 px), generated once under ``bench/results/data``."""
    from thalia_viewer.core.synth.writer import write_dataset

    root = RESULTS_DIR / "data" / "default"
    if not (root / "annotations.json").exists():
        print(f"generating {root} (one-off) ...", flush=True)
        write_dataset(root, overwrite=True)
    return root


def server_rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children (``--num-procs`` forks), MB."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


class Server:
    """``panel serve`` of the app (the CLI's command line), its log, and when its processes are warm."""

    def __init__(self, root: Path, num_procs: int, store: Path) -> None:
        self.port = free_port()
        self.log_path = Path(tempfile.mkdtemp(prefix="thalia-load-")) / "panel.log"
        extra = ["--num-procs", str(num_procs)] if num_procs != 1 else []
        env = {**os.environ, ROOT_ENV: str(root), STORE_ENV: str(store), theme.STATIC_ENV: theme.STATIC_ROUTE}
        self.started = time.perf_counter()
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            panel_command(str(root), port=self.port, extra=extra),
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.num_procs = num_procs
        self.url = f"http://127.0.0.1:{self.port}/main"

    def wait_warm(self) -> float:
        """Block until the port listens and every process logged its warm-up; seconds since the start."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"panel serve exited:\n{self.log_path.read_text()[-3000:]}")
            text = self.log_path.read_text(errors="replace")
            warm = text.count(READY_LINE) + text.count("warm-up failed")
            if warm >= self.num_procs and self._listening():
                return time.perf_counter() - self.started
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not warm after {START_TIMEOUT_S} s:\n{text[-3000:]}")
            time.sleep(0.25)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def rss_mb(self) -> float:
        return server_rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


async def wait_idle(page: Any, timeout_s: float) -> None:
    await page.wait_for_function(IDLE, timeout=timeout_s * 1000)


async def one_session(browser: Any, url: str, mode: str, steps: int, out: dict[str, list]) -> None:
    """Load the mode, then press ``j`` ``steps`` times; appends load / step seconds and errors to ``out``."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text.splitlines()[0][:200]) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc).splitlines()[0][:200]))
    try:
        t0 = time.perf_counter()
        await page.goto(f"{url}?mode={mode}", timeout=PAGE_TIMEOUT_S * 1000)
        await wait_idle(page, PAGE_TIMEOUT_S)
        await page.locator(PLOT.get(mode, ".thalia-map canvas")).first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
        await wait_idle(page, PAGE_TIMEOUT_S)
        out["load_s"].append(time.perf_counter() - t0)
        await page.wait_for_function(
            PAIR_IN_URL, timeout=PAGE_TIMEOUT_S * 1000
        )  # the app has written the URL
        await wait_idle(page, PAGE_TIMEOUT_S)  # and finished what its load started
        for _ in range(steps):
            before = await page.evaluate(PAIR_IN_URL)
            t0 = time.perf_counter()
            await page.keyboard.press("j")
            await page.wait_for_function(
                f"() => ({PAIR_IN_URL})() !== {json.dumps(before)}", timeout=STEP_TIMEOUT_S * 1000
            )
            await wait_idle(page, STEP_TIMEOUT_S)
            out["step_s"].append(time.perf_counter() - t0)
    except Exception as exc:  # a timeout or a crash is an error of this level, not of the benchmark
        out["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        out["errors"].extend(errors)
        await context.close()


async def run_level(browser: Any, url: str, mode: str, sessions: int, steps: int) -> dict[str, list]:
    out: dict[str, list] = {"load_s": [], "step_s": [], "errors": []}
    await asyncio.gather(*(one_session(browser, url, mode, steps, out) for _ in range(sessions)))
    return out


async def drive(server: Server, mode: str, levels: list[int], steps: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    figures: dict[str, Any] = {"levels": {}}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            first = await run_level(browser, server.url, mode, 1, 0)
            figures["first_page_s"] = round(first["load_s"][0], 3) if first["load_s"] else None
            figures["first_page_errors"] = first["errors"]
            print(
                f"first page after start: {figures['first_page_s']} s, errors {first['errors'] or 'none'}",
                flush=True,
            )
            for n in levels:
                rss0 = server.rss_mb()
                t0 = time.perf_counter()
                out = await run_level(browser, server.url, mode, n, steps)
                wall = time.perf_counter() - t0
                rss1 = server.rss_mb()
                level = {
                    "sessions": n,
                    "steps_each": steps,
                    "wall_s": round(wall, 1),
                    "load": percentiles(out["load_s"]),
                    "step": percentiles(out["step_s"]),
                    "errors": len(out["errors"]),
                    "error_samples": out["errors"][:5],
                    "rss_before_mb": round(rss0, 1),
                    "rss_after_mb": round(rss1, 1),
                    "rss_growth_per_session_mb": round((rss1 - rss0) / n, 1),
                }
                figures["levels"][str(n)] = level
                print(
                    f"{n:3d} sessions: load p50 {level['load']['p50']} s p95 {level['load']['p95']} s | step p50 "
                    f"{level['step']['p50']} s p95 {level['step']['p95']} s (n={level['step']['n']}) | errors "
                    f"{level['errors']} | RSS {rss0:.0f} -> {rss1:.0f} MB ({level['rss_growth_per_session_mb']} MB a "
                    f"session) | {wall:.0f} s",
                    flush=True,
                )
                for sample in level["error_samples"]:
                    print(f"      error: {sample}", flush=True)
        finally:
            await browser.close()
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", help="dataset root (default: the default synthetic dataset under bench/results/data)"
    )
    parser.add_argument("--mode", default="explore", choices=("explore", "annotate", "review", "train"))
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=[1, 8, 16], help="concurrent sessions per level"
    )
    parser.add_argument("--steps", type=int, default=10, help="pairs each session steps through with j")
    parser.add_argument("--num-procs", type=int, default=1, help="server processes (panel serve --num-procs)")
    args = parser.parse_args(argv or [])  # python -m bench.run: the defaults
    root = Path(args.root) if args.root else default_root()
    store = Path(tempfile.mkdtemp(prefix="thalia-load-store-")) / "annotations"
    server = Server(root, args.num_procs, store)
    try:
        warm_s = server.wait_warm()
        print(
            f"server: {args.num_procs} process(es), warm {warm_s:.1f} s after start, RSS {server.rss_mb():.0f} MB "
            f"({server.url}, log {server.log_path})",
            flush=True,
        )
        figures = asyncio.run(drive(server, args.mode, args.sessions, args.steps))
    finally:
        server.stop()
    figures.update(
        mode=args.mode, num_procs=args.num_procs, root=str(root), warm_after_start_s=round(warm_s, 1)
    )
    levels = figures["levels"]
    single = levels.get("1", {}).get("step", {}).get("p95")
    for level in levels.values():
        if single and level["step"]["p95"] == level["step"]["p95"]:
            level["p95_vs_single"] = round(level["step"]["p95"] / single, 2)
    eight = levels.get("8")
    if eight is not None and single:
        figures["ratio"] = eight.get("p95_vs_single")
        ok = (
            eight["p95_vs_single"] <= TARGET_P95_RATIO
            and eight["errors"] == 0
            and eight["rss_growth_per_session_mb"] <= TARGET_MB_PER_SESSION
        )
        print(
            f"8 sessions: p95 step {eight['p95_vs_single']}x the single session's (target <= {TARGET_P95_RATIO}), "
            f"{eight['errors']} errors, {eight['rss_growth_per_session_mb']} MB a session "
            f"(target <= {TARGET_MB_PER_SESSION}): {'meets' if ok else 'misses'} the target",
            flush=True,
        )
    path = write_results("load", figures)
    print(f"figures: {path}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
