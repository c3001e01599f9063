"""A dataset root mounted read-only serves all four modes, and saving there says where corrections can go.

How the root is made read-only: as a normal user, ``chmod -R a-w`` of a copy. As root (tests may run as root,
where permission bits do not stop writes) the server runs inside a user + mount namespace
(``unshare -rm``) in which the copy is bind-mounted read-only: a real read-only mount, every write fails
with EROFS as on a lab's read-only share. Skipped when neither is possible.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import IDLE, free_port, serving
from tests.browser.pages import (
    LOAD_TIMEOUT_MS,
    MIN_PLOT_COLOURS,
    distinct_colours,
    map_pixels,
    shows,
    wait_for_new_map,
    wait_stable,
    wait_until,
)
from tests.browser.test_annotate import drag
from thalia_viewer.app.data import ROOT_ENV
from thalia_viewer.app.serve import panel_command
from thalia_viewer.app.spec import MODES
from thalia_viewer.core.annotations import STORE_ENV

pytestmark = pytest.mark.browser

MAP_MODES = ("explore", "annotate", "train")  # modes whose page holds the layer map


def _read_only_command(root: Path, cmd: list[str]) -> list[str]:
    """``cmd`` run where ``root`` cannot be written (see the module docstring); skips when that is impossible."""
    if os.geteuid() != 0:
        return cmd
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode
    ):
        pytest.skip("running as root without user namespaces: cannot make a read-only root")
    mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", mount, str(root), *cmd]


def _freeze(root: Path) -> None:
    if os.geteuid() != 0:
        for p in [root, *root.rglob("*")]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _thaw(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


@contextlib.contextmanager
def served_read_only(root: Path, log: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != STORE_ENV}
    env[ROOT_ENV] = str(root)
    cmd = _read_only_command(root, panel_command(str(root), port=port))
    _freeze(root)
    try:
        with serving(cmd, env, log, port) as url:
            yield url
    finally:
        _thaw(root)


@pytest.fixture(scope="module")
def read_only(tiny_root, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("readonly") / "root"
    shutil.copytree(tiny_root, root)
    with served_read_only(root, tmp_path_factory.mktemp("serve-ro") / "panel.log") as url:
        yield url, root


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _no_error(page) -> None:
    errors = page.locator(".notyf__toast--error")
    assert errors.count() == 0, errors.first.inner_text()


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_serves_a_read_only_root(page, read_only, mode):
    url, root = read_only
    before = _listing(root)
    page.goto(f"{url}?mode={mode}", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    if mode in MAP_MODES:
        page.locator(".thalia-map canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
        wait_stable(page)
        assert distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS
    else:
        wait_stable(page)
        page.locator("canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    _no_error(page)
    assert _listing(root) == before  # nothing written, not even ROOT/.thalia
    assert not page.console_errors


def test_saving_on_a_read_only_root_says_where_corrections_can_go(page, read_only):
    url, root = read_only
    before = _listing(root)
    page.goto(f"{url}?mode=annotate", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(IDLE, timeout=LOAD_TIMEOUT_MS)
    page.locator(".thalia-map canvas").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_stable(page)
    untouched = map_pixels(page)
    name = page.get_by_placeholder("saved with every version")
    name.fill("Ada Lovelace")
    name.press("Enter")
    drag(page, [(0.35 + 0.02 * i, 0.40) for i in range(12)])
    wait_for_new_map(page, untouched)
    page.get_by_role("button", name="Save version", exact=True).click()
    toast = page.locator(".notyf__toast--error")
    toast.first.wait_for(timeout=30_000)
    text = toast.first.inner_text()
    assert "cannot be written" in text and "--store" in text and "THALIA_STORE" in text
    assert shows(page, "unsaved edits")  # the edit is kept for a store that can be written
    assert _listing(root) == before
    wait_until(lambda: page.evaluate(IDLE), "the page to settle")
