"""Doctests: the examples in the library's docstrings and the README run on a tiny synthetic root.

``pytest`` collects the docstrings of :data:`DOCTEST_MODULES` and the examples of :data:`DOCTEST_FILES`
(``pytest thalia_viewer/core/view.py`` or ``pytest README.md`` runs one); each example runs in a temporary
working folder and gets ``root`` (a fresh copy of the tiny root, str) and ``store_path`` (a new
annotation store folder, str) in its namespace. Tests in ``tests/`` have their own fixtures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem, DoctestModule, DoctestTextfile

#: Text files whose ``>>>`` examples are doctests (paths from the repository root).
DOCTEST_FILES = ("README.md",)
#: Modules whose examples are doctests (paths from the repository root).
DOCTEST_MODULES = (
    "thalia_viewer/__init__.py",
    "thalia_viewer/core/dataset.py",
    "thalia_viewer/core/view.py",
    "thalia_viewer/core/annotations/store.py",
    "thalia_viewer/app/embed.py",
)
_HERE = Path(__file__).parent


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The doctests of :data:`DOCTEST_MODULES` (without ``--doctest-modules``, which would import every
    module of ``tests/``, among them the zarr-2 compatibility scripts)."""
    if file_path.suffix == ".py" and not parent.config.option.doctestmodules:
        try:
            relative = file_path.resolve().relative_to(_HERE).as_posix()
        except ValueError:
            return None
        if relative in DOCTEST_MODULES:
            return DoctestModule.from_parent(parent, path=file_path)
    if file_path.parent == _HERE and file_path.name in DOCTEST_FILES:
        return DoctestTextfile.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def _doctest_root_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import TINY
    from thalia_viewer.core.synth.writer import write_dataset

    root = tmp_path_factory.mktemp("doctest") / "tiny"
    write_dataset(root, **TINY)
    return root


@pytest.fixture(autouse=True)
def _doctest_root(request: pytest.FixtureRequest) -> None:
    """``root`` and ``store_path`` for a doctest (nothing for other tests)."""
    if not isinstance(request.node, DoctestItem):
        return
    template = request.getfixturevalue("_doctest_root_template")
    tmp = request.getfixturevalue("tmp_path")
    root = shutil.copytree(template, tmp / template.name)
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.chdir(tmp)  # files an example writes land there
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
    monkeypatch.delenv("THALIA_STORE", raising=False)
    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(root=str(root), store_path=str(tmp / "store"))
