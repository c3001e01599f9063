"""What a user waits for in the browser: input event -> the new image on the map's canvas, in headless Chromium.

Serves a root with ``thalia-viewer serve`` (from this checkout, or from ``--source DIR`` / ``--ref GIT_REF``:
another checkout's app, so before / after run the very same measurement), drives Debian's Chromium through
Playwright at 1600 x 1000 px, and times each action from its input event (key down, mouse up, wheel,
select change) to the moment the map's pixels stop changing: a ``requestAnimationFrame`` loop in the page
hashes every pixel of the map's canvases each frame (``bench/browser_page.js``); the latency is the time of
the last change, once the page is idle and no pixel changed for ``QUIET_S``. The first change is reported
too (e.g. a zoom first stretches the old image at once; the sharper one comes later).

Actions (explore, then annotate with a fresh annotation store):

- ``pair_step``: ``j`` / ``k`` (the next / previous pair), one per second as a reviewer does;
- ``layer``: the bottom layer switched between wrapped phase and coherence;
- ``overlay``: ``m``, the mask overlays off / on, at a pair with a mask;
- ``zoom``: two mouse-wheel notches in / out over the map's centre (the image is made again at the new view);
- ``frame``: another frame picked in the frame selector (its default pair);
- ``brush``: a short brush stroke, mouse-up to the painted pixels;
- ``fill``: a fill click on that stroke with another class;
- ``undo``: ``z``, undoing that fill.

Beside each action: the raw read (``Frame.read``, zarr -> numpy) of the full-resolution pixels the action
shows, measured in the same run: a yardstick of the machine's load (the figures of a loaded machine are
not comparable with a quiet one; compare before / after from the same run conditions).

    python -m bench.bench_browser                     # both roots, this checkout, 10 repeats
    python -m bench.bench_browser --roots 512 --repeats 3 --label quick
    python -m bench.bench_browser --ref 1c10ba5 --label before   # the app as of a commit (git archive)
    python -m bench.bench_browser --table bench/results/browser_before.json bench/results/browser_after.json

JSON: ``bench/results/browser_<label>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.common import CHROMIUM, FLAGS, RESULTS_DIR, free_port, machine, write_results

REPO: Final = Path(__file__).resolve().parents[1]
PAGE_JS: Final = Path(__file__).with_name("browser_page.js")
DATA_DIR: Final = RESULTS_DIR / "data"
VIEWPORT: Final = {"width": 1600, "height": 1000}
IDLE: Final = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
DEFAULT_REPEATS: Final = 10
QUIET_S: Final = 1.0  # no pixel change for this long (and Bokeh idle): the action is over
#: Actions whose first change is the browser's own (a zoom stretches the old image, a stroke is drawn live):
#: the server's image may come later, so they wait longer for the last change.
LATE_QUIET_S: Final = 5.0
ACTION_TIMEOUT_S: Final = 60.0
LOAD_TIMEOUT_MS: Final = 180_000
MIN_COLOURS: Final = 100  # a map showing an interferogram (a blank one shows a handful)
THINK_S: Final = 1.0  # pause between two pair steps (a reviewer looks at each pair)
SETTLE_S: Final = 0.4
#: Roots: name -> (frame size px, dates per frame, frames). 512: the default synthetic root (as `synth`).
ROOTS: Final[dict[str, tuple[int, int, int]]] = {"512": (512, 12, 3), "4096": (4096, 8, 2)}
ACTIONS: Final = ("pair_step", "layer", "overlay", "zoom", "frame", "brush", "fill", "undo")
#: What each action shows at full resolution (layer keys), for the raw read beside it.
READS: Final[dict[str, tuple[str, ...]]] = {
    "pair_step": ("phase", "deformation"),
    "layer": ("coherence",),
    "overlay": ("deformation",),
    "zoom": ("phase", "deformation"),
    "frame": ("phase", "deformation"),
    "brush": ("activity",),
    "fill": ("activity",),
    "undo": ("activity",),
}


# ------------------------------------------------------------------------------------------- data
def bench_root(name: str) -> Path:
    """The synthetic root ``name`` of :data:`ROOTS` under ``bench/results/data`` (generated on first use)."""
    size, dates, frames = ROOTS[name]
    root = DATA_DIR / f"browser{name}"
    if not (root / "annotations.json").exists():
        from thalia_viewer.core.synth.writer import write_dataset

        print(f"generating {root} ({frames} frames of {size} px, {dates} dates; one-off) ...", flush=True)
        write_dataset(
            root,
            n_frames=frames,
            shape=(size, size),
            n_dates=dates,
            seed=3 if size > 512 else 0,
            overwrite=True,
        )
    return root


def raw_read_ms(root: Path, keys: tuple[str, ...], repeats: int = 5) -> float:
    """Median ms of ``Frame.read`` of ``keys`` at the first positive pair of the first frame (zarr -> numpy)."""
    from thalia_viewer.core.dataset import ThaliaDataset

    ds = ThaliaDataset(root)
    frame = ds.frame(ds.frames[0])
    pair = (frame.positives or frame.pairs)[0]
    runs = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        frame.read(pair, list(keys))
        runs.append(time.perf_counter() - t0)
    return 1000 * statistics.median(runs[1:])


# ------------------------------------------------------------------------------------------ server
def export_ref(ref: str, into: Path) -> Path:
    """The files of git ``ref`` of this repository (``git archive``, no worktree metadata touched)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


