"""Where the data shipped with the package lives: ``layouts/``, ``assets/`` and ``model_zoo/``.

They stay at the repository's top level and are installed as the packages ``thalia_viewer.layouts``,
``thalia_viewer.assets`` and ``thalia_viewer.model_zoo`` (``setup.py`` maps them), so a wheel holds them and
an editable install reads the repository's folders; both are found with :mod:`importlib.resources`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

#: Shipped data folders (each a package of the same name under ``thalia_viewer``).
DATA_FOLDERS: Final = ("layouts", "assets", "model_zoo")


def data_dir(name: str) -> Path:
    """The folder of shipped data ``name`` (one of :data:`DATA_FOLDERS`) as a path on disk.

    Falls back to the repository's top-level folder for a checkout on ``sys.path`` or an editable install
    made before the folders were packaged (its import finder does not know them).
    """
    if name not in DATA_FOLDERS:
        msg = f"unknown data folder {name!r}; expected one of {DATA_FOLDERS}"
        raise ValueError(msg)
    try:
        return Path(str(files(f"thalia_viewer.{name}")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / name
