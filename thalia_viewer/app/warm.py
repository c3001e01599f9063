"""Warm a server process at start, so that the first page is as fast as the later ones.

What makes a cold process's first page slow (measured: 20-50 s on 2 busy cores, later pages ~2 s) is done once
per process, before anyone asks: importing the view stack (HoloViews, Datashader, Bokeh models), Numba's
compilation of Datashader's raster kernels for the dtypes the app uses, opening the dataset, its store and
the model zoo, and rendering the thumbnails of the first frame. The warm-up builds the explore and annotate
apps of the served root (their views compute the thumbnails and the first aggregates) and has HoloViews draw
a small overlay with Bokeh; what it compiles, imports and caches stays in the process. It never renders a
Panel page: Panel shares stylesheet models between the documents it renders, and a page rendered outside a
session would own them (later sessions then fail with "Models must be owned by only a single document").

``thalia-viewer serve`` passes this file to ``panel serve --setup``, which runs it in every process (after
the fork with ``--num-procs N``); plain ``panel serve`` takes the same option::

    THALIA_ROOT=data/default panel serve thalia_viewer/app/main.py --setup thalia_viewer/app/warm.py --num-procs 2

It runs in a background thread: the server listens at once, and a page that arrives during the warm-up is
served as in a cold process. It logs ``thalia-viewer: process PID warmed up in S s`` (or what failed) to
stderr. ``THALIA_WARM=0`` turns it off.

Once warm, the process's heap is settled (:func:`settle_heap`): Python's full garbage collections stop the
event loop, so every session, for as long as they take to walk every object the process holds.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

WARM_ENV: Final = "THALIA_WARM"
WARM_MODES: Final = ("explore", "annotate")
SETUP_SCRIPT: Final = Path(__file__)
READY_LINE: Final = (
    "warmed up in"  # what the log line says once a process is warm (the load benchmark waits for it)
)


#: Python's default is 10: a full collection every 10 collections of the middle generation, once the objects
#: that survived since the last one are a quarter of the old ones. After the freeze the old generation is
#: small, so that quarter comes soon; the garbage worth a full collection is a closed session's (Panel runs one
#: itself 5 s after sessions close), while a step leaves little (30 to 800 cyclic objects a collection).
FULL_COLLECTION_EVERY: Final = 100


def settle_heap() -> None:
    """Collect once, then leave what the process holds now out of every later collection (``gc.freeze``).

    Imports, compiled kernels, the dataset and the caches the warm-up filled (about 0.45 M objects) are never
    garbage, and a full collection walked them all with the event loop stopped, so every session with it:
    100 to 580 ms a full collection on 2 busy cores with 8 sessions open, 50 to 340 ms once frozen (the load
    benchmark with a probe on ``gc.callbacks``, 8 sessions)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def warm(root: str, modes: Sequence[str] = WARM_MODES) -> float:
    """Build the apps of ``modes`` on ``root`` once (not their pages) and draw a small HoloViews overlay with
    Bokeh; returns the seconds taken."""
    import holoviews as hv
    import numpy as np

    from thalia_viewer.app.explorer import create_app
    from thalia_viewer.viz.overview import compile_reductions

    start = time.perf_counter()
    compile_reductions()  # big frames' overviews (a small root builds none)
    for mode in modes:
        create_app(root, mode)
    image = hv.Image(np.random.default_rng(0).random((16, 16)))
    hv.renderer("bokeh").get_plot(image * image.clone().opts(alpha=0.5) * hv.Curve([(0, 0), (1, 1)]))
    return time.perf_counter() - start


def start_in_background(environ: dict[str, str] | os._Environ[str] | None = None) -> threading.Thread | None:
    """Warm this process on ``$THALIA_ROOT`` in a daemon thread (``None`` when off or without a root)."""
    from thalia_viewer.app.data import ROOT_ENV

    env = os.environ if environ is None else environ
    root = env.get(ROOT_ENV, "").strip()
    if not root or env.get(WARM_ENV, "1").strip() in ("0", "false", "no", "off"):
        return None

    def run() -> None:
        try:
            seconds = warm(root)
            settle_heap()
        except Exception as exc:  # a warm-up never stops the server: the first page is then just slower
            print(
                f"thalia-viewer: process {os.getpid()} warm-up failed ({type(exc).__name__}: {exc})",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(
                f"thalia-viewer: process {os.getpid()} {READY_LINE} {seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    thread = threading.Thread(target=run, name="thalia-warm", daemon=True)
    thread.start()
    return thread


if __name__ == "panel_setup_module":  # panel serve --setup thalia_viewer/app/warm.py
    from thalia_viewer.app import steplog

    steplog.install()  # the load benchmark's timings ($THALIA_STEP_LOG, $THALIA_PROFILE); nothing otherwise
    start_in_background()
