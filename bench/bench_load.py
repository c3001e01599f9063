"""Many people on one server: N concurrent browser sessions load a mode and step through pairs.

Starts the app the way ``thalia-viewer serve`` does (same ``panel serve`` command line, with its start-up
warm-up), waits until every process reports it is warm, then:

1. the first page after start: one session loads the mode (time until the page is idle with its plot);
2. for each scenario and level N (default 1, 8, 16): N sessions at once (each its own headless Chromium, as
   each person of a lab has a browser; ``--shared-browser``: one Chromium, one context a session; Debian's
   headless shell where installed, ``make headless-shell``, else Chromium, ``--browser PATH``) load the
   mode; once all have loaded (``--overlap``: each at once), each presses ``j`` ``--steps`` times. A level of fewer than 16 sessions runs again with new sessions until 16 have stepped (the single
   session: 16 rounds, 8 sessions: 2), so that every level's p95 is of as many steps (160 by default): not
   nearly the maximum of 10, and not decided by the few seconds of one busy spell of a shared machine;

   - ``closed``: closed loop, every session presses the next key as soon as its page shows the new pair (the
     most a server can be asked; nobody types that fast, but it bounds what any pace sees);
   - ``paced``: a human pace, one key every 1-2 s (uniformly random), each session starting at a random
     offset (a lab browsing together).

What a step costs, per step, in the page (the page's clock, from its ``keydown``) and around it:

- ``step``: from the page's ``keydown`` until the first frame the page painted after applying the step's own
  patch (the map's show, the pair pickers, the address naming the new pair): input event to pixels, the
  figure of the target;
- ``driver``: the same step seen from the benchmark (the key press sent until the page's answer came back):
  ``step`` plus the round trips through Playwright's driver, which every session of a level shares (it is
  printed, not judged: a lab has no driver);
- ``pixels``: the new pair's map painted on the canvas (instant when the map's prefetched neighbours are in
  the page: they arrive with the previous step's patch, so a closed loop that presses again within
  milliseconds often misses them, a person never does);
- ``settled``: the last update the server sent for the step applied in the page (the label card, the
  time-series strip and its thumbnails, the dates matrix, the mode links follow the step's own patch: the
  last websocket message handled before the next key, or before a quiet 0.5 s after the last step);

on the server (``$THALIA_STEP_LOG``, :mod:`thalia_viewer.app.steplog`; one machine, one clock):

- ``queue``: from the browser sending the key to the server starting to handle it (the websocket, the
  server process waiting for a core or for its event loop);
- ``handler``: the key's handler, and its CPU time (the rest is waiting for the GIL or a core);
- ``last frame``: from the browser sending the key to the last frame the server wrote for the step, and the
  kB and websocket frames it sent for it;

and the CPU seconds the server's processes and the Chromium processes used while the sessions stepped (the
benchmark's browsers share the server's cores; a lab's run on its people's machines), with a page's
main-thread milliseconds per step (Chromium's own metrics: all tasks, scripts, style, layout). Printed per
scenario and level: p50 / p95 of each, errors (console errors, timeouts), the server's RSS (all its
processes) before and after with the growth per session, and the p95 step against the single session's of
the same scenario (target on 2 cores: 8 sessions within 2x, no error, RSS growth <= 150 MB a session).
Figures go to ``bench/results/load.json``.

    python -m bench.bench_load                            # 1, 8, 16 sessions, closed and paced, 10 steps
    python -m bench.bench_load --num-procs 1 2            # the same with 1 and with 2 server processes
    python -m bench.bench_load --sessions 1 4 --steps 3 --scenarios closed   # a quick check
    python -m bench.bench_load --profile /tmp/prof        # + pyinstrument of the server (1 process)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import psutil

from bench.common import CHROMIUM, FLAGS, HEADLESS_SHELL, RESULTS_DIR, free_port, write_results
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.serve import panel_command
from thalia_viewer.app.steplog import PROFILE_ENV, STEP_LOG_ENV
from thalia_viewer.app.warm import READY_LINE
from thalia_viewer.core.annotations import STORE_ENV

IDLE: Final = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
PAIR_IN_URL: Final = "() => new URLSearchParams(window.location.search).get('pair')"
PLOT: Final = {"review": ".thalia-section-sides canvas"}  # default: the map's canvas
START_TIMEOUT_S: Final = 600  # the warm-up of a cold process on a busy machine
PAGE_TIMEOUT_S: Final = 180
STEP_TIMEOUT_S: Final = (
    120  # a step of a page still finishing its first load can wait that long on a busy machine
)
TARGET_P95_RATIO: Final = 2.0
SAMPLE_SESSIONS: Final = 16  # a smaller level is run again until it has stepped as many sessions
TARGET_MB_PER_SESSION: Final = 150.0
SCENARIOS: Final = ("closed", "paced")
PACE_S: Final = (1.0, 2.0)  # a paced session's time between two keys, uniformly random
QUIET_S: Final = 0.5  # after the last step: no message for this long and the step has settled
SETTLE_CAP_S: Final = 10.0
#: In every page before its scripts: key presses, address changes (and the first frame after each: the step's
#: own patch on screen) and websocket messages, timed (page clock).
PROBE_JS: Final = """
(() => {
  const B = window.__bench = {keys: [], urls: [], frames: [], msgs: [], waiting: []};
  window.addEventListener('keydown', () => { B.keys.push(performance.now()); }, true);
  const push = history.pushState.bind(history);
  history.pushState = (s, t, u) => {
    const at = performance.now();
    B.urls.push([at, String(u)]);
    const out = push(s, t, u);
    // the frame that shows the patch which changed the address: after the next paint
    requestAnimationFrame(() => setTimeout(() => {
      B.frames.push([performance.now(), String(u)]);
      const waiting = B.waiting;
      B.waiting = [];
      waiting.forEach((fn) => fn());
    }, 0));
    return out;
  };
  const WS = window.WebSocket;
  class Probe extends WS {
    set onmessage(fn) {
      super.onmessage = (e) => {
        const t0 = performance.now();
        try { return fn.call(this, e); }
        finally { B.msgs.push([t0, performance.now() - t0]); if (B.msgs.length > 4000) { B.msgs.shift(); } }
      };
    }
    get onmessage() { return super.onmessage; }
  }
  window.WebSocket = Probe;
})();
"""
#: Resolves once the page has painted the frame after its address named another pair than ``before``, with
#: the step's times (page clock, ms): the latest key press, the address naming the pair, that frame, and the map
#: painting the pair. One round trip a step: the benchmark's driver stays out of the pages' way.
STEP_JS: Final = """
(before) => new Promise((resolve) => {
  const B = window.__bench;
  const pairOf = (u) => new URL(u, window.location.href).searchParams.get('pair');
  const check = () => {
    const key = B.keys[B.keys.length - 1];
    const frame = B.frames.find(([t, u]) => t >= key && pairOf(u) !== before);
    if (frame == null) { B.waiting.push(check); return; }
    const pair = pairOf(frame[1]);
    const url = B.urls.find(([t, u]) => t >= key && pairOf(u) === pair);
    let painted = null;
    for (const client of (window.__thaliaMaps || new Map()).values()) {
      for (const [t, what, detail] of client.trace) {
        if (what === 'painted' && t >= key && String(detail).endsWith('/' + pair)) { painted = t; break; }
      }
    }
    resolve({pair, key, url: url ? url[0] : null, frame: frame[0], painted});
  };
  check();
})
"""
#: When the last websocket message received before page time ``k`` (ms; null: now) was handled.
LAST_BEFORE_JS: Final = """
(k) => {
  const m = window.__bench.msgs.filter(([t]) => k == null || t < k);
  return m.length ? m[m.length - 1][0] + m[m.length - 1][1] : null;
}
"""


def default_browser() -> str:
    """The headless shell where installed (a fifth less CPU a step than the full Chromium, on the cores the
    browsers share with the server: see :data:`bench.common.HEADLESS_SHELL`), else Chromium."""
    return HEADLESS_SHELL if Path(HEADLESS_SHELL).exists() else CHROMIUM


def default_root() -> Path:
    """The default synthetic dataset (3 frames of 512 px), generated once under ``bench/results/data``."""
    from thalia_viewer.core.synth.writer import write_dataset

    root = RESULTS_DIR / "data" / "default"
    if not (root / "annotations.json").exists():
        print(f"generating {root} (one-off) ...", flush=True)
        write_dataset(root, overwrite=True)
    return root


def _tree(pid: int) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (``--num-procs`` forks), MB."""
    total = 0
    for p in _tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20 if total else float("nan")