@contextlib.contextmanager
def served(root: Path, source: Path, store: Path, log: Path) -> Iterator[str]:
    """``thalia-viewer serve ROOT`` of the app in ``source`` (its package first on the path); yields the URL."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    cmd = [
        sys.executable,
        "-m",
        "thalia_viewer.cli",
        "serve",
        str(root),
        "--port",
        str(port),
        "--store",
        str(store),
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=source, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}") from None
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}/main"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


# ------------------------------------------------------------------------------------------- page
@dataclass
class Sample:
    """One timed action: ms from its input event to the first and the last change of the map's pixels."""

    first_ms: float | None
    last_ms: float | None
    changes: int
    t0_from_event: bool


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        last = [s.last_ms for s in self.samples if s.last_ms is not None]
        first = [s.first_ms for s in self.samples if s.first_ms is not None]
        out: dict[str, Any] = {"n": len(last), "failures": self.failures}
        if last:
            out |= {
                "median_ms": round(statistics.median(last), 1),
                "p95_ms": round(float(np.percentile(last, 95)), 1),
                "min_ms": round(min(last), 1),
                "first_median_ms": round(statistics.median(first), 1),
                "runs_ms": [round(v, 1) for v in last],
                "first_ms": [round(v, 1) for v in first],
            }
        return out


