"""Packaging beside ``pyproject.toml``: the top-level data folders become packages of ``thalia_viewer``.

``layouts/``, ``assets/`` and ``model_zoo/`` stay at the repository's top level; ``package_dir`` installs them
as ``thalia_viewer.layouts`` etc. (in a wheel under ``thalia_viewer/``; an editable install maps them to the
repository's folders), read with ``importlib.resources`` (``thalia_viewer/resources.py``).
"""

from setuptools import find_packages, setup

DATA_FOLDERS = ("layouts", "assets", "model_zoo")

setup(
    packages=[*find_packages(include=["thalia_viewer*"]), *(f"thalia_viewer.{d}" for d in DATA_FOLDERS)],
    package_dir={f"thalia_viewer.{d}": d for d in DATA_FOLDERS},
    package_data={
        "thalia_viewer": ["py.typed"],
        "thalia_viewer.app.views": ["*.js"],  # the map's browser side
        **{f"thalia_viewer.{d}": ["*"] for d in DATA_FOLDERS},
    },
)