class CpuMeter:
    """CPU seconds (user + system) that the server's processes and the other processes of this benchmark (the
    browser and its driver) use from now on, sampled every ``period_s`` (a page's process that exits between two
    samples loses at most that much)."""

    def __init__(self, server: Server, period_s: float = 0.5) -> None:
        self.server, self.period_s = server, period_s
        self._start: dict[int, float] = {}
        self._last: dict[int, tuple[float, bool]] = {}  # pid -> (CPU seconds, whether a server process)
        self._task: asyncio.Task | None = None
        self._sample(first=True)

    def _sample(self, first: bool = False) -> None:
        server = {p.pid for p in self.server.procs()}
        for p in psutil.Process().children(recursive=True):
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            cpu = t.user + t.system
            if first:
                self._start[p.pid] = cpu
            self._last[p.pid] = (cpu, p.pid in server)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            self._sample()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds of the server and of the browser since the start."""
        if self._task is not None:
            self._task.cancel()
        self._sample()
        used = {"server": 0.0, "browser": 0.0}
        for pid, (cpu, is_server) in self._last.items():
            used["server" if is_server else "browser"] += cpu - self._start.get(pid, 0.0)
        return {k: round(v, 1) for k, v in used.items()}


def percentiles(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v is not None and v == v]
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
    """``panel serve`` of the app (the CLI's command line), its log, its step log, and when it is warm."""

    def __init__(self, root: Path, num_procs: int, store: Path, profile: str | None = None) -> None:
        self.port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="thalia-load-"))
        self.log_path = folder / "panel.log"
        self.step_log = folder / "steps"
        extra = ["--num-procs", str(num_procs)] if num_procs != 1 else []
        env = {
            **os.environ,
            ROOT_ENV: str(root),
            STORE_ENV: str(store),
            STEP_LOG_ENV: str(self.step_log),
        }
        if profile:
            env[PROFILE_ENV] = profile
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
        return tree_rss_mb(self.proc.pid)

    def procs(self) -> list[psutil.Process]:
        return _tree(self.proc.pid)

    def step_records(self, since: float, until: float) -> list[dict[str, Any]]:
        """The step log's records (every process) with times in [since, until] (epoch seconds)."""
        out = []
        for path in self.step_log.parent.glob(self.step_log.name + ".*"):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line being written
                    continue
                t = rec.get("start", rec.get("t", 0.0))
                if since <= t <= until:
                    out.append(rec)
        return out

    def stop(self) -> None:
        """SIGINT first (a profiled process writes its report on a normal exit), then terminate / kill."""
        for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10)):
            if self.proc.poll() is not None:
                break
            for p in reversed(self.procs()):
                try:
                    p.send_signal(sig)
                except psutil.NoSuchProcess:
                    continue
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        if self.proc.poll() is None:
            self.proc.kill()
        self._log.close()


