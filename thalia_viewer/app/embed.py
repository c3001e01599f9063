"""The app as a Panel viewable for a notebook or a script of one's own: ``thalia_viewer.app(root, mode)``.

>>> import thalia_viewer as tv
>>> app = tv.app(root, mode="review")      # show it in Jupyter, or app.servable() in a `panel serve` script
>>> app.spec.mode
<Mode.REVIEW: 'review'>
>>> tv.app(root).spec.mode == "explore"    # no mode: the page's ?mode= when served, else explore
True
"""

from __future__ import annotations

import os

import panel as pn

from thalia_viewer.app.data import open_dataset
from thalia_viewer.app.explorer import AVAILABLE_MODES, ExplorerApp, create_app, in_server, requested_mode
from thalia_viewer.app.extensions import load_extensions
from thalia_viewer.app.spec import suggestion
from thalia_viewer.core.errors import ThaliaError


class UnknownModeError(ThaliaError, ValueError):
    """An app mode that does not exist."""


def app(root: str | os.PathLike[str], mode: str | None = None) -> ExplorerApp:
    """The app of the dataset root ``root`` (local folder or fsspec URL) in ``mode``: a Panel viewable.

    ``mode``: explore, annotate, review, train or stats; ``None``: the page's ``?mode=`` in a served session
    (so the header's mode links work), else explore. Corrections are saved where the served app saves them
    (``$THALIA_STORE``, else ``ROOT/.thalia/annotations``). A root that cannot be opened raises its error
    here (the served app shows it on the page instead).
    """
    if mode is None:
        mode = requested_mode(pn.state.session_args) if in_server() else AVAILABLE_MODES[0]
    name = str(mode).strip().lower()
    if name not in AVAILABLE_MODES:
        msg = f"mode={mode!r} is not an app mode.{suggestion(name, AVAILABLE_MODES)}"
        raise UnknownModeError(msg, f"Modes: {', '.join(AVAILABLE_MODES)}.")
    text = os.fspath(root)
    open_dataset(text)  # DatasetNotFoundError names the root (cached: the app opens the same object)
    load_extensions()
    return create_app(text, name)
