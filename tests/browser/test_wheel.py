"""The app installed from a built wheel, away from the repository: layouts, assets and the default model come
with it (package data read through ``importlib.resources``), and ``synth``, ``serve`` and ``predict`` work.

The wheel is built with ``pip wheel --no-deps --no-build-isolation`` (offline: the project venv's
setuptools) and installed with ``--no-deps --no-index`` into a fresh venv outside the repository. Its
dependencies come from the project venv through a ``.pth`` file naming a folder of links to every entry of
the project's site-packages except thalia-viewer itself (so the repository's editable install cannot leak
in); nothing is downloaded.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import START_TIMEOUT_S, free_port, serving
from tests.browser.pages import MIN_PLOT_COLOURS, distinct_colours, map_pixels, open_app, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = "thalia-small"
CLI_TIMEOUT_S = 600


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _site_packages() -> Path:
    return next(Path(p) for p in site.getsitepackages() if Path(p).name == "site-packages")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(bin folder of a fresh venv holding only the built wheel, environment for its commands)."""
    work = tmp_path_factory.mktemp("wheel")
    assert REPO not in work.parents
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["HOME"] = str(work / "home")  # no user zoo, no ~/.thalia of the tester
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(REPO),
        ],
        work,
        env,
    )
    (wheel,) = (work / "dist").glob("thalia_viewer-*.whl")
    venv = work / "venv"
    _run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], work, env)
    deps = work / "deps"
    deps.mkdir()
    for entry in _site_packages().iterdir():
        if not entry.name.startswith(("thalia_viewer", "__editable__", "thalia-viewer")):
            (deps / entry.name).symlink_to(entry)
    (target,) = (venv / "lib").glob("python3.*/site-packages")
    (target / "_thalia_test_deps.pth").write_text(f"{deps}\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        work,
        env,
    )
    return venv / "bin", env


def test_the_wheel_holds_the_package_data(installed, tmp_path):
    bin_dir, env = installed
    probe = (
        "import thalia_viewer, importlib.resources as r\n"
        "from thalia_viewer.app.spec import load_spec, LAYOUTS_DIR\n"
        "from thalia_viewer.app import theme\n"
        "from thalia_viewer.ml.zoo import ModelZoo, PACKAGED_ZOO\n"
        "print(thalia_viewer.__file__)\n"
        "print(LAYOUTS_DIR, theme.ASSETS_DIR, PACKAGED_ZOO, sep='\\n')\n"
        "print(sorted(load_spec(m).mode.value for m in ('explore', 'annotate', 'review', 'train')))\n"
        "print(len(theme.css()) > 0, bool(theme.logo_uri()))\n"
        "print(ModelZoo().get('thalia-small').weights_path.is_file())\n"
        "from thalia_viewer.app.views.map_client import MapClient\n"
        "print(MapClient._esm.is_file())\n"  # the map's browser side
    )
    out = _run([str(bin_dir / "python"), "-c", probe], tmp_path, env).splitlines()
    site_dir = str(bin_dir.parent / "lib")
    assert all(line.startswith(site_dir) for line in out[:4]), out  # the wheel's copy, not the repository's
    assert out[4] == "['annotate', 'explore', 'review', 'train']"
    assert out[5:] == ["True True", "True", "True"]


def test_synth_serve_and_predict_from_the_wheel(installed, tmp_path, page):
    bin_dir, env = installed
    cli = str(bin_dir / "thalia-viewer")
    root = tmp_path / "data"
    _run([cli, "synth", str(root), "--frames", "1", "--size", "128", "128", "--dates", "4"], tmp_path, env)
    assert (root / "annotations.json").is_file()

    out = _run(
        [
            cli,
            "predict",
            str(root),
            "--model",
            DEFAULT_MODEL,
            "--out",
            str(tmp_path / "pred"),
            "--threads",
            "--workers",
            "1",
        ],
        tmp_path,
        env,
    )
    assert "6/6" in out or (tmp_path / "pred" / "metrics.json").is_file()
    assert (tmp_path / "pred" / "metrics.json").is_file()

    port = free_port()
    cmd = [cli, "serve", str(root), "--port", str(port)]
    with serving(cmd, env, tmp_path / "serve.log", port, cwd=tmp_path) as url:
        base = url.removesuffix("/main")

        def served_assets() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/thalia-assets/thalia.css", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(served_assets, "the served wheel app's assets", timeout=START_TIMEOUT_S * 2)
        open_app(page, url)
        assert distinct_colours(map_pixels(page)) >= MIN_PLOT_COLOURS  # the plot is not blank
        models = page.locator(f"select option:text-is('{DEFAULT_MODEL}')")
        wait_until(lambda: models.count() > 0, "the default model in the Predict panel")
        assert not (root / ".thalia").exists()  # browsing wrote nothing