def server_figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step key handled by the server: queue, handler (and its CPU), last frame, bytes and frames sent."""
    keys = sorted((r for r in records if r["k"] == "key"), key=lambda r: r["start"])
    outs: dict[str, list[tuple[float, int]]] = {}
    for r in records:
        if r["k"] == "out":
            outs.setdefault(r["s"], []).append((r["t"], r["n"]))
    for frames in outs.values():
        frames.sort()
    by_session: dict[str, list[dict]] = {}
    for r in keys:
        by_session.setdefault(r["s"], []).append(r)
    queue, handler, cpu, done, nbytes, nframes = [], [], [], [], [], []
    for session, steps in by_session.items():
        frames = outs.get(session, [])
        for i, r in enumerate(steps):
            end = steps[i + 1]["start"] if i + 1 < len(steps) else float("inf")
            mine = [(t, n) for t, n in frames if r["start"] <= t < end]
            handler.append(r["end"] - r["start"])
            cpu.append(r["cpu"])
            nbytes.append(sum(n for _, n in mine))
            nframes.append(len(mine))
            if r.get("client"):
                queue.append(r["start"] - r["client"])
                done.append((mine[-1][0] if mine else r["end"]) - r["client"])
    return {
        "queue": percentiles(queue),
        "handler": percentiles(handler),
        "handler_cpu": percentiles(cpu),
        "server_done": percentiles(done),
        "kb_sent": percentiles([n / 1000 for n in nbytes]),
        "frames_sent": percentiles(nframes),
    }


#: Chromium's main-thread times of a page (seconds so far): all tasks, then scripts, layout and style.
PAGE_METRICS: Final = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


async def page_metrics(cdp: Any) -> dict[str, float]:
    got = await cdp.send("Performance.getMetrics")
    return {m["name"]: m["value"] for m in got["metrics"] if m["name"] in PAGE_METRICS}


def page_figures(samples: list[tuple[str, float]]) -> dict[str, float]:
    """Median over the pages of their main-thread milliseconds per step, by kind."""
    by: dict[str, list[float]] = {}
    for name, ms in samples:
        by.setdefault(name, []).append(ms)
    return {name.removesuffix("Duration").lower(): round(statistics.median(v), 1) for name, v in by.items()}


async def wait_idle(page: Any, timeout_s: float) -> None:
    await page.wait_for_function(IDLE, timeout=timeout_s * 1000)


async def settle(page: Any) -> None:
    """Wait until no websocket message arrived for ``QUIET_S`` (at most ``SETTLE_CAP_S``)."""
    deadline = time.monotonic() + SETTLE_CAP_S
    while time.monotonic() < deadline:
        quiet = await page.evaluate(
            "(q) => { const m = window.__bench.msgs; return !m.length || performance.now() - m[m.length - 1][0] > q; }",
            QUIET_S * 1000,
        )
        if quiet:
            return
        await asyncio.sleep(QUIET_S / 2)


class Gate:
    """Where every session of a level waits until all have loaded (``None`` in ``--overlap`` runs)."""

    def __init__(self, sessions: int) -> None:
        self.left = sessions
        self.event = asyncio.Event()

    def arrive(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.event.set()


async def one_session(
    browser: Any,
    url: str,
    mode: str,
    steps: int,
    scenario: str,
    seed: int,
    out: dict[str, list],
    gate: Gate | None = None,
    executable: str = CHROMIUM,
) -> None:
    """Load the mode, then press ``j`` ``steps`` times; appends load / step seconds and errors to ``out``.

    ``browser``: a launched browser (the session is a new context of it), or Playwright's ``chromium``: the
    session launches a browser of its own (a person of a lab: its own browser process, GPU process and network
    service, instead of one browser process that serialises every page's input, navigations and frames), the
    Chromium at ``executable``.

    ``gate``: once loaded (and quiet), wait for the other sessions to load before stepping, so that steps are
    measured against steps, not against other pages being built."""
    rng = random.Random(seed)
    arrived = False
    own = (
        await browser.launch(executable_path=executable, headless=True, args=FLAGS)
        if hasattr(browser, "launch")
        else None
    )
    context = await (own or browser).new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(PROBE_JS)
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
        await page.wait_for_function(PAIR_IN_URL, timeout=PAGE_TIMEOUT_S * 1000)  # the app wrote the URL
        await wait_idle(page, PAGE_TIMEOUT_S)  # and finished what its load started
        if gate is not None:
            await settle(page)
            gate.arrive()
            arrived = True
            await gate.event.wait()
        cdp = await context.new_cdp_session(page)  # the page's main-thread time by kind, over its steps
        await cdp.send("Performance.enable")
        metrics0 = await page_metrics(cdp)
        if scenario == "paced":
            await asyncio.sleep(rng.uniform(0, PACE_S[1]))  # sessions do not start in step
        timings: list[dict] = []
        before = await page.evaluate(PAIR_IN_URL)
        for _ in range(steps):
            t0 = time.perf_counter()
            await page.keyboard.press("j")
            probe = await asyncio.wait_for(page.evaluate(STEP_JS, before), STEP_TIMEOUT_S)
            probe["wall"] = wall = time.perf_counter() - t0
            before = probe["pair"]
            timings.append(probe)
            if scenario == "paced":
                await asyncio.sleep(max(0.0, rng.uniform(*PACE_S) - wall))
        if timings:
            await settle(page)
            keys = [t["key"] for t in timings[1:]] + [None]
            lasts = await page.evaluate(f"(ks) => ks.map({LAST_BEFORE_JS.strip()})", keys)
            for t, last in zip(timings, lasts, strict=True):
                t["last"] = last
            metrics1 = await page_metrics(cdp)
            for name, value in metrics1.items():
                out["page_ms"].append((name, 1000 * (value - metrics0.get(name, 0.0)) / len(timings)))
        for t in timings:
            key = t["key"]
            out["step_s"].append((t["frame"] - key) / 1000)
            out["driver_s"].append(t["wall"])
            out["url_s"].append((t["url"] - key) / 1000 if t["url"] is not None else None)
            out["pixels_s"].append((t["painted"] - key) / 1000 if t["painted"] is not None else None)
            last = max(v for v in (t.get("last"), t["url"]) if v is not None) if t["url"] else t.get("last")
            out["settled_s"].append((last - key) / 1000 if last is not None else None)
    except Exception as exc:  # a timeout or a crash is an error of this level, not of the benchmark
        out["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        if gate is not None and not arrived:
            gate.arrive()
        out["errors"].extend(errors)
        await context.close()
        if own is not None:
            await own.close()


MEASURES: Final = ("load_s", "step_s", "driver_s", "url_s", "pixels_s", "settled_s")


def rounds_for(sessions: int) -> int:
    """How many times a level of ``sessions`` runs (new sessions each time): enough for as many steps as
    :data:`SAMPLE_SESSIONS` sessions take, so every level's p95 is of about as many steps (the p95 of one
    session's 10 steps is nearly their maximum: one slow step decides the ratio; one round of 8 sessions lasts
    ~20 s, and a busy spell of a shared VM moves its p95 by half)."""
    return max(1, math.ceil(SAMPLE_SESSIONS / sessions))


async def run_level(
    browser: Any,
    url: str,
    mode: str,
    sessions: int,
    steps: int,
    scenario: str,
    seed: int = 0,
    gate: Gate | None = None,
    executable: str = CHROMIUM,
) -> dict[str, list]:
    """``sessions`` sessions at once; with a ``gate`` they step once all have loaded, else each at once."""
    out: dict[str, list] = {m: [] for m in MEASURES} | {"errors": [], "page_ms": []}
    await asyncio.gather(
        *(
            one_session(browser, url, mode, steps, scenario, seed + i, out, gate, executable)
            for i in range(sessions)
        )
    )
    return out


def _fmt(p: dict[str, float], unit: str = "s") -> str:
    return f"{p['p50']}/{p['p95']} {unit}" if p["n"] else "-"


async def drive(
    server: Server,
    mode: str,
    levels: list[int],
    steps: int,
    scenarios: list[str],
    overlap: bool = False,
    shared_browser: bool = False,
    executable: str = CHROMIUM,
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    figures: dict[str, Any] = {"levels": {}}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            first = await run_level(browser, server.url, mode, 1, 0, "closed", executable=executable)
            figures["first_page_s"] = round(first["load_s"][0], 3) if first["load_s"] else None
            figures["first_page_errors"] = first["errors"]
            print(
                f"first page after start: {figures['first_page_s']} s, errors {first['errors'] or 'none'}",
                flush=True,
            )
            for scenario in scenarios:
                for n in levels:
                    rss0 = server.rss_mb()
                    rounds = rounds_for(n)
                    out: dict[str, list] = {}
                    cpu = {"server": 0.0, "browser": 0.0}
                    wall, epoch0 = 0.0, time.time()
                    for r in range(
                        rounds
                    ):  # a small level again, with new sessions: as many steps as 16 take
                        gate = None if overlap else Gate(n)
                        meter = CpuMeter(server)
                        stepping = [time.perf_counter(), time.time()]  # when the steps began (wall, epoch)

                        async def measure(
                            gate: Gate | None = gate, meter: CpuMeter = meter, at: list = stepping
                        ) -> None:
                            if gate is not None:  # CPU of the steps, not of the loads
                                await gate.event.wait()
                                meter._sample(first=True)
                                at[:] = [time.perf_counter(), time.time()]
                            meter.start()

                        task = asyncio.create_task(measure())
                        got = await run_level(
                            browser if shared_browser else p.chromium,
                            server.url,
                            mode,
                            n,
                            steps,
                            scenario,
                            seed=n + 1000 * r,
                            gate=gate,
                            executable=executable,
                        )
                        wall += time.perf_counter() - stepping[0]
                        epoch0 = min(epoch0, stepping[1])
                        task.cancel()
                        for k, v in meter.stop().items():
                            cpu[k] = round(cpu[k] + v, 1)
                        for k, v in got.items():
                            out.setdefault(k, []).extend(v)
                    rss1 = server.rss_mb()
                    level = {
                        "scenario": scenario,
                        "sessions": n,
                        "steps_each": steps,
                        "rounds": rounds,
                        "wall_s": round(wall, 1),
                        **{m.removesuffix("_s"): percentiles(out[m]) for m in MEASURES},
                        "server": server_figures(server.step_records(epoch0, time.time())),
                        "cpu_s": cpu,
                        "page_ms_per_step": page_figures(out["page_ms"]),
                        "errors": len(out["errors"]),
                        "error_samples": out["errors"][:5],
                        "rss_before_mb": round(rss0, 1),
                        "rss_after_mb": round(rss1, 1),
                        "rss_growth_per_session_mb": round((rss1 - rss0) / (n * rounds), 1),
                    }
                    figures["levels"][f"{scenario}:{n}"] = level
                    print_level(level, wall)
        finally:
            await browser.close()
    return figures


def print_level(level: dict[str, Any], wall: float) -> None:
    srv = level["server"]
    print(
        f"{level['scenario']:>6} {level['sessions']:3d} sessions: load {_fmt(level['load'])} | p50/p95 in the page: "
        f"step {_fmt(level['step'])} (driver {_fmt(level['driver'])}), pixels {_fmt(level['pixels'])}, settled {_fmt(level['settled'])} "
        f"(n={level['step']['n']}{', ' + str(level['rounds']) + ' rounds' if level['rounds'] > 1 else ''}) | errors {level['errors']} | RSS {level['rss_before_mb']:.0f} -> "
        f"{level['rss_after_mb']:.0f} MB ({level['rss_growth_per_session_mb']} MB a session) | {wall:.0f} s",
        flush=True,
    )
    print(
        f"{'':>19} server p50/p95: queue {_fmt(srv['queue'])}, handler {_fmt(srv['handler'])} "
        f"(CPU {_fmt(srv['handler_cpu'])}), last frame {_fmt(srv['server_done'])}, "
        f"{_fmt(srv['kb_sent'], 'kB')} in {_fmt(srv['frames_sent'], 'frames')} a step | CPU during the level: "
        f"server {level['cpu_s']['server']} s, browsers {level['cpu_s']['browser']} s | a page's main thread a "
        f"step (ms): {level['page_ms_per_step']}",
        flush=True,
    )
    for sample in level["error_samples"]:
        print(f"      error: {sample}", flush=True)


def compare(figures: dict[str, Any], scenarios: list[str]) -> None:
    """The ratio of each level's p95 step to the single session's of its scenario, and the target's verdict."""
    levels = figures["levels"]
    for scenario in scenarios:
        single = levels.get(f"{scenario}:1", {}).get("step", {}).get("p95")
        for level in levels.values():
            if level["scenario"] != scenario or not single or level["step"]["p95"] != level["step"]["p95"]:
                continue
            level["p95_vs_single"] = round(level["step"]["p95"] / single, 2)
            pix = levels[f"{scenario}:1"]["pixels"]["p95"]
            if pix and level["pixels"]["p95"] == level["pixels"]["p95"]:
                level["pixels_p95_vs_single"] = round(level["pixels"]["p95"] / pix, 2)
        eight = levels.get(f"{scenario}:8")
        if eight is not None and single and "p95_vs_single" in eight:
            figures.setdefault("ratio", {})[scenario] = eight["p95_vs_single"]
            ok = (
                eight["p95_vs_single"] <= TARGET_P95_RATIO
                and eight["errors"] == 0
                and eight["rss_growth_per_session_mb"] <= TARGET_MB_PER_SESSION
            )
            print(
                f"{scenario}, 8 sessions: p95 step {eight['step']['p95']} s = {eight['p95_vs_single']}x the single "
                f"session's {single} s (target <= {TARGET_P95_RATIO}x; pixels "
                f"{eight.get('pixels_p95_vs_single', '-')}x), {eight['errors']} errors, "
                f"{eight['rss_growth_per_session_mb']} MB a session (target <= {TARGET_MB_PER_SESSION}): "
                f"{'meets' if ok else 'misses'} the target",
                flush=True,
            )


