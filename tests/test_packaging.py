"""Shipped data (layouts, assets, the model zoo) is package data found through ``importlib.resources``.

The wheel itself is built, installed away from the repository and run in ``tests/browser/test_wheel.py``.
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path

import pytest

from thalia_viewer.app import spec, theme
from thalia_viewer.ml import zoo
from thalia_viewer.resources import DATA_FOLDERS, data_dir

REPO = Path(__file__).resolve().parents[1]


def test_the_modules_read_the_shipped_folders():
    assert data_dir("layouts") == spec.LAYOUTS_DIR
    assert data_dir("assets") == theme.ASSETS_DIR
    assert data_dir("model_zoo") == zoo.PACKAGED_ZOO
    assert {p.stem for p in spec.LAYOUTS_DIR.glob("*.yaml")} >= set(spec.MODES)
    assert all((theme.ASSETS_DIR / name).is_file() for name in ("thalia.css", "logo.svg", theme.FAVICON))
    assert (zoo.PACKAGED_ZOO / f"{zoo.DEFAULT_MODEL}.yaml").is_file()


@pytest.mark.parametrize("name", DATA_FOLDERS)
def test_each_folder_is_a_package_of_thalia_viewer_kept_at_the_top_level(name):
    found = importlib.util.find_spec(f"thalia_viewer.{name}")
    assert found is not None, (
        f"thalia_viewer.{name} is not importable: reinstall (pip install -e .) after setup.py changed"
    )
    assert Path(str(files(f"thalia_viewer.{name}"))) == data_dir(name)
    assert data_dir(name) == REPO / name  # an editable install reads the repository's own folders


def test_an_unknown_folder_is_refused():
    with pytest.raises(ValueError, match="unknown data folder"):
        data_dir("secrets")
