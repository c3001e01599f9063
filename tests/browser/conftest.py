"""Served app + headless Chromium (Debian's, through Playwright) for the browser tests.

The app is started with the same ``panel serve`` command line as ``thalia-viewer serve`` on a free
localhost port, against the session's tiny synthetic dataset, and killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import CHROMIUM, FLAGS  # one quiet headless Chromium for tests and benchmarks
from tests.conftest import free_port
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.serve import panel_command
from thalia_viewer.core.annotations import STORE_ENV
from thalia_viewer.ml.zoo import ZOO_ENV

IDLE = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
START_TIMEOUT_S = 60
VIEWPORT = {"width": 1500, "height": 1100}
BROWSER_MODEL = "browser-test-model"


@contextlib.contextmanager
def served(
    root: str, log: Path, env: dict[str, str] | None = None, extra: list[str] | None = None
) -> Iterator[str]:
    """``panel serve`` of the app on ``root`` at a free port (more environment: ``env``, more ``panel serve``
    options: ``extra``); yields the app's URL."""
    port = free_port()
    env = {**os.environ, ROOT_ENV: root, **(env or {})}
    with serving(panel_command(root, port=port, extra=extra), env, log, port) as url:
        yield url


@contextlib.contextmanager
def serving(
    cmd: list[str], env: dict[str, str], log: Path, port: int, cwd: Path | None = None
) -> Iterator[str]:
    """Run the server command ``cmd`` (in ``cwd``, output to ``log``) until it listens on ``port``; yields the
    app's URL and stops it, with every worker it forked, afterwards."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )  # its own group: --num-procs workers are stopped with it
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:  # listening is ready: a page request would build a whole session (slow on a busy machine)
                    with socket.create_connection(("127.0.0.1", port), timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/main"
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop a server started by :func:`serving` and every worker process it forked."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; workers of its group may still be stopping
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, one per session (skips when Playwright or Chromium is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def app_url(tiny_root, tmp_path_factory) -> Iterator[str]:
    """The explore app served on the tiny dataset."""
    with served(str(tiny_root), tmp_path_factory.mktemp("serve") / "panel.log") as url:
        yield url


@pytest.fixture(scope="session")
def annotate_store(tmp_path_factory) -> Path:
    """Where the served annotate app saves (a fresh annotation store; never beside the shared tiny dataset)."""
    return tmp_path_factory.mktemp("store") / "annotations"


@pytest.fixture(scope="session")
def browser_zoo(tmp_path_factory) -> Path:
    """A user zoo with one small untrained model whose tiny threshold predicts deformation everywhere (so what the
    browser shows does not depend on training)."""
    import dataclasses

    from thalia_viewer.ml.zoo import ModelZoo, build_model, write_card

    folder = tmp_path_factory.mktemp("zoo")
    card = dataclasses.replace(
        ModelZoo().get("thalia-small"),
        name=BROWSER_MODEL,
        weights=None,
        tile_size=64,
        tile_overlap=16,
        threshold=1e-6,
        path=None,
    )
    write_card(card, folder, model=build_model(card))
    return folder


@pytest.fixture(scope="session")
def annotate_url(tiny_root, annotate_store, browser_zoo, tmp_path_factory) -> Iterator[str]:
    """The annotate mode served on the tiny dataset, saving to ``annotate_store``, with ``browser_zoo``."""
    log = tmp_path_factory.mktemp("serve-annotate") / "panel.log"
    with served(str(tiny_root), log, env={STORE_ENV: str(annotate_store), ZOO_ENV: str(browser_zoo)}) as url:
        yield f"{url}?mode=annotate"


@pytest.fixture(scope="session")
def bad_root_url(tmp_path_factory) -> Iterator[str]:
    """The app served on a root that does not exist (started directly: `serve()` refuses it)."""
    missing = tmp_path_factory.mktemp("bad") / "no-such-root"
    with served(str(missing), tmp_path_factory.mktemp("serve-bad") / "panel.log") as url:
        yield url


@pytest.fixture
def page(browser):
    """A fresh page (own context: own URL, own session) with the console errors collected."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    yield pg
    context.close()