def run_server(args: argparse.Namespace, root: Path, num_procs: int) -> dict[str, Any]:
    store = Path(tempfile.mkdtemp(prefix="thalia-load-store-")) / "annotations"
    profile = args.profile if num_procs == 1 else None
    server = Server(root, num_procs, store, profile=profile)
    try:
        warm_s = server.wait_warm()
        print(
            f"server: {num_procs} process(es), warm {warm_s:.1f} s after start, RSS {server.rss_mb():.0f} MB "
            f"({server.url}, log {server.log_path})",
            flush=True,
        )
        figures = asyncio.run(
            drive(
                server,
                args.mode,
                args.sessions,
                args.steps,
                args.scenarios,
                overlap=args.overlap,
                shared_browser=args.shared_browser,
                executable=args.browser,
            )
        )
    finally:
        server.stop()
    if profile:
        print(f"profile: pyinstrument --load {profile}.{server.proc.pid}.pyisession", flush=True)
    figures.update(
        mode=args.mode,
        num_procs=num_procs,
        root=str(root),
        warm_after_start_s=round(warm_s, 1),
        overlap=args.overlap,
        browsers="one shared" if args.shared_browser else "one a session",
        browser=args.browser,
    )
    compare(figures, args.scenarios)
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
    parser.add_argument(
        "--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS, help="closed loop, human pace"
    )
    parser.add_argument(
        "--num-procs",
        type=int,
        nargs="+",
        default=[1],
        help="server processes (panel serve --num-procs), each in turn",
    )
    parser.add_argument(
        "--overlap",
        action="store_true",
        help="each session steps as soon as it loaded (steps then compete with other pages' loads)",
    )
    parser.add_argument(
        "--shared-browser",
        action="store_true",
        help="one Chromium for all sessions (a context each): its one browser and GPU process serialise them",
    )
    parser.add_argument(
        "--browser",
        default=default_browser(),
        help="the Chromium the sessions run in (default: Debian's headless shell where installed, "
        f"{HEADLESS_SHELL}, else {CHROMIUM})",
    )
    parser.add_argument("--profile", help="pyinstrument the server (1 process) into PATH.<pid>.pyisession")
    args = parser.parse_args(argv or [])  # python -m bench.run: the defaults
    print(f"browsers: {args.browser}", flush=True)
    root = Path(args.root) if args.root else default_root()
    runs = {}
    for num_procs in args.num_procs:
        runs[str(num_procs)] = run_server(args, root, num_procs)
    figures = {"runs": runs, "cpu_count": os.cpu_count()}
    path = write_results("load", figures)
    print(f"figures: {path}")
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