class MapTimer:
    """Times actions on a page by watching the pixels of its map (``browser_page.js``)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self, url: str) -> None:
        page = self.page
        page.goto(url, timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
        page.locator(".thalia-map canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
        page.evaluate(PAGE_JS.read_text())
        page.wait_for_function(
            f"() => __thaliaBench.colours() >= {MIN_COLOURS}", timeout=LOAD_TIMEOUT_MS
        )  # drawn
        self.settle(2.0)

    def settle(self, seconds: float = SETTLE_S) -> None:
        """Idle, no pixel change for ``seconds``."""
        self.page.evaluate("() => __thaliaBench.arm([])")
        deadline = time.monotonic() + ACTION_TIMEOUT_S
        last = self.page.evaluate("() => __thaliaBench.hashAll()")
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.page.evaluate("() => __thaliaBench.hashAll()")
            idle = self.page.evaluate(IDLE)
            if now != last or not idle:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= seconds:
                return

    def time(self, types: list[str], act: Callable[[], None], quiet_s: float = QUIET_S) -> Sample:
        """Arm, run ``act`` (which makes an input event of ``types``), wait for the map to settle (no pixel
        change for ``quiet_s``)."""
        page = self.page
        page.evaluate("(t) => __thaliaBench.arm(t)", types)
        act()
        deadline = time.monotonic() + ACTION_TIMEOUT_S
        while True:
            st = page.evaluate("() => __thaliaBench.state()")
            last = st["changes"][-1] if st["changes"] else None
            if st["changed"] and st["idle"] and last is not None and st["now"] - last >= quiet_s * 1000:
                break
            if time.monotonic() > deadline:
                t0 = st["t0"] if st["t0"] is not None else st["armAt"]
                if not st["changed"] and last is not None:  # it changed and came back: count the last change
                    return Sample(st["changes"][0] - t0, last - t0, len(st["changes"]), st["t0"] is not None)
                return Sample(None, None, len(st["changes"]), st["t0"] is not None)
            time.sleep(0.05)
        t0 = st["t0"] if st["t0"] is not None else st["armAt"]
        return Sample(st["changes"][0] - t0, last - t0, len(st["changes"]), st["t0"] is not None)

    def canvas_box(self) -> dict[str, float]:
        canvas = self.page.locator(".thalia-map canvas").first
        canvas.scroll_into_view_if_needed()  # the time-series strip may scroll the page after an edit
        return canvas.bounding_box()

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """Page coordinates of a point of the map canvas, as fractions of its box."""
        box = self.canvas_box()
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def _record(series: Series, sample: Sample, what: str) -> None:
    if sample.last_ms is None:
        series.failures.append(f"{what}: the map did not change within {ACTION_TIMEOUT_S:.0f} s")
    else:
        series.samples.append(sample)


# ---------------------------------------------------------------------------------------- actions
def _positive_url(
    base: str, root: Path, frame_index: int = 0, mode: str | None = None
) -> tuple[str, list[str], int]:
    """URL of the first positive pair of a frame, the frame's pair keys and that pair's index."""
    from thalia_viewer.core.dataset import ThaliaDataset

    ds = ThaliaDataset(root)
    frame_id = ds.frames[frame_index]
    frame = ds.frame(frame_id)
    pair = (frame.positives or frame.pairs)[0]
    keys = [p.name for p in frame.pairs]
    query = f"?frame={frame_id}&pair={pair.name}" + (f"&mode={mode}" if mode else "")
    return base + query, keys, keys.index(pair.name)


def explore_actions(
    timer: MapTimer, url: str, root: Path, repeats: int, out: dict[str, Series], only: set[str]
) -> None:
    from thalia_viewer.core import schema
    from thalia_viewer.core.dataset import ThaliaDataset

    page = timer.page
    start, keys, index = _positive_url(url, root)
    if "pair_step" in only:
        timer.open(start)
        page.mouse.move(5, 5)
        step = 1
        for i in range(repeats + 1):  # +1: a warm-up step
            if not 0 <= index + step < len(keys):
                step = -step
            index += step
            sample = timer.time(["keydown"], lambda s=step: page.keyboard.press("j" if s > 0 else "k"))
            if i:
                _record(out["pair_step"], sample, f"step to {keys[index]}")
            timer.settle(THINK_S)
    if "layer" in only:
        timer.open(start)
        bottom = page.locator(
            f"select:has(option:text-is('{schema.layer('coherence').title}')):not(:has(option:text-is('—')))"
        ).first
        for i in range(repeats + 1):
            title = schema.layer("coherence" if i % 2 == 0 else "phase").title
            sample = timer.time(["input", "change"], lambda t=title: bottom.select_option(label=t))
            if i:
                _record(out["layer"], sample, f"layer {title}")
            timer.settle()
    if "overlay" in only:
        timer.open(start)
        page.mouse.move(5, 5)
        for i in range(repeats + 1):
            sample = timer.time(["keydown"], lambda: page.keyboard.press("m"))
            if i:
                _record(out["overlay"], sample, "m")
            timer.settle()
    if "zoom" in only:
        timer.open(start)
        for i in range(repeats + 1):
            x, y = timer.at(0.5, 0.55)
            page.mouse.move(x, y)
            timer.settle(0.3)
            # two notches (about 1.5x): past what the images on screen can show sharply, a new image is due
            sample = timer.time(
                ["wheel"], lambda d=(-1 if i % 2 == 0 else 1): page.mouse.wheel(0, 240 * d), LATE_QUIET_S
            )
            if i:
                _record(out["zoom"], sample, "wheel")
            timer.settle()
    if "frame" in only:
        frames = ThaliaDataset(root).frames
        if len(frames) > 1:
            timer.open(start)
            for i in range(repeats + 1):
                target = frames[(i + 1) % 2]
                sample = timer.time(
                    ["input", "change"], lambda f=target: page.locator("select").first.select_option(f)
                )
                if i:
                    _record(out["frame"], sample, f"frame {target}")
                timer.settle(THINK_S)


def annotate_actions(
    timer: MapTimer, url: str, root: Path, repeats: int, out: dict[str, Series], only: set[str]
) -> None:
    """Per repeat: a brush stroke (Spheroid, rare in the data) at a new place, a fill click on it (Unidentified),
    ``z`` undoing the fill."""
    page = timer.page
    start, _, _ = _positive_url(url, root, mode="annotate")
    timer.open(start)
    for _ in range(3):
        page.keyboard.press("+")  # a radius of 12 data pixels
    for i in range(repeats + 1):
        page.keyboard.press("b")
        page.keyboard.press("4")
        timer.settle(0.3)
        fy = 0.22 + 0.6 * (i % 12) / 11
        points = [timer.at(0.30 + 0.02 * k, fy) for k in range(8)]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=3)

        sample = timer.time(["pointerup", "mouseup"], page.mouse.up, LATE_QUIET_S)
        if i and "brush" in only:
            _record(out["brush"], sample, f"stroke {i}")
        timer.settle()
        page.keyboard.press("f")
        page.keyboard.press("6")
        timer.settle(0.3)
        x, y = points[4]
        sample = timer.time(
            ["pointerup", "mouseup", "click"], lambda x=x, y=y: page.mouse.click(x, y), LATE_QUIET_S
        )
        if i and "fill" in only:
            _record(out["fill"], sample, f"fill {i}")
        timer.settle()
        page.mouse.move(5, 5)
        sample = timer.time(["keydown"], lambda: page.keyboard.press("z"), LATE_QUIET_S)
        if i and "undo" in only:
            _record(out["undo"], sample, f"undo {i}")
        timer.settle()


def run_root(name: str, source: Path, repeats: int, only: set[str]) -> dict[str, Any]:
    """Every action on root ``name`` (a fresh server and annotation store); figures by action."""
    from playwright.sync_api import sync_playwright

    root = bench_root(name)
    out = {a: Series() for a in ACTIONS}
    with (
        tempfile.TemporaryDirectory(prefix="thalia-bench-") as tmp,
        served(root, source, Path(tmp) / "store", Path(tmp) / "panel.log") as url,
    ):
        log = Path(tmp) / "panel.log"
        load = [round(v, 2) for v in os.getloadavg()]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                timer = MapTimer(page)
                timer.open(url)  # warm-up: the first session compiles Datashader's kernels
                if only & {"pair_step", "layer", "overlay", "zoom", "frame"}:
                    explore_actions(timer, url, root, repeats, out, only)
                if only & {"brush", "fill", "undo"}:
                    context.close()
                    context = browser.new_context(viewport=VIEWPORT)
                    timer = MapTimer(context.new_page())
                    annotate_actions(timer, url, root, repeats, out, only)
            finally:
                browser.close()
        text = log.read_text(errors="replace")
        tracebacks = text.count("Traceback")
        traceback_texts = [t[:1500] for t in text.split("Traceback")[1:4]]
        load_after = [round(v, 2) for v in os.getloadavg()]
    raw_read_ms(
        root, tuple(k for a in ACTIONS for k in READS[a]), repeats=1
    )  # opens the store, warms the caches
    raw = {a: round(raw_read_ms(root, READS[a]), 1) for a in ACTIONS}
    size, dates, frames = ROOTS[name]
    return {
        "root": str(root),
        "frame_px": size,
        "dates": dates,
        "frames": frames,
        "load_before": load,
        "load_after": load_after,
        "server_tracebacks": tracebacks,
        "traceback_texts": traceback_texts,
        "console_errors": errors[:20],
        "actions": {a: {**out[a].summary(), "raw_read_ms": raw[a]} for a in ACTIONS if a in only},
    }


# ------------------------------------------------------------------------------------------ table
def table(results: list[dict[str, Any]]) -> str:
    """One row per (run, root, action): median, p95, first change, n, and the raw read beside."""
    lines = [
        f"{'run':<10} {'root':>5} {'action':<10} {'median':>8} {'p95':>8} {'first':>8} {'n':>3} {'raw read':>9}  load"
    ]
    for res in results:
        for name, r in res["roots"].items():
            for action, a in r["actions"].items():
                med = f"{a['median_ms']:.0f} ms" if "median_ms" in a else "-"
                p95 = f"{a['p95_ms']:.0f} ms" if "p95_ms" in a else "-"
                first = f"{a['first_median_ms']:.0f} ms" if "first_median_ms" in a else "-"
                fail = f"  ({len(a['failures'])} failed)" if a["failures"] else ""
                lines.append(
                    f"{res['label']:<10} {name:>5} {action:<10} {med:>8} {p95:>8} {first:>8} {a['n']:>3} "
                    f"{a['raw_read_ms']:>6.0f} ms  {r['load_before'][0]:.1f}{fail}"
                )
    return "\n".join(lines)


def run(
    roots: list[str], repeats: int, label: str, source: Path, only: set[str], ref: str | None = None
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "label": label,
        "source": str(source),
        "ref": ref,
        "repeats": repeats,
        "viewport": VIEWPORT,
        "quiet_s": QUIET_S,
        "roots": {},
    }
    for name in roots:
        print(f"--- {label}: root {name}", flush=True)
        figures["roots"][name] = run_root(name, source, repeats, only)
        figures["quiet_s"], figures["late_quiet_s"] = QUIET_S, LATE_QUIET_S
        print(table([figures]), flush=True)
    path = write_results(f"browser_{label}", figures)
    print(f"wrote {path}")
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m bench.bench_browser [--roots 512 4096] [--repeats N] [--ref REF | --source DIR] [--label L]``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roots", nargs="+", default=list(ROOTS), choices=list(ROOTS))
    ap.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    ap.add_argument(
        "--label", default="current", help="names the JSON file: bench/results/browser_<label>.json"
    )
    ap.add_argument(
        "--source", type=Path, default=REPO, help="checkout whose app is served (default: this one)"
    )
    ap.add_argument(
        "--ref", help="serve the app of this git ref (exported with git archive into a temporary folder)"
    )
    ap.add_argument("--actions", nargs="+", default=list(ACTIONS), choices=list(ACTIONS))
    ap.add_argument("--table", nargs="+", type=Path, help="print the table of earlier JSON results and exit")
    args = ap.parse_args([] if argv is None and __name__ != "__main__" else argv)
    if args.table:
        results = [json.loads(p.read_text()) for p in args.table]
        print(table(results))
        return {"tables": [str(p) for p in args.table]}
    print(f"machine: {machine()}", flush=True)
    if args.ref:
        with tempfile.TemporaryDirectory(prefix="thalia-ref-") as tmp:
            source = export_ref(args.ref, Path(tmp) / "src")
            return run(args.roots, args.repeats, args.label, source, set(args.actions), ref=args.ref)
    return run(args.roots, args.repeats, args.label, args.source.resolve(), set(args.actions))


if __name__ == "__main__":
    main()
